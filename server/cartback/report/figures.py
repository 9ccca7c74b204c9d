"""What the report counts, per scope and per day, before it becomes JSON (`build.py`).

How each figure is dated, so that every count is a sum over days (what lets retention roll finished
days into `daily_counts` without changing the totals):
- rendered: the block's `ts`; impressions: the block's first impression event; clicks: the first
  click on that product of that block; purchases and attributed purchases: the purchase's `ts`
  (the click may be earlier, up to the attribution window before it);
- the holdout cohort of a day: the visitors whose *first* eligible moment ever (first `blocks` row,
  shown or held out) falls on that day, with their purchases in the attribution window after it.
Distinct-visitor figures are distinct within the period for days still held as raw events; for
rolled-up days they are the sums of daily distinct counts (a visitor active on two rolled-up
days counts twice). That is the one approximation, and the report says when it applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..validation import SECTIONS

SCOPES = ("block", *SECTIONS)
GROUPS = ("treatment", "control")
# Additive per day (summed as they are); distinct visitors (sets on raw days, counts on rolled-up days).
COUNTS = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue", "attributed_order_revenue",
          "attributed_orders_confirmed", "attributed_revenue_confirmed")
VISITORS = ("visitors_reached", "visitors_clicked", "visitors_purchased")
DAILY = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue", "orders", "revenue")
HOLDOUT_METRICS = ("visitors", "converted", "revenue", "revenue_sq")
# One-click restores (scope "restores"): carts put back, their lines' quantities, and the orders of
# the same visitor within the attribution window after a restore (dated by the purchase).
RESTORE_METRICS = ("carts", "items", "orders", "revenue")


def zeros(keys: tuple[str, ...]) -> dict[str, float]:
    """Zeros for these metrics, as ints: a figure that only ever counts stays whole."""
    return {k: 0 for k in keys}


@dataclass
class ScopeFigures:
    counts: dict[str, float] = field(default_factory=lambda: zeros(COUNTS))
    sets: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in VISITORS})
    # Distinct visitors of rolled-up days, already counted per day.
    extra: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VISITORS, 0))

    def visitors(self, metric: str) -> int:
        return len(self.sets[metric]) + self.extra[metric]


@dataclass
class Figures:
    scopes: dict[str, ScopeFigures] = field(default_factory=lambda: {s: ScopeFigures() for s in SCOPES})
    daily: dict[int, dict[str, float]] = field(default_factory=dict)
    orders: int = 0
    revenue: float = 0.0
    # Per group: visitors, converted, Σ revenue per visitor, Σ (revenue per visitor)².
    holdout: dict[str, dict[str, float]] = field(
        default_factory=lambda: {g: zeros(HOLDOUT_METRICS) for g in GROUPS})
    restores: dict[str, float] = field(default_factory=lambda: zeros(RESTORE_METRICS))
    # Orders the merchant's back end posted with the shop's API key (docs/REPORT.md).
    orders_confirmed: int = 0
    revenue_confirmed: float = 0.0
    outliers: int = 0  # browser-reported orders counted at their lines' catalog value (raw days only)

    def day(self, n: int) -> dict[str, float]:
        row = self.daily.get(n)
        if row is None:
            row = self.daily[n] = zeros(DAILY)
        return row


# -- figures as the JSON shows them ------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    """a / b; 0.0 for a zero denominator (docs/REPORT.md)."""
    return a / b if b else 0.0


def money(x: float) -> float:
    """An amount rounded to cents (and never -0.0)."""
    return round(x + 0.0, 2) + 0.0


def plain(number: float) -> int | float:
    """7.0 as 7, so a whole number of days reads as one."""
    return int(number) if float(number).is_integer() else number
