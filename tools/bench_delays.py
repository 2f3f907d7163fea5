"""Cost of synaptic delays in the simulator: samples·steps per second of one quantized MLP
(784 → 512 → 256 → 10) without delays and with per-synapse delays 0..D−1 on every Dense, float
and fixed mode, measured in one run (the ratio is what counts).

    python tools/bench_delays.py [--batch 256] [--T 32] [--repeat 3] [--max-delay 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neurodeploy.ir import CubaLIF, Dense, Graph, Input, InputQ, NeuronQ, Readout, WeightQ
from neurodeploy.sim import simulate


def mlp(delays: int, seed: int = 0) -> Graph:
    """A hand-quantized MLP; ``delays`` > 0 gives every synapse a random delay below it."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"source": "bench"})
    g.add(Input("in", shape=(784,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.inputs = ["in"]
    prev, sizes = "in", [784, 512, 256, 10]
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = (rng.integers(-64, 64, (n_out, n_in)) * 2).astype(np.int32)
        d = rng.integers(0, delays, w.shape).astype(np.int32) if delays else None
        g.add(Dense(f"fc{i}", weight=w.astype(np.float32), delay=d,
                    quant=WeightQ(weight=w, weight_exp=-2)), prev)
        q = NeuronQ(du=1024, dv=256, vth=400, scale=1.0)
        last = i == len(sizes) - 2
        neuron = (Readout("out", shape=(n_out,), du=0.25, dv=0.0625, quant=q) if last else
                  CubaLIF(f"lif{i}", shape=(n_out,), du=0.25, dv=0.0625, vth=400.0, quant=q))
        g.add(neuron, f"fc{i}")
        prev = neuron.name
    g.outputs = [prev]
    return g


def rate(g: Graph, x: np.ndarray, mode: str, repeat: int) -> float:
    simulate(g, x[:2, :2], mode=mode)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(g, x, mode=mode)
        best = min(best, time.perf_counter() - t0)
    return x.shape[0] * x.shape[1] / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-delay", type=int, default=8)
    a = ap.parse_args()
    x = (np.random.default_rng(1).random((a.T, a.batch, 784)) < 0.1).astype(np.float32)
    plain, delayed = mlp(0), mlp(a.max_delay)
    print(f"{'mode':<6} {'no delay':>14} {'delays 0..' + str(a.max_delay - 1):>14} {'ratio':>7}")
    for mode in ("float", "fixed"):
        r0, r1 = rate(plain, x, mode, a.repeat), rate(delayed, x, mode, a.repeat)
        print(f"{mode:<6} {r0:>14,.0f} {r1:>14,.0f} {r1 / r0:>7.2f}")
    print("(samples·steps per second; batch", a.batch, "T", a.T, ")")


if __name__ == "__main__":
    main()
