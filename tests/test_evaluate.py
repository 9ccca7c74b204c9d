"""Offline evaluation on the real click logs in ../shared/data (skipped when that folder is missing).

The replay goes through the serving code (bench/evaluate.py: Database.write(ingest.apply_events),
store.compute_sections), so a change that makes the block's recommendations worse fails here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time

import pytest

from tests.conftest import REPO, SHARED_DATA

_spec = importlib.util.spec_from_file_location("cartback_bench_evaluate", REPO / "bench" / "evaluate.py")
evaluate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = evaluate  # dataclasses look their module up there
_spec.loader.exec_module(evaluate)

# Replays of the real click logs through the serving code: CI's tier, not every change's.
pytestmark = pytest.mark.slow

# The floor (the best simple baseline is 0.582; the recommender measures 0.606).
MIN_HR_YOOCHOOSE = 0.58


def need(dataset: str) -> None:
    missing = evaluate.missing_files(SHARED_DATA, dataset)
    if missing:
        pytest.skip(f"real click logs not found ({', '.join(missing)}): the offline evaluation reads "
                    f"them from ../shared/data next to the repository")


def test_protocol_reproduces_the_reference_baselines():
    """Loader, split and case definition agree with the README: same case count, same baseline figures."""
    need("yoochoose")
    train, test = evaluate.load("yoochoose", SHARED_DATA)
    assert sum(1 for _ in evaluate.cases(test)) == 10152
    reference = {name: (hr, mrr) for name, hr, mrr in evaluate.reference_baselines(SHARED_DATA)}
    computed = {name: (hr, mrr) for name, hr, mrr in evaluate.simple_baselines(train, test)}
    for ours, theirs in [("most popular items", "most popular items"),
                         ("recently viewed, then most popular", "the visitor's recently viewed items only"),
                         ("3 most recent viewed + sequential rules",
                          "3 most recent viewed + sequential-rule candidates")]:
        assert computed[ours] == pytest.approx(reference[theirs], abs=0.002), ours
    need("diginetica")
    assert sum(1 for _ in evaluate.cases(evaluate.load("diginetica", SHARED_DATA)[1])) == 1813


@pytest.mark.timeout(600)  # about a minute on an idle 2-core machine; more when the machine is shared
def test_yoochoose_hit_rate_of_the_served_block():
    need("yoochoose")
    started = time.perf_counter()
    (result,) = asyncio.run(evaluate.replay("yoochoose", SHARED_DATA, ("frozen",)))
    took = time.perf_counter() - started
    print(f"\nyoochoose: HR@8 {result.hr:.3f}  MRR@8 {result.mrr:.3f}  over {result.cases} cases; "
          f"replay {took:.1f} s (train {result.train_seconds:.1f} s, test {result.test_seconds:.1f} s; "
          f"CPU {result.train_cpu + result.test_cpu:.1f} s)")
    assert result.cases == 10152
    assert result.hr >= MIN_HR_YOOCHOOSE, (
        f"HR@8 {result.hr:.3f} < {MIN_HR_YOOCHOOSE}: the block's recommendations got worse than the "
        f"best simple baseline (0.582); run `python bench/evaluate.py` for the full table")


@pytest.mark.timeout(300)
def test_diginetica_beats_the_simple_baselines():
    need("diginetica")
    train, test = evaluate.load("diginetica", SHARED_DATA)
    best = max(hr for _, hr, _ in evaluate.simple_baselines(train, test))
    (result,) = asyncio.run(evaluate.replay("diginetica", SHARED_DATA, ("frozen",)))
    print(f"\ndiginetica: HR@8 {result.hr:.3f}  MRR@8 {result.mrr:.3f}  over {result.cases} cases "
          f"(best simple baseline {best:.3f})")
    assert result.cases == 1813
    assert result.hr > best
