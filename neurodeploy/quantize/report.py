"""The quantization report: one entry per neuron layer (its incoming synapses included)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LayerReport:
    """One neuron layer (CubaLIF or Readout) and the synapses that feed it.

    ``scale`` is the layer's integer units per float unit of synaptic input (λ: ``a_in ≈ λ·I``,
    ``v_int ≈ 64·λ·v``); ``clip`` the fraction of max|W| mapped to the top mantissa (chosen by
    calibration); ``weight_error`` the relative RMS error of the effective weights;
    ``saturated`` weights clipped to the mantissa range; ``states_at_bounds`` neuron-steps whose
    u wrapped or v was clipped on the calibration data (fixed mode); ``dead``: a spiking layer
    silent in fixed point although it fires in float. Rates are spikes per neuron per step;
    ``output_error`` (Readout) is the RMS drift of the decoded output over its float std.
    """

    name: str
    kind: str
    synapses: list[str] = field(default_factory=list)
    scale: float = 1.0
    weight_exp: dict[str, int] = field(default_factory=dict)
    clip: dict[str, float] = field(default_factory=dict)
    weight_error: float | None = None
    saturated: int = 0
    states_at_bounds: int = 0
    firing_rate_float: float | None = None
    firing_rate_fixed: float | None = None
    output_error: float | None = None
    dead: bool = False
    vth: int | None = None
    du: int = 0
    dv: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class QuantReport:
    """What :func:`neurodeploy.quantize.quantize` did and how close fixed point stays."""

    target: str
    T: int
    n_calib: int
    input_scale: float
    input_bits: int
    float_accuracy: float
    fixed_accuracy: float
    layers: list[LayerReport] = field(default_factory=list)
    candidates_tried: int = 0
    #: what the pool-folding pass did (pool folded into synapse, or kept and why)
    pool_folding: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def layer(self, name: str) -> LayerReport:
        return next(r for r in self.layers if r.name == name)
