"""GET /v1/empty-cart: the block as an HTML fragment, or 204 when nothing is worth showing.

Holdout (docs/REPORT.md): a stable per-visitor share of the shop's visitors (`holdout_share`) is
the control group. For them the sections are computed exactly as for everybody else, and when
there is something to show (an eligible moment) the block is recorded with `holdout = 1`, but the
answer is 204 (`X-Cartback-Group: control`): both groups are measured the same way, only one of
them sees the block.

A raw ASGI handler, as POST /v1/events is (see there): Starlette's `Request` and `HTMLResponse`
are a measurable share of each block's CPU.
"""

from __future__ import annotations

import math
import os
import threading
import time

import orjson
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..errors import bad_request
from ..http import allow_origin, client_address, is_bot_agent, query_params, scope_headers, send_response
from ..i18n import pick_locale
from ..ingest import empty_cart as record_empty_cart
from ..renders import record_blocks
from ..shop_settings import holdout_share
from ..shops import require_merchant_headers
from ..stats import in_control_group
from ..store import compute_block


class _RandomBytes:
    """The kernel's random bytes, fetched 6 KB at a time: one getrandom() per thousand block ids
    instead of one each (a system call costs several µs on a virtual machine)."""

    def __init__(self, chunk: int = 6144) -> None:
        self._chunk = chunk
        self._buffer = b""
        self._at = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._at + n > len(self._buffer):
                self._buffer, self._at = os.urandom(self._chunk), 0
            self._at += n
            return self._buffer[self._at - n:self._at]


_random_bytes = _RandomBytes()


def new_block_id() -> str:
    """Time first (milliseconds, fixed-width hex), then 48 random bits: ids sort by time, so each
    batch of block records appends to the id index instead of dirtying a page per row (random
    ids cost the render log about as much as the rest of its write). Unguessable all the same."""
    return f"{time.time_ns() // 1_000_000:011x}{_random_bytes.take(6).hex()}"


class EmptyCart:
    # A class instance, not a function: Starlette's Route then treats it as an ASGI app.
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        headers = scope_headers(scope)
        address = client_address(scope)
        state.address_limiter.check(address)
        params = query_params(scope)
        shops = state.shops
        shop = shops.fresh(params.get("shop")) or await shops.require(params.get("shop"))
        answer_headers = {**allow_origin(scope, headers, shop), "cache-control": "no-store"}
        # A merchant's back end (the demo's simulated quarter) may place the render in the past.
        ts = time.time()
        trusted = "authorization" in headers and bool(await require_merchant_headers(shops, headers, shop.id, address))
        if trusted and params.get("ts"):
            try:
                ts = float(params["ts"])
            except ValueError:
                raise bad_request("ts", "must be a Unix time in seconds") from None
            if not math.isfinite(ts) or not 0 < ts < 1e11:
                raise bad_request("ts", "must be a Unix time in seconds")
        vid = state.tokens.verify(shop.id, params.get("vid"))
        if vid is None or is_bot_agent(state.settings, headers):
            return await send_response(send, 204, answer_headers)
        locale = pick_locale(params.get("locale"), shop.locale)
        # On the loop thread: a few indexed reads cost less than the hop to a reader thread.
        sections, stale_cart = state.db.read_inline(compute_block, shop.id, vid, shop.settings)
        # Global Privacy Control: the block may still be shown, nothing about the visit is stored.
        record = headers.get("sec-gpc", "").strip() != "1"
        if stale_cart and record:
            # The page shows an empty cart, so the shop emptied it (after 24 hours, on its own
            # server, telling nobody): what was in it is cart history from now on, for every later
            # block and report too. The sections above already treat it so.
            await state.db.write(record_empty_cart, shop.id, vid, ts)
        if not sections:
            return await send_response(send, 204, answer_headers)
        control = in_control_group(shop.id, vid, holdout_share(shop.settings))
        block_id = new_block_id()
        summary = orjson.dumps([{"key": s.key, "ids": [p["id"] for p in s.products]} for s in sections]).decode()
        row = (block_id, shop.id, vid, ts, locale, int(control), summary)
        if record and trusted:
            await state.db.write(record_blocks, [row])  # a back end placing renders in time wants them stored first
        elif record:
            # Recorded for the report ("rendered" vs "viewable"); the visitor need not wait for it.
            state.render_log.add(row)
        if control:
            return await send_response(send, 204, {**answer_headers, "x-cartback-group": "control"})
        html = state.renderer.block(shop.id, block_id, sections, locale, shop.settings.get("titles"), shop.can_restore)
        await send_response(send, 200, answer_headers, html.encode(), b"text/html; charset=utf-8")


empty_cart = EmptyCart()

routes = [Route("/v1/empty-cart", empty_cart, methods=["GET"])]
