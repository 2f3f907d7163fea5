"""Post-training quantization of neuron graphs to Loihi's integer formats, calibrated on data.

``quantize(graph, calib, target="loihi2", T=None) -> (Graph, QuantReport)``: 8-bit weight
mantissas on Lava's grid (mixed-sign weights even, :mod:`neurodeploy.formats`) with a
per-layer weight exponent (Dense) or none (Conv2d), 12-bit du/dv, threshold mantissa, bias
mantissa/exponent, and an ``InputQ`` for the input (graded 8-bit for ``direct`` input on
Loihi 2, binary spikes otherwise). What fixed point cannot express is refused with a
NeurodeployError naming the node. The fixed-point semantics are in :mod:`neurodeploy.sim`.
"""

from __future__ import annotations

from neurodeploy.formats import lava_effective_weights
from neurodeploy.quantize.quantizer import TARGETS, check_expressible, quantize
from neurodeploy.quantize.report import LayerReport, QuantReport

__all__ = ["TARGETS", "LayerReport", "QuantReport", "check_expressible",
           "lava_effective_weights", "quantize"]
