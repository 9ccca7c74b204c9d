"""`cartback report SHOP [--from] [--to] [--csv]`: the report as a table in the terminal, every number
in the shop's locale, or as the API's CSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ApiError
from ..report import GROUPS, parse_period, report_csv, report_in_snapshot
from ..shops import get_shop

DASH = "–"  # a figure that cannot be computed (an empty group, no interval)


def _table(header: list[str], rows: list[list[str]], first_left: bool = True) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [c.ljust(widths[i]) if i == 0 and first_left else c.rjust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


class Numbers:
    """Every number in the shop's locale, as its money already is ("3.856" next to "₺8.245,20")."""

    def __init__(self, locale: str, currency: str) -> None:
        from babel import Locale

        from ..i18n import BABEL_LOCALES

        self.locale, self.currency = locale, currency
        self.babel = BABEL_LOCALES.get(locale, "en_US")
        pattern = Locale.parse(self.babel).percent_formats[None].pattern
        self.percent = pattern.replace("#,##0", "#,##0.0")  # "%80,0" in Turkish

    def num(self, n: float) -> str:
        from babel.numbers import format_decimal

        return str(format_decimal(int(n), locale=self.babel))

    def pct(self, x: float | None, signed: bool = False) -> str:
        from babel.numbers import format_percent

        if x is None:
            return DASH
        text = str(format_percent(x, format=self.percent, locale=self.babel))
        return ("+" + text if x >= 0 else text) if signed else text

    def signed_pct(self, x: float | None) -> str:
        return self.pct(x, True)

    def money(self, x: float | None) -> str:
        from ..render import format_price

        return DASH if x is None else format_price(x, self.currency, self.locale)

    def signed_money(self, x: float | None) -> str:
        if x is None:
            return DASH
        return ("+" if x >= 0 else "−") + self.money(abs(x))

    @staticmethod
    def points(x: float) -> str:
        return f"{x * 100:+.2f} pts"

    @staticmethod
    def interval(ci: Sequence[float] | None, fmt: Callable[[float], str]) -> str:
        return DASH if ci is None else f"{fmt(ci[0])} … {fmt(ci[1])}"


def _scopes_table(report: dict[str, Any], f: Numbers) -> list[str]:
    days = report["attribution_days"]
    scopes = [("block", report["block"]), *report["sections"].items()]
    spec: list[tuple[str, str, Callable[[Any], str]]] = [
        ("Rendered", "rendered", f.num),
        ("Impressions (>= 50% visible)", "impressions", f.num),
        ("Visitors reached", "visitors_reached", f.num),
        ("Clicks", "clicks", f.num),
        ("Visitors who clicked", "visitors_clicked", f.num),
        ("CTR (visitors)", "ctr_visitors", f.pct),
        ("CTR (impressions)", "ctr_impressions", f.pct),
        (f"Attributed orders ({days} d)", "attributed_orders", f.num),
        ("Visitors who purchased", "visitors_purchased", f.num),
        ("Click-to-purchase", "click_to_purchase", f.pct),
        (f"Attributed revenue ({days} d)", "attributed_revenue", f.money),
        ("Attributed orders' total", "attributed_order_revenue", f.money),
    ]
    rows = [[label, *(fmt(values[key]) for _, values in scopes)] for label, key, fmt in spec]
    return _table(["", *(name for name, _ in scopes)], rows)


