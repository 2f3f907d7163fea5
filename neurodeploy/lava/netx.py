"""Write a quantized Graph as a lava-dl netx ``.net`` file (HDF5), as ``slayer`` exports it.

Layout that ``lava.lib.dl.netx.hdf5.Network(net_config=path)`` reads (lava-dl 0.6,
lava/lib/dl/netx/hdf5.py and utils.py ``NetDict``):

- ``layer/0``: ``type = input``, ``shape`` (C, H, W) or (n,) — no neuron, so netx feeds the
  network's input port straight into the first synapse. A graph whose input feeds a CubaLIF
  without a synapse (an imported netx input block, PilotNet LIF) writes that layer here as
  netx's Input block with a ``neuron`` (and the ``weight``/``bias`` input transform kept in
  ``metadata["netx_input_transform"]``, which netx reads and never applies); the file's
  ``input_scale``/``input_bits``/``input_signed`` attributes keep the Input's InputQ. netx
  leaves that block's InPort unconnected: its data go into ``in_layer.neuron.a_in`` (or, for
  ``iDecay = 4096``, equivalently into ``bias_mant``; :func:`run_network`). netx gives the
  block's LIF bias 0 whatever the file says, so a nonzero bias on the input neuron is exact
  only through ``patch``.
- ``layer/<i>``: ``type`` = ``dense`` | ``conv`` | ``flatten``; ``shape`` (the layer's output,
  (C, H, W) order — netx reverses it to Lava's (W, H, C)); ``weight`` (dense ``[out, in]``; conv
  PyTorch ``[C_out, C_in/g, kH, kW]``, netx flips and transposes it as our compiler does);
  conv ``stride``/``padding``/``dilation`` as (H, W) and ``groups``; ``bias`` (netx's bias
  mantissa); ``neuron/{type: CUBA, iDecay, vDecay, vThMant, refDelay, gradedSpike}``; a
  sigma-delta layer: ``neuron/{type: SDNN, activation: relu, vThMant}`` (``sigma_output`` for
  mode ``sigma``) and its integer ``bias`` as is — netx fixes ``spike_exp = state_exp = 6`` and
  ReLU, so other exponents, an identity activation or a ``delta`` layer after a synapse (netx
  builds a Delta for its input block only) are refused naming the node. netx runs SDNN layers
  without resets: a pipeline, :func:`neurodeploy.converters.netx.netx_timing`.

What netx 0.6 reads per layer (hdf5.py ``create_dense``/``create_conv``/``get_neuron_params``):
``weight``; ``bias`` (→ ``bias_mant``); ``delay`` (dense only, synaptic, ≤ 62: we write a
Dense's per-synapse delays as ``[out, in]``, which netx's DelayDense runs as the IR does);
conv geometry. A Conv2d's delays, when one per output channel, are written as slayer's conv
blocks write them (``delay`` ``[C_out]``), which :func:`neurodeploy.converters.netx.from_netx`
reads back; netx's ``create_conv`` ignores that dataset, so a stock loader runs the conv
undelayed: such a layer is refused with ``exact=True`` or ``patch=True`` and listed in
``approximated`` otherwise; per-tap conv delays have no netx form and are refused;
``neuron/{type, iDecay, vDecay, vThMant, messageBits}`` (``refDelay``, ``gradedSpike`` are not
read for CUBA); type ``dense_rec`` (a Dense plus a recurrent ``weight_rec`` into the same
neurons). What it does *not* read: any weight exponent (a Dense's exponent is re-derived from the
weights by ``utils.optimize_weight_bits``, which shifts the integers left by ``b`` and sets
``weight_exp = −b``: the effective weight is always exactly the stored integer, in
[−256, 254] mixed sign, [0, 255] or [−256, 0] single sign — never a right shift of the sum),
``num_weight_bits``, ``bias_exp`` (fixed at 6), conv ``weight_exp`` (Lava's fixed Conv ignores
it anyway). So with a stock loader a layer is exact only when ``WeightQ.weight << weight_exp`` is
an integer in that range (``weight_exp ≥ 0`` and small weights, or ``weight_exp < 0`` and weights
divisible by ``2**−weight_exp``) and its bias ``bias_mant << bias_exp`` is a multiple of 64.
The quantizer picks the smallest ``weight_exp`` that keeps 8-bit mantissas in range, so its
Dense layers are essentially never stock-exact (the floor of ``Σ w·s >> k`` cannot be written
as integer weights at all), nor are biases with ``bias_exp < 6``.

``exact=False`` rounds the rest (and says which layers); ``exact=True`` refuses them naming the
layer. ``patch=True`` makes them exact another way: the file keeps stock-loadable rounded values
(any netx loader runs it, approximately) and adds, per layer, ``neurodeploy/{weight, weight_exp,
num_weight_bits, bias_mant, bias_exp}`` (groups netx ignores); :func:`load_netx` builds the stock
``netx.hdf5.Network`` and then sets those on its Lava processes before compilation (the synapse's
``weights`` Var and ``weight_exp``/``num_weight_bits`` process parameters, which
``PyDenseModelBitAcc`` reads at run time, and the LIF's ``bias_mant``/``bias_exp`` Vars) — the
same integers our process-network compiler gives Lava, so the result is bit-exact (tested). The
layers that need this are listed in ``NetxExport.patched``.

netx describes a chain of layers: ``pool``, ``average`` and ``concat`` are not implemented in its
loader, and it has no residual ``add`` or recurrent connection we could use without changing the
meaning; such graphs are refused naming the node — run them with the process network of
:mod:`neurodeploy.lava.compiler` instead.

Timing in Lava: ``net.layers[i]`` (0-based; the input block is ``i = 0`` when it has a neuron)
sees IR step ``t`` in Lava step ``t + i + 1`` (one step per synapse, as our compiler's schedule;
data into an input neuron enter in step ``t + 1``); a netx layer runs its bias from step 0, so
loading with ``reset_interval = T + depth, reset_offset = 1`` (``LIFReset``, layer ``i`` resets
at time step ``i + 2``, right before its IR step 0) reproduces the IR exactly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.atomic import atomic_path
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import NETX_BIAS_EXP, mantissa_grid, shift, sign_mode
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    Node,
    SigmaDelta,
    SumPool2d,
    infer_shapes,
    validate,
)


@dataclass
class NetxLayer:
    """One netx layer: its synapse node (None: the input block's neuron, fed by the graph's
    input without a synapse), its neuron node, and a Flatten before it."""

    synapse: str | None
    neuron: str
    flatten_before: bool = False


@dataclass
class NetxExport:
    """What :func:`export_netx` wrote: the file, its layers and any rounded layers."""

    path: Path
    layers: list[NetxLayer]
    input_message_bits: int
    approximated: list[str] = field(default_factory=list)
    #: nodes whose exact values are in the file's ``neurodeploy`` groups only (``patch=True``):
    #: exact when loaded with :func:`load_netx`, rounded with a stock netx loader
    patched: list[str] = field(default_factory=list)


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
    outs = graph.out_edges(cur)
    if len(outs) == 1 and kinds.is_neuron(graph.nodes[outs[0].dst]):
        first = outs[0].dst  # the input feeds a neuron layer directly: netx's Input block
        node0 = graph.nodes[first]
        if not kinds.fires(node0) or len(graph.in_edges(first)) != 1 or (
                isinstance(node0, SigmaDelta) and node0.mode != "delta"):
            raise NeurodeployError(f"node '{first}': a neuron layer fed by the input becomes "
                                   "netx's input block, which must be a CubaLIF or a "
                                   "sigma-delta encoder (mode delta) with that one input")
        layers.append(NetxLayer(None, first))
        cur = first
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
        if len(neuron_edges) != 1 or not kinds.is_neuron(graph.nodes[neuron_edges[0].dst]):
            raise NeurodeployError(f"node '{nxt}' ({node.kind}): netx needs every synapse to feed "
                                   "exactly one neuron layer")
        neuron = neuron_edges[0].dst
        if len(graph.in_edges(neuron)) != 1:
            raise NeurodeployError(f"node '{neuron}': has several inputs; netx describes a chain")
        layers.append(NetxLayer(nxt, neuron, flatten))
        flatten = False
        cur = neuron
    if not any(layer.synapse for layer in layers):
        raise NeurodeployError("netx export: the graph has no synapse-neuron layer")
    for layer in layers:
        node = graph.nodes[layer.neuron]
        if isinstance(node, SigmaDelta) and node.mode == "delta" and layer.synapse is not None:
            raise NeurodeployError(f"node '{layer.neuron}' (sigma_delta): netx builds a Delta "
                                   "encoder only for its input block; a mode 'delta' layer "
                                   "after a synapse has no netx form")
    for layer in layers[:-1]:
        node = graph.nodes[layer.neuron]
        if not kinds.fires(node):
            raise NeurodeployError(f"node '{layer.neuron}' ({node.kind}): a non-firing layer "
                                   "(readout) must be the last layer of a netx chain")
    return layers


def _weight(node: Dense | Conv2d, exact: bool, approx: list[str],
            patched: list[str] | None = None) -> np.ndarray:
    """Stock-netx integer weights of ``node``: exact, or rounded (listed in ``approx``, or in
    ``patched`` when given), or NeurodeployError when ``exact`` and not patching."""
    q = node.quant
    w = np.asarray(q.weight, np.int64)
    e = int(q.weight_exp) if isinstance(node, Dense) else 0
    if e >= 0:
        eff = w << e
        ok = True
    else:
        ok = bool(np.all(w % (1 << -e) == 0))
        eff = w >> -e if ok else np.round(w / 2.0 ** -e).astype(np.int64)
    _, lo, hi = mantissa_grid(sign_mode(eff))
    if np.any(eff < lo) or np.any(eff > hi):
        ok = False
        eff = np.clip(eff, lo, hi)
    if not ok:
        if patched is not None:
            patched.append(node.name)
            return eff
        if exact:
            raise NeurodeployError(
                f"node '{node.name}' ({node.kind}): weights with weight_exp {e} do not fit netx "
                "exactly (netx stores 8-bit integer weights and derives its own exponent); "
                "export with patch=True and load with neurodeploy.lava.netx.load_netx, or with "
                "exact=False to round them, or deploy the Lava process network")
        approx.append(node.name)
    return eff


def _bias(node: Node, exact: bool, approx: list[str],
          patched: list[str] | None = None) -> np.ndarray:
    """Stock-netx bias mantissas (netx's exponent is 6); rounded ones are listed as in
    :func:`_weight`."""
    q = node.quant
    if isinstance(node, SigmaDelta):  # netx gives an SDNN layer's bias to the neuron as is
        return np.asarray(q.bias, np.int64)
    mant = np.asarray(q.bias_mant, np.int64)
    e = int(q.bias_exp)
    eff = shift(mant, e)
    if np.all(eff % (1 << NETX_BIAS_EXP) == 0):
        return eff >> NETX_BIAS_EXP
    rounded = np.round(eff / 2.0**NETX_BIAS_EXP).astype(np.int64)
    if patched is not None:
        patched.append(node.name)
        return rounded
    if exact:
        raise NeurodeployError(
            f"node '{node.name}' ({node.kind}): bias bias_mant << {e} is not a multiple of 64, "
            "and netx fixes the bias exponent at 6; export with patch=True and load with "
            "neurodeploy.lava.netx.load_netx, or with exact=False to round it")
    approx.append(node.name)
    return rounded


def export_netx(graph: Graph, path: str | Path, exact: bool = True,
                patch: bool = False) -> NetxExport:
    """Write ``graph`` (quantized, a feed-forward chain) as a netx ``.net`` file at ``path``.

    Load it with ``Network(net_config=path, input_message_bits=...)`` using the returned
    ``input_message_bits`` (0 for binary spikes, the input's bits otherwise; netx does not
    read it, the file keeps it as an attribute). Raises NeurodeployError naming the node for
    what netx cannot express.

    ``patch``: also store every layer's exact integers (see the module docstring); layers a
    stock loader would round are then listed in ``patched`` instead of being refused
    (``exact=True``) or listed in ``approximated``, and are exact through :func:`load_netx`.
    """
    import h5py

    validate(graph)
    check_fixed(graph)
    layers = netx_chain(graph)
    # every layer's neuron group first: a neuron netx cannot express is refused before any
    # layer's other checks
    groups = {layer.neuron: kinds.neuron_kind(graph.nodes[layer.neuron]).netx_neuron(
        graph.nodes[layer.neuron]) for layer in layers}
    shapes = infer_shapes(graph)
    inp = graph.nodes[graph.inputs[0]]
    if not isinstance(inp, Input) or inp.quant is None:
        raise NeurodeployError(f"node '{inp.name}' ({inp.kind}): the netx input must be a "
                               "quantized input node")
    in_neuron = layers[0].synapse is None
    msg_bits = 0 if inp.quant.bits == 1 else int(inp.quant.bits)
    approx: list[str] = []
    patched: list[str] | None = [] if patch else None
    path = Path(path)

    def string(group: h5py.Group, key: str, value: str) -> None:
        group.create_dataset(key, (1,), "S10", [value.encode("ascii")])

    def neuron(g: h5py.Group, neu: Node) -> None:
        for key, value in groups[neu.name].items():
            g.create_dataset(f"neuron/{key}", data=value)

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["generator"] = "neurodeploy"
            f.attrs["input_message_bits"] = msg_bits
            if graph.metadata.get("T") is not None:
                f.create_dataset("simulation/Ts", data=1)
                f.create_dataset("simulation/tSample", data=int(graph.metadata["T"]))
            layer_group = f.create_group("layer")
            g0 = layer_group.create_group("0")
            string(g0, "type", "input")
            g0.create_dataset("shape", data=np.array(shapes[inp.name]))
            if in_neuron:
                neu0 = graph.nodes[layers[0].neuron]
                f.attrs["input_scale"] = float(inp.quant.scale)
                f.attrs["input_bits"] = int(inp.quant.bits)
                f.attrs["input_signed"] = bool(inp.quant.signed)
                for key, value in (graph.metadata.get("netx_input_transform") or {}).items():
                    if key in ("weight", "bias"):
                        g0.create_dataset(key, data=np.float32(value))
                if not isinstance(neu0, SigmaDelta) and np.any(
                        np.asarray(neu0.quant.bias_mant) != 0):
                    if patched is None:
                        raise NeurodeployError(
                            f"node '{neu0.name}' (cuba_lif): netx gives its input block's neuron "
                            "no bias; export with patch=True and load with "
                            "neurodeploy.lava.netx.load_netx")
                    patched.append(neu0.name)
                    _write_patch(g0.create_group("neurodeploy"), None, neu0, shapes[neu0.name])
                neuron(g0, neu0)
            i = 1
            for layer in layers:
                if layer.synapse is None:
                    continue
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
                g.create_dataset("weight", data=_weight(syn, exact, approx, patched))
                if isinstance(syn, Conv2d):
                    string(g, "type", "conv")
                    if syn.max_delay > 0:
                        g.create_dataset("delay", data=_conv_delay(syn, exact or patch, approx))
                    g.create_dataset("stride", data=np.array(syn.stride))
                    g.create_dataset("padding", data=np.array(syn.padding))
                    g.create_dataset("dilation", data=np.array(syn.dilation))
                    g.create_dataset("groups", data=int(syn.groups))
                else:
                    string(g, "type", "dense")
                    if syn.delay is not None:  # netx: a DelayDense, per-synapse [out, in]
                        g.create_dataset("delay", data=np.asarray(syn.delay, np.int64))
                bias = _bias(neu, exact, approx, patched)
                if np.any(bias != 0):
                    g.create_dataset("bias", data=_lava_layout(bias, shape))
                if patch:
                    _write_patch(g.create_group("neurodeploy"), syn, neu, shape)
                neuron(g, neu)
                i += 1
    return NetxExport(path, layers, msg_bits, sorted(set(approx)),
                      sorted(set(patched or [])))


def _conv_delay(node: Conv2d, refuse: bool, approx: list[str]) -> np.ndarray:
    """A delayed Conv2d's netx ``delay``: one per output channel (listed in ``approx``: a
    stock netx loader ignores it), or NeurodeployError naming the node (module docstring)."""
    d = np.asarray(node.delay, np.int64)
    per_channel = d.reshape(d.shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        raise NeurodeployError(f"node '{node.name}' (conv2d): per-tap delays have no netx form "
                               "(a netx conv 'delay' is one per output channel)")
    if refuse:
        raise NeurodeployError(f"node '{node.name}' (conv2d): lava-dl's netx ignores a conv "
                               "layer's 'delay' (create_conv never reads it); export with "
                               "exact=False to write it for neurodeploy's netx import, or deploy "
                               "the Lava process network")
    approx.append(node.name)
    return per_channel[:, 0]


def _lava_layout(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per-neuron ``values`` broadcast to the IR ``shape``, in Lava's order ((W, H, C) for
    3-D layers, as netx wants conv biases)."""
    full = np.broadcast_to(np.asarray(values), shape)
    if len(shape) == 3:
        full = full.transpose(2, 1, 0)
    return np.ascontiguousarray(full)


