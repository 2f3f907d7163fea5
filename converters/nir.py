"""NIR (nir 1.0.8) in and out: :func:`to_nir` and :func:`from_nir`.

NIR's neurons are continuous-time; with the time step ``dt`` (seconds; NIR files do not store
it, snnTorch's exporter assumes 1e-4) their forward-Euler step is the IR's CUBA neuron:

- ``LIF(tau, r, v_leak, v_threshold, v_reset=0)``: ``v += dt/τ·(v_leak − v + r·I)`` →
  ``du = 1``, ``dv = dt/τ``, input gain ``g = r·dt/τ``, ``bias = dt/τ·v_leak``, reset zero.
- ``CubaLIF(tau_syn, tau_mem, r, v_leak, v_threshold, w_in)``: ``i += dt/τs·(−i + w_in·I)``,
  ``v += dt/τm·(v_leak − v + r·i)`` → ``du = dt/τs``, ``dv = dt/τm``,
  ``g = (dt/τs·w_in)·(dt/τm·r)``, ``bias = dt/τm·v_leak``.
- ``IF(r, v_threshold)``: ``v += r·I`` per time step → ``dv = 0``, ``g = r``. NIR's spec
  reads ``dt·r``, but every producer (Sinabs, Norse, snnTorch, Lava) steps IF without ``dt``
  and writes ``r = 1``; with ``dt = 1e-4`` a Sinabs CNN would get thresholds of 10000 and never
  fire. ``dt`` does not enter IF.
- ``LI`` / ``CubaLI``: the same without threshold → Readout.

Conventions (``from_nir(..., convention=)``, ``neurodeploy export --nir-convention``): NIR's
neurons are continuous-time, so when a discrete step resets a neuron that spiked is left open.
``"nir"`` (the default) resets at the spike, as NIR's reference step (and snnTorch's own
``import_from_nir``, which builds ``reset_delay=False`` neurons) does. ``"snntorch"`` reads a file
written by ``snntorch.export_nir.export_to_nir`` as the snnTorch modules it was written from,
with snnTorch's default ``reset_delay=True``: the exporter writes ``v_reset = 0`` (zero reset)
for every neuron and keeps neither ``reset_mechanism`` nor ``reset_delay``, and leaves no mark
that would tell its files apart (``dt = 1e-4``, ``r = τ/dt``, ``w_in = τs/dt`` are what any
exporter of a discrete β/α neuron writes), so the convention is chosen, not detected. A
``CubaLIF`` (``Synaptic``; ``RSynaptic`` inside a recurrent subgraph) and an ``LIF`` in a
recurrent loop (``RLeaky``) then discard the step after a spike — the IR's zero reset with
``refractory = 1`` (quantizes; netx export refuses it, naming the node); an ``LIF`` without
a loop (``Leaky``) resets to zero the step after a spike, which is the IR's zero reset exactly.
A model with snnTorch's default ``reset_mechanism='subtract'`` exports the same file and cannot
be recovered from it.

After import, a layer none of whose neurons can reach its threshold for any spike input in
[0, 1] (within the graph's ``T`` steps, else 1000), and a readout that holds less than 1e-3 of
its input within that time, are reported with a ``UserWarning`` of one line naming the node
(:mod:`converters._reach`): the usual sign of a ``--dt`` the producer did not use.

Each neuron kind (:mod:`neurodeploy.kinds`) holds its NIR mapping (``to_nir``, ``from_nir``,
the NIR classes it imports); this module maps the synapses and the graph.
- ``Affine``/``Linear`` → Dense, ``Conv2d``, ``SumPool2d``, ``AvgPool2d``, ``Flatten``; a
  ``Scale`` of ones with several inputs is the IR's Add (NIR sums the edges into a node).
- ``Delay`` (``y(t) = x(t − τ)``, elementwise, τ in seconds: ``τ/dt`` steps) ↔ a Dense's
  synaptic delays where that is exact: a Delay right before a Linear/Affine delays each input
  (every synapse from input ``i`` by ``d_i``); a Delay right after a Linear (or an Affine
  without bias: an Affine's delayed bias would be missing in the first steps), which feeds
  nothing else, delays each output. On export a Dense whose delays are one per input becomes
  ``Delay → Linear/Affine``, one per output (no bias) ``Linear → Delay``; other per-synapse
  delays (NIR's Delay is elementwise) are refused naming the node. A Conv2d's delays, one per
  output channel and without bias, ↔ ``Conv2d → Delay`` (one per output element); other conv
  delays are refused naming the node. Delays that are not whole
  steps, negative or above :data:`neurodeploy.formats.DELAY_MAX`, and Delays elsewhere, are
  refused naming the NIR node.

The gain ``g`` is folded into the neuron's only incoming synapse, or into the state
(``vth/g``, ``bias/g``). A gain within 1e-6 of 1 (what float τ = dt/(1−β), r = τ/dt
round trips leave) is taken as 1. A cycle in the NIR graph is a recurrent connection: its
closing edge gets a one-step delay (on the edge from the neuron into the synapse).

:func:`to_nir` writes the same relations backwards (``τ = dt/dv``, ``r = τ/dt``,
``w_in = τs/dt``, ``v_leak = bias/dv``) and stores the IR's exact parameters (and quantized
ones, ``quant.*``) in each node's metadata and the node order, edges, delays and graph
metadata in the graph's metadata, so IR → NIR → IR is the identity.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from neurodeploy.converters._common import Builder, NeuronSpec, Value, to_numpy

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import DELAY_MAX
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Edge,
    Flatten,
    Graph,
    Input,
    SumPool2d,
    validate,
)
from neurodeploy.ir.nodes import NODE_TYPES, QUANT_TYPES

KEY = "neurodeploy"
GAIN_TOL = 1e-6
#: a readout holding less than this fraction of its input is reported (see _warn_unresponsive)
READOUT_MIN_RESPONSE = 1e-3


# ------------------------------------------------------------------ IR → NIR


def _h5(v: Any) -> Any:
    """0-d arrays as Python scalars (nir.write compresses arrays; HDF5 refuses that on 0-d)."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v.item()
    return v