def _holdout_lines(h: dict[str, Any], days: Any, f: Numbers) -> list[str]:
    if h["share"]:
        lines = [f"Holdout: {f.pct(h['share'])} of visitors never see the block (conversion within {days} days "
                 f"of their first empty cart with something to show)"]
    else:
        lines = ["Holdout: off (holdout_share = 0); earlier control visitors, if any, are still compared"]
    rows = [[g, f.num(h[g]["visitors"]), f.num(h[g]["converted"]), f.pct(h[g]["conversion_rate"]),
             f.money(h[g]["revenue"]), f.money(h[g]["revenue_per_visitor"])] for g in GROUPS]
    lines += _table(["group", "visitors", "converted", "conversion", "revenue", "revenue/visitor"], rows)
    conv, rpv = h["conversion"], h["revenue_per_visitor"]
    rows = [
        ["conversion", DASH if conv["absolute"] is None else f.points(conv["absolute"]),
         f.interval(conv["ci95"], f.points), f.signed_pct(conv["relative"]),
         f.interval(conv["relative_ci95"], f.signed_pct), "yes" if conv["significant"] else "not yet"],
        ["revenue/visitor", f.signed_money(rpv["absolute"]), f.interval(rpv["ci95"], f.signed_money),
         f.signed_pct(rpv["relative"]), f.interval(rpv["relative_ci95"], f.signed_pct),
         "yes" if rpv["significant"] else "not yet"],
    ]
    lines += ["", *_table(["uplift", "absolute", "95% CI", "relative", "95% CI", "significant"], rows)]
    return [*lines, f"Verdict: {h['verdict']}", ""]


def _daily_lines(report: dict[str, Any], f: Numbers) -> list[str]:
    active = [d for d in report["daily"] if any(v for k, v in d.items() if k != "date")]
    if not active:
        return [f"No data yet: no block shown and no order tracked from {report['from']} to {report['to']}. "
                f"Figures appear here once the tag is on the shop's pages and visitors come back."]
    rows = [[d["date"], f.num(d["rendered"]), f.num(d["impressions"]), f.num(d["clicks"]),
             f.num(d["attributed_orders"]), f.money(d["attributed_revenue"]), f.num(d["orders"]),
             f.money(d["revenue"])] for d in active]
    lines = [f"Daily (the {f.num(len(active))} days with activity)"]
    lines += _table(["date", "rendered", "impressions", "clicks", "attr. orders", "attr. revenue", "orders",
                     "revenue"], rows)
    for note in report.get("notes", []):
        lines += ["", f"Note: {note}"]
    return lines


def report_text(report: dict[str, Any], locale: str = "tr") -> str:
    """The report as the terminal shows it: the scopes' table, totals, restores, the holdout and the
    days with activity (or "No data yet")."""
    f = Numbers(locale, report["currency"])
    days = report["attribution_days"]
    lines = [
        f"Cartback report: shop {report['shop']}, {report['from']} to {report['to']} (UTC), "
        f"currency {report['currency']}",
        f"Attribution window: {days} days (a purchase counts for the block when it contains a product the "
        f"visitor clicked in the block up to {days} days before)",
        "",
        *_scopes_table(report, f),
    ]
    totals, r = report["totals"], report["restores"]
    lines += ["", f"All tracked orders: {f.num(totals['orders'])}, revenue {f.money(totals['revenue'])}; "
                  f"block's share of revenue: {f.pct(totals['block_revenue_share'])} ({days}-day attribution)", ""]
    lines += [f"Carts restored in one click: {f.num(r['carts'])} ({f.num(r['items'])} items); orders within "
              f"{days} days after a restore: {f.num(r['orders'])}, revenue {f.money(r['revenue'])}", ""]
    lines += _holdout_lines(report["holdout"], days, f)
    lines += _daily_lines(report, f)
    return "\n".join(lines) + "\n"


def cli_report(args: argparse.Namespace) -> int:
    """`cartback report SHOP [--from] [--to] [--csv]`."""
    from ..connection import connect_sync

    start, end = parse_period(args.date_from, args.date_to)
    conn = connect_sync(args.db)
    try:
        shop = get_shop(conn, args.shop)
        if shop is None:
            raise ApiError(404, "unknown_shop", f"shop: no shop {args.shop!r}", "shop")
        report = report_in_snapshot(conn, shop, start, end)
    finally:
        conn.close()
    sys.stdout.write(report_csv(report) if args.csv else report_text(report, shop.locale))
    return 0
