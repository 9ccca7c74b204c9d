"""POST /v1/events: the snippet's tracking calls."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import bad_request
from ..http import cors_headers, is_bot, read_body
from ..ingest import apply_events
from ..shops import require_merchant
from ..validation import decode_json, parse_batch


async def post_events(request: Request) -> Response:
    state = request.app.state
    payload = decode_json(await read_body(request, state.settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise bad_request("body", "must be a JSON object with shop, vid and events")
    shop = await state.shops.require(payload.get("shop"))
    headers = cors_headers(request, shop)
    # A merchant's own back end may send events too (purchases confirmed server-side, backfills):
    # with the shop's API key its event timestamps are trusted.
    trusted = "authorization" in request.headers and bool(await require_merchant(request, shop.id))
    batch = parse_batch(payload, shop, state.settings.max_events_per_request)

    vid = state.tokens.verify(shop.id, batch.token)
    new_visitor = vid is None
    if vid is None:
        vid = state.tokens.new_visitor()
    body = {"vid": state.tokens.sign(shop.id, vid), "accepted": 0, "ignored": batch.ignored}
    if is_bot(request):
        body["ignored"] = [{"field": "user-agent", "message": "bots are not tracked"}]
        return JSONResponse(body, headers=headers)
    if request.headers.get("sec-gpc", "").strip() == "1":
        # Global Privacy Control: the browser asks not to be tracked. Accept the call, store nothing.
        body["ignored"] = [{"field": "sec-gpc", "message": "Global Privacy Control is on: nothing is stored"}]
        return JSONResponse(body, headers=headers)
    if not trusted:
        state.limiter.check(shop.id, vid)
    if batch.events:
        applied = await state.db.write(apply_events, shop.id, vid, batch.events, time.time(), new_visitor, trusted)
        body["accepted"] = applied.accepted
        if applied.duplicates:
            body["duplicates"] = applied.duplicates
    return JSONResponse(body, headers=headers)


routes = [Route("/v1/events", post_events, methods=["POST"])]
