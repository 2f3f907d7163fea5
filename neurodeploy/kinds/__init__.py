"""Neuron kinds: one module per kind of IR neuron node, found through one registry.

Each kind (:class:`neurodeploy.kinds.base.NeuronKind`) holds everything the stages need to know
about one kind of neuron — its float and fixed-point steps, its quantization rule, its
fixed-point capability check, its Lava process, its op counts and its NIR / ONNX / netx
mapping — so that the simulator, the quantizer, the Lava backend, energy and the converters
ask the kind (``kinds.kind_of(node)``) instead of testing node types. The registry is keyed by
the IR node kind string (``Node.kind``, the name stored in ``.ndg`` files).

Kinds: :mod:`~neurodeploy.kinds.cuba_lif` (``cuba_lif``), :mod:`~neurodeploy.kinds.readout`
(``readout``), :mod:`~neurodeploy.kinds.sigma_delta` (``sigma_delta``); what the CUBA family
shares is in :mod:`~neurodeploy.kinds.cuba`. How to add a
kind: ``docs/neuron_kinds.md``.
"""

from __future__ import annotations

from typing import Any

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.nodes import Node
from neurodeploy.kinds.base import LavaNeuron, NeuronKind, NeuronOps
from neurodeploy.kinds.cuba_lif import CubaLIFKind
from neurodeploy.kinds.readout import ReadoutKind
from neurodeploy.kinds.sigma_delta import SigmaDeltaKind

#: the registry: IR node kind string → kind
KINDS: dict[str, NeuronKind] = {k.name: k for k in (CubaLIFKind(), ReadoutKind(),
                                                    SigmaDeltaKind())}

CUBA_LIF = KINDS["cuba_lif"]
READOUT = KINDS["readout"]


def kind_of(node: Node) -> NeuronKind | None:
    """The kind of ``node``, or None when it is no neuron (input, synapse, pooling, ...)."""
    kind = KINDS.get(node.kind)
    return kind if kind is not None and isinstance(node, kind.node_type) else None


def neuron_kind(node: Node) -> NeuronKind:
    """The kind of neuron node ``node``; NeurodeployError naming it when it is no neuron."""
    kind = kind_of(node)
    if kind is None:
        raise NeurodeployError(f"node '{node.name}' ({node.kind}): not a neuron layer")
    return kind


def is_neuron(node: Node) -> bool:
    """Whether ``node`` is a neuron node (of any registered kind)."""
    return kind_of(node) is not None


def fires(node: Node) -> bool:
    """Whether ``node`` is a neuron that emits spikes downstream."""
    kind = kind_of(node)
    return kind is not None and kind.fires


def for_nir(nir_node: Any) -> NeuronKind | None:
    """The kind that imports the NIR neuron ``nir_node`` (None: not a NIR neuron we import)."""
    for kind in KINDS.values():
        if isinstance(nir_node, kind.nir_types()):
            return kind
    return None


__all__ = ["CUBA_LIF", "KINDS", "READOUT", "LavaNeuron", "NeuronKind", "NeuronOps", "fires",
           "for_nir", "is_neuron", "kind_of", "neuron_kind"]
