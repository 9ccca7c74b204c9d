"""The holdout's verdict in plain words: does the block add sales?

The purchase rate decides first, then revenue per visitor; a difference counts only when its 95 %
interval lies wholly on one side of zero. The answers are text keys of the dashboard's catalog.
"""

from __future__ import annotations

from typing import Any


def _f(d: dict[str, Any] | None, key: str) -> float:
    try:
        return float((d or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0.0


def _direction(uplift: dict[str, Any] | None) -> int:
    """+1 / -1 when the 95 % interval lies wholly above / below zero, else 0."""
    u = uplift or {}
    lo, hi = [*(u.get("ci95") or [0, 0]), 0, 0][:2]
    if u.get("significant") and (lo or 0) > 0:
        return 1
    if u.get("significant") and (hi or 0) < 0:
        return -1
    return 0


def _compares(holdout: dict[str, Any] | None) -> bool:
    """Whether the period has groups to compare: the holdout is on now, or it was during the period
    (a control group from before the setting was switched off still measures the block)."""
    if not holdout:
        return False
    return _f(holdout, "share") > 0 or _f(holdout.get("control"), "visitors") > 0


def _verdict(holdout: dict[str, Any] | None) -> tuple[str, str]:
    """(long text key, short text key) in plain words: the purchase rate first, then revenue per visitor."""
    if holdout is None or not _compares(holdout):
        return "holdout_off", "sig_short_off"
    conversion, revenue = _direction(holdout.get("conversion")), _direction(holdout.get("revenue_per_visitor"))
    if conversion > 0:
        return "sig_yes_up", "sig_short_yes"
    if conversion < 0:
        return "sig_yes_down", "sig_short_down"
    if revenue > 0:
        return "sig_rpv_up", "sig_short_yes"
    if revenue < 0:
        return "sig_rpv_down", "sig_short_down"
    if _f(holdout.get("conversion"), "absolute") > 0:
        return "sig_not_yet_up", "sig_short_not_yet"
    return "sig_not_yet", "sig_short_not_yet"
