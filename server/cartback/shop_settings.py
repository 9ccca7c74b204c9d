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


def attribution_days(settings: dict[str, Any]) -> float:
    """The attribution window in days: a purchase counts for the block up to this long after a click."""
    default = float(DEFAULT_SETTINGS["attribution_days"])
    try:
        days = float(settings.get("attribution_days", default))
    except (TypeError, ValueError):
        return default
    return days if math.isfinite(days) and days > 0 else default


def holdout_share(settings: dict[str, Any]) -> float:
    """The share of visitors held out of the block (0 = off), at most MAX_HOLDOUT_SHARE."""
    default = float(DEFAULT_SETTINGS["holdout_share"])
    try:
        share = float(settings.get("holdout_share", default))
    except (TypeError, ValueError):
        return default
    if not math.isfinite(share) or share <= 0:
        return 0.0
    return min(share, MAX_HOLDOUT_SHARE)
