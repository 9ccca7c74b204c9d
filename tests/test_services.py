"""server/cartback/services.py: what a server process keeps, built at start-up and let go at shut-down."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from cartback.config import Settings
from cartback.connection import connect_sync, transaction
from cartback.serve_lock import AlreadyServed
from cartback.services import Services, _ensure_secret
from cartback.shops import create_shop

from tests.conftest import POSTGRES, at_once, new_database, query

ORIGIN = "http://shop.test"


def test_services_start_on_a_file_share_its_secret_and_let_it_go_on_close(tmp_path):
    settings = Settings(db_path=new_database(tmp_path, "s.db"))

    async def scenario() -> None:
        first = await Services.start(settings)
        try:
            key = await first.db.write(create_shop, "honey", [ORIGIN])
            token = first.tokens.sign("honey", "v1")
            if not POSTGRES:  # PostgreSQL takes any number of serving processes
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


def test_servers_starting_together_on_a_new_database_all_start_with_one_secret(tmp_path):
    """N servers (or `--workers N`) started at once on a new database: each offers a secret at the
    same moment, none fails to start, and all sign with the one stored first."""
    for attempt in range(5):
        target = new_database(tmp_path, f"new{attempt}.db")
        conns = [connect_sync(target) for _ in range(4)]  # migrated: the race is the secret's alone
        try:
            got = at_once([partial(transaction, conn, _ensure_secret) for conn in conns])
        finally:
            for conn in conns:
                conn.close()
        assert len(got) == 4 and len(set(got)) == 1 and isinstance(got[0], str), got
        assert query(target, "SELECT value FROM meta WHERE key = 'secret'") == [(got[0],)]


def test_a_change_through_this_process_drops_the_shops_cached_copies(tmp_path):
    settings = Settings(db_path=new_database(tmp_path, "s.db"))

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
