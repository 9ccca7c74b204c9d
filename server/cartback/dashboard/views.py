"""The dashboard's pages: the sign-in form, the results of a period (figures of
`cartback.report.report_json`, charts, sections, the holdout) and the same report as CSV."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..i18n import LOCALES, Translate, translator
from ..report import daily_csv, report_csv, report_json
from ..services import services
from ..shops import Shop
from .auth import SESSION_COOKIE, current_session
from .charts import _buckets, build_chart, ci_chart
from .formats import Fmt
from .pages import SECURITY_HEADERS, page_locale, remember_locale, render_page
from .period import PRESETS, Period, period_of
from .verdict import _compares, _f, _verdict

log = logging.getLogger("cartback")


async def login_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse("/dashboard", status_code=303, headers=SECURITY_HEADERS)
    locale, remember = page_locale(request)
    notice = "expired" if request.query_params.get("expired") else None
    return render_page(request, "login.html", locale, remember=remember, error=None, notice=notice,
                       shop_id=request.query_params.get("shop", "")[:63])


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error on a dashboard address as a page in the reader's language, not the API's JSON: a
    marketer's browser shows it. `detail` is the API's message, for whoever runs the server."""
    locale, _ = page_locale(request)
    kind = {503: "unavailable", 404: "not_found"}.get(status, "other")
    return render_page(request, "error.html", locale, status=status, heading=f"error_{kind}",
                       advice=f"error_{kind}_advice", code=status, detail=detail)


async def load_report(request: Request, shop: Shop, period: Period) -> dict[str, Any]:
    await services(request).render_log.flush()  # blocks rendered a moment ago count too
    return await report_json(services(request).db, shop, period.start, period.end)


def _demo_link(extra: dict[str, Any], shop: Shop) -> tuple[str | None, str]:
    """Where the page's shop link goes, and its text key: the demo shop's cart, or the shop itself."""
    url = extra.get("demo_shop_url")
    if url:
        return url.rstrip("/") + "/sepet", "preview"
    if shop.id == "demo" and shop.origins:
        return shop.origins[0] + "/sepet", "preview"
    if shop.origins:
        return shop.origins[0] + "/", "open_shop"
    return None, "open_shop"


