"""Loihi 2's integer formats as Lava's bit-accurate models use them — named once, here.

Every width, shift, offset and range of the fixed-point arithmetic lives in this module; the
quantizer, the simulator, the Lava backend, the IR's validation and the netx reader and writer
import them from here. Sources (lava-nc 0.10.0, lava-dl 0.6.0):

- lava/utils/weightutils.py (``determine_sign_mode``, ``clip_weights``, ``truncate_weights``):
  8-bit weight mantissas whose grid depends on the sign mode;
- lava/proc/dense/models.py (``AbstractPyDenseModelBitAcc``): ``(W·s) << weight_exp``;
- lava/proc/lif/models.py (``AbstractPyLifModelFixed``, ``PyLifModelBitAcc``): 12-bit decays
  with the current's ``ds_offset = 1``, ``a_in << 6``, 13-bit bias mantissa with an exponent,
  17-bit threshold mantissa ``<< 6``, 24-bit ``u`` (wrapped) and ``v`` (clipped);
- lava/proc/conv/utils.py (``signed_clamp``): a convolution's output wraps at 24 bits;
- lava/lib/dl/netx/hdf5.py: netx fixes the bias exponent at 6;
- lava/proc/dense/models.py (``PyDelayDenseModelBitAcc``) and lava/lib/dl/netx (hdf5.py,
  blocks/process.py, utils.py ``num_delay_bits``): 6-bit synaptic delays, at most 62 steps.

Besides the constants: integer helpers (numpy or torch integers alike) and the rounding of float
values onto these formats that the quantization rules use (weights onto the 8-bit mantissa grid
with an exponent, decays onto 12 bits, a bias onto a 13-bit mantissa with an exponent).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError

# ---------------------------------------------------------------- synaptic weights

#: bits of a weight mantissa (``num_weight_bits``)
WEIGHT_BITS = 8
#: every effective weight ``clip_weights(num_bits=8)`` can leave, whatever the sign mode
WEIGHT_RANGE = (-(2**WEIGHT_BITS), 2**WEIGHT_BITS - 1)
#: a Dense's weight exponent: its sum is ``(W·s) << weight_exp``
WEIGHT_EXP_RANGE = (-8, 7)

# ---------------------------------------------------------------- neuron state

#: width of the current ``u`` and the voltage ``v`` (``uv_bitwidth``)
STATE_BITS = 24
#: ``u`` wraps once beyond ``±STATE_HALF`` (``max_uv_val``)
STATE_HALF = 2 ** (STATE_BITS - 1)
#: ``v`` is clipped to ``±V_LIMIT``
V_LIMIT = STATE_HALF - 1
#: the synaptic input enters the current as ``a_in << ACT_SHIFT`` (``act_shift``)
ACT_SHIFT = 6

# ---------------------------------------------------------------- neuron parameters

#: decays are 12-bit fractions of ``DECAY_UNITY``: a state keeps ``(DECAY_UNITY − d) / 4096``
DECAY_SHIFT = 12
DECAY_UNITY = 2**DECAY_SHIFT
#: the current keeps ``DECAY_UNITY − (du + CURRENT_DECAY_OFFSET)`` per step (``ds_offset``)
CURRENT_DECAY_OFFSET = 1
#: quantized current decay ``du`` (``du = DECAY_UNITY − 1`` empties the current every step;
#: ``du = −1`` keeps it whole: a current that never decays, netx's ``iDecay = 0``)
DU_RANGE = (-1, DECAY_UNITY - 1)
#: quantized voltage decay ``dv`` (``dv = DECAY_UNITY``: no voltage memory, ``v = u + bias``,
#: netx's ``vDecay = 4096``); Lava's fixed-point LIF runs both ends exactly
DV_RANGE = (0, DECAY_UNITY)
#: threshold mantissa: the effective threshold is ``vth << VTH_SHIFT`` (``vth_shift``)
VTH_BITS = 17
VTH_MAX = 2**VTH_BITS - 1
VTH_SHIFT = 6
#: a threshold mantissa no voltage reaches (``NEVER_FIRE_VTH << 6 = 2**23 > V_LIMIT``): the LIF
#: that runs a non-firing integrator (a Readout), and netx's idiom for an output layer
NEVER_FIRE_VTH = 2 ** (STATE_BITS - 1 - VTH_SHIFT)
#: 13-bit signed bias mantissa; the effective bias is ``bias_mant << bias_exp``
BIAS_MANT_BITS = 13
BIAS_MANT_RANGE = (-(2 ** (BIAS_MANT_BITS - 1)), 2 ** (BIAS_MANT_BITS - 1) - 1)
BIAS_EXP_MAX = 7
#: exponents Lava's ``scale_bias`` accepts: a negative one shifts right (``bias_mant >> −exp``);
#: beyond 12 the 13-bit mantissa is shifted out entirely. The quantizer uses [0, BIAS_EXP_MAX]
BIAS_EXP_RANGE = (-(BIAS_MANT_BITS - 1), BIAS_EXP_MAX)
#: netx stores bias mantissas with this fixed exponent (it reads no ``bias_exp``)
NETX_BIAS_EXP = 6

# ---------------------------------------------------------------- sigma-delta neurons

#: Lava's sigma-delta models (lava/proc/sdn: ``Sigma``, ``Delta``, ``SigmaDelta``) keep the
#: exponents of graded spikes and of their state in 3 bits (``spike_exp``, ``state_exp``:
#: ``precision=3``): a graded spike carries ``spike_exp`` fractional bits, the state
#: ``spike_exp + state_exp``
SD_EXP_RANGE = (0, 7)
#: netx's exponents for every SDNN layer (hdf5.py ``Network(spike_exp=6)``, ``state_exp: 6``)
NETX_SPIKE_EXP = 6
NETX_STATE_EXP = 6
#: the delta threshold and the bias enter the state scaled by ``2**(spike_exp + state_exp)``
#: (the process's ``vth * (1 << (spike_exp + state_exp))``); scaled, each must fit the 24-bit
#: state: ``|x| << (spike_exp + state_exp) <= V_LIMIT`` (:func:`sd_scaled_max`).
#: Lava's Python models hold the state in int32 (``precision=24`` is not enforced): sums wrap
#: at 32 bits there, which the simulator reproduces and reports as a saturation
SD_WORD_BITS = 32

# ---------------------------------------------------------------- synaptic delays

#: bits of a synaptic delay on Loihi 2 (``PyDelayDenseModelBitAcc``: "Loihi 2 has a maximum of
#: 6 bits for delays")
DELAY_BITS = 6
#: the largest synaptic delay, in steps. lava-nc's bit-accurate DelayDense accepts up to 63, but
#: lava-dl netx (the .net format Loihi deployments use) builds every DelayDense with
#: ``max_delay=62``, clamps larger delays with a warning and its ``num_delay_bits`` refuses ≥ 63;
#: we take the stricter 62 so that every delay the IR holds runs the same in both
DELAY_MAX = 62

# ---------------------------------------------------------------- messages

#: payload width of graded messages between Lava processes (Loihi 2 graded spikes ≤ 24 bits)
GRADED_BITS = 24


def sd_scaled_max(spike_exp: int, state_exp: int) -> int:
    """The largest integer threshold or bias magnitude of a sigma-delta neuron whose scaled value
    ``x << (spike_exp + state_exp)`` still fits the 24-bit state (``V_LIMIT``)."""
    return V_LIMIT >> (spike_exp + state_exp)


def shift(x: Any, exp: int) -> Any:
    """``x << exp`` for ``exp ≥ 0``, else the arithmetic ``x >> −exp`` (rounds toward −∞): a
    Dense's weight exponent and a bias exponent (Lava's ``scale_bias``) alike. ``x``: integer
    numpy array or torch tensor."""
    return x << exp if exp >= 0 else x >> -exp


def current_keep(du: int) -> int:
    """What the current keeps per step, in units of ``1/DECAY_UNITY``."""
    return DECAY_UNITY - (du + CURRENT_DECAY_OFFSET)


def voltage_keep(dv: int) -> int:
    """What the voltage keeps per step, in units of ``1/DECAY_UNITY``."""
    return DECAY_UNITY - dv


def input_range(bits: int, signed: bool) -> tuple[int, int]:
    """``(lo, hi)`` of an input message: ``bits = 1`` binary spikes [0, 1]; ``bits = b``
    graded, unsigned [0, 2**b − 1] or signed [−2**(b−1), 2**(b−1) − 1] (``num_message_bits``)."""
    if bits == 1:
        return 0, 1
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: excitatory (all ≥ 0), inhibitory (all ≤ 0) or mixed."""
    if w.size == 0 or np.min(w) >= 0:
        return "excitatory"
    if np.max(w) <= 0:
        return "inhibitory"
    return "mixed"


