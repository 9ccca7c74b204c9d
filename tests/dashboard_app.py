"""An in-process Cartback app for the dashboard's tests: the real app and SQLite file, no server process.

`Browser` keeps cookies like a browser and comes from one client address of its choosing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from cartback.app import create_app
from cartback.config import Settings

from tests.conftest import add_shop, new_database

BASE_URL = "http://testserver"


class DashboardApp:
    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.settings = Settings(db_path=new_database(tmp_path), **settings)
        self.app = create_app(self.settings)
        self.loop = asyncio.new_event_loop()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.run(self._lifespan.__aenter__())
        self.shop = add_shop(self.settings.db_path, ["http://shop.test"], shop_id="dash",
                             settings={"holdout_share": 0.2})
        self._browsers: list[Browser] = []

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def browser(self, address: str = "192.0.2.10") -> Browser:
        browser = Browser(self, address)
        self._browsers.append(browser)
        return browser

    def close(self) -> None:
        for browser in self._browsers:
            self.run(browser.client.aclose())
        self.run(self._lifespan.__aexit__(None, None, None))
        self.loop.close()


class Browser:
    def __init__(self, app: DashboardApp, address: str) -> None:
        self.app = app
        transport = httpx.ASGITransport(app=app.app, client=(address, 50000))
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE_URL, follow_redirects=False)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.client.cookies

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.app.run(self.client.get(url, **kw))

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.app.run(self.client.post(url, **kw))

    def sign_in(self, key: str | None = None, shop: str | None = None, lang: str = "en") -> httpx.Response:
        return self.post(f"/dashboard/login?lang={lang}",
                         data={"shop": shop or self.app.shop.id, "key": key or self.app.shop.api_key})
