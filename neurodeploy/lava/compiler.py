"""Compile a quantized Graph into a network of lava-nc 0.10 processes and run it bit-accurately.

One IR node becomes (read lava/proc/*/models.py for the arithmetic):

- ``Input`` → ``lava.proc.io.source.RingBuffer`` holding the integer inputs of every sample
  (``InputQ``: ``clip(round(x / scale))``), each sample padded with ``depth`` zero steps;
- ``Dense`` → ``lava.proc.dense.Dense`` (``weight_exp``, ``num_weight_bits`` as proc params), or
  ``DelayDense`` when it has IR delays or a shortcut needs its output later (native synaptic
  delay): its delays are the IR's per-synapse delays plus the schedule's folded delay. Lava's
  fixed-point DelayDense shifts each delay group's sum by ``weight_exp``, as the simulator does;
- ``Conv2d`` → ``lava.proc.conv.Conv``. Lava's Conv works on (W, H, C) arrays and computes a true
  convolution: the kernel is flipped and transposed to (C_out, kW, kH, C_in/groups) and the
  ports are transposed (virtual ``TransposePort``), so neurons keep the IR's (C, H, W) layout.
  A Conv2d with delays (lava-nc 0.10 has no delayed Conv) → a ``DelayDense`` over its unrolled
  weights and delays (:mod:`neurodeploy.lava.unroll`), in the IR's flat (C, H, W) order; its
  sums are exact where Lava's Conv wraps them to 24 bits (the simulator does the same). Its
  weights keep every bit: 9 weight bits in mixed-sign mode (Lava's Dense would otherwise
  drop the LSB that its Conv keeps);
- ``SumPool2d`` → a depthwise ``Conv`` with unit weights (groups = C). We chose this over folding
  the pool into the next synapse because it is exact for any window geometry (overlapping or
  padded windows, any consumer: Dense, Conv, neuron, Add), keeps every weight 8-bit and keeps the
  consumer's weights untouched (for netx and for reports); the price is one more step of latency,
  which the schedule absorbs like any other synapse;
- ``Flatten`` → a reshaped port; ``Add`` → several connections into one InPort (Lava sums them,
  ``PyInPortVectorDense.recv``), so residual paths meet in the consuming neuron's ``a_in``;
- a neuron → the process its kind builds (:meth:`neurodeploy.kinds.NeuronKind.lava_process`):
  ``CubaLIF`` → ``lava.proc.lif.LIF`` (``PyLifModelBitAcc``), with ``refractory = r > 0``
  ``LIFRefractory`` (:class:`neurodeploy.lava.refractory.PyLifRefractoryModelBitAcc`, which the
  run configuration names: Lava has only a float model for it); ``Readout`` → the same LIF with
  ``vth = NEVER_FIRE_VTH = 2**17`` (``vth << 6 = 2**23`` exceeds the largest 24-bit voltage: it
  never fires);
- recurrent edges are plain Lava connections: their synapse's one-step delay is the IR delay.

Lava synapses delay by one step and the IR does not; :mod:`neurodeploy.lava.schedule` gives each
node a latency, and edges that must wait get an identity ``Dense``/``DelayDense``. Before a
neuron's first real step its inputs are exactly zero (everything upstream is silent), so the only
thing that could run ahead is its bias: biases start at 0 and each layer's bias is switched on
(``Var.set``, with the run paused) in the Lava step where that layer's IR step 0 happens.

**Float mode** (``mode="float"``, ``Loihi2SimCfg(select_tag="floating_pt")``) runs the graph's
*float* parameters in Lava's float models (``PyLifModelFloat``, ``PyDenseModelFloat``,
``PyConvModelFloat``, ``PySendModelFloat``), which follow the IR's equations term for term:
``u = u·(1 − du) + a_in``; ``v = v·(1 − dv) + u + bias_mant`` (``bias_exp`` ignored);
``s = v > vth``; ``v = 0`` where ``s``. What differs and how it is mapped:

- Lava's ``du``, ``dv`` and ``vth`` are one value per layer (``Var`` of shape (1,)); per-neuron
  arrays that are not uniform are refused naming the layer. The bias is per neuron.
- a synapse bias (``Dense.bias``/``Conv2d.bias``) enters the IR's current ``u``; Lava's synapses
  have none, so each biased synapse gets a constant source (a ``RingBuffer`` sending 1 in the
  Lava steps of the synapse's IR steps) through a ``Dense`` whose column is the bias, summed
  into the same destinations as the synapse;
- ``refractory = r`` → ``LIFRefractory`` (``PyLifRefractoryModelFloat``: v held, at its reset
  value 0, for the r steps after a spike; the IR sets it to 0 in those steps: the same);
  ``reset = subtract | none`` has no Lava model and is refused naming the layer;
- ``AvgPool2d`` → a depthwise Conv of weights ``1/(kH·kW)``; a Readout → LIF with
  ``vth = inf``;
- arithmetic: Lava's Dense, LIF and sources compute in float64, its Conv in float32 (torch);
  the simulator in float32 — voltages agree to rounding (about 1e-7 relative), spikes exactly
  unless a voltage lies within rounding of the threshold.

Samples run one after another in one compiled network (compiling costs about as much as running
a sample). When the neurons hold all the state that outlives a step (no delayed or recurrent
edge, no synaptic delays, kinds with such a Lava model: CUBA LIF without refractory period and
read-outs), each neuron is Lava's ``LIFReset``, which zeroes ``u`` and ``v`` in its IR step 0 of
every sample, and all samples run in one ``run`` call with no bias gates (see
``_self_resetting_neurons``). Otherwise, between samples every neuron's ``u``, ``v`` (a
``LIFRefractory``'s ``refractory_period_end`` too) and every synapse buffer is set to 0
(``Var.set``, which Lava transfers one element per message, so this costs about 35 µs per
element). :mod:`neurodeploy.lava.lanes` runs several samples side by
side on top of either.
Records come from one recorder process (:mod:`neurodeploy.lava.recorder`) that reads every probed
port and Var each step into memory-mapped files (Lava's Monitor transfers its data one element
per message and takes one probe per process).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import GRADED_BITS
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    Node,
    SumPool2d,
    infer_shapes,
    validate,
)
from neurodeploy.kinds import LavaNeuron
from neurodeploy.lava._require import require_lava
from neurodeploy.lava.schedule import Schedule, schedule
from neurodeploy.lava.unroll import unroll_conv

#: Lava run-config tags of the two modes
MODES = {"fixed": "fixed_pt", "float": "floating_pt"}


def input_integers(node: Input, x: np.ndarray) -> np.ndarray:
    """The integer messages of ``node`` for float inputs ``x`` [T, B, *shape]: the simulator's
    own input quantization (:func:`neurodeploy.sim.ops.input_quantizer`), as numpy."""
    import torch

    from neurodeploy.sim.ops import input_quantizer

    quantize, _ = input_quantizer(node)
    return quantize(torch.as_tensor(np.asarray(x, np.float32))).numpy()


def check_float(graph: Graph) -> None:
    """Raise NeurodeployError naming the first node Lava's float models cannot run (asked of
    each neuron's kind)."""
    for node in graph:
        kind = kinds.kind_of(node)
        why = kind.float_refusal(node) if kind is not None else None
        if why:
            raise NeurodeployError(f"node '{node.name}' ({node.kind}): {why}")


