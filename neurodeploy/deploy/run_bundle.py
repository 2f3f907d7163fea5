#!/usr/bin/env python3
"""Run this neurodeploy bundle in Lava and check it against the simulator's predictions.

Copied into every bundle as ``run.py``. Backends (``--backend``):

- ``loihi2``: Intel's Loihi 2 through ``Loihi2HwCfg``; needs Intel's closed ``lava-loihi``
  extension (INRC systems) and a ``model.net`` in the bundle. Inputs enter through
  ``embedded_io`` adapters, the output layer's voltage is read with lava-loihi's ``StateProbe``
  and a spiking output layer's spikes leave through an ``NxToPyAdapter`` into a ring-buffer
  sink, as Intel's Loihi 2 netx tutorials do. neurodeploy's authors had no Loihi 2 access: this branch
  follows the tutorials and has not been run on a chip.
- ``sim``: Lava's bit-accurate CPU simulation, ``Loihi2SimCfg(select_tag="fixed_pt")``.
- ``auto`` (default): ``loihi2`` when ``lava.utils.loihi.is_installed()`` says lava-loihi is
  there, else ``sim``.

The network comes from ``model.net`` (lava-dl netx, with the exact integers of layers netx's
loader would round applied by :func:`apply_exact_integers`) when the bundle has one; a model
netx cannot express (pooling, residual adds, recurrence) comes as ``model.q.ndg``, which
neurodeploy builds into lava-nc processes (``neurodeploy.lava``, simulation only).

``bundle.json`` ``output`` says what the graph's output layer is. A ``readout`` (non-firing
integrator): its voltage is decoded by the graph's rule into scores. A ``cuba_lif`` (spiking
output layer): its spikes are recorded (netx: the network's ``out`` port into a ring-buffer
sink) and counted over the T steps, the scores the predictions are the argmax of, and its
voltage ``v`` is recorded every step as well (a regression network such as PilotNet LIF is read
from ``v``, not from spike counts); both are compared with ``expected.json`` exactly. A
``sigma_delta`` (graded output layer, e.g. PilotNet SDNN's Sigma read-out): what it sends every
step (netx: the ``out`` port into a ring-buffer sink) is ``s``, compared exactly and decoded by
the graph's rule (``last`` for a Sigma, ``sum`` of graded spikes otherwise) into scores.

``bundle.json`` ``timing``: ``ir`` — each sample from rest (netx ``reset_interval``; the process
network's resets); ``netx-pipeline`` — netx ignores ``reset_interval`` for sigma-delta layers,
so the samples run back to back as one stream of ``N·T`` steps and ``expected.json`` holds the
simulator's run of that stream, cut into the samples' windows.

The script prints the backend it ran on, writes ``--output`` (JSON: backend, predictions,
accuracy, agreement with ``expected.json``) and exits 0 when every prediction equals the
simulator's and every decoded score agrees within 1e-6 relative (a spiking output: every spike
count and every step's ``v`` equal the simulator's), 3 otherwise, 1 on an error.
It needs numpy and Lava (lava-nc, lava-dl) only, so :func:`decode` and
:func:`apply_exact_integers` restate ``neurodeploy.sim.decode`` and
``neurodeploy.lava.load_netx`` in numpy; tests/test_deploy.py checks the bundle's results
against the simulator through both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def decode(v: np.ndarray, readout: dict) -> np.ndarray:
    """``[N, T, n]`` readout voltages (integers) → ``[N, n]`` scores by the graph's rule."""
    v = v.astype(np.float64) * float(readout["scale"])
    rule = readout["decoding"]
    if rule == "mean":
        return v.mean(1)
    if rule == "sum":
        return v.sum(1)
    if rule == "max":
        return v.max(1)
    if rule == "last":
        return v[:, -1]
    w = np.zeros(v.shape[1])
    src = np.asarray(readout["weights"], np.float64)[: v.shape[1]]
    w[: len(src)] = src
    return np.einsum("t,ntk->nk", w, v)


def choose_backend(asked: str) -> str:
    """``loihi2`` or ``sim`` for ``--backend``; ``auto`` asks lava whether lava-loihi is there."""
    if asked != "auto":
        return asked
    from lava.utils.loihi import is_installed

    return "loihi2" if is_installed() else "sim"


