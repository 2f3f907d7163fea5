"""The Pareto front of a table of design points."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def _cost(row: Mapping[str, Any], maximize: Sequence[str], minimize: Sequence[str]
          ) -> tuple[float, ...]:
    """The row's objectives as costs to minimise; a missing value (None) is the worst."""
    def val(key: str, sign: float) -> float:
        v = row.get(key)
        return math.inf if v is None else sign * float(v)

    return tuple([val(k, -1.0) for k in maximize] + [val(k, 1.0) for k in minimize])


def pareto_front(rows: Sequence[Mapping[str, Any]], maximize: Sequence[str] = ("accuracy",),
                 minimize: Sequence[str] = ("energy_pj", "latency_us")) -> list[bool]:
    """For each row, True when no other row dominates it: is at least as good in every
    objective (higher ``maximize`` values, lower ``minimize`` values) and better in one.

    A missing objective (None, e.g. the latency of a profile without timings) counts as the
    worst value; rows with equal objectives do not dominate each other (all are on the front).
    """
    costs = [_cost(r, maximize, minimize) for r in rows]

    def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and a != b

    return [not any(dominates(other, c) for other in costs) for c in costs]