@dataclass
class _Ref:
    """A Lava output port seen through virtual-port operations, carrying an IR node's value."""

    port: Any
    shape: tuple[int, ...]
    binary: bool
    ops: tuple[tuple[str, Any], ...] = ()

    def reshape(self, shape: tuple[int, ...]) -> _Ref:
        if tuple(shape) == self.shape:
            return self
        return _Ref(self.port, tuple(shape), self.binary, self.ops + (("reshape", tuple(shape)),))

    def transpose(self, axes: tuple[int, ...]) -> _Ref:
        shape = tuple(self.shape[a] for a in axes)
        return _Ref(self.port, shape, self.binary, self.ops + (("transpose", tuple(axes)),))

    def connect(self, dst: Any) -> None:
        port = self.port
        for op, arg in self.ops:
            port = getattr(port, op)(arg)
        port.connect(dst)


@dataclass
class _Probe:
    """One recorded variable: IR node, variable name (s|u|v|y), Lava port or Var, layout."""

    node: str
    var: str
    target: Any
    whc: bool = False
    path: Path | None = None


@dataclass
class LavaNetwork:
    """A compiled network and what running it needs. Build with :func:`compile_graph`."""

    graph: Graph
    sched: Schedule
    shapes: dict[str, tuple[int, ...]]
    T: int
    n_samples: int
    processes: dict[str, Any]
    probes: list[_Probe]
    resets: list[Any] = field(default_factory=list)
    bias_gates: list[tuple[int, Any, np.ndarray]] = field(default_factory=list)
    inputs_int: dict[str, np.ndarray] = field(default_factory=dict)
    recorder_model: Any = None
    workdir: Path | None = None
    #: "fixed" (integers, ``fixed_pt``) or "float" (``floating_pt``)
    mode: str = "fixed"
    #: the neurons zero their own state at each sample's start (no resets, no bias gates)
    self_reset: bool = False
    #: float mode: synapse biases {node: bias in the node's shape} that Lava adds downstream
    #: of the recorded ``a_out`` (added back to the synapse's ``y`` record)
    synapse_bias: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Lava steps per sample: T + depth."""
        return self.T + self.sched.depth

    def run(self, progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
        """Run every sample; returns ``{node: {var: [T, B, *shape]}}`` in IR layout, int64 in
        fixed mode, float64 in float mode.

        Variables are those probed: ``s``, ``u``, ``v`` of neurons (as the LIF model stores
        them) and ``y`` of synapse processes (what their ``a_out`` sends, plus the synapse bias
        in float mode), re-aligned so that index ``t`` is the IR's step ``t``.
        """
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        cfg = Loihi2SimCfg(select_tag=MODES[self.mode],
                           exception_proc_model_map=proc_models(self.mode,
                                                                self.processes["_recorder"],
                                                                self.recorder_model))
        runner = next(iter(self.processes.values()))
        n = self.steps
        gates = sorted({lat for lat, _, _ in self.bias_gates})
        samples = range(0 if self.self_reset else self.n_samples)
        if progress:
            from neurodeploy.progress import track

            if samples:
                samples = track(samples, description="lava", total=self.n_samples)
        try:
            if self.self_reset:  # one run; in chunks only to show progress
                chunk = max(1, self.n_samples // 20) if progress else self.n_samples
                starts = range(0, self.n_samples, chunk)
                if progress:
                    starts = track(starts, description="lava", total=len(starts))
                for start in starts:
                    steps = n * min(chunk, self.n_samples - start)
                    runner.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            for b in samples:
                if b > 0:  # before the first run there is no runtime; everything starts at 0
                    for var in self.resets:
                        var.set(np.zeros(var.shape))
                done = 0
                for lat in gates:
                    if lat > done:
                        runner.run(condition=RunSteps(num_steps=lat - done), run_cfg=cfg)
                        done = lat
                    for glat, var, value in self.bias_gates:
                        if glat == lat:
                            var.set(value)
                runner.run(condition=RunSteps(num_steps=n - done), run_cfg=cfg)
        finally:
            runner.stop()
        out: dict[str, dict[str, np.ndarray]] = {}
        for probe in self.probes:
            arr = np.array(np.load(probe.path, mmap_mode="r"))
            if probe.whc:
                arr = arr.transpose(0, 3, 2, 1)
            lat = self.sched.latency[probe.node]
            if probe.var == "y":  # a DelayDense sends its output that many steps later
                lat += self.sched.dense_delay.get(probe.node, 0)
            arr = arr.reshape((self.n_samples, n) + arr.shape[1:])[:, lat:lat + self.T]
            arr = np.ascontiguousarray(np.swapaxes(arr, 0, 1))
            arr = arr.reshape(arr.shape[:2] + tuple(self.shapes[probe.node]))
            if probe.var == "y" and probe.node in self.synapse_bias:
                arr = arr + self.synapse_bias[probe.node]
            out.setdefault(probe.node, {})[probe.var] = arr
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return out


def proc_models(mode: str, recorder: Any, recorder_model: type) -> dict[Any, type]:
    """The run configuration's ``exception_proc_model_map`` for ``mode``: the recorder's model
    and, in fixed point, the models Lava's search does not find
    (:data:`neurodeploy.lava.refractory.FIXED_MODELS`: ``LIFRefractory`` bit-accurate)."""
    models: dict[Any, type] = {recorder: recorder_model}
    if mode == "fixed":
        from neurodeploy.lava.refractory import FIXED_MODELS

        models.update(FIXED_MODELS)
    return models


def _lava_conv_weight(w: np.ndarray) -> np.ndarray:
    """IR (PyTorch) cross-correlation kernel [C_out, C_in/g, kH, kW] → Lava's true-convolution
    kernel [C_out, kW, kH, C_in/g] (lava/proc/conv/utils.py ``conv_scipy``)."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def compile_graph(graph: Graph, x: np.ndarray, record: bool | Sequence[str] = False,
                  mode: str = "fixed") -> LavaNetwork:
    """Build the Lava process network of ``graph`` for inputs ``x`` [T, B, *shape].

    ``mode``: ``fixed`` (a quantized graph's integer parameters, Lava ``fixed_pt``) or
    ``float`` (the float parameters, Lava ``floating_pt``; see the module docstring).
    ``record``: True for every node, or names of nodes whose ``u``/``v`` (neurons) and ``y``
    (synapse processes) to probe; every neuron's output (its kind's ``output_var``: a CubaLIF's
    spikes, a Readout's ``v``) is always probed (outputs and activity counts need them). Probes
    cost a port on one recorder process and memory (``B · (T + depth)`` values per element).
    """
    require_lava()
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense
    from lava.proc.dense.process import Dense as LavaDense
    from lava.proc.io.source import RingBuffer

    if mode not in MODES:
        raise NeurodeployError(f"unknown Lava mode '{mode}' (choose fixed or float)")
    fixed = mode == "fixed"
    validate(graph)
    if fixed:
        check_fixed(graph)
    else:
        check_float(graph)
    if len(graph.inputs) != 1:
        raise NeurodeployError(f"the Lava backend runs graphs with one input node; this one has "
                               f"{len(graph.inputs)}")
    x = np.asarray(x)
    T, B = int(x.shape[0]), int(x.shape[1])
    shapes = infer_shapes(graph)
    sched = schedule(graph)
    n_steps = T + sched.depth
    total = B * n_steps
    if record is True:
        recorded = set(graph.nodes)
    elif record is False or record is None:
        recorded = set()
    else:
        recorded = set(record)
        unknown = sorted(recorded - set(graph.nodes))
        if unknown:
            raise NeurodeployError(f"cannot record '{unknown[0]}': no node of that name")

    processes: dict[str, Any] = {}
    neurons: dict[str, LavaNeuron] = {}
    refs: dict[str, list[_Ref]] = {}
    probes: list[_Probe] = []
    resets: list[Any] = []
    gates: list[tuple[int, Any, np.ndarray]] = []
    inputs_int: dict[str, np.ndarray] = {}
    synapse_bias: dict[str, np.ndarray] = {}
    wdtype = np.int64 if fixed else np.float64

    def probe(name: str, var: str, target: Any, whc: bool = False) -> None:
        probes.append(_Probe(name, var, target, whc))

    self_reset = _self_resetting_neurons(graph, shapes, sched.latency, fixed, n_steps)

    # ---- processes of real nodes (their own output ports)
    for name, node in graph.nodes.items():
        shape = shapes[name]
        if isinstance(node, Input):
            if name not in graph.inputs:
                raise NeurodeployError(f"node '{name}' (input): not listed in graph.inputs")
            xi = input_integers(node, x) if fixed else np.asarray(x, np.float32)
            if xi.shape[2:] != shape:
                raise NeurodeployError(f"input '{name}': data of shape {xi.shape[2:]} per step "
                                       f"does not match the input shape {shape}")
            inputs_int[name] = xi
            data = np.zeros(shape + (total,), wdtype)
            for b in range(B):
                data[..., b * n_steps:b * n_steps + T] = np.moveaxis(xi[:, b], 0, -1)
            proc = RingBuffer(data=data)
            binary = node.quant.bits == 1 if fixed else False
            refs[name] = [_Ref(proc.s_out, shape, binary)]
        elif isinstance(node, Dense):
            if fixed:
                w = np.asarray(node.quant.weight, np.int64)
                params = dict(weight_exp=int(node.quant.weight_exp),
                              num_weight_bits=int(node.quant.num_weight_bits), name=name)
            else:
                w = np.asarray(node.weight, np.float64)
                params = dict(num_message_bits=GRADED_BITS, name=name)
            delay = sched.dense_delay.get(name, 0)
            if delay or node.max_delay:
                delays = delay + (np.zeros(w.shape, int) if node.delay is None
                                  else np.asarray(node.delay, int))
                proc = DelayDense(weights=w, delays=delays, max_delay=int(delays.max()), **params)
            else:
                proc = LavaDense(weights=w, **params)
            resets.append(proc.a_buff)
            refs[name] = [_Ref(proc.a_out, shape, False)]
        elif isinstance(node, Conv2d) and node.max_delay > 0:
            in_shape = shapes[graph.in_edges(name)[0].src]
            proc = _delayed_conv(node, tuple(in_shape), tuple(shape), fixed)
            resets.append(proc.a_buff)
            refs[name] = [_Ref(proc.a_out, (r_size_of(shape),), False).reshape(shape)]
        elif isinstance(node, (Conv2d, SumPool2d, AvgPool2d)):
            in_shape = shapes[graph.in_edges(name)[0].src] if graph.in_edges(name) else None
            c = in_shape[0]
            if isinstance(node, Conv2d):
                wf = node.quant.weight if fixed else node.weight
                w = _lava_conv_weight(np.asarray(wf, wdtype))
                geo = dict(padding=node.padding[::-1], stride=node.stride[::-1],
                           dilation=node.dilation[::-1], groups=node.groups)
            else:
                unit = 1.0 if isinstance(node, SumPool2d) else 1.0 / (node.kernel[0]
                                                                       * node.kernel[1])
                w = np.full((c,) + tuple(node.kernel[::-1]) + (1,), unit, wdtype)
                geo = dict(padding=node.padding[::-1], stride=node.stride[::-1],
                           dilation=(1, 1), groups=c)
            proc = Conv(weight=w, weight_exp=0, input_shape=tuple(in_shape[::-1]),
                        num_message_bits=GRADED_BITS, name=name, **geo)
            resets.append(proc.a_buf)
            refs[name] = [_Ref(proc.a_out, shape[::-1], False).transpose((2, 1, 0))]
        elif (kind := kinds.kind_of(node)) is not None:
            built = (self_reset[name] if self_reset is not None else
                     kind.lava_process(node, shape, fixed, gate_bias=sched.latency[name] > 0))
            neurons[name] = built
            proc = built.proc
            resets += built.resets
            if built.bias is not None:
                gates.append((sched.latency[name], *built.bias))
            refs[name] = [_Ref(built.out, shape, kind.binary)]
        elif isinstance(node, (Add, Flatten)):
            continue
        else:
            raise NeurodeployError(f"node '{name}' ({node.kind}): no Lava form")
        processes[name] = proc

    # ---- float mode: synapse biases as constant sources into a Dense (see module docstring)
    biased = [] if fixed else [
        name for name, node in graph.nodes.items()
        if isinstance(node, (Dense, Conv2d)) and node.bias is not None
        and np.any(np.asarray(node.bias) != 0)]
    if biased:
        data = np.zeros((len(biased), total), np.float64)
        for j, name in enumerate(biased):
            # the synapse's IR step 0 leaves it (a DelayDense: its folded delay later) in
            # step latency + delay; the bias Dense sends its input one step later
            start = sched.latency[name] + sched.dense_delay.get(name, 0) - 1
            for b in range(B):
                data[j, b * n_steps + start:b * n_steps + start + T] = 1.0
        source = RingBuffer(data=data)
        processes["_bias_source"] = source
        for j, name in enumerate(biased):
            node = graph.nodes[name]
            shape = shapes[name]
            b_full = np.asarray(node.bias, np.float64)
            if isinstance(node, Conv2d):
                b_full = b_full.reshape(-1, 1, 1)
            b_full = np.broadcast_to(b_full, shape)
            n = int(np.prod(shape))
            wb = np.zeros((n, len(biased)), np.float64)
            wb[:, j] = b_full.reshape(-1)
            d = LavaDense(weights=wb, num_message_bits=GRADED_BITS, name=f"{name}:bias")
            source.s_out.connect(d.s_in)
            resets.append(d.a_buff)
            processes[f"{name}:bias"] = d
            synapse_bias[name] = b_full.astype(np.float64)
            refs[name].append(_Ref(d.a_out, (n,), False).reshape(shape))

    # ---- virtual nodes and edges
    resolving: set[str] = set()

    def edge_refs(i: int) -> list[_Ref]:
        e = graph.edges[i]
        src_refs = node_refs(e.src)
        extra = sched.extra[i]
        if extra == 0:
            return src_refs
        shape = shapes[e.src]
        n = int(np.prod(shape))
        binary = len(src_refs) == 1 and src_refs[0].binary
        eye = np.eye(n, dtype=wdtype)
        mb = 0 if binary else GRADED_BITS
        if extra == 1:
            d = LavaDense(weights=eye, num_message_bits=mb, name=f"{e.src}->{e.dst}:delay1")
        else:
            d = DelayDense(weights=eye, delays=np.full((n, n), extra - 1, dtype=int),
                           max_delay=extra - 1, num_message_bits=mb,
                           name=f"{e.src}->{e.dst}:delay{extra}")
        for r in src_refs:
            r.reshape((n,)).connect(d.s_in)
        resets.append(d.a_buff)
        processes[f"{e.src}->{e.dst}:delay"] = d
        return [_Ref(d.a_out, (n,), binary).reshape(shape)]

    def node_refs(name: str) -> list[_Ref]:
        if name in refs:
            return refs[name]
        if name in resolving:
            raise NeurodeployError(f"node '{name}': a recurrent loop made only of add/flatten "
                                   "nodes has no Lava form")
        resolving.add(name)
        node = graph.nodes[name]
        ins = [r for i, e in enumerate(graph.edges) if e.dst == name for r in edge_refs(i)]
        if isinstance(node, Flatten):
            ins = [r.reshape(shapes[name]) for r in ins]
        refs[name] = ins
        resolving.discard(name)
        return ins

    for name, node in graph.nodes.items():
        if isinstance(node, (Add, Flatten, Input)):
            continue
        proc = processes[name]
        ins = [(i, r) for i, e in enumerate(graph.edges) if e.dst == name for r in edge_refs(i)]
        if not ins:
            raise NeurodeployError(f"node '{name}' ({node.kind}): has no inputs")
        if name in neurons:
            for _, r in ins:
                r.reshape(shapes[name]).connect(neurons[name].a_in)
        elif _flat_synapse(node):
            if fixed:
                binary = len(ins) == 1 and ins[0][1].binary
                proc.num_message_bits.init = 0 if binary else GRADED_BITS
            for _, r in ins:
                r.reshape((r_size(r),)).connect(proc.s_in)
        else:  # Conv or pool: (C, H, W) → Lava's (W, H, C)
            for _, r in ins:
                r.transpose((2, 1, 0)).connect(proc.s_in)

    # ---- probes
    for name, node in graph.nodes.items():
        proc = processes.get(name)
        if name in neurons:  # the output (spikes, or a read-out's v) always: outputs, counts
            kind = kinds.neuron_kind(node)
            if kind.output_var == "s":
                probe(name, "s", neurons[name].out)
            for var, target in neurons[name].variables.items():
                if var == kind.output_var or name in recorded:
                    probe(name, var, target)
        elif isinstance(node, (Dense, Conv2d, SumPool2d, AvgPool2d)) and name in recorded:
            probe(name, "y", proc.a_out, whc=not _flat_synapse(node))

    from neurodeploy.lava.recorder import make_recorder

    workdir = Path(tempfile.mkdtemp(prefix="neurodeploy-lava-"))
    ports = [p for p in probes if p.var in ("s", "y")]
    variables = [p for p in probes if p.var in ("u", "v")]
    rec, rec_model, paths = make_recorder([p.target for p in ports],
                                          [p.target for p in variables], workdir, total,
                                          mode=mode)
    probes = ports + variables
    for p, path in zip(probes, paths, strict=True):
        p.path = path
    processes["_recorder"] = rec
    if self_reset is not None:  # the neurons reset themselves; nothing else carries state
        resets, gates = [], []
    return LavaNetwork(graph=graph, sched=sched, shapes=shapes, T=T, n_samples=B,
                       processes=processes, probes=probes, resets=resets, bias_gates=gates,
                       inputs_int=inputs_int, recorder_model=rec_model, workdir=workdir,
                       mode=mode, synapse_bias=synapse_bias, self_reset=self_reset is not None)


