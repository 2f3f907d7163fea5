"""Quantization-aware training: a quantized graph trained through its fixed-point forward pass.

``finetune(graph, data) -> (Graph, QATReport)`` (:mod:`neurodeploy.qat.finetune`) starts from
post-training quantization and trains the integer weights and biases with straight-through
rounding; :class:`FixedPointModule` (:mod:`neurodeploy.qat.module`) is any quantized IR graph —
our own models' and imported ones alike — as a differentiable torch module whose forward pass is
the fixed-point simulator's, bit for bit.
"""

from __future__ import annotations

from neurodeploy.qat.finetune import TARGETS, QATReport, finetune
from neurodeploy.qat.module import FixedPointModule

__all__ = ["TARGETS", "FixedPointModule", "QATReport", "finetune"]
