"""Contiguous shards: which samples (or batches) each worker task takes."""

from __future__ import annotations


def split(n: int, k: int) -> list[range]:
    """``range(n)`` cut into ``min(k, n)`` contiguous, non-empty ranges whose sizes differ by
    at most one (the first ones larger), in order; ``[]`` for ``n = 0``."""
    if n <= 0:
        return []
    k = max(1, min(k, n))
    size, extra = divmod(n, k)
    out, lo = [], 0
    for i in range(k):
        hi = lo + size + (1 if i < extra else 0)
        out.append(range(lo, hi))
        lo = hi
    return out
