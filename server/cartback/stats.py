"""The holdout comparison: stable group assignment, uplift and 95 % confidence intervals. Pure.

- Conversion (a proportion per group): the difference of proportions with the unpooled Wald
  interval, p_t − p_c ± z·√(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c); the relative uplift p_t/p_c − 1 with
  the log (Katz) interval for a ratio of proportions,
  exp(ln(p_t/p_c) ± z·√((1−p_t)/(n_t·p_t) + (1−p_c)/(n_c·p_c))) − 1.
- Revenue per visitor (a mean of per-visitor revenue, mostly zeros): the Welch interval,
  m_t − m_c ± t(0.975, ν)·√(s_t²/n_t + s_c²/n_c) with the Welch–Satterthwaite ν; the relative uplift
  m_t/m_c − 1 with the delta-method interval on the log of the ratio of means.
- `significant` is true when the interval of the absolute difference excludes 0.

An interval that cannot be computed (an empty group, a control rate of 0 for the relative uplift,
fewer than two visitors per group for Welch) is None, and `significant` is false; so is an
unbounded end (JSON has no infinity).

The t quantile is computed here (regularised incomplete beta + bisection) so the server needs no
SciPy; `tests/test_stats.py` checks it against tabulated values.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

LEVEL = 0.95
Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054


def in_control_group(shop: str, vid: str, share: float) -> bool:
    """Stable assignment: sha256(shop, vid) read as a uniform number in [0, 1), below `share` → control.

    The same visitor always lands in the same group; changing the share moves only the visitors
    between the old and the new threshold.
    """
    if not share or share <= 0:
        return False
    digest = hashlib.sha256(f"{shop}\x00{vid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# -- distributions ----------------------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction for the incomplete beta function (modified Lentz).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function with `df` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The p-quantile of Student's t (0.5 < p < 1 is all the report needs; others work too)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if df <= 0 or math.isnan(df):
        raise ValueError("df must be positive")
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    if df > 1e7:
        return NormalDist().inv_cdf(p)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


# -- comparisons ------------------------------------------------------------------------------------

@dataclass
class Comparison:
    absolute: float | None
    relative: float | None
    ci95: tuple[float, float] | None
    relative_ci95: tuple[float, float] | None

    @property
    def significant(self) -> bool:
        return self.ci95 is not None and (self.ci95[0] > 0.0 or self.ci95[1] < 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "absolute": _finite(self.absolute),
            "relative": _finite(self.relative),
            "ci95": [_finite(x) for x in self.ci95] if self.ci95 is not None else None,
            "relative_ci95": [_finite(x) for x in self.relative_ci95] if self.relative_ci95 is not None else None,
            "significant": self.significant,
        }


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _ratio_interval(log_ratio: float, z: float, se_log: float) -> tuple[float, float]:
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    return exp(log_ratio - z * se_log) - 1.0, exp(log_ratio + z * se_log) - 1.0


def two_proportions(x_t: int, n_t: int, x_c: int, n_c: int, z: float = Z95) -> Comparison:
    """Treatment x_t of n_t converted, control x_c of n_c."""
    if n_t <= 0 or n_c <= 0:
        return Comparison(None, None, None, None)
    p_t, p_c = x_t / n_t, x_c / n_c
    diff = p_t - p_c
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    ci = (diff - z * se, diff + z * se)
    relative = rel_ci = None
    if p_c > 0:
        relative = p_t / p_c - 1.0
        if p_t > 0:
            se_log = math.sqrt((1 - p_t) / (n_t * p_t) + (1 - p_c) / (n_c * p_c))
            rel_ci = _ratio_interval(math.log(p_t / p_c), z, se_log)
    return Comparison(diff, relative, ci, rel_ci)


@dataclass
class Sample:
    """A group's per-visitor values as sufficient statistics: count, sum and sum of squares."""
    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Sample variance (n − 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    @classmethod
    def of(cls, values: list[float]) -> Sample:
        return cls(len(values), math.fsum(values), math.fsum(v * v for v in values))


def welch_df(var_t: float, n_t: int, var_c: float, n_c: int) -> float:
    a, b = var_t / n_t, var_c / n_c
    denominator = a * a / (n_t - 1) + b * b / (n_c - 1)
    return (a + b) ** 2 / denominator if denominator > 0 else math.inf


def welch(t: Sample, c: Sample, level: float = LEVEL) -> Comparison:
    """Difference of means (treatment − control) with Welch's interval."""
    if t.n <= 0 or c.n <= 0:
        return Comparison(None, None, None, None)
    diff = t.mean - c.mean
    relative = t.mean / c.mean - 1.0 if c.mean > 0 else None
    if t.n < 2 or c.n < 2:
        return Comparison(diff, relative, None, None)
    var_t, var_c = t.variance, c.variance
    se = math.sqrt(var_t / t.n + var_c / c.n)
    if se == 0.0:
        # Every visitor in both groups has the same value: the difference is exact.
        ci = (diff, diff)
    else:
        q = t_ppf(0.5 + level / 2, welch_df(var_t, t.n, var_c, c.n))
        ci = (diff - q * se, diff + q * se)
    rel_ci = None
    if c.mean > 0 and t.mean > 0:
        # Delta method on ln(m_t / m_c); normal quantile (the log ratio is asymptotic anyway).
        z = NormalDist().inv_cdf(0.5 + level / 2)
        se_log = math.sqrt(var_t / (t.n * t.mean ** 2) + var_c / (c.n * c.mean ** 2))
        rel_ci = _ratio_interval(math.log(t.mean / c.mean), z, se_log)
    return Comparison(diff, relative, ci, rel_ci)