def apply_exact_integers(net, path: Path) -> None:  # noqa: ANN001 - a netx Network
    """Write the exact integers neurodeploy stored beside each netx layer (``layer/<i>/
    neurodeploy``: weight, weight_exp, num_weight_bits, bias_mant, bias_exp) into the
    Network's processes before it is compiled; netx's own loader reads only rounded values."""
    import h5py

    with h5py.File(path, "r") as f:
        layers = f["layer"]
        patches = []
        for k in sorted(layers, key=int):
            kind = layers[k]["type"]
            kind = (kind[0] if kind.shape else kind[()]).decode()
            if kind != "flatten" and (kind != "input" or "neuron" in layers[k]):  # netx blocks
                grp = layers[k].get("neurodeploy")
                patches.append(None if grp is None else {n: grp[n][()] for n in grp})
    if len(patches) != len(net.layers):
        sys.exit(f"error: {path}: {len(patches)} layers in the file, {len(net.layers)} in netx")
    for block, patch in zip(net.layers, patches, strict=True):
        if patch is None:
            continue
        if "weight" in patch:
            block.synapse.weights.init = np.asarray(patch["weight"], np.int64)
            block.synapse.proc_params.overwrite("weight_exp", int(patch["weight_exp"]))
            block.synapse.proc_params.overwrite("num_weight_bits", int(patch["num_weight_bits"]))
        if "bias_mant" not in patch:  # a sigma-delta layer: weights only
            continue
        shape = tuple(block.neuron.bias_mant.shape)
        block.neuron.bias_mant.init = np.broadcast_to(
            np.asarray(patch["bias_mant"], np.int64), shape).copy()
        block.neuron.bias_exp.init = np.full(shape, int(patch["bias_exp"]), np.int64)


def is_spiking(output: dict) -> bool:
    """Whether ``bundle.json``'s ``output`` is a spiking layer (decoded by spike counts)."""
    return output["kind"] == "cuba_lif"


def is_graded(output: dict) -> bool:
    """Whether ``bundle.json``'s ``output`` is a sigma-delta layer (graded output ``s``)."""
    return output["kind"] == "sigma_delta"


def per_sample(a: np.ndarray, N: int, n: int) -> np.ndarray:
    """Lava's per-step values ``[N·n, *shape]`` (a 3-D layer in Lava's (W, H, C) order) →
    ``[N, n, neurons]``, neurons flattened in the IR's (C, H, W) order."""
    if a.ndim == 4:
        a = a.transpose(0, 3, 2, 1)
    return a.reshape(N, n, -1)


