"""The snippet: its build (snippet/src/ → snippet/dist/ by esbuild), size budgets, and how the
server serves the core (/snippet.js), the platform adapters (/snippet/<platform>.js) and the shop
config that names them."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import httpx
import pytest
from cartback.app import create_app
from cartback.config import Settings
from cartback.snippet import Snippet

from tests.conftest import REPO, add_shop, new_database

CORE_BUDGET = 2500
ADAPTER_BUDGET = 1200
SNIPPET = REPO / "snippet"
DIST = SNIPPET / "dist"


def test_the_core_fits_the_gzip_budget(api):
    r = api.get("/snippet.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    size = len(Snippet.load(DIST / "cartback.js").gzipped)
    print(f"snippet core: {size} bytes gzipped (budget {CORE_BUDGET})")
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) == size
    assert size <= CORE_BUDGET


def test_each_adapter_fits_the_gzip_budget():
    # The restore button's code (restore.js) too: it is loaded the same way, with a block that has one.
    sizes = {p.stem: len(Snippet.load(p).gzipped) for p in sorted(DIST.glob("*.js")) if p.stem != "cartback"}
    assert "restore" in sizes
    for name, size in sizes.items():
        print(f"{name}.js: {size} bytes gzipped (budget {ADAPTER_BUDGET})")
    assert {name: size for name, size in sizes.items() if size > ADAPTER_BUDGET} == {}


def test_the_committed_build_matches_the_sources(tmp_path):
    """snippet/dist/ is what shops download; it must be what snippet/src/ builds to today."""
    if not (SNIPPET / "node_modules" / "esbuild").is_dir():
        pytest.fail("esbuild is not installed: run `npm ci --prefix snippet` (then `npm --prefix snippet run build`)")
    node = shutil.which("node")
    assert node, "node is not installed (apt-get install nodejs npm)"
    built = subprocess.run([node, str(SNIPPET / "build.mjs"), str(tmp_path)], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.js")}
    committed = {p.name: p.read_bytes() for p in DIST.glob("*.js")}
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"snippet/dist/ differs from a fresh build for {stale}: run `npm --prefix snippet run build`"
    assert "cartback.js" in fresh


def test_snippet_is_cacheable_with_a_validator(api):
    first = api.get("/snippet.js", headers={"accept-encoding": "identity"})
    assert first.headers["content-type"].startswith("application/javascript")
    assert "max-age=300" in first.headers["cache-control"] and first.headers.get("content-encoding") is None
    assert first.content == (DIST / "cartback.js").read_bytes()
    etag = first.headers["etag"]
    again = api.get("/snippet.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


def test_config_and_health(api, make_shop):
    shop = make_shop(selector="woocommerce")
    cfg = api.get("/v1/config", params={"shop": shop.id}).json()
    assert cfg["selector"].startswith(".wc-empty-cart-message") and cfg["locale"] == "tr"
    # No platform: nothing more to load, nothing to restore with.
    assert (cfg["platform"], cfg["id_field"], cfg["restore_url"], cfg["adapter"]) == (None, "product", None, None)
    assert api.get("/healthz").json()["status"] == "ok"
    assert api.get("/v1/config", params={"shop": "missing"}).status_code == 404


# ---------------------------------------------------------------- adapters, on a server of our own

ADAPTER = b'(()=>{var c=window.cartback;c&&c("adapter",{restore:i=>Promise.resolve({added:[],failed:[]})})})();\n'


@pytest.fixture
def adapter_server(tmp_path):
    """The app in-process over a dist folder holding the real core and one adapter, `shopify`;
    adapter_server(calls, root_path='') runs `await calls(client)` between start-up and shut-down."""
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(DIST / "cartback.js", dist / "cartback.js")
    (dist / "shopify.js").write_bytes(ADAPTER)
    settings = Settings(db_path=new_database(tmp_path, "a.db"), snippet_path=dist / "cartback.js")

    def run(calls, root_path: str = "") -> None:
        async def main() -> None:
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, root_path=root_path)
                async with httpx.AsyncClient(transport=transport, base_url="https://widgets.example") as client:
                    await calls(client)
        asyncio.run(main())

    async def migrate(client):
        await client.get("/healthz")

    run(migrate)  # start-up migrates the database
    run.settings = settings
    return run


def shop_with(settings: Settings, **values) -> str:
    return add_shop(settings.db_path, ["https://shop.example"], settings=values).id


def test_config_names_the_platform_adapter_and_it_is_served_for_good(adapter_server):
    shop = shop_with(adapter_server.settings, platform="shopify", id_field="variant",
                     restore_url="/cart/add?id={variant}&quantity={qty}")

    async def calls(c):
        cfg = (await c.get("/v1/config", params={"shop": shop})).json()
        version = Snippet.of(ADAPTER).version
        assert cfg["adapter"] == f"https://widgets.example/snippet/shopify.js?v={version}"
        assert (cfg["platform"], cfg["id_field"], cfg["restore_url"]) == (
            "shopify", "variant", "/cart/add?id={variant}&quantity={qty}")

        r = await c.get(cfg["adapter"].removeprefix("https://widgets.example"), headers={"accept-encoding": "gzip"})
        assert r.status_code == 200 and r.content == ADAPTER
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"].startswith("application/javascript")
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["access-control-allow-origin"] == "*"
        again = await c.get(f"/snippet/shopify.js?v={version}", headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert (await c.head(f"/snippet/shopify.js?v={version}")).status_code == 200
        # Another version's URL (a config cached before a deploy) is never pinned for a year.
        stale = await c.get("/snippet/shopify.js?v=0123456789ab", headers={"accept-encoding": "identity"})
        assert stale.content == ADAPTER and "immutable" not in stale.headers["cache-control"]

        assert (await c.get("/snippet/magento.js")).status_code == 404  # not built
        assert (await c.get("/snippet/cartback.js")).status_code == 404  # the core is /snippet.js only
        assert (await c.get("/snippet.js")).content == (DIST / "cartback.js").read_bytes()

    adapter_server(calls)


def test_the_adapter_url_keeps_the_root_path(adapter_server):
    shop = shop_with(adapter_server.settings, platform="shopify")

    async def calls(c):
        adapter = (await c.get("/widget/v1/config", params={"shop": shop})).json()["adapter"]
        assert adapter.startswith("https://widgets.example/widget/snippet/shopify.js?v=")
        assert (await c.get(adapter.removeprefix("https://widgets.example"))).content == ADAPTER

    adapter_server(calls, root_path="/widget")


def test_a_platform_without_a_built_adapter_gets_none(adapter_server):
    shop = shop_with(adapter_server.settings, platform="ga4")

    async def calls(c):
        assert (await c.get("/v1/config", params={"shop": shop})).json()["adapter"] is None

    adapter_server(calls)