def mantissa_grid(mode: str, bits: int = WEIGHT_BITS) -> tuple[int, int, int]:
    """``(step, lo, hi)`` of representable integer weights at ``num_weight_bits = bits``: at 8
    bits mixed sign uses even values in [−256, 254], one sign every value in [0, 255] or
    [−255, 0]; ``b`` bits keep the range and drop ``8 − b`` more low bits (mixed sign counts
    the sign as a bit: step ``2**(9 − b)``), as Lava's ``truncate_weights`` does."""
    top = 2**WEIGHT_BITS
    if mode == "mixed":
        step = 2 ** (WEIGHT_BITS + 1 - bits)
        return step, -top, top - step
    step = 2 ** (WEIGHT_BITS - bits)
    if mode == "inhibitory":
        return step, -(top - step), 0
    return step, 0, top - step


def lava_effective_weights(w_int: np.ndarray, num_weight_bits: int = WEIGHT_BITS) -> np.ndarray:
    """What Lava's bit-accurate Dense uses for integer weights ``w_int``: ``clip_weights`` to
    8 bits by sign mode, then ``truncate_weights`` (mixed sign loses its LSB: even values)."""
    w = np.asarray(w_int, np.int64)
    mode = sign_mode(w)
    if mode == "inhibitory":
        w = -w
    mixed = int(mode == "mixed")
    w = np.clip(w, -(2**WEIGHT_BITS) * mixed, 2**WEIGHT_BITS - 1)
    drop = WEIGHT_BITS - num_weight_bits + mixed
    w = (w >> drop) << drop
    if mode == "inhibitory":
        w = -w
    return w.astype(np.int32)


