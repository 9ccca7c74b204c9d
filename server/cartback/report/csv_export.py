"""The report as CSV (docs/REPORT.md): one row per scope (`report_csv`), or one per day (`daily_csv`)."""

from __future__ import annotations

import csv
import io
from typing import Any

from .figures import DAILY, GROUPS

CSV_COLUMNS = (
    "shop", "from", "to", "currency", "attribution_days", "scope",
    "rendered", "impressions", "visitors_reached", "clicks", "visitors_clicked", "ctr_visitors", "ctr_impressions",
    "attributed_orders", "visitors_purchased", "click_to_purchase", "attributed_revenue", "attributed_order_revenue",
    "total_orders", "total_revenue", "block_revenue_share",
    "visitors", "converted", "conversion_rate", "revenue", "revenue_per_visitor",
    "absolute", "relative", "ci95_low", "ci95_high", "relative_ci95_low", "relative_ci95_high", "significant",
    "restored_carts", "restored_items",
    "attributed_orders_confirmed", "attributed_revenue_confirmed", "total_orders_confirmed", "total_revenue_confirmed",
)
DAILY_CSV_COLUMNS = ("shop", "date", *DAILY)
_MONEY_FIELDS = {"attributed_revenue", "attributed_order_revenue", "total_revenue", "revenue", "revenue_per_visitor",
                 "attributed_revenue_confirmed", "total_revenue_confirmed"}
_RATE_FIELDS = {"ctr_visitors", "ctr_impressions", "click_to_purchase", "block_revenue_share", "conversion_rate"}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in _MONEY_FIELDS:
        return f"{value:.2f}"
    if name in _RATE_FIELDS:
        return f"{value:.6f}"
    if isinstance(value, float):
        return f"{value:.6g}" if not value.is_integer() or abs(value) >= 1e15 else str(int(value))
    return str(value)


def report_csv(report: dict[str, Any]) -> str:
    """One row per scope: the block, each section, the two holdout groups and the two uplifts."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    common = {k: report[k] for k in ("shop", "from", "to", "currency", "attribution_days")}
    rows = [{"scope": "block", **report["block"], "total_orders": report["totals"]["orders"],
             "total_revenue": report["totals"]["revenue"],
             "block_revenue_share": report["totals"]["block_revenue_share"],
             "total_orders_confirmed": report["totals"]["orders_confirmed"],
             "total_revenue_confirmed": report["totals"]["revenue_confirmed"]}]
    rows += [{"scope": f"section:{key}", **values} for key, values in report["sections"].items()]
    holdout = report["holdout"]
    rows += [{"scope": f"holdout:{g}", **holdout[g]} for g in GROUPS]
    for metric in ("conversion", "revenue_per_visitor"):
        comp = holdout[metric]
        ci, rel = comp["ci95"] or (None, None), comp["relative_ci95"] or (None, None)
        rows.append({"scope": f"uplift:{metric}", "absolute": comp["absolute"], "relative": comp["relative"],
                     "ci95_low": ci[0], "ci95_high": ci[1], "relative_ci95_low": rel[0],
                     "relative_ci95_high": rel[1], "significant": comp["significant"]})
    restores = report["restores"]
    rows.append({"scope": "restores", "restored_carts": restores["carts"], "restored_items": restores["items"],
                 "total_orders": restores["orders"], "total_revenue": restores["revenue"]})
    for row in rows:
        merged = {**common, **row}
        writer.writerow([_cell(c, merged.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def daily_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DAILY_CSV_COLUMNS)
    for row in report["daily"]:
        merged = {"shop": report["shop"], **row}
        writer.writerow([_cell(c, merged.get(c)) for c in DAILY_CSV_COLUMNS])
    return out.getvalue()

