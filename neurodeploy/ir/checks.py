"""Field checks shared by the node types' own ``check`` and the graph validation: each raises a
NeurodeployError with one line naming the node and the fault."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import (
    BIAS_EXP_MAX,
    BIAS_MANT_BITS,
    BIAS_MANT_RANGE,
    DU_RANGE,
    DV_RANGE,
    GRADED_BITS,
    VTH_MAX,
    WEIGHT_BITS,
    WEIGHT_EXP_RANGE,
)

Shape = tuple[int, ...]


def fail(node: Any, what: str) -> None:
    """Raise ``node '<name>' (<kind>): <what>``."""
    raise NeurodeployError(f"node '{node.name}' ({node.kind}): {what}")


def check_finite(node: Any, field: str, value: np.ndarray | None) -> None:
    if value is not None and not np.all(np.isfinite(value)):
        fail(node, f"parameter '{field}' contains NaN or infinite values")


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
    # negative: an arithmetic right shift (formats.shift); beyond -13 a 13-bit mantissa is gone
    check_int_range(node, "quant.bias_exp", q.bias_exp, (-BIAS_MANT_BITS, BIAS_EXP_MAX))
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