def _self_resetting_neurons(graph: Graph, shapes: dict[str, tuple[int, ...]],
                            latency: dict[str, int], fixed: bool,
                            n_steps: int) -> dict[str, LavaNeuron] | None:
    """Every neuron as a process that zeroes its own state in its IR step 0 of every sample
    (Lava time step ``b·n_steps + latency + 1``, counted from 1), or None when that is not
    exact or not available.

    It is exact when the neurons hold all the state that outlives a step: then a node's input
    in its IR step ``t >= 0`` is its sources' output in their IR step ``t`` (the schedule's
    alignment), whatever ran before, and what a neuron did before its step 0 (its bias acting
    early, the previous sample's tail) is wiped by the reset. A delayed or recurrent edge, or
    synaptic delays, carry earlier steps' spikes into the sample: those graphs (and kinds
    without such a Lava model) are reset from outside between samples.
    """
    if any(e.delay for e in graph.edges) or any(getattr(node, "max_delay", 0) for node in graph):
        return None
    built: dict[str, LavaNeuron] = {}
    for name, node in graph.nodes.items():
        kind = kinds.kind_of(node)
        if kind is None:
            continue
        b = kind.lava_process(node, shapes[name], fixed, False,
                              reset=(n_steps, (latency[name] + 1) % n_steps))
        if b is None:
            return None
        built[name] = b
    return built


