"""Write a quantized Graph as a lava-dl netx ``.net`` file (HDF5), as ``slayer`` exports it.

Layout that ``lava.lib.dl.netx.hdf5.Network(net_config=path)`` reads (lava-dl 0.6,
lava/lib/dl/netx/hdf5.py and utils.py ``NetDict``):

- ``layer/0``: ``type = input``, ``shape`` (C, H, W) or (n,) — no neuron, so netx feeds the
  network's input port straight into the first synapse.
- ``layer/<i>``: ``type`` = ``dense`` | ``conv`` | ``flatten``; ``shape`` (the layer's output,
  (C, H, W) order — netx reverses it to Lava's (W, H, C)); ``weight`` (dense ``[out, in]``; conv
  PyTorch ``[C_out, C_in/g, kH, kW]``, netx flips and transposes it as our compiler does);
  conv ``stride``/``padding``/``dilation`` as (H, W) and ``groups``; ``bias`` (netx's bias
  mantissa); ``neuron/{type: CUBA, iDecay, vDecay, vThMant, refDelay, gradedSpike}``.

netx maps CUBA to Lava's LIF with ``du = iDecay − 1``, ``dv = vDecay``, ``vth = vThMant`` and a
fixed ``bias_exp = 6``; it re-derives each Dense's weight exponent from the weights themselves
(``utils.optimize_weight_bits``: exact for 8-bit integer weights) and has no field for ours. So a
layer exports exactly when its ``WeightQ.weight << weight_exp`` is an integer that fits Lava's
8-bit range, and its bias ``bias_mant << bias_exp`` is a multiple of 64. ``exact=False`` rounds
the rest (and says which layers); ``exact=True`` refuses them naming the layer.

netx describes a chain of layers: ``pool``, ``average`` and ``concat`` are not implemented in its
loader, and it has no residual ``add`` or recurrent connection we could use without changing the
meaning; such graphs are refused naming the node — run them with the process network of
:mod:`neurodeploy.lava.compiler` instead.

Timing in Lava: netx layer ``i`` (0-based, after the input) sees IR step ``t`` in Lava step
``t + i + 1`` (one step per synapse, as our compiler's schedule); a netx layer runs its bias from
step 0, so loading with ``reset_interval = T + depth, reset_offset = 1`` (``LIFReset``, layer ``i``
resets at time step ``i + 2``, right before its IR step 0) reproduces the IR exactly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy.atomic import atomic_path
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
    SumPool2d,
    infer_shapes,
    validate,
)
from neurodeploy.lava.compiler import READOUT_VTH, check_fixed

NETX_BIAS_EXP = 6


@dataclass
class NetxLayer:
    """One netx layer: its synapse node, its neuron node, and a Flatten before it."""

    synapse: str
    neuron: str
    flatten_before: bool = False


@dataclass
class NetxExport:
    """What :func:`export_netx` wrote: the file, its layers and any rounded layers."""

    path: Path
    layers: list[NetxLayer]
    input_message_bits: int
    approximated: list[str] = field(default_factory=list)


def netx_chain(graph: Graph) -> list[NetxLayer]:
    """The layers of ``graph`` as a netx chain; NeurodeployError naming a node netx cannot
    express."""
    for node in graph:
        if isinstance(node, (SumPool2d, AvgPool2d)):
            raise NeurodeployError(f"node '{node.name}' ({node.kind}): netx cannot load pooling "
                                   "layers (lava-dl netx: 'pool'/'average' not implemented); "
                                   "run the graph with the Lava process network instead")
        if isinstance(node, Add):
            raise NeurodeployError(f"node '{node.name}' (add): netx describes a chain of layers "
                                   "without residual sums; run the graph with the Lava process "
                                   "network instead")
    for e in graph.edges:
        if e.delay:
            raise NeurodeployError(f"node '{e.dst}': recurrent edge from '{e.src}'; netx export "
                                   "supports feed-forward chains only")
    if len(graph.inputs) != 1:
        raise NeurodeployError("netx export needs exactly one input node")
    layers: list[NetxLayer] = []
    cur = graph.inputs[0]
    flatten = False
    while True:
        outs = graph.out_edges(cur)
        if not outs:
            break
        if len(outs) > 1:
            raise NeurodeployError(f"node '{cur}': feeds {len(outs)} nodes; netx describes a "
                                   "chain of layers")
        nxt = outs[0].dst
        node = graph.nodes[nxt]
        if len(graph.in_edges(nxt)) > 1:
            raise NeurodeployError(f"node '{nxt}': has {len(graph.in_edges(nxt))} inputs; netx "
                                   "describes a chain of layers")
        if isinstance(node, Flatten):
            flatten = True
            cur = nxt
            continue
        if not isinstance(node, (Dense, Conv2d)):
            raise NeurodeployError(f"node '{nxt}' ({node.kind}): netx layers start with a "
                                   "dense or conv synapse")
        neuron_edges = graph.out_edges(nxt)
        if len(neuron_edges) != 1 or not isinstance(graph.nodes[neuron_edges[0].dst],
                                                     (CubaLIF, Readout)):
            raise NeurodeployError(f"node '{nxt}' ({node.kind}): netx needs every synapse to feed "
                                   "exactly one neuron layer")
        neuron = neuron_edges[0].dst
        if len(graph.in_edges(neuron)) != 1:
            raise NeurodeployError(f"node '{neuron}': has several inputs; netx describes a chain")
        layers.append(NetxLayer(nxt, neuron, flatten))
        flatten = False
        cur = neuron
    if not layers:
        raise NeurodeployError("netx export: the graph has no synapse-neuron layer")
    for layer in layers[:-1]:
        if isinstance(graph.nodes[layer.neuron], Readout):
            raise NeurodeployError(f"node '{layer.neuron}' (readout): a readout must be the last "
                                   "layer of a netx chain")
    return layers


def _weight(node: Dense | Conv2d, exact: bool, approx: list[str]) -> np.ndarray:
    q = node.quant
    w = np.asarray(q.weight, np.int64)
    e = int(q.weight_exp) if isinstance(node, Dense) else 0
    if e >= 0:
        eff = w << e
        ok = True
    else:
        ok = bool(np.all(w % (1 << -e) == 0))
        eff = w >> -e if ok else np.round(w / 2.0 ** -e).astype(np.int64)
    lo, hi = (-256, 254) if (eff.min(initial=0) < 0 < eff.max(initial=0)) else (-255, 255)
    if np.any(eff < lo) or np.any(eff > hi):
        ok = False
        eff = np.clip(eff, lo, hi)
    if not ok:
        if exact:
            raise NeurodeployError(
                f"node '{node.name}' ({node.kind}): weights with weight_exp {e} do not fit netx "
                "exactly (netx stores 8-bit integer weights and derives its own exponent); "
                "export with exact=False to round them, or deploy the Lava process network")
        approx.append(node.name)
    return eff


def _bias(node: CubaLIF | Readout, exact: bool, approx: list[str]) -> np.ndarray:
    q = node.quant
    mant = np.asarray(q.bias_mant, np.int64)
    e = int(q.bias_exp)
    eff = mant << e if e >= 0 else mant >> -e
    if np.all(eff % (1 << NETX_BIAS_EXP) == 0):
        return eff >> NETX_BIAS_EXP
    if exact:
        raise NeurodeployError(
            f"node '{node.name}' ({node.kind}): bias bias_mant << {e} is not a multiple of 64, "
            "and netx fixes the bias exponent at 6; export with exact=False to round it")
    approx.append(node.name)
    return np.round(eff / 64.0).astype(np.int64)


def export_netx(graph: Graph, path: str | Path, exact: bool = True) -> NetxExport:
    """Write ``graph`` (quantized, a feed-forward chain) as a netx ``.net`` file at ``path``.

    Load it with ``Network(net_config=path, input_message_bits=...)`` using the returned
    ``input_message_bits`` (0 for binary spikes, the input's bits otherwise; netx does not
    store it). Raises NeurodeployError naming the node for what netx cannot express.
    """
    import h5py

    validate(graph)
    check_fixed(graph)
    layers = netx_chain(graph)
    shapes = infer_shapes(graph)
    inp = graph.nodes[graph.inputs[0]]
    assert isinstance(inp, Input)
    msg_bits = 0 if inp.quant.bits == 1 else int(inp.quant.bits)
    approx: list[str] = []
    path = Path(path)

    def string(group: h5py.Group, key: str, value: str) -> None:
        group.create_dataset(key, (1,), "S10", [value.encode("ascii")])

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["generator"] = "neurodeploy"
            f.attrs["input_message_bits"] = msg_bits
            layer_group = f.create_group("layer")
            g0 = layer_group.create_group("0")
            string(g0, "type", "input")
            g0.create_dataset("shape", data=np.array(shapes[inp.name]))
            i = 1
            for layer in layers:
                if layer.flatten_before:
                    gf = layer_group.create_group(str(i))
                    string(gf, "type", "flatten")
                    flat = graph.in_edges(layer.synapse)[0].src
                    gf.create_dataset("shape", data=np.array(shapes[flat]))
                    i += 1
                syn = graph.nodes[layer.synapse]
                neu = graph.nodes[layer.neuron]
                g = layer_group.create_group(str(i))
                shape = shapes[layer.neuron]
                g.create_dataset("shape", data=np.array(shape))
                g.create_dataset("weight", data=_weight(syn, exact, approx))
                if isinstance(syn, Conv2d):
                    string(g, "type", "conv")
                    g.create_dataset("stride", data=np.array(syn.stride))
                    g.create_dataset("padding", data=np.array(syn.padding))
                    g.create_dataset("dilation", data=np.array(syn.dilation))
                    g.create_dataset("groups", data=int(syn.groups))
                else:
                    string(g, "type", "dense")
                bias = _bias(neu, exact, approx)
                if np.any(bias != 0):
                    full = np.broadcast_to(bias, shape)
                    if len(shape) == 3:  # netx wants conv biases in Lava's (W, H, C) order
                        full = full.transpose(2, 1, 0)
                    g.create_dataset("bias", data=np.ascontiguousarray(full))
                q = neu.quant
                vth = READOUT_VTH if isinstance(neu, Readout) else int(q.vth)
                g.create_dataset("neuron/type", data="CUBA")
                g.create_dataset("neuron/iDecay", data=int(q.du) + 1)
                g.create_dataset("neuron/vDecay", data=int(q.dv))
                g.create_dataset("neuron/vThMant", data=vth)
                g.create_dataset("neuron/refDelay", data=1)
                g.create_dataset("neuron/gradedSpike", data=False)
                i += 1
    return NetxExport(path, layers, msg_bits, sorted(set(approx)))
