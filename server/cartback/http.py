"""Request plumbing shared by the endpoints: bounded body reads, CORS per shop, rate limits, bots."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Scope

from .errors import ApiError
from .shops import Shop

# Bots that say so. Headless Chrome counts as one (Playwright's too): the server's --count-bots
# switch lets the project's own browser tests through. Searched in the lowercased User-Agent.
BOT_UA = re.compile(r"bot|crawl|spider|slurp|headlesschrome|lighthouse|phantomjs|facebookexternalhit|preview")


class JsonResponse(JSONResponse):
    """JSONResponse written by orjson: the same compact UTF-8 for what the endpoints answer
    (strings, numbers, lists, objects), at a fraction of the json module's cost on the tracking
    calls, the busiest route. `render` is the hook Starlette documents for this."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# A body must arrive whole within this many seconds of the request's headers: a client that stalls
# mid-body (or sends a byte a minute) gets 408 and its connection back, instead of holding it.
BODY_TIMEOUT = 15.0


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` (never read whole), and
    with 408 when it has not arrived whole within the server's `body_timeout`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "bad_request", "content-length: not a number", "content-length") from None
        if too_big:
            raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
    timeout = request.app.state.services.settings.body_timeout
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "body_timeout", f"body: not received within {timeout:g} s", "body") from None
    return b"".join(chunks)


def allow_origin(request: Request, shop: Shop) -> dict[str, str]:
    """CORS headers for a browser call; 403 when the page's origin is not one of the shop's.

    Calls without an Origin header (servers, curl) are not browser calls and pass: the signed
    visitor token, not CORS, is what keeps one visitor's history from another.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    if not shop.allows_origin(origin):
        raise ApiError(403, "origin_not_allowed", f"origin: {origin[:100]!r} is not allowed for shop {shop.id!r}",
                       "origin")
    cors = {"access-control-allow-origin": origin, "vary": "Origin"}
    # errors.api_error_handler puts them on this request's error answers too.
    request.state.cors_headers = cors
    return cors


def is_bot(request: Request) -> bool:
    """A crawler or headless browser that says so (`serve --count-bots` lets them through)."""
    if request.app.state.services.settings.count_bots:
        return False
    return bool(BOT_UA.search(request.headers.get("user-agent", "").lower()))


class RateLimiter:
    """Fixed one-minute windows per key (shop and visitor, or shop and address)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = 0
        self._counts: dict[tuple[str, str], int] = {}

    def check(self, shop: str, who: str) -> None:
        if self.per_minute <= 0:
            return
        window = int(time.monotonic() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        key = (shop, who)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count > self.per_minute:
            raise ApiError(429, "too_many_requests",
                           f"vid: more than {self.per_minute} requests a minute; slow down", "vid")


def client_address(scope: Scope) -> str:
    """The caller's address as the limits count it: IPv6 by its /64 (one host holds a whole /64).
    Behind `serve --trusted-proxy`, uvicorn has already put the proxy's X-Forwarded-For here."""
    client = scope.get("client")
    host = client[0] if client else "?"
    if ":" in host:
        return ":".join(host.split(":")[:4]) + "::/64"
    return host


class AddressLimiter:
    """Calls per client address in fixed one-minute windows, for what a visitor token cannot limit
    (calls without a token, the block, wrong API keys). At most MAX_KEYS addresses a window are told
    apart; past that, new ones share one count, so a flood of addresses fills no memory and resets
    nothing."""

    MAX_KEYS = 100_000
    OVERFLOW = "(many addresses)"

    def __init__(self, per_minute: int, what: str = "requests", field: str = "client") -> None:
        self.per_minute = per_minute
        self.what, self.field = what, field
        self._window = 0
        self._counts: dict[str, int] = {}

    def _key(self, address: str) -> str:
        window = int(time.monotonic() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        if address not in self._counts and len(self._counts) >= self.MAX_KEYS:
            return self.OVERFLOW
        return address

    def check(self, address: str) -> None:
        """Count one call; 429 past the limit."""
        if self.per_minute <= 0:
            return
        key = self._key(address)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count > self.per_minute:
            self.refuse()

    def blocked(self, address: str) -> bool:
        """Whether the address used up its allowance, without counting a call (see `count`)."""
        if self.per_minute <= 0:
            return False
        return self._counts.get(self._key(address), 0) >= self.per_minute

    def count(self, address: str) -> None:
        if self.per_minute > 0:
            key = self._key(address)
            self._counts[key] = self._counts.get(key, 0) + 1

    def refuse(self) -> None:
        raise ApiError(429, "too_many_requests",
                       f"{self.field}: more than {self.per_minute} {self.what} a minute from this address; slow down",
                       self.field)
