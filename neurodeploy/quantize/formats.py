"""Rounding float values onto Loihi's integer formats (the formats themselves, their widths and
ranges, are named in :mod:`neurodeploy.formats`).

Weights go onto Lava's 8-bit mantissa grid with a per-layer exponent, decays onto 12 bits, the
bias onto a 13-bit mantissa with an exponent.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import (
    BIAS_EXP_MAX,
    BIAS_MANT_RANGE,
    CURRENT_DECAY_OFFSET,
    DECAY_UNITY,
    DU_RANGE,
    DV_RANGE,
    lava_effective_weights,
    mantissa_grid,
    sign_mode,
)


def weight_exp_for(w_gain_max: float, mode: str, clip: float) -> int:
    """Smallest exponent with ``clip · max|w_gain| / 2**exp`` inside the mantissa range."""
    _, lo, hi = mantissa_grid(mode)
    top = max(abs(lo), abs(hi))
    if w_gain_max <= 0:
        return 0
    return int(math.ceil(math.log2(clip * w_gain_max / top)))


def quantize_weights(w_gain: np.ndarray, exp: int) -> tuple[np.ndarray, int]:
    """Integer weights ``≈ w_gain / 2**exp`` on Lava's grid; returns ``(w_int, saturated)``
    where ``saturated`` counts weights clipped to the mantissa range."""
    mode = sign_mode(w_gain)
    step, lo, hi = mantissa_grid(mode)
    ideal = np.round(w_gain / (step * 2.0**exp)) * step
    saturated = int(np.sum((ideal < lo) | (ideal > hi)))
    w_int = lava_effective_weights(np.clip(ideal, lo, hi).astype(np.int64))
    return w_int, saturated


def decay_q(d: float, current: bool) -> int:
    """12-bit decay: the current keeps ``(4096 − (du + 1)) / 4096`` per step, the voltage
    ``(4096 − dv) / 4096``; so ``du_q = round(4096·du) − 1``, ``dv_q = round(4096·dv)``, each
    clipped to its range (:data:`neurodeploy.formats.DU_RANGE`, ``DV_RANGE``)."""
    lo, hi = DU_RANGE if current else DV_RANGE
    q = int(round(DECAY_UNITY * float(d))) - (CURRENT_DECAY_OFFSET if current else 0)
    return int(min(max(q, lo), hi))


def bias_q(bias_eff: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    """``bias_eff ≈ bias_mant << bias_exp`` with a 13-bit mantissa and exponent in [0, 7]."""
    lo, hi = BIAS_MANT_RANGE
    top = float(np.max(np.abs(bias_eff), initial=0.0))
    exp = 0
    while top / 2**exp > hi + 0.5 and exp < BIAS_EXP_MAX:
        exp += 1
    if top / 2**exp > hi + 0.5:
        raise NeurodeployError(f"node '{where}': bias too large for Loihi's 13-bit mantissa "
                               f"and exponent ≤ {BIAS_EXP_MAX} at this layer's scale")
    mant = np.clip(np.round(bias_eff / 2**exp), lo, hi)
    return mant.astype(np.int32), exp