def _node_meta(node: Any) -> dict[str, Any]:
    """The node's exact fields (arrays, scalars, strings) for NIR metadata."""
    meta: dict[str, Any] = {f"{KEY}.kind": node.kind}
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        if f.name == "name" or v is None:
            continue
        if f.name == "quant":
            meta[f"{KEY}.quant.type"] = type(v).__name__
            for qf in dataclasses.fields(v):
                meta[f"{KEY}.quant.{qf.name}"] = _h5(np.asarray(getattr(v, qf.name)))
            continue
        meta[f"{KEY}.{f.name}"] = json.dumps(list(v)) if isinstance(v, tuple) else (
            _h5(v) if isinstance(v, np.ndarray) else v)
    return meta


def to_nir(graph: Graph, dt: float | None = None) -> Any:
    """The graph as a ``nir.NIRGraph`` (``dt`` in seconds: the argument, else
    ``graph.metadata['dt']``, else 1e-4)."""
    import nir

    shapes = validate(graph)
    dt = float(dt if dt is not None else graph.metadata.get("dt", 1e-4))
    nodes: dict[str, Any] = {}
    edges = [(e.src, e.dst) for e in graph.edges]
    for node in graph:
        meta = _node_meta(node)
        if isinstance(node, Input):
            nodes[node.name] = nir.Input(input_type=np.array(shapes[node.name]), metadata=meta)
        elif isinstance(node, Dense):
            if node.bias is None:
                nodes[node.name] = nir.Linear(weight=node.weight, metadata=meta)
            else:
                nodes[node.name] = nir.Affine(weight=node.weight, bias=node.bias, metadata=meta)
            if node.max_delay > 0:
                edges = _delay_to_nir(node, dt, nodes, edges)
        elif isinstance(node, Conv2d):
            in_shape = shapes[graph.in_edges(node.name)[0].src]
            bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0],
                                                                    np.float32)
            nodes[node.name] = nir.Conv2d(
                input_shape=tuple(in_shape[1:]), weight=node.weight, stride=node.stride,
                padding=node.padding, dilation=node.dilation, groups=node.groups, bias=bias,
                metadata=meta)
            if node.max_delay > 0:
                edges = _conv_delay_to_nir(node, shapes[node.name], dt, nodes, edges)
        elif isinstance(node, (SumPool2d, AvgPool2d)):
            cls = nir.SumPool2d if isinstance(node, SumPool2d) else nir.AvgPool2d
            nodes[node.name] = cls(kernel_size=np.array(node.kernel), stride=np.array(node.stride),
                                   padding=np.array(node.padding), metadata=meta)
        elif isinstance(node, Flatten):
            src_shape = shapes[graph.in_edges(node.name)[0].src]
            nodes[node.name] = nir.Flatten(input_type={"input": np.array(src_shape)},
                                           start_dim=0, end_dim=-1, metadata=meta)
        elif isinstance(node, Add):
            nodes[node.name] = nir.Scale(scale=np.ones(shapes[node.name], np.float32),
                                         metadata=meta)
        elif (kind := kinds.kind_of(node)) is not None:
            nodes[node.name] = kind.to_nir(node, dt, meta)
        else:  # pragma: no cover - every IR kind is handled above
            raise NeurodeployError(f"node '{node.name}': no NIR form for {node.kind}")
    for i, out in enumerate(graph.outputs):
        oname = f"output{i}" if f"output{i}" not in nodes else f"{out}.output"
        nodes[oname] = nir.Output(output_type=np.array(shapes[out]))
        edges.append((out, oname))
    gmeta = {
        f"{KEY}.order": json.dumps(list(graph.nodes)),
        f"{KEY}.edges": json.dumps([[e.src, e.dst, e.delay] for e in graph.edges]),
        f"{KEY}.inputs": json.dumps(graph.inputs),
        f"{KEY}.outputs": json.dumps(graph.outputs),
        f"{KEY}.metadata": json.dumps(graph.metadata),
        f"{KEY}.dt": dt,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=gmeta, type_check=False)


