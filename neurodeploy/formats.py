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
- lava/lib/dl/netx/hdf5.py: netx fixes the bias exponent at 6.

Pure integer helpers only (numpy or torch integers alike); float → integer rounding rules are
the quantizer's (:mod:`neurodeploy.quantize.formats`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
#: quantized current decay ``du`` (``du = DECAY_UNITY − 1`` empties the current every step)
DU_RANGE = (0, DECAY_UNITY - 1)
#: quantized voltage decay ``dv``
DV_RANGE = (0, DECAY_UNITY - 1)
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
#: netx stores bias mantissas with this fixed exponent (it reads no ``bias_exp``)
NETX_BIAS_EXP = 6

# ---------------------------------------------------------------- messages

#: payload width of graded messages between Lava processes (Loihi 2 graded spikes ≤ 24 bits)
GRADED_BITS = 24


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


def mantissa_grid(mode: str) -> tuple[int, int, int]:
    """``(step, lo, hi)`` of representable integer weights: mixed sign uses even values in
    [−256, 254], one sign uses every value in [0, 255] or [−255, 0]."""
    top = 2**WEIGHT_BITS
    if mode == "mixed":
        return 2, -top, top - 2
    if mode == "inhibitory":
        return 1, -(top - 1), 0
    return 1, 0, top - 1


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
