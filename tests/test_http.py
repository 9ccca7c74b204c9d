"""http.py: bounded body reads (413, 408), CORS per shop, the limiters, the bot filter, client
addresses, orjson answers. Requests driven by hand (a scope and an ASGI `receive`); the
socket-level stall against uvicorn is in test_server.py (slow)."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest
from cartback.config import Settings
from cartback.errors import ApiError
from cartback.http import (
    BOT_UA,
    AddressLimiter,
    JsonResponse,
    RateLimiter,
    allow_origin,
    client_address,
    is_bot,
    read_body,
)
from cartback.shops import Shop
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from tests.conftest import sent_messages

ORIGIN = "http://shop.test"
SHOP = Shop("s1", "", [ORIGIN], None, "tr", "TRY", {})


def chunks(*parts: bytes, then: dict | None = None, stall: bool = False):
    """An ASGI `receive` handing out `parts` as one request body; with `then` (a disconnect) or
    `stall`, the body is left unfinished and `then` comes next, or nothing ever does."""
    messages = [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1 or stall or bool(then)}
                for i, part in enumerate(parts)]
    if then is not None:
        messages.append(then)

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a client that stalls mid-body
        raise AssertionError("unreachable")

    return receive


def request(headers: dict[str, str], receive=None, body_timeout: float = 5.0, count_bots: bool = False) -> Request:
    """A request as the app hands it to an endpoint, with the server's settings behind it."""
    settings = Settings(body_timeout=body_timeout, count_bots=count_bots)
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(settings=settings)))
    scope = {"type": "http", "method": "POST", "path": "/", "app": app,
             "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]}
    return Request(scope, receive) if receive is not None else Request(scope)


def read(headers: dict[str, str], receive, limit: int = 10, timeout: float = 5.0) -> bytes:
    return asyncio.run(read_body(request(headers, receive, timeout), limit))


def refused(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


# -- bodies --------------------------------------------------------------------------------------------

def test_a_body_within_the_limit_arrives_whole_however_it_is_cut():
    assert read({}, chunks(b"0123", b"", b"456789")) == b"0123456789"
    assert read({"content-length": "10"}, chunks(b"0123456789")) == b"0123456789"
    assert read({}, chunks(b"")) == b""


def test_a_body_over_the_limit_is_413_before_it_is_read_whole():
    declared = refused(read, {"content-length": "11"}, chunks())  # refused on the header: nothing received
    assert (declared.status, declared.code, declared.field) == (413, "body_too_large", "body")
    assert declared.message == "body: larger than 10 bytes"
    streamed = chunks(b"0123456", b"7890", b"never read")
    assert refused(read, {}, streamed).status == 413
    assert refused(read, {"content-length": "x"}, chunks(b"")).field == "content-length"


def test_a_client_that_leaves_mid_body_is_a_disconnect_not_an_error():
    with pytest.raises(ClientDisconnect):
        read({}, chunks(b"01", then={"type": "http.disconnect"}))


def test_a_body_that_stalls_past_its_deadline_is_408():
    error = refused(read, {}, chunks(b"01", stall=True), 10, 0.1)
    assert (error.status, error.code, error.field) == (408, "body_timeout", "body")
    assert error.message == "body: not received within 0.1 s"
    # The next request on the same loop has a deadline of its own.
    assert read({}, chunks(b"ok"), 10, 0.1) == b"ok"


# -- CORS ----------------------------------------------------------------------------------------------

def test_cors_answers_the_shops_origins_and_refuses_the_rest_by_name():
    assert allow_origin(request({}), SHOP) == {}  # no Origin: a server or curl, not a browser call
    browser = request({"origin": "http://SHOP.test:80"})
    assert allow_origin(browser, SHOP) == {"access-control-allow-origin": "http://SHOP.test:80", "vary": "Origin"}
    assert browser.state.cors_headers["vary"] == "Origin"  # for the error answers too
    error = refused(allow_origin, request({"origin": "https://evil.example"}), SHOP)
    assert (error.status, error.code, error.field) == (403, "origin_not_allowed", "origin")
    assert refused(allow_origin, request({"origin": "null"}), SHOP).status == 403


# -- limits --------------------------------------------------------------------------------------------

def test_the_visitor_limit_counts_per_shop_and_visitor_a_minute():
    limiter = RateLimiter(3)
    for _ in range(3):
        limiter.check("s1", "v1")
    error = refused(limiter.check, "s1", "v1")
    assert (error.status, error.field) == (429, "vid")
    limiter.check("s1", "v2")
    limiter.check("s2", "v1")
    limiter._window -= 1  # the next minute
    limiter.check("s1", "v1")
    off = RateLimiter(0)
    for _ in range(1000):
        off.check("s1", "v1")


def test_the_address_limit_blocks_without_counting_and_shares_one_count_past_its_table():
    limiter = AddressLimiter(2, "wrong API keys", "authorization")
    assert not limiter.blocked("192.0.2.1")
    limiter.count("192.0.2.1")
    limiter.count("192.0.2.1")
    assert limiter.blocked("192.0.2.1") and not limiter.blocked("192.0.2.2")
    error = refused(limiter.check, "192.0.2.1")
    assert (error.status, error.field) == (429, "authorization")
    assert error.message == "authorization: more than 2 wrong API keys a minute from this address; slow down"

    flood = AddressLimiter(2)
    flood.MAX_KEYS = 3
    for i in range(3):
        flood.check(f"198.51.100.{i}")
    flood.check("203.0.113.1")
    flood.check("203.0.113.2")  # a new address past the table: the shared count, now at 2
    assert refused(flood.check, "203.0.113.3").field == "client"
    assert flood.blocked("203.0.113.99") and not flood.blocked("198.51.100.0")
    assert not AddressLimiter(0).blocked("x")


def test_client_addresses_count_ipv6_by_its_64():
    assert client_address({"client": ("192.0.2.7", 5000)}) == "192.0.2.7"
    assert client_address({"client": ("2001:db8:1:2:aaaa::1", 5000)}) == "2001:db8:1:2::/64"
    assert client_address({"client": ("2001:db8:1:2:bbbb::9", 5000)}) == "2001:db8:1:2::/64"
    assert client_address({}) == "?"


# -- bots ----------------------------------------------------------------------------------------------

def test_the_bot_filter_matches_as_the_case_insensitive_pattern_did():
    # The pattern is searched in the lowercased User-Agent; that must match what IGNORECASE would.
    before = re.compile(BOT_UA.pattern, re.IGNORECASE)
    agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
              "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "HeadlessChrome/126",
              "facebookexternalhit/1.1", "Mozilla/5.0 (compatible; BingPreview/1.0b)", ""]
    # Header values are latin-1: every one of its characters in place of each letter of each word.
    for word in BOT_UA.pattern.split("|"):
        for i in range(len(word)):
            agents += [f"x{word[:i]}{chr(c)}{word[i + 1:]}y" for c in range(256)]
    for agent in agents[:6] + agents[6::97]:
        assert is_bot(request({"user-agent": agent})) == bool(before.search(agent)), agent
    for agent in agents:
        assert bool(BOT_UA.search(agent.lower())) == bool(before.search(agent)), agent
    assert not is_bot(request({"user-agent": "Googlebot"}, count_bots=True))


# -- answers -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [
    {"vid": "ü.x.y", "accepted": 1, "ignored": [{"field": "events[0].product.name", "message": "çok uzun"}]},
    {"error": {"code": "x", "message": "m"}}, [], "ş",
])
@pytest.mark.parametrize("headers", [{}, {"access-control-allow-origin": ORIGIN, "vary": "Origin"}])
def test_orjson_answers_are_the_bytes_jsonresponse_sends(content, headers):
    ours = sent_messages(lambda send: JsonResponse(content, headers=headers)({"type": "http"}, None, send))
    theirs = sent_messages(lambda send: JSONResponse(content, headers=headers)({"type": "http"}, None, send))
    assert ours == theirs
