"""Simulator throughput: samples·steps per second, float and fixed mode, beside plain torch and
snnTorch implementations of the same networks and Lava fixed_pt, all measured in one run
(ratios are what count; absolute numbers depend on the machine and its load).

    python tools/bench_sim.py [--batch 256] [--T 32] [--repeat 3] [--lava-samples 8]

A GPU row is added when ``torch.cuda.is_available()``. The Lava column runs the same quantized
graph on the first ``--lava-samples`` inputs of the same batch (Lava runs one sample after
another on the CPU, so its rate per sample·step does not depend on the batch; compile time
included, as a user pays it) and checks that its outputs equal the fixed-point simulator's;
``fixed/lava`` is how many times faster the simulator's fixed mode is. Without Lava (another
Python than 3.10, or lava-nc missing) the column is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from neurodeploy.data import Dataset, load_dataset
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Readout, SumPool2d
from neurodeploy.quantize import quantize
from neurodeploy.sim import simulate

try:  # tools/ is on sys.path when this file runs as a script
    from bench_lava import lava_fixed_seconds
except ImportError:  # imported as tools.bench_sim
    from tools.bench_lava import lava_fixed_seconds

DU, DV, VTH = 0.5, 0.1, 1.0


def mlp_graph(rng: np.random.Generator, hidden: int = 256) -> Graph:
    g = Graph(metadata={"T": 32})
    g.add(Input("in", shape=(64,)))
    g.add(Dense("fc1", weight=rng.normal(0, 0.4, (hidden, 64)).astype(np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(hidden,), du=DU, dv=DV, vth=VTH), "fc1")
    g.add(Dense("fc2", weight=rng.normal(0, 0.1, (hidden, hidden)).astype(np.float32)), "lif1")
    g.add(CubaLIF("lif2", shape=(hidden,), du=DU, dv=DV, vth=VTH), "fc2")
    g.add(Dense("fc3", weight=rng.normal(0, 0.1, (10, hidden)).astype(np.float32)), "lif2")
    g.add(Readout("out", shape=(10,)), "fc3")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def conv_graph(rng: np.random.Generator, ch: int = 16) -> Graph:
    g = Graph(metadata={"T": 32})
    g.add(Input("in", shape=(1, 8, 8)))
    g.add(Conv2d("conv1", weight=rng.normal(0, 0.5, (ch, 1, 3, 3)).astype(np.float32),
                 padding=(1, 1)), "in")
    g.add(CubaLIF("lif1", shape=(ch, 8, 8), du=DU, dv=DV, vth=VTH), "conv1")
    g.add(SumPool2d("pool", kernel=(2, 2), stride=(2, 2)), "lif1")
    g.add(Conv2d("conv2", weight=rng.normal(0, 0.15, (ch, ch, 3, 3)).astype(np.float32),
                 padding=(1, 1)), "pool")
    g.add(CubaLIF("lif2", shape=(ch, 4, 4), du=DU, dv=DV, vth=VTH), "conv2")
    g.add(Flatten("flat"), "lif2")
    g.add(Dense("fc", weight=rng.normal(0, 0.1, (10, ch * 16)).astype(np.float32)), "flat")
    g.add(Readout("out", shape=(10,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def torch_model(g: Graph, device: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The same network as a plain torch loop (nn.Linear / F.conv2d, LIF inline)."""
    layers = []
    for node in g:
        if isinstance(node, Dense):
            layers.append(("dense", torch.as_tensor(node.weight, device=device)))
        elif isinstance(node, Conv2d):
            layers.append(("conv", torch.as_tensor(node.weight, device=device)))
        elif isinstance(node, SumPool2d):
            layers.append(("pool", None))
        elif isinstance(node, Flatten):
            layers.append(("flat", None))
        elif isinstance(node, CubaLIF):
            layers.append(("lif", None))
        elif isinstance(node, Readout):
            layers.append(("readout", None))

    @torch.no_grad()
    def run(x: torch.Tensor) -> torch.Tensor:
        state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        acc = 0
        for t in range(x.shape[0]):
            h = x[t]
            for i, (kind, w) in enumerate(layers):
                if kind == "dense":
                    h = h @ w.t()
                elif kind == "conv":
                    h = torch.nn.functional.conv2d(h, w, padding=1)
                elif kind == "pool":
                    h = torch.nn.functional.avg_pool2d(h, 2) * 4
                elif kind == "flat":
                    h = h.flatten(1)
                else:
                    u, v = state.get(i, (torch.zeros_like(h), torch.zeros_like(h)))
                    u = u * (1 - DU) + h
                    v = v * (1 - DV) + u
                    if kind == "lif":
                        s = (v > VTH).float()
                        v = v * (1 - s)
                        h = s
                    else:
                        h = v
                    state[i] = (u, v)
            acc = acc + h
        return acc

    return run


