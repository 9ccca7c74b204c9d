"""The holdout comparison of a report: the two groups, the uplifts with their 95 % intervals
(stats.py), and the verdict, as a code (`verdict_code`) and in the report's English words.

The codes, in the order the rules are tried:
- "off": no groups to compare: the holdout is off and no control visitor was measured in the period;
- "not_enough": one of the groups has no eligible visitor yet;
- "up" / "down": the conversion difference is significant (its 95 % interval excludes 0), up or down;
- "rpv_up" / "rpv_down": conversion is not, the revenue-per-visitor difference is;
- "not_yet_up": neither is significant, treatment converted more so far;
- "not_yet": neither is significant.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..stats import Comparison, Sample, two_proportions, welch
from .figures import GROUPS, Figures, money, ratio

VERDICT_CODES = ("off", "not_enough", "up", "down", "rpv_up", "rpv_down", "not_yet_up", "not_yet")

OFF_TEXT = "holdout is off (holdout_share = 0): there is no control group to compare with"
NOT_ENOUGH_TEXT = "not enough data yet: both groups need eligible visitors"
NOT_YET_TEXT = ("not yet significant: the difference between the groups could still be chance "
                "(both 95 % intervals include 0)")


def _number(d: Any, key: str) -> float:
    """A number of a JSON object, 0.0 for anything missing or unreadable."""
    try:
        return float((d if isinstance(d, dict) else {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0.0


def _direction(comparison: Any) -> int:
    """+1 / -1 when the 95 % interval lies wholly above / below zero, else 0."""
    c = comparison if isinstance(comparison, dict) else {}
    lo, hi = [*(c.get("ci95") or []), 0, 0][:2]
    if c.get("significant") and (lo or 0) > 0:
        return 1
    if c.get("significant") and (hi or 0) < 0:
        return -1
    return 0


def verdict_code(holdout: dict[str, Any] | None) -> str:
    """The verdict of a report's `holdout` JSON object as one of VERDICT_CODES (rules: the module's
    docstring), for readers that word it themselves, such as the dashboard.

    The conversion difference comes first, then revenue per visitor, each judged by its `ci95` as the
    JSON has it. "not_enough" is the case a reader may fold into "not_yet": with an empty group no
    interval exists, so nothing is significant. The report's own `verdict` text follows the same
    rules for "off", "not_enough" and the not-yet cases. Where the text names both differences and
    their amounts it reads the unrounded intervals: a revenue interval whose end lies within half a
    cent of 0 is significant there, but its rounded JSON end reads 0 here ("not_yet").
    """
    if not holdout:
        return "off"
    control, treatment = holdout.get("control"), holdout.get("treatment")
    if not (_number(holdout, "share") > 0 or _number(control, "visitors") > 0):
        return "off"
    if _number(treatment, "visitors") == 0 or _number(control, "visitors") == 0:
        return "not_enough"
    conversion, revenue = _direction(holdout.get("conversion")), _direction(holdout.get("revenue_per_visitor"))
    if conversion:
        return "up" if conversion > 0 else "down"
    if revenue:
        return "rpv_up" if revenue > 0 else "rpv_down"
    return "not_yet_up" if _number(holdout.get("conversion"), "absolute") > 0 else "not_yet"


def verdict_text(holdout: dict[str, Any], conversion: Comparison, rpv: Comparison) -> str:
    """The report's `verdict` (docs/REPORT.md): `verdict_code`'s rules, and when a difference is
    significant, both differences in words with their amounts."""
    code = verdict_code(holdout)
    if code == "off":
        return OFF_TEXT
    if code == "not_enough":
        return NOT_ENOUGH_TEXT
    if not conversion.significant and not rpv.significant:
        return NOT_YET_TEXT
    parts = []
    for name, comp, points in (("conversion", conversion, True), ("revenue per visitor", rpv, False)):
        if comp.significant and comp.absolute is not None:
            direction = "higher" if comp.absolute > 0 else "lower"
            amount = f"{abs(comp.absolute) * 100:.2f} points" if points else f"{abs(comp.absolute):.2f}"
            parts.append(f"{name} is {amount} {direction} with the block (significant at 95 %)")
        else:
            parts.append(f"{name}: not yet significant (the 95 % interval includes 0)")
    return "; ".join(parts)


def _group_dict(h: dict[str, float]) -> dict[str, Any]:
    n = int(h["visitors"])
    return {
        "visitors": n,
        "converted": int(h["converted"]),
        "conversion_rate": ratio(h["converted"], n),
        "revenue": money(h["revenue"]),
        "revenue_per_visitor": money(ratio(h["revenue"], n)),
    }


def _money_comparison(comparison: dict[str, Any]) -> dict[str, Any]:
    """A revenue comparison with its amounts in cents (the relative figures stay fractions)."""
    ci = comparison["ci95"]
    return {**comparison, "absolute": None if comparison["absolute"] is None else money(comparison["absolute"]),
            "ci95": None if ci is None else [None if x is None else money(x) for x in ci]}


def _iso_time(ts: Any) -> str | None:
    if not isinstance(ts, (int, float)) or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def holdout_json(fig: Figures, share: float, changed_at: Any) -> dict[str, Any]:
    """The report's `holdout` object; `changed_at` is when the share last changed (a Unix time)."""
    treatment, control = _group_dict(fig.holdout["treatment"]), _group_dict(fig.holdout["control"])
    conversion = two_proportions(treatment["converted"], treatment["visitors"], control["converted"],
                                 control["visitors"])
    samples = {g: Sample(int(fig.holdout[g]["visitors"]), fig.holdout[g]["revenue"], fig.holdout[g]["revenue_sq"])
               for g in GROUPS}
    rpv = welch(samples["treatment"], samples["control"])
    holdout = {
        "share": share,
        "changed_at": _iso_time(changed_at),
        "treatment": treatment,
        "control": control,
        "conversion": conversion.as_dict(),
        "revenue_per_visitor": _money_comparison(rpv.as_dict()),
    }
    holdout["verdict"] = verdict_text(holdout, conversion, rpv)
    return holdout
