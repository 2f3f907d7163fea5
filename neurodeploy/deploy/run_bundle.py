#!/usr/bin/env python3
"""Run this neurodeploy bundle in Lava and check it against the simulator's predictions.

Copied into every bundle as ``run.py``. Backends (``--backend``):

- ``loihi2``: Intel's Loihi 2 through ``Loihi2HwCfg``; needs Intel's closed ``lava-loihi``
  extension (INRC systems) and a ``model.net`` in the bundle. Inputs enter through
  ``embedded_io`` adapters and the readout's voltage is read with lava-loihi's ``StateProbe``,
  as Intel's Loihi 2 netx tutorials do. neurodeploy's authors had no Loihi 2 access: this branch
  follows the tutorials and has not been run on a chip.
- ``sim``: Lava's bit-accurate CPU simulation, ``Loihi2SimCfg(select_tag="fixed_pt")``.
- ``auto`` (default): ``loihi2`` when ``lava.utils.loihi.is_installed()`` says lava-loihi is
  there, else ``sim``.

The network comes from ``model.net`` (lava-dl netx, with the exact integers of layers netx's
loader would round applied by :func:`apply_exact_integers`) when the bundle has one; a model
netx cannot express (pooling, residual adds, recurrence) comes as ``model.q.ndg``, which
neurodeploy builds into lava-nc processes (``neurodeploy.lava``, simulation only).

The script prints the backend it ran on, writes ``--output`` (JSON: backend, predictions,
accuracy, agreement with ``expected.json``) and exits 0 when every prediction equals the
simulator's and every decoded score agrees within 1e-6 relative, 3 otherwise, 1 on an error.
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
        shape = tuple(block.neuron.bias_mant.shape)
        block.neuron.bias_mant.init = np.broadcast_to(
            np.asarray(patch["bias_mant"], np.int64), shape).copy()
        block.neuron.bias_exp.init = np.full(shape, int(patch["bias_exp"]), np.int64)


def run_netx(info: dict, x_int: np.ndarray, backend: str, args: argparse.Namespace) -> np.ndarray:
    """Run ``model.net`` on ``x_int`` ``[N, T, *shape]``; the readout's v ``[N, T, n]``.

    netx layer ``i`` sees step ``t`` at Lava step ``t + i + 1``; every sample gets
    ``T + depth`` steps and netx resets its neurons at the start of each (``reset_offset=1``).
    An input block with a neuron (netx leaves its InPort unconnected) takes the data into the
    neuron's ``a_in``, in step ``t + 1``.
    """
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.source import RingBuffer

    N, T = x_int.shape[:2]
    depth = int(info["netx_depth"])
    n = T + depth
    net = Network(net_config=str(HERE / "model.net"),
                  input_message_bits=int(info["input_message_bits"]),
                  reset_interval=n, reset_offset=1)
    apply_exact_integers(net, HERE / "model.net")
    in_neuron = type(net.layers[0]).__name__ == "Input"
    target = net.in_layer.neuron.a_in if in_neuron else net.inp
    start = int(in_neuron)
    data = np.zeros(tuple(x_int.shape[2:][::-1]) + (N * n,), np.int64)  # netx takes (W, H, C)
    for b in range(N):
        data[..., b * n + start:b * n + start + T] = x_int[b].T
    src = RingBuffer(data=data)
    v_var = net.layers[-1].neuron.v
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
        probe = StateProbe(v_var)
        try:
            net.run(condition=RunSteps(num_steps=N * n), run_cfg=Loihi2HwCfg(callback_fxs=[probe]))
        finally:
            net.stop()
        v = np.asarray(probe.time_series).reshape(-1, N * n).T
    else:
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.monitor.process import Monitor

        src.s_out.connect(target)
        mon = Monitor()
        mon.probe(v_var, N * n)
        try:
            net.run(condition=RunSteps(num_steps=N * n),
                    run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            v = np.asarray(mon.get_data()[v_var.process.name][v_var.name])
        finally:
            net.stop()
    v = v.reshape(N, n, -1)
    return v[:, depth:depth + T]


def run_processes(x_int: np.ndarray) -> np.ndarray:
    """Run ``model.q.ndg`` as neurodeploy's lava-nc process network (CPU simulation)."""
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
    v = res.records[graph.outputs[0]]["v"].numpy()  # [T, N, n]
    return np.swapaxes(v.reshape(v.shape[0], v.shape[1], -1), 0, 1)


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
    print(f"running {len(y)} samples of {info['model']} on {what}, network from {network}")
    t0 = time.perf_counter()
    v = run_netx(info, x_int, backend, args) if network == "netx" else run_processes(x_int)
    seconds = time.perf_counter() - t0
    scores = decode(v, info["readout"])
    pred = scores.argmax(1)
    want = np.asarray(expected["predictions"][:len(y)])
    agree = int((pred == want).sum())
    # scores are integers times the readout's scale: float32 (simulator) vs float64 rounding
    ref = np.asarray(expected["scores"][:len(y)], np.float64)
    score_err = float(np.max(np.abs(scores - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
    result = {"backend": backend, "run_config": what, "network": network,
              "samples": int(len(y)), "seconds": round(seconds, 3),
              "predictions": pred.tolist(), "scores": scores.tolist(),
              "accuracy": float((pred == y).mean()),
              "simulator_accuracy": float((want == y).mean()),
              "agree_with_simulator": agree, "max_relative_score_difference": score_err,
              "identical": agree == len(y) and score_err <= 1e-6}
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"backend: {what}; accuracy {result['accuracy']:.2%}; predictions equal the "
          f"simulator's on {agree}/{len(y)} samples, scores within {score_err:.1e} relative; "
          f"wrote {out}")
    return 0 if result["identical"] else 3


if __name__ == "__main__":
    sys.exit(main())
