"""Everything a request may need, built once in the app's lifespan and closed with it.

One object owns the database, the caches (each a `cache.BoundedCache` inside its owner: shops,
tokens, products, cards and templates) and the limiters, so a reader finds in one place what a
server process keeps in memory, and a test builds the same thing the server does.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from . import caps
from .config import Settings
from .db import Database
from .http import AddressLimiter, RateLimiter
from .ingest import memo
from .locks import ShopLocks, shop_locks
from .render import Renderer
from .renders import RenderLog
from .shops import ShopRegistry
from .snippet import AdapterResponses, Snippet, adapter_responses, load_adapters, snippet_responses
from .tokens import VisitorTokens

if TYPE_CHECKING:
    from itsdangerous import URLSafeTimedSerializer

    from .confirm import PageConfirmer


def _ensure_secret(conn: sqlite3.Connection) -> str:
    # Generated once and kept in the database, so tokens survive restarts with no configuration.
    # Servers starting together on a new database each offer one and all take the first stored
    # (on PostgreSQL a look first, then an insert, let all but one fail to start).
    conn.execute("INSERT INTO meta (key, value) VALUES ('secret', ?) ON CONFLICT (key) DO NOTHING",
                 (secrets.token_urlsafe(32),))
    return str(conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0])


@dataclass
class Services:
    settings: Settings
    db: Database
    shops: ShopRegistry
    tokens: VisitorTokens
    renderer: Renderer
    render_log: RenderLog
    # Per visitor token, and per client address (events and the block, token or not).
    limiter: RateLimiter
    address_limiter: AddressLimiter
    snippet: Snippet
    snippet_responses: dict[str, Response]
    adapters: dict[str, AdapterResponses]
    confirmer: PageConfirmer | None
    _retention: asyncio.Task[None]
    # The server's secret (meta), under which tokens and the dashboard's cookies are signed.
    secret: str
    # One catalog import per shop at a time, across processes (locks.py); the CLI takes the same lock.
    import_locks: ShopLocks
    # The dashboard's signers, one per purpose.
    dashboard_serializers: dict[str, URLSafeTimedSerializer] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        caps.limits.max_browser_products = settings.max_browser_products
        caps.limits.max_visitors = settings.max_visitors
        caps.limits.max_items_per_visitor = settings.max_visitor_items
        max_pages = int(settings.max_db_mb * 1024 * 1024 // 4096) if settings.max_db_mb else None
        # What can fail on its own (files missing) is loaded before the database starts its threads:
        # a server that cannot start must exit, not wait for them.
        snippet = Snippet.load(settings.snippet_path)
        adapters = adapter_responses(load_adapters(settings.snippet_path.parent))
        renderer = Renderer(settings.templates_dir)
        db = Database(settings.db_path, readers=settings.readers, max_pages=max_pages, shared=settings.shared)
        memo.configure(db.shared)
        await db.start()
        try:
            secret = await db.write(_ensure_secret)
        except BaseException:
            await db.close()
            raise
        shops = ShopRegistry(db, key_failures=AddressLimiter(settings.key_failures_per_minute, "wrong API keys",
                                                             "authorization"))
        confirmer = None
        if settings.confirm_pages:
            from .confirm import PageConfirmer

            confirmer = PageConfirmer(db, shops)
            confirmer.start()
        # Imported here: the retention loop brings the report, which the modules serving the block
        # and the tracking calls do without.
        from .privacy import retention_loop

        return cls(
            settings=settings, db=db, shops=shops,
            tokens=VisitorTokens(secret, settings.token_max_age_days * 86400),
            renderer=renderer, render_log=RenderLog(db),
            limiter=RateLimiter(settings.rate_limit_per_minute),
            address_limiter=AddressLimiter(settings.address_limit_per_minute),
            snippet=snippet, snippet_responses=snippet_responses(snippet), adapters=adapters,
            confirmer=confirmer,
            # Raw events past each shop's retention period: rolled into daily counts, then deleted, daily.
            _retention=asyncio.ensure_future(retention_loop(db)),
            secret=secret, import_locks=shop_locks(settings.db_path),
        )

    async def close(self) -> None:
        self._retention.cancel()
        await asyncio.gather(self._retention, return_exceptions=True)
        if self.confirmer is not None:
            await self.confirmer.close()
        await self.render_log.close()
        await self.db.close()

    def invalidate_shop(self, shop_id: str) -> None:
        """A shop's settings or catalog changed through this process: its cached copies go now."""
        self.shops.forget(shop_id)
        self.db.products.invalidate(shop_id)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