def _delay_to_nir(node: Dense, dt: float, nodes: dict[str, Any],
                  edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Add the NIR ``Delay`` node ``<name>.delay`` that carries ``node``'s delays (before it:
    one delay per input; after it: one per output, no bias) and route ``edges`` through it."""
    import nir

    d = np.asarray(node.delay, np.int64)
    name = f"{node.name}.delay"
    carried = {f"{KEY}.carried_by": node.name}  # the Dense's exact metadata holds the delays
    if np.all(d == d[:1]):  # one delay per input
        nodes[name] = nir.Delay(delay=d[0].astype(np.float64) * dt, metadata=carried)
        return [(s, name if t == node.name else t) for s, t in edges] + [(name, node.name)]
    no_bias = node.bias is None or not np.any(node.bias)
    if np.all(d == d[:, :1]) and no_bias:  # one delay per output
        nodes[name] = nir.Delay(delay=d[:, 0].astype(np.float64) * dt, metadata=carried)
        return [(name if s == node.name else s, t) for s, t in edges] + [(node.name, name)]
    raise NeurodeployError(f"node '{node.name}' (dense): its per-synapse delays are neither one "
                           "per input nor (without bias) one per output; NIR's Delay is "
                           "elementwise and cannot express them (use .ndg or netx)")


def _conv_delay_to_nir(node: Conv2d, shape: tuple[int, ...], dt: float, nodes: dict[str, Any],
                       edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Add ``Conv2d → Delay`` (``<name>.delay``, one delay per output element, of the output's
    ``shape``) for a bias-free ``node`` whose delays are one per output channel; other conv
    delays are refused naming the node."""
    import nir

    d = np.asarray(node.delay, np.int64).reshape(node.delay.shape[0], -1)
    if np.any(d != d[:, :1]) or (node.bias is not None and np.any(node.bias)):
        raise NeurodeployError(f"node '{node.name}' (conv2d): its delays are not one per output "
                               "channel of a bias-free convolution; NIR's Delay is elementwise "
                               "and cannot express them (use .ndg)")
    name = f"{node.name}.delay"
    tau = np.broadcast_to(d[:, 0].reshape(-1, 1, 1), shape).astype(np.float64) * dt
    nodes[name] = nir.Delay(delay=tau, metadata={f"{KEY}.carried_by": node.name})
    return [(name if s == node.name else s, t) for s, t in edges] + [(node.name, name)]


def write_nir(graph: Graph, path: str | Path, dt: float | None = None) -> None:
    """Write ``graph`` as a NIR file (atomically)."""
    import nir

    from neurodeploy.atomic import atomic_path

    with atomic_path(path) as tmp:
        nir.write(tmp, to_nir(graph, dt))


