"""Turn a batch of samples into time-major input steps ``[T, B, *shape]``."""

from __future__ import annotations

import numpy as np

from neurodeploy.errors import NeurodeployError

ENCODINGS = ("direct", "rate", "spikes")


def encode(x: np.ndarray, encoding: str, T: int | None, seed: int = 0) -> np.ndarray:
    """Encode a batch as ``T`` steps, time-major, float32.

    - ``direct``: ``x`` is ``[B, *shape]``; every step carries ``x`` unchanged.
    - ``rate``: ``x`` is ``[B, *shape]`` with values in [0, 1]; each step is an independent
      Bernoulli spike with probability ``x`` (numpy generator seeded with ``seed``).
    - ``spikes``: ``x`` is ``[B, T_data, *shape]``; transposed to ``[T_data, B, *shape]`` and,
      when ``T > T_data``, padded with silent steps. ``T < T_data`` is refused (it would drop
      events silently).
    """
    x = np.asarray(x, dtype=np.float32)
    if encoding == "spikes":
        if x.ndim < 2:
            raise NeurodeployError(f"spike data needs shape [B, T, ...], got {list(x.shape)}")
        steps = np.ascontiguousarray(np.swapaxes(x, 0, 1))
        t_data = steps.shape[0]
        if T is None or T == t_data:
            return steps
        if T < t_data:
            raise NeurodeployError(f"T={T} is shorter than the spike data's {t_data} steps")
        pad = np.zeros((T - t_data, *steps.shape[1:]), np.float32)
        return np.concatenate([steps, pad])
    if T is None or T < 1:
        raise NeurodeployError(f"encoding '{encoding}' needs a number of steps T >= 1, got {T}")
    if encoding == "direct":
        return np.ascontiguousarray(np.broadcast_to(x, (T, *x.shape)))
    if encoding == "rate":
        if x.size and (x.min() < 0 or x.max() > 1):
            raise NeurodeployError("rate encoding needs values in [0, 1] (spike probabilities), "
                                   f"got [{x.min():.3g}, {x.max():.3g}]")
        rng = np.random.default_rng(seed)
        return (rng.random((T, *x.shape), dtype=np.float32) < x).astype(np.float32)
    raise NeurodeployError(f"unknown encoding '{encoding}' (choose from {', '.join(ENCODINGS)})")
