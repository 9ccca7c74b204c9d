"""server/cartback/stats.py against values computed independently: statistical tables, a textbook
two-proportion example and a Welch interval worked by hand."""

from __future__ import annotations

import math

import pytest
from cartback.stats import Sample, in_control_group, t_cdf, t_ppf, two_proportions, welch, welch_df


@pytest.mark.parametrize("p, df, expected", [
    # Student's t table (e.g. NIST/SEMATECH e-Handbook, table 1.4.2.3.2), more digits from R's qt().
    (0.975, 1, 12.706204736174694),
    (0.975, 2, 4.302652729749462),
    (0.975, 5, 2.5705818356363146),
    (0.975, 10, 2.228138851986274),
    (0.975, 30, 2.0422724563012378),
    (0.975, 120, 1.9799304050824402),
    (0.995, 4, 4.604094871349992),
    (0.975, 24.9, 2.0599580324598343),  # Welch degrees of freedom are not whole numbers
])
def test_t_quantiles_match_the_tables(p, df, expected):
    assert t_ppf(p, df) == pytest.approx(expected, rel=1e-10)
    assert t_ppf(1 - p, df) == pytest.approx(-expected, rel=1e-10)
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-12)


def test_large_degrees_of_freedom_tend_to_the_normal_quantile():
    assert t_ppf(0.975, 1e9) == pytest.approx(1.959963984540054, rel=1e-9)


def test_two_proportions_textbook_example():
    # Agresti, Categorical Data Analysis (3rd ed.), §2.2: Physicians' Health Study. Heart attacks:
    # placebo 189 of 11,034, aspirin 104 of 11,037. The book: difference 0.0077 with 95 % CI
    # (0.005, 0.011); relative risk 1.82 with 95 % CI (1.43, 2.30).
    c = two_proportions(189, 11034, 104, 11037)
    assert round(c.absolute, 4) == 0.0077
    assert (round(c.ci95[0], 3), round(c.ci95[1], 3)) == (0.005, 0.011)
    assert round(c.relative + 1, 2) == 1.82
    assert round(c.relative_ci95[0] + 1, 2) == 1.43
    assert abs(c.relative_ci95[1] + 1 - 2.30) < 0.01  # the book rounds 2.306 on the log scale
    # The same by hand: p1 = 0.0171289, p2 = 0.0094229; se = √(p1 q1 / n1 + p2 q2 / n2) = 0.0015404.
    assert c.absolute == pytest.approx(0.0077060239760047815, rel=1e-12)
    assert c.ci95[0] == pytest.approx(0.004687750675049439, rel=1e-9)
    assert c.ci95[1] == pytest.approx(0.010724297276960124, rel=1e-9)
    assert c.relative == pytest.approx(0.8178017944535074, rel=1e-12)
    assert c.relative_ci95[0] == pytest.approx(0.4330309030505628, rel=1e-9)
    assert c.relative_ci95[1] == pytest.approx(1.305884232422446, rel=1e-9)
    assert c.significant


def test_two_proportions_small_groups_are_not_significant():
    c = two_proportions(2, 3, 1, 3)
    # diff 1/3, se = √(2/9/3 + 2/9/3) = 0.3849, CI = 1/3 ± 1.95996 · 0.3849
    assert c.absolute == pytest.approx(1 / 3)
    assert c.ci95[0] == pytest.approx(1 / 3 - 1.959963984540054 * math.sqrt(4 / 27))
    assert c.ci95[1] == pytest.approx(1 / 3 + 1.959963984540054 * math.sqrt(4 / 27))
    assert c.relative == pytest.approx(1.0)
    assert not c.significant
    assert c.as_dict()["significant"] is False


def test_welch_interval_worked_by_hand():
    # Revenue per visitor, mostly zeros, as the holdout sees it.
    treatment = [0, 0, 10, 20, 0, 30.5, 0, 0]
    control = [0, 5, 0, 0, 0]
    t, c = Sample.of(treatment), Sample.of(control)
    # Means 60.5 / 8 = 7.5625 and 5 / 5 = 1; variances (1430.25 − 60.5² / 8) / 7 = 138.95982 and (25 − 5) / 4 = 5.
    assert t.mean == 7.5625 and c.mean == 1.0
    assert t.variance == pytest.approx(138.95982142857142, rel=1e-12)
    assert c.variance == pytest.approx(5.0, rel=1e-12)
    # se² = 138.95982 / 8 + 5 / 5 = 18.369978; ν = se⁴ / ((17.369978)² / 7 + 1² / 4) = 7.78404
    df = welch_df(t.variance, t.n, c.variance, c.n)
    assert df == pytest.approx(7.784040353267198, rel=1e-9)
    result = welch(t, c)
    se = math.sqrt(138.95982142857142 / 8 + 1.0)
    q = t_ppf(0.975, df)
    assert q == pytest.approx(2.3171, abs=1e-4)
    assert result.absolute == pytest.approx(6.5625)
    assert result.ci95[0] == pytest.approx(6.5625 - q * se) == pytest.approx(-3.3690164376635714, rel=1e-9)
    assert result.ci95[1] == pytest.approx(16.49401643766357, rel=1e-9)
    assert result.relative == pytest.approx(6.5625)
    assert not result.significant


def test_welch_textbook_example_is_significant():
    # Wikipedia, "Welch's t-test", example 2: t = −2.46, ν ≈ 24.99, p = 0.021.
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    s1, s2 = Sample.of(a1), Sample.of(a2)
    assert welch_df(s1.variance, s1.n, s2.variance, s2.n) == pytest.approx(24.9885, abs=1e-4)
    result = welch(s1, s2)
    se = math.sqrt(s1.variance / s1.n + s2.variance / s2.n)
    assert result.absolute / se == pytest.approx(-2.4553563982860, rel=1e-9)
    assert result.ci95[0] == pytest.approx(-3.984096267140929, rel=1e-9)
    assert result.ci95[1] == pytest.approx(-0.3492370661924069, rel=1e-9)
    assert result.significant


def test_degenerate_groups_give_no_interval_and_no_significance():
    empty = two_proportions(0, 0, 3, 10)
    assert empty.as_dict() == {"absolute": None, "relative": None, "ci95": None, "relative_ci95": None,
                               "significant": False}
    none_converted = two_proportions(0, 10, 0, 10)
    assert none_converted.absolute == 0.0 and none_converted.ci95 == (0.0, 0.0)
    assert none_converted.relative is None and not none_converted.significant
    one_each = welch(Sample.of([5.0]), Sample.of([1.0]))
    assert one_each.absolute == 4.0 and one_each.ci95 is None and not one_each.significant
    zeros = welch(Sample.of([0.0] * 5), Sample.of([0.0] * 7))
    assert zeros.absolute == 0.0 and zeros.ci95 == (0.0, 0.0) and zeros.relative is None
    assert not zeros.significant


def test_control_group_assignment_is_stable_and_close_to_the_share():
    assert not in_control_group("demo", "abc", 0)
    # sha256("demo\0abc")[:8] / 2^64 = 0.11538 (computed by hand with hashlib)
    assert in_control_group("demo", "abc", 0.12) and not in_control_group("demo", "abc", 0.11)
    assert [in_control_group("s", f"v{i}", 0.1) for i in range(50)] == \
        [in_control_group("s", f"v{i}", 0.1) for i in range(50)]
    share = sum(in_control_group("s", f"v{i}", 0.1) for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11
    # Raising the share only moves visitors from treatment to control.
    assert all(in_control_group("s", f"v{i}", 0.2) for i in range(2000) if in_control_group("s", f"v{i}", 0.1))