async def dashboard(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        target = "/dashboard/login" + ("?expired=1" if SESSION_COOKIE in request.cookies else "")
        response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        if request.query_params.get("lang") in LOCALES:
            remember_locale(response, request.query_params["lang"], secure=False)
        return response
    shop = session.shop
    locale, remember = page_locale(request, shop)
    t = translator(locale)
    today = dt.datetime.now(dt.UTC).date()
    period = period_of(request.query_params, today)
    try:
        report = await load_report(request, shop, period)
    except Exception:  # the page still renders, with a clear message
        log.exception("dashboard report failed for %s", shop.id)
        report = None
    fmt = Fmt(locale, (report or {}).get("currency") or shop.currency)
    window = int((report or {}).get("attribution_days") or shop.settings.get("attribution_days", 7))
    context: dict[str, Any] = {
        "shop": shop, "csrf": session.csrf, "period": period, "fmt": fmt, "window": window, "report": report,
        "today": today, "presets": [{"n": n, "active": period.preset == n} for n in PRESETS],
        "generated": fmt.date(today, "d MMMM y") + " " + dt.datetime.now(dt.UTC).strftime("%H:%M"),
    }
    context["preview_url"], context["preview_label"] = _demo_link(services(request).settings.extra, shop)
    if report is not None:
        context.update(_figures(report, period, fmt, t, today))
        context.update(_holdout(report.get("holdout"), period, fmt, t))
    return render_page(request, "dashboard.html", locale, remember=remember, **context)


def _figures(report: dict[str, Any], period: Period, fmt: Fmt, t: Translate, today: dt.date) -> dict[str, Any]:
    """The cards, the charts and the sections' table of a report."""
    block = report.get("block") or {}
    context: dict[str, Any] = {
        "block": block, "totals": report.get("totals") or {}, "restores": report.get("restores") or {},
        "per_visitor": (_f(block, "impressions") / _f(block, "visitors_reached")
                        if _f(block, "visitors_reached") else 0),
    }
    rows, weekly = _buckets(report.get("daily") or [], period)
    context["weekly"] = weekly
    context["charts"] = [
        build_chart("area", "impressions", t("chart_impressions"), rows, fmt, t, weekly, today=today),
        build_chart("bars", "clicks", t("chart_clicks"), rows, fmt, t, weekly, today=today),
        build_chart("bars", "attributed_orders", t("chart_orders"), rows, fmt, t, weekly, attributed=True,
                    today=today),
        build_chart("area", "attributed_revenue", t("chart_revenue"), rows, fmt, t, weekly, money=True,
                    attributed=True, today=today),
    ]
    sections = report.get("sections") or {}
    top_revenue = max([_f(s, "attributed_revenue") for s in sections.values()] + [0.0])
    context["sections"] = [
        {"key": key, "title": t(f"sec_{key}"), "d": sections[key],
         "bar": (_f(sections[key], "attributed_revenue") / top_revenue) if top_revenue else 0}
        for key in ("cart", "viewed", "favorites", "similar") if key in sections
    ]
    return context


def _holdout(holdout: dict[str, Any] | None, period: Period, fmt: Fmt, t: Translate) -> dict[str, Any]:
    """The holdout panel: the verdict, a note when the setting changed in the period, the differences."""
    context: dict[str, Any] = {"holdout": holdout}
    context["verdict"], context["verdict_short"] = _verdict(holdout)
    context["compares"] = _compares(holdout)
    changed = (holdout or {}).get("changed_at")
    if changed and changed[:10] >= period.start.isoformat():
        context["holdout_changed"] = fmt.date(dt.date.fromisoformat(changed[:10]), "d MMMM y")
    if holdout is not None and context["compares"]:
        context["uplifts"] = [_uplift(holdout.get(key) or {}, label, is_money, fmt, t)
                              for key, label, is_money in (("conversion", "uplift_conv", False),
                                                           ("revenue_per_visitor", "uplift_rpv", True))]
        context["holdout_visitors"] = _f(holdout.get("control"), "visitors") + _f(holdout.get("treatment"),
                                                                                  "visitors")
    return context


def _uplift(u: dict[str, Any], label: str, is_money: bool, fmt: Fmt, t: Translate) -> dict[str, Any]:
    """One difference between the groups: as measured, its 95 % range, relative, and its chart."""
    lo, hi = [*(u.get("ci95") or [0, 0]), 0, 0][:2]
    diff = _f(u, "absolute")
    if is_money:
        shown, lo_s, hi_s = fmt.money_signed(diff), fmt.money_signed(lo), fmt.money_signed(hi)
    else:
        shown = t("points", v=fmt.points(diff))
        lo_s, hi_s = fmt.points(lo or 0), fmt.points(hi or 0)
    rel = u.get("relative")
    return {"label": t(label), "shown": shown, "ci": t("ci", lo=lo_s, hi=hi_s),
            "relative": t("relative", v=fmt.pct(rel, sign=True)) if rel is not None else "",
            "chart": ci_chart(diff, float(lo or 0), float(hi or 0)),
            "significant": bool(u.get("significant"))}


async def export_csv(request: Request) -> Response:
    """The period's report as CSV (the same file as the report API's), for the signed-in shop."""
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/dashboard/login", status_code=303, headers=SECURITY_HEADERS)
    period = period_of(request.query_params, dt.datetime.now(dt.UTC).date())
    report = await load_report(request, session.shop, period)
    daily = request.query_params.get("table") == "daily"
    name = f"cartback-{report['shop']}-{report['from']}-{report['to']}{'-daily' if daily else ''}.csv"
    return Response(daily_csv(report) if daily else report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "content-disposition": f'attachment; filename="{name}"'})
