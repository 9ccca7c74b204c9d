"""GET /v1/empty-cart: the block as an HTML fragment, or 204 when nothing is worth showing."""

from __future__ import annotations

import json
import secrets
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..http import cors_headers, is_bot
from ..i18n import pick_locale
from ..store import compute_sections


def _record_block(conn, block_id: str, shop: str, vid: str, ts: float, locale: str, sections: str) -> None:
    conn.execute("INSERT INTO blocks (id, shop, vid, ts, locale, holdout, sections) VALUES (?, ?, ?, ?, ?, 0, ?)",
                 (block_id, shop, vid, ts, locale, sections))


async def empty_cart(request: Request) -> Response:
    state = request.app.state
    params = request.query_params
    shop = await state.shops.require(params.get("shop"))
    headers = {**cors_headers(request, shop), "cache-control": "no-store"}
    vid = state.tokens.verify(shop.id, params.get("vid"))
    if vid is None or is_bot(request):
        return Response(status_code=204, headers=headers)
    locale = pick_locale(params.get("locale"), shop.locale)
    sections = await compute_sections(state.db, shop.id, vid, shop.settings)
    if not sections:
        return Response(status_code=204, headers=headers)
    block_id = secrets.token_urlsafe(9)
    html = state.renderer.block(shop.id, block_id, sections, locale, shop.settings.get("titles"))
    summary = json.dumps([{"key": s.key, "ids": [p["id"] for p in s.products]} for s in sections],
                         separators=(",", ":"))
    # The render is recorded for the report ("rendered" vs "viewable"); the visitor need not wait for it.
    state.spawn(state.db.write(_record_block, block_id, shop.id, vid, time.time(), locale, summary))
    return HTMLResponse(html, headers=headers)


routes = [Route("/v1/empty-cart", empty_cart, methods=["GET"])]