def _write_patch(g: Any, syn: Dense | Conv2d | None, neu: Node,
                 shape: tuple[int, ...]) -> None:
    """The exact integers of one layer, as our process-network compiler gives them to Lava
    (``syn`` None: the input block, a neuron only)."""
    nq = neu.quant
    if isinstance(syn, Dense):  # Lava's fixed Conv has no exponent (check_fixed: it is 0)
        wq = syn.quant
        g.create_dataset("weight", data=np.asarray(wq.weight, np.int64))
        g.create_dataset("weight_exp", data=int(wq.weight_exp))
        g.create_dataset("num_weight_bits", data=int(wq.num_weight_bits))
    if isinstance(neu, SigmaDelta):  # its integer bias is in the layer's 'bias' already
        return
    g.create_dataset("bias_mant", data=_lava_layout(np.asarray(nq.bias_mant, np.int64), shape))
    g.create_dataset("bias_exp", data=int(nq.bias_exp))


def load_netx(path: str | Path, input_message_bits: int | None = None, **kwargs: Any) -> Any:
    """Load a ``.net`` with lava-dl's ``netx.hdf5.Network`` and apply the exact integers that
    :func:`export_netx` (``patch=True``) stored, so that it runs bit-exactly like the graph.

    ``input_message_bits``: default the file's ``input_message_bits`` attribute (0 when absent).
    ``kwargs`` go to ``Network`` (``reset_interval``, ``reset_offset``, ...). Returns the
    Network (not yet run). A file without ``neurodeploy`` groups loads unchanged. Raises
    NeurodeployError when lava-dl is missing or the file's layers do not match the Network's.
    """
    import h5py

    from neurodeploy.lava._require import require_lava_dl

    require_lava_dl("loading a netx .net")
    from lava.lib.dl.netx.hdf5 import Network

    path = Path(path)
    with h5py.File(path, "r") as f:
        if input_message_bits is None:
            input_message_bits = int(f.attrs.get("input_message_bits", 0))
        groups = f["layer"]
        order = sorted(groups, key=int)
        kinds = [groups[k]["type"][0].decode() if groups[k]["type"].shape else
                 groups[k]["type"][()].decode() for k in order]
        # netx makes a block of every dense/conv layer and of an input layer with a neuron
        blocks = [k for k, kind in zip(order, kinds, strict=True)
                  if kind not in ("input", "flatten") or (kind == "input"
                                                          and "neuron" in groups[k])]
        patches = []
        for k in blocks:
            grp = groups[k].get("neurodeploy")
            patches.append(None if grp is None else {n: grp[n][()] for n in grp})
    net = Network(net_config=str(path), input_message_bits=input_message_bits, **kwargs)
    if len(net.layers) != len(patches):
        raise NeurodeployError(f"netx file '{path}': {len(patches)} blocks (dense/conv layers, "
                               f"an input with a neuron) but the netx Network has "
                               f"{len(net.layers)}")
    for k, blk, patch in zip(blocks, net.layers, patches, strict=True):
        if patch is None:
            continue
        if "weight" in patch:
            w = np.asarray(patch["weight"], np.int64)
            if tuple(blk.synapse.weights.shape) != w.shape:
                raise NeurodeployError(f"netx layer {k}: stored weights {w.shape} do not match "
                                       f"the synapse's {tuple(blk.synapse.weights.shape)}")
            blk.synapse.weights.init = w
            blk.synapse.proc_params.overwrite("weight_exp", int(patch["weight_exp"]))
            blk.synapse.proc_params.overwrite("num_weight_bits", int(patch["num_weight_bits"]))
        if "bias_mant" not in patch:  # a sigma-delta layer: weights only
            continue
        shape = tuple(blk.neuron.bias_mant.shape)
        blk.neuron.bias_mant.init = np.broadcast_to(np.asarray(patch["bias_mant"], np.int64),
                                                    shape).copy()
        blk.neuron.bias_exp.init = np.full(shape, int(patch["bias_exp"]), np.int64)
    return net


