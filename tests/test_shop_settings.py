"""The measuring settings read from a shop's stored settings (server/cartback/shop_settings.py): a
value the block or the report cannot use falls back instead of failing them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cartback.shop_settings import attribution_days, holdout_share

from tests.conftest import REPO


@pytest.mark.parametrize("stored, days", [
    ({}, 7.0), ({"attribution_days": 14}, 14.0), ({"attribution_days": 0.5}, 0.5),
    ({"attribution_days": 0}, 7.0), ({"attribution_days": -3}, 7.0), ({"attribution_days": "soon"}, 7.0),
    ({"attribution_days": None}, 7.0), ({"attribution_days": float("inf")}, 7.0),
])
def test_attribution_days(stored, days):
    assert attribution_days(stored) == days


@pytest.mark.parametrize("stored, share", [
    ({}, 0.1), ({"holdout_share": 0.2}, 0.2), ({"holdout_share": 0}, 0.0), ({"holdout_share": -0.1}, 0.0),
    ({"holdout_share": 0.9}, 0.5), ({"holdout_share": float("nan")}, 0.0), ({"holdout_share": "half"}, 0.1),
    ({"holdout_share": None}, 0.1),
])
def test_holdout_share(stored, share):
    assert holdout_share(stored) == share


def test_the_blocks_path_does_not_import_the_report():
    code = ("import sys, cartback.endpoints.empty_cart, cartback.endpoints.events; "
            "print(sorted(m for m in sys.modules if m.startswith('cartback.report')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
