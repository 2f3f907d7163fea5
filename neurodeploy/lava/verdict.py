"""The verdict of ``compare`` from per-shard summaries: which layers agree, how many
elements differ, and the first divergence (see :mod:`neurodeploy.lava.comparison` for the
rules). Plain numpy, so that a process that only merges shard results (the Dask client)
imports neither torch nor Lava."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class VarSummary:
    """One layer variable of one shard of samples, enough to judge it later against the
    scale of all shards.

    ``exact``: compared exactly (fixed point, binary spikes); ``scale``: largest ``|lava|``;
    ``err``: largest ``|sim − lava|``; ``step``, ``sample``, ``neuron`` (int64, C order: step, then sample, then neuron) with the values ``sim`` and
    ``lava`` of the *candidate* mismatches: every element that differs (exact comparison), or
    that is outside the tolerance judged against this shard's own scale (float). A larger
    scale can only forgive an element, so the mismatches over all shards are the candidates
    that stay outside the tolerance judged against the largest scale of any shard.
    """

    exact: bool
    scale: float
    err: float
    step: np.ndarray
    sample: np.ndarray
    neuron: np.ndarray
    sim: np.ndarray
    lava: np.ndarray


def compare_samples(mode: str, samples: int, ds: Any) -> int:
    """How many samples of ``ds`` a comparison in ``mode`` of ``samples`` samples runs, after
    checking the arguments (NeurodeployError, one line)."""
    from neurodeploy.errors import NeurodeployError

    if mode not in ("fixed", "float"):
        raise NeurodeployError(f"unknown compare mode '{mode}' (choose fixed or float)")
    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    n = min(samples, len(ds))
    if n == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    return n


def outside(a: np.ndarray, b: np.ndarray, rtol: float, scale: float) -> np.ndarray:
    """Elements of ``a`` outside ``rtol`` of ``b``, judged against ``max(|b|, scale)``."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return ~(np.abs(a64 - b64) <= rtol * np.maximum(np.abs(b64), scale))


def judge(parts: Sequence[tuple[int, dict[tuple[str, str], VarSummary]]],
          rtol: float | None = None) -> tuple[list[dict], dict | None]:
    """Per-layer agreement and the first divergence over shards of samples
    (``(first sample, summaries)`` from
    :func:`neurodeploy.lava.comparison.summarize_records`, keys in ranking order): the same
    answer as one summary of all samples at once.

    ``rtol`` None: every value must be identical (fixed point). A number: spikes identical,
    ``u``/``v`` within ``rtol`` of the layer's scale over all shards (see the module
    docstring); each layer's entry then also gives ``max_rel_error`` per variable:
    ``max |sim − lava| / max |lava|``.
    """
    layers = []
    first: tuple | None = None
    first_info: dict | None = None
    conv = int if rtol is None else float
    order: dict[str, list[str]] = {}
    for name, var in (parts[0][1] if parts else {}):
        order.setdefault(name, []).append(var)
    for rank, (name, variables) in enumerate(order.items()):
        entry: dict[str, Any] = {"layer": name, "identical": True, "mismatches": 0}
        for vi, var in enumerate(variables):
            shards = [(offset, summ[(name, var)]) for offset, summ in parts]
            scale = max((p.scale for _, p in shards), default=0.0)
            exact = shards[0][1].exact
            if not exact:
                err = max((p.err for _, p in shards), default=0.0)
                entry.setdefault("max_rel_error", {})[var] = err / scale if scale else err
            n_bad = 0
            for offset, p in shards:
                keep = (np.ones(p.step.shape, bool) if exact
                        else outside(p.sim, p.lava, rtol, scale))
                n_bad += int(keep.sum())
                if keep.any():
                    i = int(np.flatnonzero(keep)[0])  # the shard's earliest (step, sample, neuron)
                    key = (int(p.step[i]), rank, vi, offset + int(p.sample[i]),
                           int(p.neuron[i]))
                    if first is None or key < first:
                        first = key
                        first_info = {"layer": name, "step": key[0], "neuron": key[4],
                                      "variable": var, "sim": conv(p.sim[i]),
                                      "lava": conv(p.lava[i]), "sample": key[3]}
            entry[var] = n_bad == 0
            entry["mismatches"] += n_bad
            entry["identical"] = entry["identical"] and n_bad == 0
        layers.append(entry)
    return layers, first_info


def result(parts: Sequence[tuple[int, dict[tuple[str, str], VarSummary]]],
           samples: int, T: int, mode: str, rtol: float) -> dict:
    """``compare``'s result from shard summaries."""
    tol = None if mode == "fixed" else float(rtol)
    layers, first = judge(parts, tol)
    out = {"identical": first is None, "samples": samples, "T": T, "layers": layers,
           "first_divergence": first}
    if tol is not None:
        out.update(mode=mode, rtol=tol)
    return out
