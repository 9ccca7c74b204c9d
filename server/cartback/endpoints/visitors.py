"""GET / DELETE /v1/shops/{shop}/visitors/{vid}: export or erase one visitor (server/cartback/privacy.py).

`{vid}` is the raw visitor id or the visitor's signed token (as the snippet stores it). A token
past its age limit still names its visitor here; a token with a bad signature is refused.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import bad_request
from ..privacy import RAW_VID, erase_visitor, export_visitor
from ..services import services
from ..shops import require_merchant
from ..tokens import VisitorTokens


def resolve_vid(tokens: VisitorTokens, shop_id: str, value: str) -> str:
    value = value.strip()
    if "." in value:
        # No age limit: erasing an old visitor must still work.
        vid = tokens.verify(shop_id, value, any_age=True)
        if vid is None:
            raise bad_request("vid", "not a valid visitor token for this shop")
        return vid
    if not RAW_VID.match(value):
        raise bad_request("vid", "a visitor id is 1-100 letters, digits, '-' or '_'")
    return value


async def get_visitor(request: Request) -> Response:
    shop = await require_merchant(request, request.path_params["shop"])
    state = services(request)
    vid = resolve_vid(state.tokens, shop.id, request.path_params["vid"])
    await state.render_log.flush()  # the export includes blocks served a moment ago
    data = await state.db.read(export_visitor, shop.id, vid)
    return JSONResponse(data, headers={"cache-control": "no-store"})


async def delete_visitor(request: Request) -> Response:
    shop = await require_merchant(request, request.path_params["shop"])
    state = services(request)
    vid = resolve_vid(state.tokens, shop.id, request.path_params["vid"])
    await state.render_log.flush()  # no pending record may bring the erased id back
    result = await state.db.write(erase_visitor, shop.id, vid)
    return JSONResponse(result, headers={"cache-control": "no-store"})


routes = [
    Route("/v1/shops/{shop}/visitors/{vid}", get_visitor, methods=["GET"]),
    Route("/v1/shops/{shop}/visitors/{vid}", delete_visitor, methods=["DELETE"]),
]