# ------------------------------------------------------------------ NIR → IR


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO" and v.ndim == 0:
        return _s(v.item())
    return v


def _exact_node(name: str, meta: dict[str, Any]) -> Any | None:
    """Rebuild an IR node from the exact fields to_nir stored, or None if there are none."""
    meta = {k: _s(v) for k, v in meta.items()}
    kind = meta.get(f"{KEY}.kind")
    if kind not in NODE_TYPES:
        return None
    cls = NODE_TYPES[kind]
    kw: dict[str, Any] = {}
    hints = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for fname, hint in hints.items():
        key = f"{KEY}.{fname}"
        if fname == "quant" and f"{KEY}.quant.type" in meta:
            qcls = QUANT_TYPES[meta[f"{KEY}.quant.type"]]
            qkw = {}
            for qf in dataclasses.fields(qcls):
                v = np.asarray(meta[f"{KEY}.quant.{qf.name}"])
                qkw[qf.name] = v.astype(np.int32) if "ndarray" in str(qf.type) else v.item()
            kw["quant"] = qcls(**qkw)
        elif key in meta:
            v = meta[key]
            if "tuple" in hint:
                v = tuple(json.loads(v))
            elif "ndarray" in hint:
                v = np.asarray(v, np.float32)
            elif hint == "int":
                v = int(v)
            elif hint == "bool":
                v = bool(v)
            elif hint == "str":
                v = str(v)
            kw[fname] = v
    return cls(name=name, **kw)


