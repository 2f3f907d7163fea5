"""Simulator throughput: samples·steps per second, float and fixed mode, beside plain torch and
snnTorch implementations of the same networks and Lava fixed_pt, all measured in one run
(ratios are what count; absolute numbers depend on the machine and its load).

    python tools/bench_sim.py [--batch 256] [--T 32] [--repeat 5] [--device cpu|cuda]
                              [--threads N] [--reference] [--check] [--lava-samples 8] [--json]

Networks: a 64-256-256-10 MLP and a small conv net (1x8x8 → c16 → pool → c16 → 10), CUBA LIF
neurons, quantized on digits (random inputs when scikit-learn's digits cannot be loaded). Every
candidate is timed ``--repeat`` times, the candidates taking turns (round robin, so that a change
in the machine's load reaches them alike), and its best time counts. Columns: ``float`` and
``fixed`` (the simulator's fast engine), ``torch`` (a plain torch loop), ``snntorch``
(snnTorch's ``Synaptic`` neurons, float), with ``--reference`` also the reference engine
(``simulate(engine="reference")``: the simulator before its fast engine), and the ratios to
snnTorch and torch of the same run. ``--check`` asserts that the fast engine's fixed-point
results on ``--device`` equal the reference engine's on the CPU (bit for bit) and that its float
results equal the reference engine's on the same device. ``--json`` prints one JSON object
instead of the table (with the load average where the OS reports it). On the CPU the same
rates and ratios are also given by this process's CPU time (``cpu_time_*``), which other
processes' load disturbs less than the wall clock (threads that wait still count).

The Lava column (CPU only) runs the same quantized graph on the first ``--lava-samples`` inputs
of the same batch (Lava runs one sample after another on the CPU, so its rate per sample·step
does not depend on the batch; compile time included, as a user pays it) and checks that its
outputs equal the fixed-point simulator's; ``fixed/lava`` is how many times faster the
simulator's fixed mode is. Without Lava (another Python than 3.10, or lava-nc missing) or
snnTorch, their columns are skipped with the reason given.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from neurodeploy.data import Dataset, load_dataset
from neurodeploy.errors import NeurodeployError
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


def best_rates(runs: dict[str, Callable[[], object] | None], n: int, repeat: int,
               sync: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Best-of-``repeat`` samples·steps per second of each run, by wall-clock time and by this
    process's CPU time (all its threads; less sensitive to other processes' load); the runs
    take turns (one warm-up each first). None: not available (NaN)."""
    live = {k: f for k, f in runs.items() if f is not None}
    for f in live.values():
        f()
    wall = {k: np.inf for k in live}
    cpu = {k: np.inf for k in live}
    for _ in range(repeat):
        for k, f in live.items():
            if sync:
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            if sync:
                torch.cuda.synchronize()
            wall[k] = min(wall[k], time.perf_counter() - t0)
            cpu[k] = min(cpu[k], time.process_time() - c0)
    nan = float("nan")
    return ({k: n / wall[k] if k in wall else nan for k in runs},
            {k: n / cpu[k] if k in cpu and cpu[k] > 0 else nan for k in runs})


def calibration(image: bool) -> tuple[Dataset, str]:
    """64 calibration samples: digits, or random inputs when digits cannot be loaded."""
    try:
        ds = load_dataset("digits-image" if image else "digits", "train", limit=64)
        return Dataset(ds.x, ds.y, ds.name, "direct", 10), "digits"
    except (ImportError, NeurodeployError):
        shape = (64, 1, 8, 8) if image else (64, 64)
        x = np.random.default_rng(2).random(shape).astype(np.float32)
        return Dataset(x, np.zeros(64, np.int64), "random", "direct", 10), "random"


def ratios(r: dict[str, float], reference: bool) -> dict[str, float]:
    """Each simulator run over snnTorch and torch; with ``reference``, fast over reference."""
    out = {f"{k}/{base}": round(r[k] / r[base], 3) for base in ("snntorch", "torch") for k in r
           if k not in ("snntorch", "torch") and np.isfinite(r[k] / r[base])}
    for mode in ("float", "fixed") if reference else ():
        out[f"{mode}/{mode}_reference"] = round(r[mode] / r[f"{mode}_reference"], 3)
    return out