def run_netx(info: dict, x_int: np.ndarray, backend: str,
             args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Run ``model.net`` on ``x_int`` ``[N, T, *shape]``: ``{"v": [N, T, n]}``, the output
    layer's voltage, and for a spiking output layer also ``"s"`` ``[N, T, n]``, its spikes (the
    network's ``out`` port into a ring-buffer sink).

    netx layer ``i`` sees step ``t`` at Lava step ``t + i + 1``; every sample gets
    ``T + depth`` steps and netx resets its neurons at the start of each (``reset_offset=1``).
    An input block with a neuron (netx leaves its InPort unconnected) takes the data into the
    neuron's ``a_in``, in step ``t + 1``. The sink records the spikes a neuron sends in the
    step it sends them, as the voltage is read: both come from Lava step ``t + depth``.
    """
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer

    N, T = x_int.shape[:2]
    stream = info.get("timing") == "netx-pipeline"  # SDNN: no resets, one stream of N·T steps
    graded = is_graded(info["output"])
    depth = 0 if stream else int(info["netx_depth"])
    n = T + depth
    resets = {} if stream else {"reset_interval": n, "reset_offset": 1}
    net = Network(net_config=str(HERE / "model.net"),
                  input_message_bits=int(info["input_message_bits"]), **resets)
    apply_exact_integers(net, HERE / "model.net")
    in_neuron = type(net.layers[0]).__name__ == "Input"
    target = net.in_layer.neuron.a_in if in_neuron else net.inp
    start = int(in_neuron and not stream)
    data = np.zeros(tuple(x_int.shape[2:][::-1]) + (N * n,), np.int64)  # netx takes (W, H, C)
    for b in range(N):
        data[..., b * n + start:b * n + start + T] = x_int[b].T
    src = RingBuffer(data=data)
    v_var = None if graded else net.layers[-1].neuron.v
    sink = (Sink(shape=net.out.shape, buffer=N * n)
            if is_spiking(info["output"]) or graded else None)
    s = v = None
    if backend == "loihi2":  # pragma: no cover - needs Intel's lava-loihi and a Loihi 2 board
        from lava.magma.core.run_configs import Loihi2HwCfg
        from lava.proc import embedded_io as eio
        from lava.utils import loihi
        from lava.utils.loihi2_state_probes import StateProbe

        loihi.use_slurm_host(partition=args.partition,
                             loihi_gen=loihi.ChipGeneration(args.loihi_gen))
        adapter = eio.spike.PyToNxAdapter(shape=net.inp.shape,
                                          num_message_bits=int(info["input_message_bits"]))
        src.s_out.connect(adapter.inp)
        adapter.out.connect(target)
        if sink is not None:
            out_adapter = eio.spike.NxToPyAdapter(shape=net.out.shape,
                                                  num_message_bits=24 if graded else 0)
            net.out.connect(out_adapter.inp)
            out_adapter.out.connect(sink.a_in)
        probes = [] if v_var is None else [StateProbe(v_var)]
        try:
            net.run(condition=RunSteps(num_steps=N * n), run_cfg=Loihi2HwCfg(callback_fxs=probes))
            if sink is not None:
                s = sink.data.get()
        finally:
            net.stop()
        if probes:
            v = np.asarray(probes[0].time_series).reshape(-1, N * n).T
    else:
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.monitor.process import Monitor

        src.s_out.connect(target)
        if sink is not None:
            net.out.connect(sink.a_in)
        mon = None
        if v_var is not None:
            mon = Monitor()
            mon.probe(v_var, N * n)
        try:
            net.run(condition=RunSteps(num_steps=N * n),
                    run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            if mon is not None:
                v = np.asarray(mon.get_data()[v_var.process.name][v_var.name])
            if sink is not None:
                s = sink.data.get()
        finally:
            net.stop()
    rec = {} if v is None else {"v": v}
    if s is not None:
        rec["s"] = np.moveaxis(np.asarray(s), -1, 0)  # the sink keeps time last
    return {k: per_sample(np.asarray(a).astype(np.int64), N, n)[:, depth:depth + T]
            for k, a in rec.items()}


def run_processes(x_int: np.ndarray, output: dict) -> dict[str, np.ndarray]:
    """Run ``model.q.ndg`` as neurodeploy's lava-nc process network (CPU simulation): the
    output layer's ``v`` (a spiking layer: also ``s``; a sigma-delta layer: ``s`` only)
    ``[N, T, n]``, as :func:`run_netx`."""
    try:
        from neurodeploy.ir import load_graph
        from neurodeploy.lava.run import simulate_lava
    except ImportError:
        sys.exit("error: this bundle's model is not expressible in netx; running it needs "
                 "neurodeploy (pip install 'neurodeploy[lava]') besides Lava")
    graph = load_graph(HERE / "model.q.ndg")
    node = graph.nodes[graph.inputs[0]]
    # the integers are the messages; scale back so that simulate_lava re-derives them exactly
    x = np.swapaxes(x_int, 0, 1).astype(np.float32) * np.float32(node.quant.scale)
    res = simulate_lava(graph, x, record=[graph.outputs[0]])
    rec = res.records[graph.outputs[0]]
    out = {}
    names = ("s",) if is_graded(output) else ("v", "s") if is_spiking(output) else ("v",)
    for k in names:
        a = rec[k].numpy().astype(np.int64)  # [T, N, *shape]
        out[k] = np.swapaxes(a.reshape(a.shape[0], a.shape[1], -1), 0, 1)
    return out


def check(rec: dict[str, np.ndarray], output: dict, expected: dict,
          y: np.ndarray) -> dict:
    """Predictions and scores of a run's output records (:func:`run_netx`) and how they agree
    with ``expected.json``: ``identical``, and ``differences`` (one phrase per disagreement).

    A readout: its voltage decoded by the graph's rule; scores agree within 1e-6 relative
    (integers times the readout's scale: float32 in the simulator, float64 here). A
    sigma-delta layer: its graded output ``s`` decoded likewise, and ``s`` must equal the
    simulator's every step exactly. A spiking
    layer: scores are its spike counts over the T steps, and counts and every step's ``v``
    must equal the simulator's exactly."""
    n = len(y)
    want = np.asarray(expected["predictions"][:n])
    differences = []
    res: dict = {}
    if is_spiking(output):
        counts = (rec["s"] != 0).sum(1).astype(np.int64)  # [N, neurons]
        scores = counts
        ref_counts = np.asarray(expected["spike_counts"][:n], np.int64)
        ref_v = np.asarray(expected["v"][:n], np.int64)
        counts_equal = counts.shape == ref_counts.shape and bool(np.all(counts == ref_counts))
        v_equal = rec["v"].shape == ref_v.shape and bool(np.all(rec["v"] == ref_v))
        if not counts_equal:
            differences.append("spike counts")
        if not v_equal:
            bad = (int(np.sum(np.any(rec["v"] != ref_v, axis=2)))
                   if rec["v"].shape == ref_v.shape else "all")
            differences.append(f"v at {bad} sample-steps")
        res.update(spike_counts=counts.tolist(), spike_counts_equal=counts_equal,
                   v=rec["v"].tolist(), v_equal=v_equal)
    else:
        graded = is_graded(output)
        if graded:  # a sigma-delta layer's graded output, every step, exactly
            ref_s = np.asarray(expected["s"][:n], np.int64)
            s_equal = rec["s"].shape == ref_s.shape and bool(np.all(rec["s"] == ref_s))
            if not s_equal:
                bad = (int(np.sum(np.any(rec["s"] != ref_s, axis=2)))
                       if rec["s"].shape == ref_s.shape else "all")
                differences.append(f"s at {bad} sample-steps")
            res.update(s=rec["s"].tolist(), s_equal=s_equal)
        scores = decode(rec["s" if graded else "v"], output)
        ref = np.asarray(expected["scores"][:n], np.float64)
        err = float(np.max(np.abs(scores - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
        if not err <= 1e-6:
            differences.append(f"scores by {err:.1e} relative")
        res["max_relative_score_difference"] = err
    pred = scores.argmax(1)
    agree = int((pred == want).sum())
    if agree != n:
        differences.insert(0, f"predictions on {n - agree} of {n} samples")
    return {"predictions": pred.tolist(), "scores": scores.tolist(),
            "accuracy": float((pred == y).mean()), "simulator_accuracy": float((want == y).mean()),
            "agree_with_simulator": agree, **res, "differences": differences,
            "identical": not differences}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("auto", "loihi2", "sim"), default="auto")
    p.add_argument("--partition", default=os.environ.get("PARTITION", "oheogulch"),
                   help="INRC SLURM partition (loihi2 backend)")
    p.add_argument("--loihi-gen", default=os.environ.get("LOIHI_GEN", "N3B3"))
    p.add_argument("--samples", type=int, default=None, help="run the first N samples only")
    p.add_argument("-o", "--output", default="results.json", help="results file (JSON)")
    args = p.parse_args(argv)

    info = json.loads((HERE / "bundle.json").read_text())
    expected = json.loads((HERE / "expected.json").read_text())
    with np.load(HERE / "inputs.npz") as z:
        x_int, y = z["x_int"], z["y"]
    if args.samples is not None:
        x_int, y = x_int[:args.samples], y[:args.samples]
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError:
        sys.exit("error: Lava is not installed in this Python: pip install lava-nc==0.10.0 "
                 "lava-dl==0.6.0 (Python 3.10)")
    backend = choose_backend(args.backend)
    network = "netx" if (HERE / "model.net").is_file() else "lava-processes"
    if backend == "loihi2" and network != "netx":
        sys.exit("error: Loihi 2 runs need model.net; netx cannot express this model "
                 f"({info.get('netx_refusal')}); use --backend sim")
    what = ("Loihi 2 hardware (Loihi2HwCfg)" if backend == "loihi2"
            else "Lava CPU simulation, Loihi2SimCfg(select_tag='fixed_pt')")
    output = info["output"]
    print(f"running {len(y)} samples of {info['model']} on {what}, network from {network}")
    t0 = time.perf_counter()
    rec = (run_netx(info, x_int, backend, args) if network == "netx"
           else run_processes(x_int, output))
    seconds = time.perf_counter() - t0
    result = {"backend": backend, "run_config": what, "network": network,
              "output": {"node": output["node"], "kind": output["kind"]},
              "samples": int(len(y)), "seconds": round(seconds, 3),
              **check(rec, output, expected, y)}
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    agree = result["agree_with_simulator"]
    if is_spiking(output):
        also = (f"spike counts {'equal' if result['spike_counts_equal'] else 'DIFFER'}, "
                f"v {'equal' if result['v_equal'] else 'DIFFERS'} at every step")
    elif is_graded(output):
        also = (f"graded output s {'equal' if result['s_equal'] else 'DIFFERS'} at every step, "
                f"scores within {result['max_relative_score_difference']:.1e} relative")
    else:
        also = f"scores within {result['max_relative_score_difference']:.1e} relative"
    print(f"backend: {what}; accuracy {result['accuracy']:.2%}; predictions equal the "
          f"simulator's on {agree}/{len(y)} samples, {also}; wrote {out}")
    return 0 if result["identical"] else 3


if __name__ == "__main__":
    sys.exit(main())
