"""The neuron graph: named nodes, edges (delay 0, or 1 for recurrent edges), inputs, outputs.

An edge with ``delay = 1`` carries its source's output of the previous step (zeros at t = 0);
this is how recurrent connections are expressed (``lif → rec_dense`` with delay 1, then
``rec_dense → lif``). Edges with delay 0 must form a DAG.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.nodes import Node


@dataclass(frozen=True)
class Edge:
    """``src``'s output feeds ``dst``; ``delay`` is 0 (same step) or 1 (previous step)."""

    src: str
    dst: str
    delay: int = 0


@dataclass(eq=False)
class Graph:
    """A neuron graph. ``nodes`` keeps insertion order; ``metadata`` holds JSON-able facts
    about the model (``source``, ``dt`` in seconds, ``T``, ``method``, ...)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ building

    def add(self, node: Node, *sources: str, delay: int = 0) -> Node:
        """Add ``node`` with edges from ``sources`` (all with ``delay``); returns the node."""
        if node.name in self.nodes:
            raise NeurodeployError(f"node '{node.name}': a node of that name already exists")
        self.nodes[node.name] = node
        for src in sources:
            self.connect(src, node.name, delay=delay)
        return node

    def connect(self, src: str, dst: str, delay: int = 0) -> None:
        """Add an edge ``src → dst``."""
        self.edges.append(Edge(src, dst, delay))

    # ------------------------------------------------------------ queries

    def __getitem__(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise NeurodeployError(f"no node named '{name}' in the graph") from None

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def in_edges(self, name: str) -> list[Edge]:
        """Edges into ``name``, in the order they were added."""
        return [e for e in self.edges if e.dst == name]

    def out_edges(self, name: str) -> list[Edge]:
        """Edges out of ``name``, in the order they were added."""
        return [e for e in self.edges if e.src == name]

    def predecessors(self, name: str) -> list[str]:
        """Sources of the same-step (delay 0) edges into ``name``."""
        return [e.src for e in self.edges if e.dst == name and e.delay == 0]

    def topological_order(self) -> list[str]:
        """Node names so that every delay-0 edge goes forward; ties keep insertion order.

        Raises NeurodeployError naming a node on a cycle of delay-0 edges.
        """
        indegree = {n: 0 for n in self.nodes}
        for e in self.edges:
            if e.delay == 0 and e.dst in indegree and e.src in indegree:
                indegree[e.dst] += 1
        ready = [n for n in self.nodes if indegree[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for e in self.edges:
                if e.src == n and e.delay == 0 and e.dst in indegree:
                    indegree[e.dst] -= 1
                    if indegree[e.dst] == 0:
                        ready.append(e.dst)
        if len(order) != len(self.nodes):
            stuck = next(n for n in self.nodes if n not in order)
            raise NeurodeployError(
                f"node '{stuck}': it lies on a cycle of same-step edges; "
                "a recurrent connection needs an edge with delay=1"
            )
        return order
