"""POST /v1/events: the snippet's tracking calls.

A raw ASGI handler, not a Starlette request/response endpoint: `Request`, `Request.stream()` and
`JSONResponse` cost ~60 µs of CPU per call, a sixth of the whole request (bench/README.md).
Errors are still raised as `ApiError` and answered by the app's handler, with the CORS headers.
"""

from __future__ import annotations

import time

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..errors import bad_request
from ..http import allow_origin, client_address, is_bot_agent, receive_body, scope_headers, send_json
from ..ingest import apply_events
from ..shops import require_merchant_headers
from ..validation import decode_json, parse_batch


class PostEvents:
    # A class instance, not a function: Starlette's Route then treats it as an ASGI app.
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        settings = state.settings
        headers = scope_headers(scope)
        address = client_address(scope)
        # Per address, before any work: the per-visitor limit below is skipped by sending no token.
        state.address_limiter.check(address)
        payload = decode_json(await receive_body(headers, receive, settings.max_body_bytes, settings.body_timeout))
        if not isinstance(payload, dict):
            raise bad_request("body", "must be a JSON object with shop, vid and events")
        shops = state.shops
        shop = shops.fresh(payload.get("shop")) or await shops.require(payload.get("shop"))
        cors = allow_origin(scope, headers, shop)
        # A merchant's own back end may send events too (purchases confirmed server-side, backfills):
        # with the shop's API key its event timestamps are trusted.
        trusted = "authorization" in headers and bool(await require_merchant_headers(shops, headers, shop.id, address))
        batch = parse_batch(payload, shop, settings.max_events_per_request)

        tokens = state.tokens
        vid, token = tokens.renewed(shop.id, batch.token)
        new_visitor = vid is None
        if vid is None:
            vid = tokens.new_visitor()
            token = tokens.sign(shop.id, vid)
        body = {"vid": token, "accepted": 0, "ignored": batch.ignored}
        if is_bot_agent(settings, headers):
            body["ignored"] = [{"field": "user-agent", "message": "bots are not tracked"}]
            return await send_json(send, body, cors)
        if headers.get("sec-gpc", "").strip() == "1":
            # Global Privacy Control: the browser asks not to be tracked. Accept the call, store nothing.
            body["ignored"] = [{"field": "sec-gpc", "message": "Global Privacy Control is on: nothing is stored"}]
            return await send_json(send, body, cors)
        if not trusted:
            state.limiter.check(shop.id, vid)
        if batch.events:
            applied = await state.db.write(apply_events, shop.id, vid, batch.events, time.time(), new_visitor,
                                           trusted)
            body["accepted"] = applied.accepted
            confirmer = state.confirmer
            if confirmer is not None:
                for event in batch.events:
                    if event.product is not None and event.product.url is not None:
                        confirmer.reported(shop.id, event.product.id, event.product.url)
            if applied.duplicates:
                body["duplicates"] = applied.duplicates
        await send_json(send, body, cors)


post_events = PostEvents()

routes = [Route("/v1/events", post_events, methods=["POST"])]