def check_exact(g: Graph, qg: Graph, x: torch.Tensor, dev: str) -> dict[str, bool]:
    """Fast engine on ``dev`` = reference engine, per mode: fixed mode against the CPU, float
    mode against the same device (outputs and counts)."""
    def same(a, b) -> bool:
        return (all(torch.equal(a.outputs[k].cpu(), b.outputs[k].cpu()) for k in b.outputs)
                and all(np.array_equal(a.counts[k], b.counts[k]) for k in b.counts)
                and a.saturations == b.saturations)

    fixed_ok = same(simulate(qg, x, "fixed", device=dev),
                    simulate(qg, x.cpu(), "fixed", engine="reference"))
    float_ok = same(simulate(g, x, "float", device=dev),
                    simulate(g, x, "float", device=dev, engine="reference"))
    return {"fixed": fixed_ok, "float": float_ok}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (0: torch's default)")
    ap.add_argument("--reference", action="store_true",
                    help="also time the reference engine (the simulator before its fast engine)")
    ap.add_argument("--check", action="store_true",
                    help="assert the fast engine equals the reference engine bit for bit")
    ap.add_argument("--lava-samples", type=int, default=8,
                    help="inputs run in Lava fixed_pt (0: skip the Lava column; CPU only)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dev = args.device
    if dev == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda: CUDA is not available on this machine")
    sync = dev == "cuda"
    rng = np.random.default_rng(0)
    lava_skip = ("skipped (--lava-samples 0)" if args.lava_samples <= 0
                 else "skipped (CPU only)" if dev != "cpu" else "")
    load_before = load_average()
    nets = []
    for name, g, image in (("MLP 64-256-256-10", mlp_graph(rng), False),
                           ("conv SNN 1x8x8 c16-c16-10", conv_graph(rng), True)):
        calib, calib_name = calibration(image)
        qg, _ = quantize(g, calib, T=8, max_calib=64, candidates=(1.0,))
        x = np.random.default_rng(1).random((args.T, args.batch, *g.nodes["in"].shape))
        x = x.astype(np.float32)
        n = args.T * args.batch
        entry: dict = {"network": name, "device": dev, "calibration": calib_name}
        if not lava_skip:
            b = min(args.lava_samples, args.batch)
            t_lava, res = lava_fixed_seconds(qg, x[:, :b])
            if t_lava is None:
                lava_skip = f"skipped: {res}"
            else:
                ref = simulate(qg, x[:, :b], "fixed")
                entry["lava"] = {"rate": args.T * b / t_lava, "samples": b, "seconds": t_lava,
                                 "identical_to_fixed": all(
                                     bool((res.outputs[o] == ref.outputs[o]).all())
                                     for o in qg.outputs)}
        xt = torch.as_tensor(x, device=dev)
        plain, snt = torch_model(g, dev), snntorch_model(g, dev)
        runs: dict[str, Callable[[], object] | None] = {
            "float": partial(simulate, g, xt, "float", device=dev),
            "fixed": partial(simulate, qg, xt, "fixed", device=dev),
            "torch": partial(plain, xt),
            "snntorch": partial(snt, xt) if snt else None,
        }
        if args.reference:
            runs["float_reference"] = partial(simulate, g, xt, "float", device=dev,
                                              engine="reference")
            runs["fixed_reference"] = partial(simulate, qg, xt, "fixed", device=dev,
                                              engine="reference")
        r, r_cpu = best_rates(runs, n, args.repeat, sync)
        entry["rates"] = {k: round(v, 1) for k, v in r.items() if np.isfinite(v)}
        entry["ratios"] = ratios(r, args.reference)
        if dev == "cpu":  # CPU time means nothing for a GPU's asynchronous work
            entry["cpu_time_rates"] = {k: round(v, 1) for k, v in r_cpu.items()
                                       if np.isfinite(v)}
            entry["cpu_time_ratios"] = ratios(r_cpu, args.reference)
        if "lava" in entry:
            entry["ratios"]["fixed/lava"] = round(r["fixed"] / entry["lava"]["rate"], 1)
        if args.check:
            entry["exact"] = check_exact(g, qg, xt, dev)
        nets.append(entry)
    out = {"batch": args.batch, "T": args.T, "repeat": args.repeat, "device": dev,
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "load_average": {"before": load_before, "after": load_average()},
           "unit": "samples*steps/s (best of repeat)",
           "snntorch": "measured" if importlib.util.find_spec("snntorch") else
           "skipped: snntorch is not installed",
           "lava": lava_skip or "measured", "networks": nets}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)
    if args.check and not all(all(e["exact"].values()) for e in nets):
        raise SystemExit("error: the fast engine differs from the reference engine")


def print_table(out: dict) -> None:
    cols = ["float", "fixed", "torch", "snntorch", "float_reference", "fixed_reference"]
    cols = [c for c in cols if any(c in e["rates"] for e in out["networks"])]
    ratios = [k for k in ("float/snntorch", "fixed/snntorch", "float/torch", "fixed/torch",
                          "float/float_reference", "fixed/fixed_reference", "fixed/lava")
              if any(k in e["ratios"] for e in out["networks"])]
    print(f"samples·steps per second (B={out['batch']}, T={out['T']}, best of {out['repeat']}, "
          f"{out['threads']} threads, device {out['device']}, load average "
          f"{out['load_average']['before']} → {out['load_average']['after']})")
    head = f"{'network':28} " + " ".join(f"{c:>15}" for c in cols + ratios)
    print(head)
    print("-" * len(head))
    for e in out["networks"]:
        vals = [f"{e['rates'].get(c, float('nan')):15.0f}" for c in cols]
        vals += [f"{e['ratios'].get(k, float('nan')):15.2f}" for k in ratios]
        print(f"{e['network']:28} " + " ".join(vals))
        if "cpu_time_ratios" in e:
            c = e["cpu_time_ratios"]
            print("  by CPU time: " + ", ".join(f"{k} {c[k]:.2f}" for k in ratios if k in c))
        if "exact" in e:
            print(f"  fast engine = reference engine: {e['exact']}")
        if "lava" in e:
            lv = e["lava"]
            print(f"  lava fixed_pt: {lv['rate']:.1f} samples·steps/s ({lv['samples']} samples, "
                  f"{lv['seconds']:.1f} s, compile included), outputs identical to sim fixed: "
                  f"{lv['identical_to_fixed']}")
    print(f"snnTorch: {out['snntorch']}; Lava: {out['lava']}")


if __name__ == "__main__":
    main()
