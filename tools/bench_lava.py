"""Lava fixed_pt vs the neurodeploy fixed-point simulator on the same quantized MLP.

Prints sample·steps per second of each, their ratio, what running samples side by side in Lava
(lanes, :mod:`neurodeploy.lava.lanes`, the default) saves over one sample after another, and
what one compiled network saves over a fresh network per sample (all measured in one run, same
network and inputs; all produce the same records — checked here too).

    python tools/bench_lava.py [--samples 20] [--T 32] [--hidden 100] [--layers 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def quantized_mlp(n_in: int, hidden: int, layers: int, n_out: int, seed: int = 0):
    """A random hand-quantized MLP: binary inputs, ``layers`` LIF layers, a readout."""
    from neurodeploy.ir import CubaLIF, Dense, Graph, Input, InputQ, NeuronQ, Readout, WeightQ

    rng = np.random.default_rng(seed)
    g = Graph(metadata={"source": "bench"})
    g.add(Input("in", shape=(n_in,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    prev, n_prev = "in", n_in
    for i in range(layers + 1):
        n = hidden if i < layers else n_out
        w = (rng.integers(-110, 128, (n, n_prev)) * 2).astype(np.int32)
        g.add(Dense(f"fc{i}", weight=w.astype(np.float32), quant=WeightQ(weight=w)), prev)
        q = NeuronQ(du=1000, dv=500, vth=int(700 * np.sqrt(n_prev)),
                    bias_mant=rng.integers(-50, 100, (n,)).astype(np.int32), bias_exp=3)
        if i < layers:
            g.add(CubaLIF(f"lif{i}", shape=(n,), quant=q), f"fc{i}")
        else:
            g.add(Readout("out", shape=(n,), quant=q), f"fc{i}")
        prev, n_prev = g.nodes[list(g.nodes)[-1]].name, n
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def lava_fixed_seconds(graph, x: np.ndarray, record: bool | list[str] = False,
                       lanes: int | None = None):
    """Seconds Lava fixed_pt takes on ``x`` [T, B, ...] (one compiled network, samples one after
    another, compile included) and its SimResult; ``(None, reason)`` when Lava cannot be
    imported (the reason is NeurodeployError's message)."""
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.lava import require_lava, simulate_lava

    try:
        require_lava("the Lava column")
    except NeurodeployError as exc:
        return None, str(exc)
    t0 = time.perf_counter()
    res = simulate_lava(graph, x, record=record, lanes=lanes)
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--layers", type=int, default=3)
    args = ap.parse_args()

    from neurodeploy.lava import simulate_lava
    from neurodeploy.sim import simulate

    g = quantized_mlp(args.hidden, args.hidden, args.layers, 10)
    rng = np.random.default_rng(1)
    B, T = args.samples, args.T
    x = (rng.random((T, B, args.hidden)) < 0.2).astype(np.float32)
    work = B * T

    simulate(g, x[:2, :1], mode="fixed")  # warm-up (torch's first call)
    t0 = time.perf_counter()
    sim = simulate(g, x, mode="fixed", record=True)
    t_sim = time.perf_counter() - t0
    t_lava, lava = lava_fixed_seconds(g, x, record=True)
    if t_lava is None:
        raise SystemExit(lava)
    t_seq, seq = lava_fixed_seconds(g, x, record=True, lanes=1)
    same = all(bool((lava.records[n][k] == sim.records[n][k]).all())
               and bool((seq.records[n][k] == sim.records[n][k]).all())
               for n in sim.records for k in sim.records[n])
    t0 = time.perf_counter()
    n_fresh = min(B, 3)
    for b in range(n_fresh):  # a fresh network per sample
        simulate_lava(g, x[:, b:b + 1], record=True, lanes=1)
    t_fresh = (time.perf_counter() - t0) / n_fresh * B

    rows = [("neurodeploy sim (fixed, batched, torch CPU)", t_sim),
            ("Lava fixed_pt, one network, samples side by side (lanes)", t_lava),
            ("Lava fixed_pt, one network, one sample after another", t_seq),
            (f"Lava fixed_pt, fresh network per sample (from {n_fresh})", t_fresh)]
    print(f"MLP {args.hidden}-{'-'.join([str(args.hidden)] * args.layers)}-10, "
          f"{B} samples x T={T}, records of every node; identical records: {same}; firing "
          f"rates {', '.join(f'{k} {v:.2f}' for k, v in sim.firing_rates.items())}")
    print(f"{'backend':58s} {'seconds':>9s} {'sample*steps/s':>15s} {'x slower than sim':>18s}")
    for name, t in rows:
        print(f"{name:58s} {t:9.2f} {work / t:15.1f} {t / t_sim:18.1f}")


if __name__ == "__main__":
    main()
