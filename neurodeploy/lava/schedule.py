"""Pipeline schedule: how the delay-free IR maps onto Lava's one-step synapses (no Lava needed).

Every Lava synapse process (Dense, Conv — and SumPool2d/AvgPool2d, which we run as a Conv with
unit weights) sends in step τ what it computed in step τ − 1, while the IR applies a synapse
within the step. A LIF sends its spikes in the step it receives its input, and Add/Flatten are
no processes at all (several connections into one Lava InPort are summed; a Flatten is a
reshaped port). So each IR node ``n`` runs at a *latency* ``L(n)``: its value of IR step ``t``
appears in Lava (0-based) step ``t + L(n)`` of the sample.

``A(n)`` is the latency at which ``n``'s inputs must arrive: ``L(n) = A(n) + 1`` for synapse
processes, ``L(n) = A(n)`` otherwise, ``L = 0`` for an Input (the ring buffer sends ``x[t]`` in
step ``t``). An edge ``src → dst`` of IR delay ``d`` carries ``src``'s step ``t − d`` into
``dst``'s step ``t``; it needs an *extra* Lava delay ``x = A(dst) − L(src) + d ≥ 0``. We pick the
least ``A`` satisfying every edge (Bellman–Ford style longest paths); ``x > 0`` appears on
shortcut edges (residual paths of unequal length) and on recurrent edges whose loop has no
synapse process. A loop with more synapse processes than delay-1 edges would need a negative
delay and is refused.

Extra delays leaving a Dense are folded into it (Lava ``DelayDense``, a native Loihi synaptic
delay) when all its out-edges need at least that much, as far as the Dense's own IR delays
leave room in the delay field; what remains is realised by an identity delay process on the
edge (see :mod:`neurodeploy.lava.compiler`). A Dense's IR delays change no latency: its value
of step ``t`` already includes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import DELAY_MAX
from neurodeploy.ir import AvgPool2d, Conv2d, Dense, Graph, Input, SumPool2d

#: IR node kinds that become a Lava synapse process (one step of delay each)
PROCESS_SYNAPSES = (Dense, Conv2d, SumPool2d, AvgPool2d)
#: the largest synaptic delay a Lava DelayDense takes (:data:`neurodeploy.formats.DELAY_MAX`)
MAX_SYNAPTIC_DELAY = DELAY_MAX


@dataclass
class Schedule:
    """Latencies of a graph in Lava.

    - ``latency[n]``: Lava step of ``n``'s IR step 0, within a sample.
    - ``arrival[n]``: latency at which ``n``'s inputs arrive.
    - ``extra[i]``: extra delay (steps) on ``graph.edges[i]``, after folding into Dense.
    - ``dense_delay[n]``: synaptic delay folded into the Dense ``n`` (0: a plain Dense).
    - ``depth``: the largest latency; a sample of T steps runs ``T + depth`` Lava steps.
    """

    latency: dict[str, int]
    arrival: dict[str, int]
    extra: dict[int, int]
    dense_delay: dict[str, int]
    depth: int


def _own_delay(graph: Graph, name: str) -> int:
    return 1 if isinstance(graph.nodes[name], PROCESS_SYNAPSES) else 0


def schedule(graph: Graph) -> Schedule:
    """Compute the least pipeline schedule of ``graph`` (see the module docstring).

    Raises NeurodeployError naming a node on a loop that Lava cannot run in step with the IR.
    """
    arrival = {n: 0 for n in graph.nodes}

    def lat(n: str) -> int:
        return 0 if isinstance(graph.nodes[n], Input) else arrival[n] + _own_delay(graph, n)

    for _ in range(len(graph.nodes) + 1):
        changed = False
        for e in graph.edges:
            need = lat(e.src) - e.delay
            if need > arrival[e.dst]:
                arrival[e.dst] = need
                changed = True
        if not changed:
            break
    else:
        bad = next(e for e in graph.edges if lat(e.src) - e.delay > arrival[e.dst])
        raise NeurodeployError(
            f"node '{bad.dst}': it lies on a recurrent loop with more synapse layers than "
            "delay-1 edges; Lava's one-step synapses cannot run it in step with the IR"
        )
    latency = {n: lat(n) for n in graph.nodes}
    extra = {i: arrival[e.dst] - latency[e.src] + e.delay for i, e in enumerate(graph.edges)}
    dense_delay: dict[str, int] = {}
    for name, node in graph.nodes.items():
        outs = [i for i, e in enumerate(graph.edges) if e.src == name]
        if isinstance(node, Dense) and outs:
            # the Dense's own (IR) delays share the same 6-bit delay field
            fold = min(MAX_SYNAPTIC_DELAY - node.max_delay, min(extra[i] for i in outs))
            if fold > 0:
                dense_delay[name] = fold
                for i in outs:
                    extra[i] -= fold
    depth = max(latency.values(), default=0)
    return Schedule(latency, arrival, extra, dense_delay, depth)