def snntorch_model(g: Graph, device: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The same network with snnTorch ``Synaptic`` neurons (alpha = 1 − du, beta = 1 − dv)."""
    try:
        import snntorch as snn
    except ImportError:
        return None
    mods: list[tuple[str, torch.nn.Module | None]] = []
    for node in g:
        if isinstance(node, Dense):
            lin = torch.nn.Linear(*node.weight.shape[::-1], bias=False).to(device)
            lin.weight.data = torch.as_tensor(node.weight, device=device)
            mods.append(("syn", lin))
        elif isinstance(node, Conv2d):
            conv = torch.nn.Conv2d(node.weight.shape[1], node.weight.shape[0], 3, padding=1,
                                   bias=False).to(device)
            conv.weight.data = torch.as_tensor(node.weight, device=device)
            mods.append(("syn", conv))
        elif isinstance(node, SumPool2d):
            mods.append(("pool", None))
        elif isinstance(node, Flatten):
            mods.append(("flat", None))
        elif isinstance(node, (CubaLIF, Readout)):
            thr = VTH if isinstance(node, CubaLIF) else 1e9
            mods.append(("lif" if isinstance(node, CubaLIF) else "readout",
                         snn.Synaptic(alpha=1 - DU, beta=1 - DV, threshold=thr,
                                      reset_mechanism="zero").to(device)))

    @torch.no_grad()
    def run(x: torch.Tensor) -> torch.Tensor:
        states = {i: m.init_synaptic() for i, (k, m) in enumerate(mods) if k in ("lif", "readout")}
        acc = 0
        for t in range(x.shape[0]):
            h = x[t]
            for i, (kind, m) in enumerate(mods):
                if kind == "syn":
                    h = m(h)
                elif kind == "pool":
                    h = torch.nn.functional.avg_pool2d(h, 2) * 4
                elif kind == "flat":
                    h = h.flatten(1)
                else:
                    syn, mem = states[i]
                    spk, syn, mem = m(h, syn, mem)
                    states[i] = (syn, mem)
                    h = spk if kind == "lif" else mem
            acc = acc + h
        return acc

    return run


def rate(fn: Callable[[], object], n: int, repeat: int, sync: bool) -> float:
    """Best-of-``repeat`` samples·steps per second of ``fn``."""
    fn()  # warm-up
    best = np.inf
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lava-samples", type=int, default=8,
                    help="inputs run in Lava fixed_pt (0: skip the Lava column)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    lava_skip = "skipped (--lava-samples 0)" if args.lava_samples <= 0 else ""
    lava_notes: list[str] = []
    for name, g, image in (("MLP 64-256-256-10", mlp_graph(rng), False),
                           ("conv SNN 1x8x8 c16-c16-10", conv_graph(rng), True)):
        calib = load_dataset("digits-image" if image else "digits", "train", limit=64)
        calib = Dataset(calib.x, calib.y, calib.name, "direct", 10)
        qg, _ = quantize(g, calib, T=8, max_calib=64, candidates=(1.0,))
        x = np.random.default_rng(1).random((args.T, args.batch, *g.nodes["in"].shape))
        x = x.astype(np.float32)
        n = args.T * args.batch
        lava_rate = float("nan")
        if not lava_skip:
            b = min(args.lava_samples, args.batch)
            t_lava, res = lava_fixed_seconds(qg, x[:, :b])
            if t_lava is None:
                lava_skip = f"skipped: {res}"
            else:
                lava_rate = args.T * b / t_lava
                ref = simulate(qg, x[:, :b], "fixed")
                same = all(bool((res.outputs[o] == ref.outputs[o]).all()) for o in qg.outputs)
                lava_notes.append(f"{name}: {b} samples, {t_lava:.1f} s, outputs identical to "
                                  f"sim fixed: {same}")
        for dev in devices:
            xt = torch.as_tensor(x, device=dev)
            sync = dev == "cuda"
            plain, snt = torch_model(g, dev), snntorch_model(g, dev)
            runs = {
                "float": partial(simulate, g, xt, "float", device=dev),
                "fixed": partial(simulate, qg, xt, "fixed", device=dev),
                "torch": partial(plain, xt),
                "snntorch": partial(snt, xt) if snt else None,
            }
            r = {k: rate(f, n, args.repeat, sync) if f else float("nan")
                 for k, f in runs.items()}
            r["lava"] = lava_rate
            rows.append((name, dev, r))
    head = (f"{'network':28} {'dev':4} {'sim float':>11} {'sim fixed':>11} {'torch':>11} "
            f"{'snntorch':>11} {'float/torch':>11} {'fixed/torch':>11} {'float/snnt':>10} "
            f"{'lava fixed':>10} {'fixed/lava':>10}")
    print(f"samples·steps per second (B={args.batch}, T={args.T}, best of {args.repeat}, "
          f"{torch.get_num_threads()} threads)")
    print(head)
    print("-" * len(head))
    for name, dev, r in rows:
        print(f"{name:28} {dev:4} {r['float']:11.0f} {r['fixed']:11.0f} {r['torch']:11.0f} "
              f"{r['snntorch']:11.0f} {r['float'] / r['torch']:11.2f} "
              f"{r['fixed'] / r['torch']:11.2f} {r['float'] / r['snntorch']:10.2f} "
              f"{r['lava']:10.1f} {r['fixed'] / r['lava']:10.0f}")
    if lava_skip:
        print(f"lava column {lava_skip}")
    else:
        print("lava column: Lava fixed_pt (Loihi2SimCfg, CPU, one compiled network, compile "
              "included) on the first inputs of the same batch; " + "; ".join(lava_notes))
    if not torch.cuda.is_available():
        print("(no GPU on this machine: GPU column omitted)")


if __name__ == "__main__":
    main()