def _flatten_subgraphs(g: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested NIRGraphs inlined (names ``sub.node``)."""
    import nir

    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in g.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten_subgraphs(node)
            ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
            entry[name] = [d for s, d in sub_edges if s in ins]
            exit_[name] = [s for s, d in sub_edges if d in outs]
            for k, v in sub_nodes.items():
                if k not in ins and k not in outs:
                    nodes[f"{name}.{k}"] = v
            for s, d in sub_edges:
                if s not in ins and d not in outs:
                    edges.append((f"{name}.{s}", f"{name}.{d}"))
            entry[name] = [f"{name}.{d}" for d in entry[name]]
            exit_[name] = [f"{name}.{s}" for s in exit_[name]]
        else:
            nodes[name] = node
    for s, d in g.edges:
        for s2 in exit_.get(s, [s]):
            for d2 in entry.get(d, [d]):
                edges.append((s2, d2))
    return nodes, edges


def _back_edges(names: list[str], edges: list[tuple[str, str]], starts: list[str]) -> set:
    """Edges closing a cycle in a depth-first search from ``starts`` (the recurrent ones)."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for s, d in edges:
        succ[s].append(d)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def visit(n: str) -> None:
        state[n] = 1
        for d in succ[n]:
            if state.get(d) == 1:
                back.add((n, d))
            elif d not in state:
                visit(d)
        state[n] = 2

    for s in starts + names:
        if s not in state:
            visit(s)
    return back


#: how a NIR file's neurons are stepped where the spec leaves it open (module docstring)
CONVENTIONS = ("nir", "snntorch")


def from_nir(source: Any, dt: float = 1e-4, convention: str = "nir") -> Graph:
    """A NIR graph (``nir.NIRGraph`` or a ``.nir`` file path) → validated IR Graph; ``dt`` in
    seconds; ``convention``: one of :data:`CONVENTIONS` (module docstring). Files written by
    :func:`to_nir` come back exactly. Raises NeurodeployError (one line) for an unknown
    convention."""
    if convention not in CONVENTIONS:
        raise NeurodeployError(f"unknown NIR convention '{convention}' (choose from "
                               f"{', '.join(CONVENTIONS)})")
    if isinstance(source, (str, Path)):
        from neurodeploy.safeload import in_child

        path = Path(source)
        if not path.is_file():
            raise NeurodeployError(f"{path}: no such file")
        g = in_child(lambda: _read_nir(path), path, READ_TIMEOUT_S)
    else:
        g = source
    where = str(source) if isinstance(source, (str, Path)) else "NIR"
    try:
        gmeta = {k: _s(v) for k, v in (g.metadata or {}).items()} if isinstance(
            g.metadata, dict) else {}
        if f"{KEY}.order" in gmeta:
            exact = _exact_graph(g, gmeta)
            if exact is not None:
                return exact
        return _generic(g, float(dt), where, convention)
    except NeurodeployError as exc:
        text = str(exc)
        raise NeurodeployError(text if text.startswith(where) else f"{where}: {text}") from None
    except Exception as exc:  # noqa: BLE001 - malformed content: one line, not a traceback
        raise NeurodeployError(f"{where}: malformed NIR content ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from None


#: longest read of a NIR file (seconds) before it is abandoned as damaged or crafted
READ_TIMEOUT_S = 120.0


def _read_nir(path: Path) -> Any:
    """``nir.read`` of ``path`` after refusing links out of the file, virtual datasets and
    huge declared sizes (run in a limited child by :func:`from_nir`)."""
    import h5py
    import nir

    from neurodeploy.safeload import check_hdf5_tree

    try:
        with h5py.File(path, "r") as f:
            check_hdf5_tree(f, path)
        return nir.read(str(path), type_check=False)
    except NeurodeployError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py and nir raise many types on bad files
        raise NeurodeployError(f"{path}: not a readable NIR file "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                               ) from None


def _exact_graph(g: Any, gmeta: dict[str, Any]) -> Graph | None:
    order = json.loads(gmeta[f"{KEY}.order"])
    graph = Graph(metadata=json.loads(gmeta[f"{KEY}.metadata"]))
    for name in order:
        node = g.nodes.get(name)
        if node is None:
            return None
        ir_node = _exact_node(name, dict(node.metadata or {}))
        if ir_node is None:
            return None
        graph.nodes[name] = ir_node
    graph.edges = [Edge(s, d, int(k)) for s, d, k in json.loads(gmeta[f"{KEY}.edges"])]
    graph.inputs = json.loads(gmeta[f"{KEY}.inputs"])
    graph.outputs = json.loads(gmeta[f"{KEY}.outputs"])
    validate(graph)
    return graph


def _arr(x: Any) -> np.ndarray:
    return to_numpy(x)


def _generic(g: Any, dt: float, where: str, convention: str = "nir") -> Graph:
    import nir

    nodes, edges = _flatten_subgraphs(g)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1:
        raise NeurodeployError(f"{where}: the IR takes one input; the NIR graph has "
                               f"{len(inputs)} Input nodes")
    back = _back_edges(list(nodes), edges, inputs)
    # put each loop's delay on the edge from the neuron into the recurrent synapse
    delayed: set[tuple[str, str]] = set()
    for s, d in back:
        preds = [a for a, b in edges if b == s]
        if not _is_neuron(nodes[s]) and len(preds) == 1 and _is_neuron(nodes[preds[0]]):
            delayed.add((preds[0], s))
        else:
            delayed.add((s, d))
    fwd = [(s, d) for s, d in edges if (s, d) not in delayed]
    order = _topo(list(nodes), fwd)
    b = Builder({"source": "nir", "dt": dt, **({"nir_convention": convention}
                                                if convention != "nir" else {})})
    vals: dict[str, Value] = {}
    cyclic = {d for _, d in delayed} | {s for s, _ in delayed}
    out_names: list[str] = []
    readout_gain: dict[str, np.ndarray] = {}
    for name in order:
        node = nodes[name]
        srcs = [vals[s] for s, d in fwd if d == name and s in vals]
        if isinstance(node, nir.Input):
            shape = tuple(int(x) for x in np.asarray(node.input_type["input"]).reshape(-1))
            vals[name] = b.add(Input(name, shape=shape))
            b.graph.inputs = [vals[name].node]
            continue
        if isinstance(node, nir.Output):
            out_names += [s.node for s in srcs]
            continue
        if not srcs and not any(d == name for _, d in delayed):
            raise NeurodeployError(f"{where}: node '{name}' has no input")
        if isinstance(node, nir.Delay):
            before = [s for s, d in fwd if d == name]
            feeds = sum(1 for s, _ in edges if s == before[0]) if len(before) == 1 else 0
            vals[name] = _delay_value(b, name, node, srcs, dt, feeds == 1)
            continue
        pending = next((s for s in srcs if s.delay is not None), None)
        if pending is not None and not isinstance(node, (nir.Affine, nir.Linear)) or (
                pending is not None and len(srcs) > 1):
            raise NeurodeployError(f"NIR node '{name}' ({type(node).__name__}): fed by a Delay; "
                                   "the IR takes a Delay only right before a Linear/Affine (its "
                                   "sole input) or right after a bias-free Linear")
        vals[name] = _nir_node(b, name, node, srcs, dt, name in cyclic,
                               recurrent_src=[s for s, d in delayed if d == name],
                               readout_gain=readout_gain, convention=convention)
        if isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)) and \
                sum(s == name for s, _ in edges) == 1:
            b.exclusive.add(vals[name].node)  # a neuron's gain may fold into its weights
    for s, d in delayed:
        b.graph.connect(vals[s].node, vals[d].node, delay=1)
    if not out_names:
        raise NeurodeployError(f"{where}: the NIR graph has no Output node")
    b.graph.outputs = list(dict.fromkeys(out_names))
    del outputs
    validate(b.graph)
    _warn_unresponsive(b.graph, nodes, readout_gain, dt)
    return b.graph