def has_input_neuron(net: Any) -> bool:
    """Whether the netx ``Network``'s first layer is an Input block with a neuron (its data go
    into that neuron, not through ``net.inp``, which netx leaves unconnected inside)."""
    from lava.lib.dl.netx.blocks.process import Input as InputBlock

    return isinstance(net.layers[0], InputBlock)


def _delay_gates(net: Any) -> list[tuple[int, Any]]:
    """``(k, a_buff)`` of every netx block ``k`` whose synapse is a ``DelayDense``, by ``k``.

    netx resets a layer's neurons right before its IR step 0 (``reset_offset``), which wipes
    what a one-step synapse delivered before; a delayed synapse still holds, for up to its
    delay, contributions of its input layer's steps before that layer's own IR step 0 (its bias
    runs from Lava step 0) and of the previous sample. Block ``k``'s input shows IR step 0 in
    Lava step ``k`` of a sample, so its buffer is emptied right before that step.
    """
    gates = []
    for k, blk in enumerate(net.layers):
        syn = getattr(blk, "synapse", None)
        if syn is not None and hasattr(syn, "delays"):
            gates.append((k, syn.a_buff))
    return gates


def run_network(net: Any, xi: np.ndarray, drive: str = "current") -> list[dict[str, np.ndarray]]:
    """Run a netx ``Network`` (loaded with ``reset_interval = T + len(net.layers)``,
    ``reset_offset = 1``) on integer inputs ``xi`` ``[T, B, *shape]`` (IR layout) in Lava
    fixed_pt, samples back to back; per netx layer its neuron's ``s``/``u``/``v``
    ``[T, B, *shape]`` in IR layout, re-aligned by the netx offset (``net.layers[i]`` shows IR
    step ``t`` at Lava step ``t + i + 1``). Conv layers come back from Lava's (W, H, C) as
    (C, H, W).

    Without an input neuron the data go through ``net.inp`` in step ``t``. With an Input block
    that has a neuron, ``drive`` says how: ``current`` — a source into the block's
    ``neuron.a_in`` in step ``t + 1`` (its current, as the IR's input-neuron edge); ``bias`` —
    each sample's frame ``xi[0, b]`` as the block's ``neuron.bias_mant`` (replacing any bias),
    as lava-dl drives PilotNet LIF (``xi`` must be constant over T). The two give the same
    spikes and voltages for ``iDecay = 4096``; the block's ``u`` is 0 under the bias drive.

    Delayed synapses (netx ``delay``: ``DelayDense``) are emptied in each sample right before
    their input layer's IR step 0 (see :func:`_delay_gates`): samples then run one at a time,
    paused at those steps; without that, what a delayed synapse holds from earlier steps would
    arrive after netx's neuron reset.
    """
    import tempfile

    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer

    from neurodeploy.lava.recorder import make_recorder

    if drive not in ("current", "bias"):
        raise NeurodeployError(f"unknown netx input drive '{drive}' (current or bias)")
    xi = np.asarray(xi, np.int64)
    T, B = xi.shape[:2]
    n = T + len(net.layers)
    in_neuron = has_input_neuron(net)
    by_bias = in_neuron and drive == "bias"
    if by_bias and np.any(xi != xi[:1]):
        raise NeurodeployError("the bias drive of a netx input neuron holds one frame per "
                               "sample: the input must not change over time")
    frames = [np.asarray(xi[0, b]).T for b in range(B)]  # (C, H, W) → netx's (W, H, C)
    if by_bias:
        net.in_layer.neuron.bias_mant.init = frames[0]
    else:
        start = 1 if in_neuron else 0  # the input neuron's IR step 0 is Lava step 1
        data = np.zeros(xi.shape[2:][::-1] + (B * n,), np.int64)
        for b in range(B):
            data[..., b * n + start:b * n + start + T] = np.asarray(xi[:, b]).T
        src = RingBuffer(data=data)
        src.s_out.connect(net.in_layer.neuron.a_in if in_neuron else net.inp)
    neurons = [layer.neuron for layer in net.layers]
    with tempfile.TemporaryDirectory() as d:
        rec, model, paths = make_recorder([p.s_out for p in neurons],
                                          [p.u for p in neurons] + [p.v for p in neurons],
                                          Path(d), B * n)
        cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={rec: model})
        gates = _delay_gates(net)
        try:
            if by_bias or gates:  # paused between samples (and at each delayed layer's gate)
                for b in range(B):
                    if by_bias and b:
                        net.in_layer.neuron.bias_mant.set(frames[b])
                    done = 0
                    for k, buff in gates:
                        if k > done:
                            net.run(condition=RunSteps(num_steps=k - done), run_cfg=cfg)
                            done = k
                        if b or done:  # before the first run there is no runtime (all 0)
                            buff.set(np.zeros(buff.shape, np.int32))
                    net.run(condition=RunSteps(num_steps=n - done), run_cfg=cfg)
            else:
                net.run(condition=RunSteps(num_steps=B * n), run_cfg=cfg)
        finally:
            net.stop()
        arrays = [np.load(p) for p in paths]
    k = len(neurons)
    out = []
    for i in range(k):
        layer = {}
        for var, arr in zip("suv", (arrays[i], arrays[k + i], arrays[2 * k + i]), strict=True):
            a = arr.reshape((B, n) + arr.shape[1:])[:, i + 1:i + 1 + T]
            if a.ndim == 5:  # (W, H, C) → (C, H, W)
                a = a.transpose(0, 1, 4, 3, 2)
            layer[var] = np.swapaxes(a, 0, 1)
        out.append(layer)
    return out
