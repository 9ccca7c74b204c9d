"""The measured results (CONTRACT §5, docs/REPORT.md): figures per block and section, totals, the
holdout comparison and a daily series; as JSON and CSV (the terminal table: cli/report.py).

- period.py: the dates a report covers, day numbers;
- figures.py: what is counted per scope and per day, and how each figure is dated;
- prices.py: what a purchase is worth; raw.py: figures from raw rows; daily.py: rolled-up days;
- holdout.py: the groups' comparison and the verdict; build.py: the report's JSON;
- csv_export.py: the CSV tables.

The names other modules import are re-exported here, so `from cartback.report import X` keeps working.
"""

from __future__ import annotations

from ..shop_settings import attribution_days, holdout_share
from .build import build_report, report_in_snapshot, report_json, shop_or_404
from .csv_export import CSV_COLUMNS, DAILY_CSV_COLUMNS, daily_csv, report_csv
from .daily import add_rolled, daily_rows, rolled_days
from .figures import (
    COUNTS,
    DAILY,
    GROUPS,
    HOLDOUT_METRICS,
    RESTORE_METRICS,
    SCOPES,
    VISITORS,
    Figures,
    ScopeFigures,
)
from .holdout import VERDICT_CODES, holdout_json, verdict_code, verdict_text
from .period import (
    DAY,
    DEFAULT_DAYS,
    EPOCH,
    FIRST_DATE,
    LAST_DATE,
    MAX_DAYS,
    day_number,
    day_of,
    day_text,
    parse_day,
    parse_period,
    today_utc,
)
from .prices import OUTLIER_FACTOR, Prices, order_total, purchase_confirmed, purchase_items
from .raw import compute_raw

__all__ = [
    "COUNTS", "CSV_COLUMNS", "DAILY", "DAILY_CSV_COLUMNS", "DAY", "DEFAULT_DAYS", "EPOCH", "FIRST_DATE", "GROUPS",
    "HOLDOUT_METRICS", "LAST_DATE", "MAX_DAYS", "OUTLIER_FACTOR", "RESTORE_METRICS", "SCOPES", "VERDICT_CODES",
    "VISITORS", "Figures", "Prices", "ScopeFigures", "add_rolled", "attribution_days", "build_report", "compute_raw",
    "daily_csv", "daily_rows", "day_number", "day_of", "day_text", "holdout_json", "holdout_share", "order_total",
    "parse_day", "parse_period", "purchase_confirmed", "purchase_items", "report_csv",
    "report_in_snapshot", "report_json", "rolled_days", "shop_or_404", "today_utc", "verdict_code", "verdict_text",
]
