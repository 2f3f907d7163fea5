"""How much of the CNN row's float-vs-fixed disagreement any weight perturbation would cause.

The Sinabs-style IF CNN of ``tools/bench_import.py`` (same model, same held-out inputs) is run
in float with its weights perturbed, to separate what PTQ loses from what the float model
itself does not keep under tiny changes (IF neurons with a zero reset are chaotic: a spike one
step earlier changes the residual voltage dropped at the reset, and the next layer sees it):

1. relative Gaussian weight noise ``w·(1 + ε·N(0, 1))`` on every synapse, ``--draws`` draws per
   ε (:func:`neurodeploy.quantize.sensitivity.float_sensitivity`, which ``quantize
   --sensitivity`` reports for any model): float's agreement with itself (mean and worst draw) and the share of inputs whose float
   prediction flips in at least one draw ("fragile" inputs);
2. every synapse's weights rounded onto a ``b``-bit mixed-sign grid (``max|W|/2**(b−1)`` steps,
   thresholds exact; float arithmetic): the agreement plain rounding reaches at ``b`` bits;
3. the PTQ graph (``neurodeploy.quantize``, 32 calibration samples as in the bench, with and
   without bias correction): agreement on all inputs, on the inputs that no draw at the
   largest ε of table 1 flips, and on the fragile ones.

    PY=$(bash tools/env.sh); $PY tools/bench_cnn_fragility.py [--n 200] [--draws 4] [--models trained]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_import as bench  # noqa: E402

EPSILONS = (1e-6, 1e-5, 1e-4)
BITS = (8, 10, 12, 14, 16)


def _synapses(g: Any) -> list[Any]:
    from neurodeploy.ir import Conv2d, Dense

    return [node for node in g.nodes.values() if isinstance(node, (Dense, Conv2d))]


def _rounded(g: Any, bits: int) -> Any:
    h = copy.deepcopy(g)
    for node in _synapses(h):
        w = node.weight.astype(np.float64)
        step = np.abs(w).max() / 2 ** (bits - 1)
        node.weight = (np.round(w / step) * step).astype(np.float32)
    return h


def main() -> None:
    from neurodeploy.quantize import quantize
    from neurodeploy.quantize.sensitivity import float_sensitivity
    from neurodeploy.sim import simulate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="held-out inputs (the bench's)")
    ap.add_argument("--draws", type=int, default=4, help="noise draws per ε")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--models", choices=("random", "trained"), default="random",
                    help="the bench's random-weight CNN (default) or its trained one")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g, _, inputs, T, _ = bench._sinabs_cnn(args.models)
    g.metadata["T"] = T
    x = bench._tx(inputs(args.n, 1))
    ref = simulate(g, x).predictions

    print("1. float vs float with relative weight noise ε (neurodeploy.quantize.sensitivity)")
    print("ε | agreement mean | worst draw | inputs flipped in ≥ 1 draw")
    fragile = np.zeros(args.n, bool)
    for i, eps in enumerate(EPSILONS):
        sens = float_sensitivity(g, lambda h: simulate(h, x).predictions, ref, eps,
                                 args.draws, seed=i)
        fragile = sens.fragile
        print(f"{eps:g} | {sens.mean:.1%} | {sens.worst:.1%} | {fragile.mean():.1%}",
              flush=True)

    print("\n2. float vs float with weights rounded to b bits (mixed-sign grid per layer)")
    print("bits | agreement")
    for bits in BITS:
        p = simulate(_rounded(g, bits), x).predictions
        print(f"{bits} | {np.mean(p == ref):.1%}", flush=True)

    print(f"\n3. PTQ float vs fixed; stable/fragile: flipped by no/some draw at ε = "
          f"{EPSILONS[-1]:g} ({(~fragile).sum()}/{fragile.sum()} inputs)")
    print("bias correction | quantize cpu s | all | stable | fragile")
    for bc in (False, True):
        c = time.process_time()
        qg, _ = quantize(g, bench._ds(inputs(bench.N_CALIB, 0), "calib"), bias_correction=bc)
        secs = time.process_time() - c
        ok = simulate(qg, x, mode="fixed").predictions == ref
        print(f"{'yes' if bc else 'no'} | {secs:.1f} | {ok.mean():.1%} | {ok[~fragile].mean():.1%}"
              f" | {ok[fragile].mean():.1%}", flush=True)


if __name__ == "__main__":
    main()
