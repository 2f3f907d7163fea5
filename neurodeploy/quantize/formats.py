"""Loihi's integer formats: weight mantissas as Lava stores them, neuron parameters.

Sources (lava-nc 0.10.0): lava/utils/weightutils.py (``determine_sign_mode``,
``clip_weights``, ``truncate_weights``), lava/proc/lif/models.py (12-bit du/dv, 13-bit bias
mantissa with a 3-bit exponent, 17-bit vth mantissa scaled ``<< 6``, 24-bit u/v).
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy.errors import NeurodeployError

DECAY_MAX = 4095
BIAS_MANT_MAX = 2**12 - 1  # 13-bit signed: [-4096, 4095]
BIAS_EXP_MAX = 7
VTH_MAX = 2**17 - 1
WEIGHT_EXP_RANGE = (-8, 7)  # Loihi's weight exponent
ACT_SHIFT = 6  # u gains a_in << 6


def sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: excitatory (all ≥ 0), inhibitory (all ≤ 0) or mixed."""
    if w.size == 0 or np.min(w) >= 0:
        return "excitatory"
    if np.max(w) <= 0:
        return "inhibitory"
    return "mixed"


def lava_effective_weights(w_int: np.ndarray, num_weight_bits: int = 8) -> np.ndarray:
    """What Lava's bit-accurate Dense uses for integer weights ``w_int``: ``clip_weights`` to
    8 bits by sign mode, then ``truncate_weights`` (mixed sign loses its LSB: even values)."""
    w = np.asarray(w_int, np.int64)
    mode = sign_mode(w)
    if mode == "inhibitory":
        w = -w
    mixed = int(mode == "mixed")
    w = np.clip(w, -(2**8) * mixed, 2**8 - 1)
    drop = 8 - num_weight_bits + mixed
    w = (w >> drop) << drop
    if mode == "inhibitory":
        w = -w
    return w.astype(np.int32)


def mantissa_grid(mode: str) -> tuple[int, int, int]:
    """``(step, lo, hi)`` of representable integer weights: mixed sign uses even values in
    [−256, 254], one sign uses every value in [0, 255] or [−255, 0]."""
    if mode == "mixed":
        return 2, -256, 254
    if mode == "inhibitory":
        return 1, -255, 0
    return 1, 0, 255


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
    ``(4096 − dv) / 4096``; so ``du_q = round(4096·du) − 1`` in [−1, 4095] (``du = 0``: −1, a
    current that never decays, as netx's ``iDecay = 0``), ``dv_q = round(4096·dv)`` in
    [0, 4095]."""
    q = int(round(4096 * float(d))) - (1 if current else 0)
    return int(min(max(q, -1 if current else 0), DECAY_MAX))


def bias_q(bias_eff: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    """``bias_eff ≈ bias_mant << bias_exp`` with a 13-bit mantissa and exponent in [0, 7]."""
    top = float(np.max(np.abs(bias_eff), initial=0.0))
    exp = 0
    while top / 2**exp > BIAS_MANT_MAX + 0.5 and exp < BIAS_EXP_MAX:
        exp += 1
    if top / 2**exp > BIAS_MANT_MAX + 0.5:
        raise NeurodeployError(f"node '{where}': bias too large for Loihi's 13-bit mantissa "
                               f"and exponent ≤ {BIAS_EXP_MAX} at this layer's scale")
    mant = np.clip(np.round(bias_eff / 2**exp), -BIAS_MANT_MAX - 1, BIAS_MANT_MAX)
    return mant.astype(np.int32), exp
