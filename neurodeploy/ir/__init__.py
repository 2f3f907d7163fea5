"""The neuron-graph IR: typed nodes with numpy parameters, a Graph, and its ``.ndg`` file.

Plain dataclasses and numpy arrays only (no torch): see :mod:`neurodeploy.ir.nodes` for the
semantics of every node kind.
"""

from __future__ import annotations

from neurodeploy.ir.equality import graph_diff, graphs_equal
from neurodeploy.ir.graph import Edge, Graph
from neurodeploy.ir.io import load_graph, save_graph
from neurodeploy.ir.nodes import (
    NODE_TYPES,
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Input,
    InputQ,
    NeuronQ,
    Node,
    Readout,
    SigmaDelta,
    SigmaDeltaQ,
    SumPool2d,
    WeightQ,
)
from neurodeploy.ir.shapes import infer_shapes
from neurodeploy.ir.summary import NodeSummary, summarize
from neurodeploy.ir.validate import validate

__all__ = [
    "NODE_TYPES", "Add", "AvgPool2d", "Conv2d", "CubaLIF", "Dense", "Edge", "Flatten", "Graph",
    "Input", "InputQ", "NeuronQ", "Node", "NodeSummary", "Readout", "SigmaDelta",
    "SigmaDeltaQ", "SumPool2d", "WeightQ",
    "graph_diff", "graphs_equal", "infer_shapes", "load_graph", "save_graph", "summarize",
    "validate",
]
