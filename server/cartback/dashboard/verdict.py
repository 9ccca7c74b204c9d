"""The holdout's verdict in plain words: the report's one rule (`report.holdout.verdict_code`),
worded by the dashboard's catalog as a long and a short text."""

from __future__ import annotations

from typing import Any

from ..report.holdout import verdict_code

# verdict code → (long text key, short text key). With an empty group nothing is significant yet.
_TEXTS = {
    "off": ("holdout_off", "sig_short_off"),
    "not_enough": ("sig_not_yet", "sig_short_not_yet"),
    "up": ("sig_yes_up", "sig_short_yes"),
    "down": ("sig_yes_down", "sig_short_down"),
    "rpv_up": ("sig_rpv_up", "sig_short_yes"),
    "rpv_down": ("sig_rpv_down", "sig_short_down"),
    "not_yet_up": ("sig_not_yet_up", "sig_short_not_yet"),
    "not_yet": ("sig_not_yet", "sig_short_not_yet"),
}


def _f(d: dict[str, Any] | None, key: str) -> float:
    try:
        return float((d or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0.0


def _compares(holdout: dict[str, Any] | None) -> bool:
    """Whether the period has groups to compare: the holdout is on now, or it was during the period
    (a control group from before the setting was switched off still measures the block)."""
    return verdict_code(holdout) != "off"


def _verdict(holdout: dict[str, Any] | None) -> tuple[str, str]:
    """(long text key, short text key): the purchase rate first, then revenue per visitor."""
    return _TEXTS[verdict_code(holdout)]
