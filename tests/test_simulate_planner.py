"""server/cartback/simulate/planner.py: the simulated shoppers' plan, drawn up front from a seed."""

from __future__ import annotations

import time

from cartback import simulate


def test_the_plan_is_deterministic_for_a_seed():
    products = simulate.load_products()
    now = 1_790_000_000.0
    rates = simulate.Rates()
    a = simulate.plan(200, 30, 7, now, products, rates)
    b = simulate.plan(200, 30, 7, now, products, rates)
    c = simulate.plan(200, 30, 8, now, products, rates)
    assert a == b
    assert a != c
    for v in a:
        stamps = [e["ts"] for e in v.first] + [r.ts for r in v.returns]
        assert stamps == sorted(stamps) and all(ts < now for ts in stamps)
        days = [int(ts // 86400) for ts in [v.first[0]["ts"]] + [r.ts for r in v.returns]] if v.first else []
        assert len(days) == len(set(days)), "one visit a day at most"
    # Most returns fall inside the period; some visitors came shortly before it.
    start = now - 30 * 86400
    assert sum(r.ts >= start for v in a for r in v.returns) > 0.9 * sum(len(v.returns) for v in a)


def test_scale_and_proportions_of_the_plan():
    products = simulate.load_products()
    visitors = simulate.plan(3000, 90, 1, time.time(), products, simulate.Rates())
    returns = sum(len(v.returns) for v in visitors)
    assert 1.2 < returns / len(visitors) < 2.5
    assert 0.015 < sum(v.clicker for v in visitors) / len(visitors) < 0.04
