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
from .render import Renderer
from .renders import RenderLog
from .shops import ShopRegistry
from .snippet import AdapterResponses, Snippet, adapter_responses, load_adapters, snippet_responses
from .tokens import VisitorTokens

if TYPE_CHECKING:
    from itsdangerous import URLSafeTimedSerializer

    from .confirm import PageConfirmer
    from .dashboard.auth import _Attempts


def _ensure_secret(conn: sqlite3.Connection) -> str:
    # Generated once and kept in the database, so tokens survive restarts with no configuration.
    row = conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    if row:
        return str(row[0])
    secret = secrets.token_urlsafe(32)
    conn.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (secret,))
    return secret


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
    # Dashboard sign-in failures (lockout) and its signers, one per purpose.
    dashboard_attempts: _Attempts
    dashboard_serializers: dict[str, URLSafeTimedSerializer] = field(default_factory=dict)
    # Shops whose catalog import is running in this process: one at a time per shop.
    catalog_imports: set[str] = field(default_factory=set)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        caps.limits.max_browser_products = settings.max_browser_products
        caps.limits.max_visitors = settings.max_visitors
        caps.limits.max_items_per_visitor = settings.max_visitor_items
        max_pages = int(settings.max_db_mb * 1024 * 1024 // 4096) if settings.max_db_mb else None
        db = Database(settings.db_path, readers=settings.readers, max_pages=max_pages)
        await db.start()
        secret = await db.write(_ensure_secret)
        shops = ShopRegistry(db, key_failures=AddressLimiter(settings.key_failures_per_minute, "wrong API keys",
                                                             "authorization"))
        confirmer = None
        if settings.confirm_pages:
            from .confirm import PageConfirmer

            confirmer = PageConfirmer(db, shops)
            confirmer.start()
        snippet = Snippet.load(settings.snippet_path)
        # Imported here: the dashboard's modules import this one, and the retention loop brings
        # the report, which the modules serving the block and the tracking calls do without.
        from .dashboard.auth import _Attempts
        from .privacy import retention_loop

        return cls(
            settings=settings, db=db, shops=shops,
            tokens=VisitorTokens(secret, settings.token_max_age_days * 86400),
            renderer=Renderer(settings.templates_dir), render_log=RenderLog(db),
            limiter=RateLimiter(settings.rate_limit_per_minute),
            address_limiter=AddressLimiter(settings.address_limit_per_minute),
            snippet=snippet, snippet_responses=snippet_responses(snippet),
            adapters=adapter_responses(load_adapters(settings.snippet_path.parent)),
            confirmer=confirmer,
            # Raw events past each shop's retention period: rolled into daily counts, then deleted, daily.
            _retention=asyncio.ensure_future(retention_loop(db)),
            secret=secret, dashboard_attempts=_Attempts(),
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
