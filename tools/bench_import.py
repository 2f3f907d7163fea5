"""Models other tools write, through import, PTQ and Lava: one row per case.

Columns: imports; float agreement with the source framework on N random spike inputs
(predictions, and whether every output spike is identical); quantize seconds (32 calibration
samples; wall and CPU, the machine is shared); float-vs-fixed prediction agreement after PTQ on
N held-out inputs; after QAT (not built: no QAT yet); Lava identical on 3 inputs (``--lava``).

    PY=$(bash tools/env.sh); $PY tools/bench_import.py [--n 200] [--lava]

Cases: a Sinabs-style IF CNN written to NIR with ``nir`` (2x34x34 → conv 16 5x5 s2 → conv 16
→ sum-pool 2 → conv 8 → sum-pool 2 → dense 256 → dense 10, T = 100; the source's step is NIR's,
run in plain torch); snnTorch RSynaptic 12-38-7 exported with ``export_to_nir`` (T = 256);
snnTorch Synaptic / RLeaky zero-reset models converted directly (T = 256); lava-dl's bootstrap
MNIST ``.net`` (netx runs fixed point only: its float column is the import's own).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_CALIB = 32


def _spikes(n: int, T: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """``[n, T, *shape]`` Bernoulli spikes, each sample with its own rate map."""
    rng = np.random.default_rng(seed)
    rates = rng.random((n, 1, *shape)) ** 3 * 0.4
    return (rng.random((n, T, *shape)) < rates).astype(np.float32)


def _pred(out: torch.Tensor) -> np.ndarray:
    return out.sum(0).argmax(-1).cpu().numpy()


def _quantize(g: Any, shape: tuple[int, ...], T: int, n: int) -> tuple[str, str, Any]:
    from neurodeploy.data.datasets import Dataset
    from neurodeploy.quantize import quantize
    from neurodeploy.sim import simulate

    g.metadata["T"] = T
    ds = Dataset(_spikes(N_CALIB, T, shape, 0), np.zeros(N_CALIB, np.int64), "calib", "spikes",
                 10, T)
    t, c = time.time(), time.process_time()
    qg, _ = quantize(g, ds)
    secs = f"{time.time() - t:.1f} (cpu {time.process_time() - c:.1f})"
    x = torch.as_tensor(_spikes(n, T, shape, 1)).transpose(0, 1)
    a = simulate(g, x).predictions
    b = simulate(qg, x, mode="fixed").predictions
    return secs, f"{np.mean(a == b):.1%}", qg


def _lava(qg: Any, shape: tuple[int, ...], T: int) -> str:
    from neurodeploy.data.datasets import Dataset
    from neurodeploy.lava.comparison import compare

    ds = Dataset(_spikes(3, T, shape, 2), np.zeros(3, np.int64), "lava", "spikes", 10, T)
    res = compare(qg, ds, samples=3)
    return "yes" if res["identical"] else f"no ({res['first_divergence']})"


def _row(name: str, build: Callable[[], tuple[Any, Callable, tuple[int, ...], int]],
         n: int, lava: bool) -> list[str]:
    from neurodeploy.sim import simulate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g, source, shape, T = build()
    except Exception as exc:  # a row that cannot be built says why
        return [name, f"no: {' '.join(str(exc).split())[:90]}", "", "", "", "", ""]
    x = torch.as_tensor(_spikes(n, T, shape, 1)).transpose(0, 1)
    if source is None:
        agree = "n/a (netx is fixed point only)"
    else:
        ref = source(x)
        out = simulate(g, x).outputs[g.outputs[0]]
        agree = f"{np.mean(_pred(out) == _pred(ref)):.1%}" + (
            ", spikes identical" if torch.equal(out, ref) else ", spikes differ")
    try:
        secs, ptq, qg = _quantize(g, shape, T, n)
        lv = _lava(qg, shape, T) if lava else "not run (--lava)"
    except Exception as exc:
        secs, ptq, lv = f"refused: {' '.join(str(exc).split())[:90]}", "", ""
    return [name, "yes", agree, secs, ptq, "not built (no QAT)", lv]


def _sinabs_cnn() -> tuple[Any, Callable, tuple[int, ...], int]:
    from neurodeploy.converters.nir import from_nir
    from nir_nets import CNN_INPUT, nir_chain_forward, sinabs_if_cnn

    ng = sinabs_if_cnn()
    return from_nir(ng), lambda x: nir_chain_forward(ng, x), CNN_INPUT, 100


def _snn_source(net: Any) -> Callable:
    import snntorch.utils as su

    def run(x: torch.Tensor) -> torch.Tensor:
        su.reset(net)
        with torch.no_grad():
            outs = [net(x[t]) for t in range(x.shape[0])]
        return torch.stack([o[0] if isinstance(o, tuple) else o for o in outs])

    return run


def _snn_net(kind: str) -> Any:
    import snntorch as snn

    torch.manual_seed(0)
    kw = dict(beta=0.9, threshold=0.5, init_hidden=True, reset_mechanism="zero")
    if kind == "rsynaptic":
        hidden = snn.RSynaptic(alpha=0.8, linear_features=38, **kw)
        out = snn.RSynaptic(alpha=0.8, linear_features=7, **kw)
    elif kind == "synaptic":
        hidden = snn.Synaptic(alpha=0.8, reset_delay=False, **kw)
        out = snn.Synaptic(alpha=0.8, reset_delay=False, **kw)
    else:
        hidden = snn.RLeaky(linear_features=38, reset_delay=False, **kw)
        out = snn.RLeaky(linear_features=7, reset_delay=False, **kw)
    return torch.nn.Sequential(torch.nn.Linear(12, 38), hidden, torch.nn.Linear(38, 7),
                               out).eval()


def _rsynaptic_nir() -> tuple[Any, Callable, tuple[int, ...], int]:
    from neurodeploy.converters.nir import from_nir
    from snntorch.export_nir import export_to_nir

    net = _snn_net("rsynaptic")
    g = from_nir(export_to_nir(net, torch.rand(1, 12), ignore_dims=[0]))
    return g, _snn_source(net), (12,), 256


def _snn_direct(kind: str) -> Callable:
    def build() -> tuple[Any, Callable, tuple[int, ...], int]:
        from neurodeploy.converters import convert

        net = _snn_net(kind)
        return convert(net, torch.zeros(1, 12)), _snn_source(net), (12,), 256

    return build


def _bootstrap() -> tuple[Any, None, tuple[int, ...], int]:
    from neurodeploy.converters import convert

    path = ROOT.parent / "shared/data/lava-dl/bootstrap_mnist/network.net"
    g = convert(str(path))
    shape = tuple(g.nodes[g.inputs[0]].shape)
    return g, None, shape, 16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="random spike inputs per case")
    ap.add_argument("--lava", action="store_true", help="compare with Lava on 3 inputs")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cases = [("Sinabs IF CNN (NIR)", _sinabs_cnn),
             ("snnTorch RSynaptic 12-38-7 (export_to_nir)", _rsynaptic_nir),
             ("snnTorch Synaptic zero, reset_delay=False", _snn_direct("synaptic")),
             ("snnTorch RLeaky zero, reset_delay=False", _snn_direct("rleaky")),
             ("lava-dl bootstrap MNIST .net", _bootstrap)]
    head = ["case", "imports", f"float vs source ({args.n})", "quantize s",
            "PTQ float=fixed", "QAT float=fixed", "Lava identical (3)"]
    print(" | ".join(head))
    for name, build in cases:
        if args.only and args.only not in name:
            continue
        print(" | ".join(_row(name, build, args.n, args.lava)), flush=True)


if __name__ == "__main__":
    main()
