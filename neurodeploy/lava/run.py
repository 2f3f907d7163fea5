"""``simulate_lava``: run a graph in Lava (fixed_pt or floating_pt) and return the simulator's
result type."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Add, Flatten, Graph, Input, infer_shapes


def _values(graph: Graph, rec: dict[str, dict[str, np.ndarray]],
            inputs_int: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every node's output value per step ``[T, B, *shape]`` (the simulator's ``y``):
    inputs' integers (float mode: the float inputs), synapses' sums, each neuron's output
    variable (CubaLIF spikes, Readout voltages); Flatten and Add are derived from their
    sources, as the simulator computes them."""
    shapes = infer_shapes(graph)
    vals: dict[str, np.ndarray] = {}
    for name in graph.topological_order():
        node = graph.nodes[name]
        kind = kinds.kind_of(node)
        if isinstance(node, Input):
            vals[name] = inputs_int[name]
        elif kind is not None:
            vals[name] = rec[name][kind.output_var]
        elif isinstance(node, (Add, Flatten)):
            total = None
            for e in graph.in_edges(name):
                src = vals.get(e.src)
                if src is None:
                    raise NeurodeployError(f"node '{name}' ({node.kind}): its recurrent source "
                                           f"'{e.src}' is not a neuron or synapse")
                if e.delay:
                    src = np.concatenate([np.zeros_like(src[:1]), src[:-1]])
                total = src if total is None else total + src
            vals[name] = total.reshape(total.shape[:2] + shapes[name])
        else:
            vals[name] = rec[name]["y"]
    return vals


def simulate_lava(graph: Graph, x: np.ndarray, record: bool | Sequence[str] = False,
                  progress: bool = False, mode: str = "fixed",
                  lanes: int | None = None) -> SimResult:  # noqa: F821
    """Run ``graph`` in Lava on ``x`` (``[T, B, *input_shape]``, encoded float values), one
    sample after another in one compiled network (reset between samples).

    ``mode``: ``fixed`` (default; a quantized graph in ``Loihi2SimCfg(select_tag="fixed_pt")``,
    bit-exact with ``simulate(graph, x, mode="fixed")``) or ``float`` (the graph's float
    parameters in ``select_tag="floating_pt"``, equal to ``simulate(graph, x, mode="float")``
    to float rounding; see :mod:`neurodeploy.lava.compiler` for what maps how).

    ``lanes``: samples run side by side in one Lava network (:mod:`neurodeploy.lava.lanes`);
    None picks as many as the graph and memory allow (up to 32), 1 runs one sample after
    another. Results do not depend on it.

    Returns :class:`neurodeploy.sim.SimResult` as ``simulate(graph, x, mode=mode)`` fills it:
    ``outputs`` (each neuron kind's ``output``: Readout ``v`` — times ``scale`` in fixed mode —,
    CubaLIF spikes),
    ``decoded``, ``predictions``, ``counts`` (every node), ``firing_rates``, and ``records`` of
    the nodes asked for (neurons ``s``/``u``/``v``, others ``y``; int64 in Lava's units in
    fixed mode, float32 in float mode, as the simulator's). ``saturations`` stays empty: Lava's
    models do not report wraps or clips, and the recorded values cannot tell them apart
    afterwards.
    """
    import torch

    from neurodeploy.lava.compiler import compile_graph
    from neurodeploy.lava.lanes import MAX_LANES, lane_graph, lane_inputs, lanes_for, unlane
    from neurodeploy.sim import SimResult, decode

    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.float32)
    shapes = infer_shapes(graph)
    want = shapes[graph.inputs[0]] if graph.inputs else ()
    if x.ndim != 2 + len(want) or tuple(x.shape[2:]) != tuple(want):
        raise NeurodeployError(f"input '{graph.inputs[0] if graph.inputs else '?'}': expected "
                               f"x of shape [T, B, {', '.join(map(str, want))}], got "
                               f"{list(x.shape)}")
    if record is True:
        asked = set(graph.nodes)
    elif not record:
        asked = set()
    else:
        asked = {record} if isinstance(record, str) else set(record)
        for n in asked:
            graph[n]  # NeurodeployError naming an unknown node
    B = x.shape[1]
    n_lanes = lanes_for(graph, B, MAX_LANES if lanes is None else lanes)
    if n_lanes > 1:
        net = compile_graph(lane_graph(graph, n_lanes), lane_inputs(x, n_lanes), record=True,
                            mode=mode)
    else:
        net = compile_graph(graph, x, record=True, mode=mode)
    rec = net.run(progress=progress)
    inputs_int = net.inputs_int
    if n_lanes > 1:
        rec = {n: {k: unlane(v, n_lanes, B) for k, v in d.items()} for n, d in rec.items()}
        inputs_int = {n: unlane(v, n_lanes, B) for n, v in inputs_int.items()}
    fixed = mode == "fixed"
    if not fixed:  # the simulator's float records are float32
        rec = {n: {k: v.astype(np.float32) for k, v in d.items()} for n, d in rec.items()}
    vals = _values(graph, rec, inputs_int)
    T, B = x.shape[:2]

    outputs = {}
    for name in graph.outputs:
        node = graph.nodes[name]
        y = torch.as_tensor(np.ascontiguousarray(vals[name]))
        kind = kinds.kind_of(node)
        outputs[name] = kind.output(node, y, fixed) if kind is not None else y.to(torch.float32)
    first = graph.outputs[0]
    decoded = decode(outputs[first], graph.nodes[first])
    predictions = decoded.argmax(1).cpu().numpy().astype(np.int64)
    counts = {n: (v != 0).sum(axis=(0, 1)).astype(np.float64) / B for n, v in vals.items()}
    rates = {n: float(counts[n].sum() / (T * max(counts[n].size, 1)))
             for n, node in graph.nodes.items() if isinstance(node, Input) or kinds.fires(node)}
    records: dict[str, dict[str, torch.Tensor]] = {}
    for name in graph.nodes:
        node = graph.nodes[name]
        if name not in asked:
            continue
        kind = kinds.kind_of(node)
        if kind is not None:  # a variable Lava does not have (a Readout's spikes) is 0
            out = rec[name][kind.output_var]
            records[name] = {var: torch.as_tensor(rec[name][var] if var in rec[name]
                                                  else np.zeros_like(out))
                             for var in ("s", "u", "v")}
        else:
            records[name] = {"y": torch.as_tensor(vals[name])}
    return SimResult(outputs, decoded, predictions, counts, rates, records, {}, int(T), mode)
