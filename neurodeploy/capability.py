"""What Lava's fixed-point models can run: one check, asked by the quantizer (before it
quantizes), the simulator's fixed mode, the Lava backend, netx export and deploy.

A neuron node is asked of its kind (:meth:`neurodeploy.kinds.NeuronKind.fixed_refusal`);
inputs and synapses need their integer parameters; average pooling has no fixed-point form
(the quantizer rewrites it to a sum pool); Lava's fixed-point Conv applies no weight exponent.
"""

from __future__ import annotations

import dataclasses

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import AvgPool2d, Conv2d, Graph, Node

#: what a node without its quantized parameters lacks, by their type
_MISSING = {"InputQ": "no InputQ (integer input format)",
            "WeightQ": "no quantized weights (WeightQ)",
            "NeuronQ": "no NeuronQ (integer neuron parameters)"}


def _quant_type(node: Node) -> str | None:
    """The name of ``node``'s quantized-parameter type, None when it has none."""
    for f in dataclasses.fields(node):
        if f.name == "quant":
            return str(f.type).split("|")[0].strip()
    return None


def fixed_refusal(node: Node, quantized: bool = True) -> str | None:
    """Why Lava's fixed-point models cannot run ``node`` (None: they can). ``quantized``: the
    node must carry its integer parameters (False: asked before quantization, also refusing
    what the quantization cannot express)."""
    qtype = _quant_type(node)
    if quantized and qtype is not None and node.quant is None:  # type: ignore[attr-defined]
        return (f"{_MISSING.get(qtype, f'no {qtype}')}: not quantized; run `neurodeploy "
                "quantize` first")
    if quantized and isinstance(node, AvgPool2d):
        return "average pooling has no fixed-point form; the quantizer rewrites it to sumpool2d"
    if quantized and isinstance(node, Conv2d) and node.quant.weight_exp != 0:
        return (f"Lava's fixed-point Conv ignores weight_exp, which is {node.quant.weight_exp}; "
                "quantize with weight_exp = 0")
    kind = kinds.kind_of(node)
    return kind.fixed_refusal(node) if kind is not None else None


def check_fixed(graph: Graph, quantized: bool = True) -> None:
    """Raise NeurodeployError naming the first node Lava's fixed-point models cannot run (see
    :func:`fixed_refusal`)."""
    for node in graph:
        why = fixed_refusal(node, quantized)
        if why:
            raise NeurodeployError(f"node '{node.name}' ({node.kind}): {why}")
