"""POST /v1/events: the snippet's tracking calls (docs/WIRE.md)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import bad_request
from ..http import JsonResponse, allow_origin, client_address, is_bot, read_body
from ..ingest import apply_events
from ..services import services
from ..shops import require_merchant
from ..validation import decode_json, parse_batch


async def post_events(request: Request) -> Response:
    state = services(request)
    settings = state.settings
    headers = request.headers
    # Per address, before any work: the per-visitor limit below is skipped by sending no token.
    state.address_limiter.check(client_address(request.scope))
    payload = decode_json(await read_body(request, settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise bad_request("body", "must be a JSON object with shop, vid and events")
    shops = state.shops
    shop = shops.fresh(payload.get("shop")) or await shops.require(payload.get("shop"))
    cors = allow_origin(request, shop)
    # A merchant's own back end may send events too (purchases confirmed server-side, backfills):
    # with the shop's API key its event timestamps are trusted.
    trusted = "authorization" in headers and bool(await require_merchant(request, shop.id))
    batch = parse_batch(payload, shop, settings.max_events_per_request)

    tokens = state.tokens
    vid, token = tokens.renewed(shop.id, batch.token)
    new_visitor = vid is None
    if vid is None:
        vid = tokens.new_visitor()
        token = tokens.sign(shop.id, vid)
    body: dict[str, Any] = {"vid": token, "accepted": 0, "ignored": batch.ignored}
    if is_bot(request):
        body["ignored"] = [{"field": "user-agent", "message": "bots are not tracked"}]
        return JsonResponse(body, headers=cors)
    if headers.get("sec-gpc", "").strip() == "1":
        # Global Privacy Control: the browser asks not to be tracked. Accept the call, store nothing.
        body["ignored"] = [{"field": "sec-gpc", "message": "Global Privacy Control is on: nothing is stored"}]
        return JsonResponse(body, headers=cors)
    if not trusted:
        state.limiter.check(shop.id, vid)
    if batch.events:
        applied = await state.db.write(apply_events, shop.id, vid, batch.events, time.time(), new_visitor, trusted)
        body["accepted"] = applied.accepted
        confirmer = state.confirmer
        if confirmer is not None:
            for event in batch.events:
                if event.product is not None and event.product.url is not None:
                    confirmer.reported(shop.id, event.product.id, event.product.url)
        if applied.duplicates:
            body["duplicates"] = applied.duplicates
    return JsonResponse(body, headers=cors)


routes = [Route("/v1/events", post_events, methods=["POST"])]
