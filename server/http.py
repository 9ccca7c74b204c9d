"""Request plumbing shared by the endpoints: bounded body reads, CORS per shop, rate limits, bots."""

from __future__ import annotations

import re
import time

from starlette.requests import Request

from .errors import ApiError
from .shops import Shop

# Bots that say so. Headless Chrome counts as one (Playwright's too): the server's --count-bots
# switch lets the project's own browser tests through.
BOT_UA = re.compile(r"bot|crawl|spider|slurp|headlesschrome|lighthouse|phantomjs|facebookexternalhit|preview",
                    re.IGNORECASE)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` (never read whole)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "bad_request", "content-length: not a number", "content-length") from None
        if too_big:
            raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"body: larger than {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def cors_headers(request: Request, shop: Shop) -> dict[str, str]:
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
    headers = {"access-control-allow-origin": origin, "vary": "Origin"}
    request.state.cors_headers = headers
    return headers


def is_bot(request: Request) -> bool:
    if request.app.state.settings.count_bots:
        return False
    return bool(BOT_UA.search(request.headers.get("user-agent", "")))


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
