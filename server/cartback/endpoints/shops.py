"""GET/PATCH /v1/shops/{shop}/settings: section order, titles, limits and result settings per shop."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import bad_request
from ..http import read_body
from ..services import services
from ..shops import Shop, require_merchant, update_settings, validate_settings
from ..validation import decode_json


def _public(shop: Shop) -> dict[str, Any]:
    return {"shop": shop.id, "origins": shop.origins, "selector": shop.selector, "locale": shop.locale,
            "currency": shop.currency, "settings": shop.settings}


async def settings(request: Request) -> Response:
    shop = await require_merchant(request, request.path_params["shop"])
    if request.method == "GET":
        return JSONResponse(_public(shop))
    changes = decode_json(await read_body(request, services(request).settings.max_body_bytes), "settings")
    if not isinstance(changes, dict):
        raise bad_request("body", "must be a JSON object of settings to change")
    # Refused here, not in the writer: an error there rolls back the group commit it shares.
    validate_settings(changes)
    updated = await services(request).db.write(update_settings, shop.id, changes)
    services(request).invalidate_shop(shop.id)
    return JSONResponse(_public(updated))


routes = [Route("/v1/shops/{shop}/settings", settings, methods=["GET", "PATCH"])]
