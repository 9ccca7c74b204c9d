"""GET /v1/empty-cart: the block as an HTML fragment, or 204 when nothing is worth showing.

Holdout (docs/REPORT.md): a stable per-visitor share of the shop's visitors (`holdout_share`) is
the control group. For them the sections are computed exactly as for everybody else, and when
there is something to show (an eligible moment) the block is recorded with `holdout = 1`, but the
answer is 204 (`X-Cartback-Group: control`): both groups are measured the same way, only one of
them sees the block.
"""

from __future__ import annotations

import math
import secrets
import time

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..errors import bad_request
from ..http import allow_origin, client_address, is_bot
from ..i18n import pick_locale
from ..ingest import empty_cart as record_empty_cart
from ..renders import record_blocks
from ..services import services
from ..shop_settings import holdout_share
from ..shops import require_merchant
from ..stats import in_control_group
from ..store import compute_block


def new_block_id() -> str:
    """Time first (milliseconds, fixed-width hex), then 48 random bits: ids sort by time, so each
    batch of block records appends to the id index instead of dirtying a page per row (random
    ids cost the render log about as much as the rest of its write). Unguessable all the same."""
    return f"{time.time_ns() // 1_000_000:011x}{secrets.token_hex(6)}"


async def empty_cart(request: Request) -> Response:
    state = services(request)
    headers = request.headers
    state.address_limiter.check(client_address(request.scope))
    params = request.query_params
    shops = state.shops
    shop = shops.fresh(params.get("shop")) or await shops.require(params.get("shop"))
    answer_headers = {**allow_origin(request, shop), "cache-control": "no-store"}
    # A merchant's back end (the demo's simulated quarter) may place the render in the past.
    ts = time.time()
    trusted = "authorization" in headers and bool(await require_merchant(request, shop.id))
    if trusted and params.get("ts"):
        try:
            ts = float(params["ts"])
        except ValueError:
            raise bad_request("ts", "must be a Unix time in seconds") from None
        if not math.isfinite(ts) or not 0 < ts < 1e11:
            raise bad_request("ts", "must be a Unix time in seconds")
    vid = state.tokens.verify(shop.id, params.get("vid"))
    if vid is None or is_bot(request):
        return Response(status_code=204, headers=answer_headers)
    locale = pick_locale(params.get("locale"), shop.locale)
    # On the loop thread: a few indexed reads cost less than the hop to a reader thread.
    sections, stale_cart = await state.db.read_block(compute_block, shop.id, vid, shop.settings)
    # Global Privacy Control: the block may still be shown, nothing about the visit is stored.
    record = headers.get("sec-gpc", "").strip() != "1"
    if stale_cart and record:
        # The page shows an empty cart, so the shop emptied it (after 24 hours, on its own
        # server, telling nobody): what was in it is cart history from now on, for every later
        # block and report too. The sections above already treat it so.
        await state.db.write(record_empty_cart, shop.id, vid, ts)
    if not sections:
        return Response(status_code=204, headers=answer_headers)
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
        return Response(status_code=204, headers={**answer_headers, "x-cartback-group": "control"})
    html = state.renderer.block(shop.id, block_id, sections, locale, shop.settings.get("titles"), shop.can_restore)
    return HTMLResponse(html, headers=answer_headers)


routes = [Route("/v1/empty-cart", empty_cart, methods=["GET"])]