def _flat_synapse(node: Node) -> bool:
    """Whether ``node`` runs as a (Delay)Dense on flat (C-order) vectors: a Dense, or a Conv2d
    with delays (a DelayDense over its unrolled weights)."""
    return isinstance(node, Dense) or (isinstance(node, Conv2d) and node.max_delay > 0)


def _delayed_conv(node: Conv2d, in_shape: tuple[int, ...], shape: tuple[int, ...],
                  fixed: bool) -> Any:
    """The ``DelayDense`` that runs the delayed Conv2d ``node`` (module docstring)."""
    from lava.proc.dense.process import DelayDense
    from lava.utils.weightutils import SignMode, determine_sign_mode

    if fixed:
        kernel = np.asarray(node.quant.weight, np.int64)
    else:
        kernel = np.asarray(node.weight, np.float64)
    w, d = unroll_conv(node, kernel, node.delay, in_shape, shape)
    params: dict[str, Any] = dict(num_message_bits=GRADED_BITS, name=node.name)
    if fixed:  # weight_exp is 0 (capability); 9 bits: Lava's mixed-sign truncation drops none
        mixed = determine_sign_mode(w) == SignMode.MIXED
        params.update(weight_exp=0, num_weight_bits=9 if mixed else 8)
    return DelayDense(weights=w, delays=d, max_delay=int(d.max()), **params)


def r_size_of(shape: tuple[int, ...]) -> int:
    """Number of elements of ``shape``."""
    return int(np.prod(shape))


def r_size(r: _Ref) -> int:
    """Number of elements a port reference carries."""
    return int(np.prod(r.shape))
