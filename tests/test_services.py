"""server/cartback/services.py: what a server process keeps, built at start-up and let go at shut-down."""

from __future__ import annotations

import asyncio

import pytest
from cartback.config import Settings
from cartback.serve_lock import AlreadyServed
from cartback.services import Services
from cartback.shops import create_shop

ORIGIN = "http://shop.test"


def test_services_start_on_a_file_share_its_secret_and_let_it_go_on_close(tmp_path):
    settings = Settings(db_path=str(tmp_path / "s.db"))

    async def scenario() -> None:
        first = await Services.start(settings)
        try:
            key = await first.db.write(create_shop, "honey", [ORIGIN])
            token = first.tokens.sign("honey", "v1")
            with pytest.raises(AlreadyServed):
                await Services.start(settings)  # one serving process per file
        finally:
            await first.close()
        again = await Services.start(settings)
        try:
            # The same secret from the file: visitors' tokens and sign-ins outlive a restart.
            assert again.secret == first.secret and again.tokens.verify("honey", token) == "v1"
            shop = await again.shops.require("honey")
            assert shop.check_key(key)
        finally:
            await again.close()

    asyncio.run(scenario())


def test_a_change_through_this_process_drops_the_shops_cached_copies(tmp_path):
    settings = Settings(db_path=str(tmp_path / "s.db"))

    async def scenario() -> None:
        services = await Services.start(settings)
        try:
            await services.db.write(create_shop, "honey", [ORIGIN])
            await services.shops.require("honey")
            assert services.shops.fresh("honey") is not None
            services.invalidate_shop("honey")
            assert services.shops.fresh("honey") is None
        finally:
            await services.close()

    asyncio.run(scenario())
