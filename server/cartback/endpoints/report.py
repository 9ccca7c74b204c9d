"""GET /v1/shops/{shop}/report?from=&to=[&format=csv[&table=daily]]: the measured results (docs/REPORT.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..dashboard import session_shop
from ..errors import bad_request
from ..report import daily_csv, report_csv, report_json
from ..services import services
from ..shops import require_merchant


async def get_report(request: Request) -> Response:
    # A marketer signed in to the dashboard reads their own shop's report with the session cookie;
    # anyone else needs the API key.
    shop = None
    if "authorization" not in request.headers:
        shop = await session_shop(request)
        if shop is not None and shop.id != request.path_params["shop"]:
            shop = None
    if shop is None:
        shop = await require_merchant(request, request.path_params["shop"])
    params = request.query_params
    fmt = (params.get("format") or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise bad_request("format", f"use json or csv, not {fmt[:20]!r}")
    table = (params.get("table") or "scopes").strip().lower()
    if table not in ("scopes", "daily"):
        raise bad_request("table", f"use scopes or daily, not {table[:20]!r}")
    await services(request).render_log.flush()  # blocks served a moment ago count too
    report = await report_json(services(request).db, shop, params.get("from"), params.get("to"))
    headers = {"cache-control": "no-store"}
    if fmt == "json":
        return JSONResponse(report, headers=headers)
    body = daily_csv(report) if table == "daily" else report_csv(report)
    name = f"cartback-{report['shop']}-{report['from']}-{report['to']}{'-daily' if table == 'daily' else ''}.csv"
    headers["content-disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


routes = [Route("/v1/shops/{shop}/report", get_report, methods=["GET"])]
