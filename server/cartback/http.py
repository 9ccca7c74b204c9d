"""Request plumbing shared by the endpoints: bounded body reads, CORS per shop, rate limits, bots.

Each check has a core taking a headers mapping (lowercase names) used by both the `Request` versions
and the hot endpoints, which are raw ASGI handlers (ARCHITECTURE.md says why).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from .config import Settings
from .errors import ApiError
from .shops import Shop

# Bots that say so. Headless Chrome counts as one (Playwright's too): the server's --count-bots
# switch lets the project's own browser tests through. Searched in the lowercased User-Agent:
# re.IGNORECASE made it 15 µs a request, this 2; the same matches for header values, which are
# latin-1 (no latin-1 character lowercases or case-folds to an ASCII letter but A-Z).
BOT_UA = re.compile(r"bot|crawl|spider|slurp|headlesschrome|lighthouse|phantomjs|facebookexternalhit|preview")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` (never read whole)."""
    return await receive_body(request.headers, request.receive, limit, request.app.state.settings.body_timeout)


# A body must arrive whole within this many seconds of the request's headers: a client that stalls
# mid-body (or sends a byte a minute) gets 408 and its connection back, instead of holding it.
BODY_TIMEOUT = 15.0


async def receive_body(headers: Mapping[str, str], receive: Receive, limit: int,
                       timeout: float = BODY_TIMEOUT) -> bytes:
    """`read_body` for raw ASGI handlers: `headers` maps lowercase names to values."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under an ASGI server
        return await _receive_body(headers, receive, limit)
    _deadlines.watch(task, time.monotonic() + timeout)
    try:
        return await _receive_body(headers, receive, limit)
    except asyncio.CancelledError:
        if _deadlines.expired(task):
            task.uncancel()
            raise ApiError(408, "body_timeout", f"body: not received within {timeout:g} s", "body") from None
        raise
    finally:
        _deadlines.done(task)


class _Deadlines:
    """Body-read deadlines, checked by one sweeper task twice a second: a dict entry per request
    instead of a timer (asyncio.timeout and call_later measured 7-10 µs a call; this ~0.3)."""

    SWEEP = 0.5

    def __init__(self) -> None:
        self._waiting: dict[asyncio.Task, float] = {}
        self._expired: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    def watch(self, task: asyncio.Task, deadline: float) -> None:
        self._waiting[task] = deadline
        sweeper = self._sweeper
        if sweeper is None or sweeper.done() or sweeper.get_loop() is not task.get_loop():
            self._sweeper = task.get_loop().create_task(self._sweep())

    def done(self, task: asyncio.Task) -> None:
        self._waiting.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task) -> bool:
        return task in self._expired

    async def _sweep(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.SWEEP)
            now = time.monotonic()
            for task, deadline in list(self._waiting.items()):
                if deadline <= now and self._waiting.pop(task, None) is not None:
                    self._expired.add(task)
                    task.cancel()


_deadlines = _Deadlines()


async def _receive_body(headers: Mapping[str, str], receive: Receive, limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "bad_request", "content-length: not a number", "content-length") from None
        if too_big:
            raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def scope_headers(scope: Scope) -> dict[str, str]:
    """The request headers by lowercase name; the first of repeated ones, as Starlette's `Headers.get`."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(scope["headers"])}


def query_params(scope: Scope) -> dict[str, str]:
    """The query string's parameters; the last of repeated ones, as Starlette's `QueryParams.get`."""
    raw = scope["query_string"].decode("latin-1")
    if "%" in raw or "+" in raw:
        return dict(parse_qsl(raw, keep_blank_values=True))
    # Nothing to unquote (the snippet's own calls): what parse_qsl would give, without its overhead.
    params = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params[name] = value
    return params


def cors_headers(request: Request, shop: Shop) -> dict[str, str]:
    return allow_origin(request.scope, request.headers, shop)


def allow_origin(scope: Scope, headers: Mapping[str, str], shop: Shop) -> dict[str, str]:
    """CORS headers for a browser call; 403 when the page's origin is not one of the shop's.

    Calls without an Origin header (servers, curl) are not browser calls and pass: the signed
    visitor token, not CORS, is what keeps one visitor's history from another.
    """
    origin = headers.get("origin")
    if origin is None:
        return {}
    if not shop.allows_origin(origin):
        raise ApiError(403, "origin_not_allowed", f"origin: {origin[:100]!r} is not allowed for shop {shop.id!r}",
                       "origin")
    cors = {"access-control-allow-origin": origin, "vary": "Origin"}
    # What `request.state.cors_headers` reads: errors.api_error_handler puts them on error answers too.
    scope.setdefault("state", {})["cors_headers"] = cors
    return cors


def is_bot(request: Request) -> bool:
    return is_bot_agent(request.app.state.settings, request.headers)


def is_bot_agent(settings: Settings, headers: Mapping[str, str]) -> bool:
    if settings.count_bots:
        return False
    return bool(BOT_UA.search(headers.get("user-agent", "").lower()))


async def send_response(send: Send, status: int, headers: dict[str, str], body: bytes = b"",
                        content_type: bytes | None = None) -> None:
    """What Starlette's `Response(body, status, headers, media_type)` sends, without building one."""
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if status >= 200 and status not in (204, 304):
        raw.append((b"content-length", str(len(body)).encode()))
    if content_type is not None:
        raw.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, content: Any, headers: dict[str, str], status: int = 200) -> None:
    """As Starlette's `JSONResponse(content, status, headers)` (the same bytes for the strings,
    numbers, lists and objects the endpoints answer with)."""
    await send_response(send, status, headers, orjson.dumps(content), b"application/json")


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
