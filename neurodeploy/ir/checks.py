"""Field checks shared by the node types' own ``check`` and the graph validation: each raises a
NeurodeployError with one line naming the node and the fault."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import (
    BIAS_EXP_RANGE,
    BIAS_MANT_RANGE,
    DELAY_MAX,
    DU_RANGE,
    DV_RANGE,
    GRADED_BITS,
    SD_EXP_RANGE,
    VTH_MAX,
    WEIGHT_BITS,
    WEIGHT_EXP_RANGE,
    sd_scaled_max,
)

Shape = tuple[int, ...]


def fail(node: Any, what: str) -> None:
    """Raise ``node '<name>' (<kind>): <what>``."""
    raise NeurodeployError(f"node '{node.name}' ({node.kind}): {what}")


#: the largest magnitude of a float parameter: far beyond any trained network, and small
#: enough that sums over 2**24 inputs and 10**6 steps stay finite in float32 (3.4e38)
MAX_PARAMETER = 1e15


def check_finite(node: Any, field: str, value: np.ndarray | None) -> None:
    """A float parameter: finite, and no larger than :data:`MAX_PARAMETER` in magnitude (a
    readout bias of 3.4e38 simulated to inf: found by tools/fuzz_inputs.py)."""
    if value is None:
        return
    if not np.all(np.isfinite(value)):
        fail(node, f"parameter '{field}' contains NaN or infinite values")
    big = float(np.max(np.abs(value))) if np.size(value) else 0.0
    if big > MAX_PARAMETER:
        fail(node, f"parameter '{field}' holds magnitudes up to {big:.3g}, beyond the "
                   f"{MAX_PARAMETER:g} a float32 simulation keeps finite")


def check_broadcast(node: Any, field: str, value: np.ndarray, shape: Shape) -> None:
    if value.ndim != 0 and tuple(value.shape) != tuple(shape):
        fail(node, f"parameter '{field}' has shape {value.shape}; expected a scalar or {shape}")


def check_cuba(node: Any, shape: Shape, fields: tuple[str, ...]) -> None:
    """A CUBA neuron's float ``fields`` (finite, scalar or of the node's shape) and its decays
    in [0, 1]."""
    for f in fields:
        value = getattr(node, f)
        check_finite(node, f, value)
        check_broadcast(node, f, value, shape)
    for f in ("du", "dv"):
        value = getattr(node, f)
        if np.any(value < 0) or np.any(value > 1):
            fail(node, f"decay '{f}' must lie in [0, 1], got values in "
                       f"[{float(np.min(value)):g}, {float(np.max(value)):g}]")


def check_neuron_q(node: Any, shape: Shape) -> None:
    """A CUBA neuron's integer parameters, if any: a NeuronQ within Loihi's ranges."""
    from neurodeploy.ir.nodes import NeuronQ

    q = node.quant
    if q is None:
        return
    if not isinstance(q, NeuronQ):
        fail(node, f"quantized parameters must be NeuronQ, got {type(q).__name__}")
    for f, (lo, hi) in (("du", DU_RANGE), ("dv", DV_RANGE)):
        if not lo <= getattr(q, f) <= hi:
            fail(node, f"quantized '{f}' = {getattr(q, f)} outside [{lo}, {hi}]")
    if not 0 <= q.vth <= VTH_MAX:
        fail(node, f"quantized threshold {q.vth} outside [0, {VTH_MAX}]")
    bm = np.asarray(q.bias_mant)
    if bm.size and (bm.min() < BIAS_MANT_RANGE[0] or bm.max() > BIAS_MANT_RANGE[1]):
        fail(node, f"bias mantissa outside the 13-bit range {BIAS_MANT_RANGE}")
    check_broadcast(node, "quant.bias_mant", bm, shape)
    check_int_range(node, "quant.bias_exp", q.bias_exp, BIAS_EXP_RANGE)
    check_scale(node, q.scale)


def check_int_range(node: Any, field: str, value: Any, bounds: tuple[int, int]) -> None:
    """``value`` is an integer (not a bool) in ``bounds`` (inclusive)."""
    lo, hi = bounds
    if (not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_))
            or not lo <= value <= hi):
        fail(node, f"'{field}' = {value!r} must be an integer in [{lo}, {hi}]")


#: a quantized record's ``scale`` lies in these bounds: one unit times a 24-bit state (or a
#: message) stays finite and non-zero in float32
SCALE_RANGE = (1e-30, 1e30)


def check_scale(node: Any, scale: Any) -> None:
    """A quantized record's ``scale`` (float value of one integer unit): finite, in
    :data:`SCALE_RANGE`."""
    lo, hi = SCALE_RANGE
    if (not isinstance(scale, (int, float, np.number)) or isinstance(scale, (bool, np.bool_))
            or not np.isfinite(scale) or not lo <= scale <= hi):
        fail(node, f"'quant.scale' = {scale!r} must be a finite number in [{lo:g}, {hi:g}]")


def check_input_q(node: Any) -> None:
    """An Input's integer format: scale > 0, ``bits`` in [1, 24], ``signed`` a bool."""
    from neurodeploy.ir.nodes import InputQ

    q = node.quant
    if q is None:
        return
    if not isinstance(q, InputQ):
        fail(node, f"quantized parameters must be InputQ, got {type(q).__name__}")
    check_scale(node, q.scale)
    check_int_range(node, "quant.bits", q.bits, (1, GRADED_BITS))
    if not isinstance(q.signed, (bool, np.bool_)):
        fail(node, f"'quant.signed' = {q.signed!r} must be true or false")