def _warn_unresponsive(graph: Graph, nir_nodes: dict[str, Any],
                       readout_gain: dict[str, np.ndarray], dt: float) -> None:
    """One ``UserWarning`` line per spiking layer that cannot fire and per readout that cannot
    respond for any spike input in [0, 1] (see :mod:`converters._reach`)."""
    from neurodeploy.converters import _reach

    steps = int(graph.metadata.get("T") or _reach.HORIZON)
    for name, peak, vth in _reach.unreachable(graph, steps):
        kind = type(nir_nodes[name]).__name__ if name in nir_nodes else "neuron"
        hint = ("IF is stepped per time step, without dt" if kind == "IF" else
                f"its decays and gain were read with dt={dt:g} s; pass the producer's --dt")
        warnings.warn(f"NIR node '{name}' ({kind}): cannot fire for any spike input in [0, 1] "
                      f"within {steps} steps (membrane at most {peak:.3g}, threshold "
                      f"{vth:.3g}); {hint}", UserWarning, stacklevel=3)
    for name, gain in readout_gain.items():
        node = graph[name]
        unit = np.broadcast_to(np.abs(gain).astype(np.float64), tuple(node.shape))
        held = float(np.abs(_reach.peak_response(unit, node, steps)).max())
        if held < READOUT_MIN_RESPONSE:
            kind = type(nir_nodes[name]).__name__ if name in nir_nodes else "readout"
            warnings.warn(f"NIR node '{name}' ({kind}): holds at most {held:.3g} of its input "
                          f"within {steps} steps (dt={dt:g} s against its time constants); "
                          "pass the producer's --dt", UserWarning, stacklevel=3)


def _delay_value(b: Builder, name: str, node: Any, srcs: list[Value], dt: float,
                 sole_consumer: bool) -> Value:
    """A NIR ``Delay``: folded into the Linear right before it (one delay per output) when it
    is that Linear's only consumer and the Linear has no bias, else carried on the value for the
    Linear/Affine right after it (one delay per input). One of ours whose Dense came back
    from its exact metadata (which holds the delays) passes its input through."""
    if len(srcs) == 1 and _s((node.metadata or {}).get(f"{KEY}.carried_by")) in b.graph.nodes:
        carrier = b.graph.nodes[_s(node.metadata[f"{KEY}.carried_by"])]
        if isinstance(carrier, (Dense, Conv2d)) and carrier.delay is not None:
            return srcs[0]
    tau = np.asarray(node.delay, np.float64).reshape(-1)
    steps = tau / dt
    whole = np.round(steps)
    if not np.all(np.isfinite(steps)) or np.any(np.abs(steps - whole) > 1e-6 * np.maximum(
            1.0, whole)):
        raise NeurodeployError(f"NIR node '{name}' (Delay): delays {tau.tolist()} s are not whole "
                               f"steps of dt = {dt:g} s")
    if whole.size and (whole.min() < 0 or whole.max() > DELAY_MAX):
        raise NeurodeployError(f"NIR node '{name}' (Delay): {int(whole.max())} steps outside "
                               f"[0, {DELAY_MAX}] (Loihi 2's maximum synaptic delay)")
    if len(srcs) == 1 and isinstance(b.graph.nodes.get(srcs[0].node), Conv2d):
        return _fold_into_conv(b, name, b.graph.nodes[srcs[0].node], srcs[0], whole,
                               sole_consumer)
    if len(srcs) != 1 or len(srcs[0].shape) != 1 or srcs[0].delay is not None:
        raise NeurodeployError(f"NIR node '{name}' (Delay): takes one flat input, not itself "
                               "delayed")
    src = srcs[0]
    d = np.broadcast_to(whole.astype(np.int32), src.shape) if whole.size == 1 else \
        whole.astype(np.int32)
    if d.shape != src.shape:
        raise NeurodeployError(f"NIR node '{name}' (Delay): {d.size} delays for an input of "
                               f"shape {src.shape}")
    prev = b.graph.nodes.get(src.node)
    if isinstance(prev, Dense) and sole_consumer and (prev.bias is None or not np.any(prev.bias)):
        own = np.zeros(prev.weight.shape, np.int64) if prev.delay is None else prev.delay
        total = own + d[:, None]
        if total.max() > DELAY_MAX:
            raise NeurodeployError(f"NIR node '{name}' (Delay): with '{src.node}''s own delays "
                                   f"{int(total.max())} steps exceed {DELAY_MAX}")
        prev.delay = total.astype(np.int32)
        return src
    return Value(src.node, src.shape, src.scale, delay=np.array(d, np.int32))


