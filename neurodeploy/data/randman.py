"""Randman: classification of smooth random manifolds by spike timing (Zenke & Vogels 2021,
"The remarkable robustness of surrogate gradient learning for instilling complex function in
spiking neural networks", Neural Computation 33(4); reference code github.com/fzenke/randman).

Each class is a random smooth ``dim``-dimensional manifold embedded in ``units`` dimensions: unit
``i`` of class ``k`` maps a point ``x ∈ [0,1]^dim`` to ``Π_d Σ_f a_f·f^-α·sin(2π(f·x_d·b_f + φ_f))``
with random ``a, b, φ`` (the spectrum cut where ``f^-α`` drops below ``prec``). The value,
min-max standardised per unit, is the unit's spike time in [0, 1), binned into ``steps`` steps:
each unit spikes exactly once per sample. Generated with numpy (no torch), deterministic in
``seed``.
"""

from __future__ import annotations

import numpy as np


def _manifold(rng: np.random.Generator, units: int, dim: int, alpha: float,
              prec: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f_cut = int(min(np.ceil(prec ** (-1.0 / alpha)), 1000))
    a, b, phi = (rng.random((units, dim, f_cut)) for _ in range(3))
    spect = 1.0 / (np.arange(f_cut) + 1.0) ** alpha
    return a, b, phi, spect


def _evaluate(x: np.ndarray, a: np.ndarray, b: np.ndarray, phi: np.ndarray,
              spect: np.ndarray) -> np.ndarray:
    """Manifold coordinates ``[N, units]`` of the points ``x`` ``[N, dim]``."""
    f = np.arange(spect.size)
    out = np.ones((x.shape[0], a.shape[0]))
    for d in range(x.shape[1]):
        # [N, 1, 1] · [1, units, F] → sum over frequencies
        phase = 2 * np.pi * (f * x[:, d, None, None] * b[None, :, d] + phi[None, :, d])
        out *= (a[None, :, d] * spect * np.sin(phase)).sum(-1)
    return out


def make_randman(classes: int = 10, units: int = 50, steps: int = 50, dim: int = 1,
                 alpha: float = 2.0, samples_per_class: int = 200,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spike rasters ``x`` ``[N, steps, units]`` (float32 0/1, one spike per unit) and labels
    ``y`` ``[N]`` (int64), ``N = classes · samples_per_class``, shuffled."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k in range(classes):
        params = _manifold(rng, units, dim, alpha)
        points = rng.random((samples_per_class, dim))
        values = _evaluate(points, *params)
        lo, hi = values.min(0), values.max(0)
        times = (values - lo) / (hi - lo + 1e-7)
        bins = np.minimum((times * steps).astype(np.int64), steps - 1)
        raster = np.zeros((samples_per_class, steps, units), np.float32)
        raster[np.arange(samples_per_class)[:, None], bins, np.arange(units)[None, :]] = 1.0
        xs.append(raster)
        ys.append(np.full(samples_per_class, k, np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]
