"""The numbers a shop's settings hold for measuring the block, read defensively.

`shops.validate_settings` checks what a merchant sends; settings stored before a rule existed, or
edited by hand in the database, may still hold anything. These readers fall back to the default
rather than fail a block or a report. They live apart from the report so that the block's path
(`endpoints/empty_cart.py`, which needs the holdout share on every request) does not import it.
"""

from __future__ import annotations

import math
from typing import Any

from .shops import DEFAULT_SETTINGS

MAX_HOLDOUT_SHARE = 0.5  # what shops.validate_settings allows


def _read(settings: dict[str, Any], name: str) -> float | None:
    """The setting as a float (the default when missing), None when it is not a number at all."""
    try:
        return float(settings.get(name, DEFAULT_SETTINGS[name]))
    except (TypeError, ValueError):
        return None


def attribution_days(settings: dict[str, Any]) -> float:
    """The attribution window in days: a purchase counts for the block up to this long after a click."""
    days = _read(settings, "attribution_days")
    if days is None or not math.isfinite(days) or days <= 0:
        return float(DEFAULT_SETTINGS["attribution_days"])
    return days


def holdout_share(settings: dict[str, Any]) -> float:
    """The share of visitors held out of the block (0 = off), at most MAX_HOLDOUT_SHARE; the default
    when the stored value is not a number."""
    share = _read(settings, "holdout_share")
    if share is None:
        return float(DEFAULT_SETTINGS["holdout_share"])
    if not math.isfinite(share) or share <= 0:
        return 0.0
    return min(share, MAX_HOLDOUT_SHARE)