def _fold_into_conv(b: Builder, name: str, conv: Conv2d, src: Value, steps: np.ndarray,
                    sole_consumer: bool) -> Value:
    """A NIR ``Delay`` right after a ``Conv2d``: folded into the convolution's delays when it
    is the conv's only consumer, the conv has no bias and the delays are one per output
    channel; refused naming the Delay otherwise."""
    d = np.broadcast_to(steps, src.shape) if steps.size == 1 else steps.reshape(-1)
    if d.size != int(np.prod(src.shape)):
        raise NeurodeployError(f"NIR node '{name}' (Delay): {d.size} delays for an input of "
                               f"shape {src.shape}")
    per = np.asarray(d, np.int64).reshape(src.shape[0], -1)
    if not sole_consumer or (conv.bias is not None and np.any(conv.bias)) or np.any(
            per != per[:, :1]):
        raise NeurodeployError(f"NIR node '{name}' (Delay): after a Conv2d the IR takes a Delay "
                               "only as the sole consumer of a bias-free conv, one delay per "
                               "output channel")
    own = np.zeros(conv.weight.shape, np.int64) if conv.delay is None else conv.delay
    total = own + per[:, 0].reshape(-1, 1, 1, 1)
    if total.max() > DELAY_MAX:
        raise NeurodeployError(f"NIR node '{name}' (Delay): with '{conv.name}''s own delays "
                               f"{int(total.max())} steps exceed {DELAY_MAX}")
    conv.delay = total.astype(np.int32)
    return src


def _is_neuron(node: Any) -> bool:
    return kinds.for_nir(node) is not None


