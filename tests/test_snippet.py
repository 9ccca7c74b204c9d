"""/snippet.js: size budget, compression, validators."""

from __future__ import annotations

import gzip

from cartback.config import Settings
from cartback.snippet import Snippet

BUDGET = 2500


def test_served_snippet_fits_the_gzip_budget(api):
    r = api.get("/snippet.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    size = len(Snippet.load(Settings().snippet_path).gzipped)
    print(f"snippet: {size} bytes gzipped (budget {BUDGET})")
    assert size <= BUDGET
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) == size


def test_snippet_is_cacheable_with_a_validator(api):
    first = api.get("/snippet.js", headers={"accept-encoding": "identity"})
    assert first.headers["content-type"].startswith("application/javascript")
    assert "max-age" in first.headers["cache-control"] and first.headers.get("content-encoding") is None
    etag = first.headers["etag"]
    again = api.get("/snippet.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert gzip.decompress(Snippet.load(Settings().snippet_path).gzipped) == first.content


def test_config_and_health(api, make_shop):
    shop = make_shop(selector="woocommerce")
    cfg = api.get("/v1/config", params={"shop": shop.id}).json()
    assert cfg["selector"].startswith(".wc-empty-cart-message") and cfg["locale"] == "tr"
    assert api.get("/healthz").json()["status"] == "ok"
    assert api.get("/v1/config", params={"shop": "missing"}).status_code == 404