def check_weight_q(node: Any) -> None:
    """A synapse's integer format besides its weights: exponent, mantissa bits, scale."""
    q = node.quant
    check_int_range(node, "quant.weight_exp", q.weight_exp, WEIGHT_EXP_RANGE)
    check_int_range(node, "quant.num_weight_bits", q.num_weight_bits, (1, WEIGHT_BITS))
    check_scale(node, q.scale)


def check_sigma_delta(node: Any, shape: Shape) -> None:
    """A sigma-delta neuron's fields: its mode and activation, ``vth`` ≥ 0 and ``bias`` (finite,
    scalar or of the node's shape), what its mode has no use for left at 0, and its
    SigmaDeltaQ, if any, within Lava's ranges (:func:`check_sigma_delta_q`)."""
    from neurodeploy.ir.nodes import ACTIVATIONS, SIGMA_DELTA_MODES

    if node.mode not in SIGMA_DELTA_MODES:
        fail(node, f"mode '{node.mode}' is not one of {', '.join(SIGMA_DELTA_MODES)}")
    if node.activation not in ACTIVATIONS:
        fail(node, f"activation '{node.activation}' is not one of {', '.join(ACTIVATIONS)}")
    for f in ("vth", "bias"):
        check_finite(node, f, getattr(node, f))
        check_broadcast(node, f, getattr(node, f), shape)
    if np.any(node.vth < 0):
        fail(node, "threshold 'vth' must be >= 0")
    if node.mode != "sigma_delta":
        if np.any(node.bias != 0) or node.activation != "identity":
            fail(node, f"mode '{node.mode}' (Lava's {node.mode.capitalize()}) has no bias and no "
                       "activation: bias must be 0 and activation 'identity'")
    if node.mode == "sigma" and np.any(node.vth != 0):
        fail(node, "mode 'sigma' sends its sigma every step: it has no threshold (vth must be 0)")
    q = node.quant
    if q is None:
        return
    from neurodeploy.ir.nodes import SigmaDeltaQ

    if not isinstance(q, SigmaDeltaQ):
        fail(node, f"quantized parameters must be SigmaDeltaQ, got {type(q).__name__}")
    check_broadcast(node, "quant.bias", np.asarray(q.bias), shape)
    why = sigma_delta_q_refusal(q.vth, np.asarray(q.bias), q.spike_exp, q.state_exp)
    if why:
        fail(node, why)


def sigma_delta_q_refusal(vth: int, bias: np.ndarray, spike_exp: int,
                          state_exp: int) -> str | None:
    """Why integer sigma-delta parameters lie outside Loihi's ranges (None: they fit): the
    3-bit exponents, and ``vth`` and ``|bias|`` scaled by ``2**(spike_exp + state_exp)``
    within the 24-bit state."""
    lo, hi = SD_EXP_RANGE
    for name, e in (("spike_exp", spike_exp), ("state_exp", state_exp)):
        if not lo <= int(e) <= hi:
            return f"{name} = {e} outside Loihi's 3-bit range [{lo}, {hi}]"
    top = sd_scaled_max(int(spike_exp), int(state_exp))
    if not 0 <= int(vth) <= top:
        return (f"threshold vth = {vth} outside [0, {top}] (vth << {spike_exp + state_exp} "
                "must fit the 24-bit state)")
    b = int(np.abs(np.asarray(bias, np.int64)).max(initial=0))
    if b > top:
        return (f"|bias| = {b} exceeds {top} (bias << {spike_exp + state_exp} must fit the "
                "24-bit state)")
    return None


def integer_array(value: Any) -> np.ndarray:
    """``value`` as an int32 array when it holds integers only (bools and integral floats
    included; int64 beyond int32's range), else as float64, for :func:`check_delay` to refuse
    by name."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iub":
        ok = arr.size == 0 or (int(arr.min()) >= -(2**31) and int(arr.max()) < 2**31)
        return arr.astype(np.int32) if ok else arr.astype(np.int64)  # refused by its range
    arr = arr.astype(np.float64)
    if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2**31):
        return arr.astype(np.int32)
    return arr


def check_delay(node: Any, weight_shape: Shape) -> None:
    """A synapse's delays, if any: integers in ``[0, DELAY_MAX]`` of the weight's shape."""
    d = node.delay
    if d is None:
        return
    if tuple(d.shape) != tuple(weight_shape):
        fail(node, f"delay has shape {tuple(d.shape)}; expected the weight's {tuple(weight_shape)}")
    if d.dtype.kind != "i":
        fail(node, "delays must be integers (steps)")
    if d.size and d.min() < 0:
        fail(node, f"delays must be >= 0 steps, got {int(d.min())}")
    if d.size and d.max() > DELAY_MAX:
        fail(node, f"delay {int(d.max())} exceeds Loihi 2's maximum synaptic delay of "
                   f"{DELAY_MAX} steps")