# ---------------------------------------------------------------- rounding floats onto the formats


def weight_exp_for(w_gain_max: float, mode: str, clip: float, bits: int = WEIGHT_BITS) -> int:
    """Smallest exponent with ``clip · max|w_gain| / 2**exp`` inside the mantissa range (of
    ``bits``-bit weights)."""
    _, lo, hi = mantissa_grid(mode, bits)
    top = max(abs(lo), abs(hi))
    if w_gain_max <= 0:
        return 0
    return int(math.ceil(math.log2(clip * w_gain_max / top)))


def quantize_weights(w_gain: np.ndarray, exp: int, bits: int = WEIGHT_BITS
                     ) -> tuple[np.ndarray, int]:
    """Integer weights ``≈ w_gain / 2**exp`` on Lava's grid at ``num_weight_bits = bits``;
    returns ``(w_int, saturated)`` where ``saturated`` counts weights clipped to the mantissa
    range."""
    mode = sign_mode(w_gain)
    step, lo, hi = mantissa_grid(mode, bits)
    ideal = np.round(w_gain / (step * 2.0**exp)) * step
    saturated = int(np.sum((ideal < lo) | (ideal > hi)))
    w_int = lava_effective_weights(np.clip(ideal, lo, hi).astype(np.int64), bits)
    return w_int, saturated


def decay_q(d: float, current: bool) -> int:
    """12-bit decay: the current keeps ``(4096 − (du + 1)) / 4096`` per step, the voltage
    ``(4096 − dv) / 4096``; so ``du_q = round(4096·du) − 1``, ``dv_q = round(4096·dv)``, each
    clipped to its range (:data:`DU_RANGE`, :data:`DV_RANGE`)."""
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