def _topo(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    indeg = {n: 0 for n in names}
    for _, d in edges:
        indeg[d] += 1
    ready = [n for n in names if indeg[n] == 0]
    out = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for s, d in edges:
            if s == n:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
    return out


def _nir_node(b: Builder, name: str, node: Any, srcs: list[Value], dt: float, cyclic: bool,
              recurrent_src: list[str], readout_gain: dict[str, np.ndarray],
              convention: str = "nir") -> Value:
    import nir

    exact = _exact_node(name, dict(node.metadata or {}))
    if exact is not None and not isinstance(exact, (Input,)):
        return b.add(exact, *srcs, where=name)
    if isinstance(node, (nir.Affine, nir.Linear)):
        bias = _arr(node.bias) if isinstance(node, nir.Affine) else None
        if len(srcs) > 1:
            srcs = [_sum(b, name, srcs)]
        x = srcs[0] if srcs else Value("", (int(np.asarray(node.weight).shape[1]),))
        dense = Dense(name, weight=_arr(node.weight), bias=bias)
        if srcs and srcs[0].delay is not None:  # a Delay right before: one delay per input
            dense.delay = np.repeat(srcs[0].delay[None, :], dense.weight.shape[0], axis=0)
            srcs = [Value(srcs[0].node, srcs[0].shape, srcs[0].scale)]
        if not srcs:  # fed only by a delayed edge
            dense.name = b.fresh(name)
            b.graph.add(dense)
            b.shapes[dense.name] = (dense.weight.shape[0],)
            return Value(dense.name, (dense.weight.shape[0],))
        if len(x.shape) != 1:
            x = _flat(b, name, x)
        return b.add(dense, x, where=name)
    if isinstance(node, nir.Conv2d):
        w = _arr(node.weight)
        conv = Conv2d(name, weight=w, bias=_arr(node.bias) if node.bias is not None else None,
                      stride=_pair(node.stride), padding=_pad(node.padding, name),
                      dilation=_pair(node.dilation), groups=int(node.groups))
        return b.add(conv, _sum(b, name, srcs) if len(srcs) > 1 else srcs[0], where=name)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        cls = SumPool2d if isinstance(node, nir.SumPool2d) else AvgPool2d
        pool = cls(name, kernel=_pair(node.kernel_size), stride=_pair(node.stride),
                   padding=_pad(node.padding, name))
        return b.add(pool, srcs[0], where=name)
    if isinstance(node, nir.Flatten):
        return _flat(b, name, srcs[0])
    if isinstance(node, nir.Scale) and np.all(_arr(node.scale) == 1):
        return srcs[0] if len(srcs) == 1 else _sum(b, name, srcs)
    if _is_neuron(node):
        spec = _neuron_spec(node, dt, name)
        if convention == "snntorch" and _snntorch_delayed_reset(node, spec, cyclic):
            spec.refractory = 1
        g = np.asarray(spec.gain, np.float32)
        if np.all(np.abs(g - 1) <= GAIN_TOL):
            spec.gain = 1.0
        elif cyclic:  # gain on every input, recurrent ones included: rescale the state
            if spec.readout:
                raise NeurodeployError(f"NIR node '{name}': a recurrent leaky integrator with "
                                       "input gain ≠ 1 is not supported")
            spec.vth = np.asarray(spec.vth, np.float32) / g
            spec.bias = np.asarray(spec.bias, np.float32) / g
            spec.gain = 1.0
        if not srcs:
            raise NeurodeployError(f"NIR node '{name}': a neuron fed only by a recurrent edge")
        out = b.neuron(name, spec, srcs, name)
        if spec.readout:
            readout_gain[out.node] = g
        return out
    raise NeurodeployError(f"NIR node '{name}' ({type(node).__name__}): not supported by the "
                           "IR (Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale of "
                           "ones, LIF, CubaLIF, IF, LI, CubaLI)")


def _snntorch_delayed_reset(node: Any, spec: NeuronSpec, cyclic: bool) -> bool:
    """Whether snnTorch's module behind this NIR neuron (``Synaptic`` for a ``CubaLIF``,
    ``RLeaky`` / ``RSynaptic`` for one in a recurrent loop) discards the step after a spike:
    its zero reset with snnTorch's default ``reset_delay=True`` (module docstring)."""
    import nir

    return not spec.readout and spec.reset == "zero" and (
        isinstance(node, nir.CubaLIF) or (isinstance(node, nir.LIF) and cyclic))


def _neuron_spec(node: Any, dt: float, name: str) -> NeuronSpec:
    """The NIR neuron as the IR's CUBA form, by the kind that imports it."""
    import nir

    kind = kinds.for_nir(node)
    step = 1.0 if isinstance(node, nir.IF) else dt  # IF: per time step (module docstring)
    return NeuronSpec(**kind.from_nir(node, step, name), readout=not kind.fires)


def _pair(x: Any) -> tuple[int, int]:
    a = np.asarray(x).reshape(-1)
    return (int(a[0]), int(a[-1]))


def _pad(x: Any, name: str) -> tuple[int, int]:
    if isinstance(x, str):
        raise NeurodeployError(f"NIR node '{name}': padding '{x}' is not supported")
    return _pair(x)


def _flat(b: Builder, name: str, x: Value) -> Value:
    if len(x.shape) == 1:
        return x
    return b.add(Flatten(name), x, where=name)


def _sum(b: Builder, name: str, srcs: list[Value]) -> Value:
    return b.add(Add(f"{name}.sum"), *srcs, where=name)
