"""Confidence intervals from independent replications (Student t), without scipy."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# t_{0.975, df} for df = 1..30
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom (two-sided 95 %).

    Exact to 4 decimals from a table up to 30 degrees of freedom; above, the Cornish-Fisher
    expansion around the normal quantile (error < 1e-6 there)."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean of per-replication values with a 95 % Student-t confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(
        cls, values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)
    ) -> Estimate:
        """`bounds`: the quantity's range (a share is in [0, 1], a time is >= 0): the
        interval is cut to it, since no value outside it is possible (the t interval is
        symmetric and would say otherwise near an edge)."""
        values = [v for v in values if not math.isnan(v)]
        if not values:
            return cls(math.nan, math.nan, math.nan, 0)
        mean = statistics.fmean(values)
        if len(values) < 2:
            return cls(mean, math.nan, math.nan, len(values))
        half = t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
        low, high = bounds
        return cls(mean, max(low, mean - half), min(high, mean + half), len(values))

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_json(self, digits: int = 6) -> dict[str, object]:
        def r(x: float) -> float | None:
            return None if math.isnan(x) else round(x, digits)

        return {"mean": r(self.mean), "ci95": [r(self.low), r(self.high)]}
