"""Export of :mod:`neurodeploy.nn` models to the IR: lossless, layer for layer.

``neurodeploy.nn`` layers compute the IR's float semantics operation for operation, so the
export only copies parameters: ``nn.Linear`` → Dense, ``nn.Conv2d`` → Conv2d, ``nn.AvgPool2d``
→ AvgPool2d, ``SumPool2d`` → SumPool2d, ``nn.Flatten`` → Flatten, and each neuron layer to its
own IR node (``NeuronLayer.to_ir``): ``CubaLIF`` → CubaLIF (decays and threshold as clamped in
the forward pass, reset and refractory period; the neuron bias per layer, per neuron, or per
channel broadcast to the layer's ``(C, H, W)`` shape, each exact in the IR), ``Readout`` →
Readout (decoding and TWO weights). Binary-weight layers export their effective ``±α`` float
weights; a synapse bias (``--synapse-bias`` models) becomes the Dense/Conv2d bias. Node names
are the model's layer names; the input node is ``input``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    SumPool2d,
    validate,
)


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().to(torch.float32).numpy().copy()


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _synapse_weight(m: nn.Module) -> torch.Tensor:
    fn = getattr(m, "effective_weight", None)
    return fn() if callable(fn) else m.weight


def _node(name: str, m: nn.Module) -> Any:
    from neurodeploy.nn import layers as L

    if isinstance(m, L.NeuronLayer):
        return m.to_ir(name)
    if isinstance(m, nn.Linear):
        return Dense(name, weight=_np(_synapse_weight(m)), bias=_np(m.bias))
    if isinstance(m, nn.Conv2d):
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            raise NeurodeployError(f"layer '{name}': only numeric zero padding can be exported")
        return Conv2d(name, weight=_np(_synapse_weight(m)), bias=_np(m.bias),
                      stride=_pair(m.stride), padding=_pair(m.padding),
                      dilation=_pair(m.dilation), groups=m.groups)
    if isinstance(m, nn.AvgPool2d):
        if m.ceil_mode or not m.count_include_pad or m.divisor_override:
            raise NeurodeployError(f"layer '{name}': AvgPool2d needs ceil_mode=False, "
                                   "count_include_pad=True and no divisor_override")
        return AvgPool2d(name, kernel=_pair(m.kernel_size), stride=_pair(m.stride),
                         padding=_pair(m.padding))
    if isinstance(m, L.SumPool2d):
        return SumPool2d(name, kernel=_pair(m.kernel_size), stride=_pair(m.stride),
                         padding=_pair(m.padding))
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise NeurodeployError(f"layer '{name}': only Flatten() of all non-batch dims")
        return Flatten(name)
    raise NeurodeployError(f"layer '{name}': {type(m).__name__} has no IR equivalent")


def to_graph(model: Any, metadata: dict[str, Any] | None = None) -> Graph:
    """The IR graph of a :class:`neurodeploy.nn.SNN` ``model``; ``metadata`` (a checkpoint's)
    gives the input encoding, ``T``, ``dt`` and the training facts copied into the graph."""
    from neurodeploy.nn.model import SNN

    if not isinstance(model, SNN):
        raise NeurodeployError(f"to_graph needs a neurodeploy.nn.SNN, got {type(model).__name__}")
    meta = dict(metadata or {})
    encoding = meta.get("encoding", "direct")
    g = Graph(metadata={**{k: v for k, v in meta.items() if k != "hyperparameters"},
                        "source": "neurodeploy.nn"})
    g.add(Input("input", shape=tuple(model.input_shape), encoding=encoding))
    g.inputs.append("input")
    prev = "input"
    with torch.no_grad():
        for name, m in zip(model.names, model.layers, strict=True):
            g.add(_node(name, m), prev)
            prev = name
    g.outputs.append(prev)
    validate(g)
    return g
