"""Models other tools write, through import, PTQ and Lava: one row per case.

Columns: imports; float agreement with the source framework on N held-out spike inputs
(predictions, and whether every output spike is identical); quantize seconds (32 calibration
samples: wall, CPU seconds of this process — ``time.process_time`` — and the load average, the
machine is shared); float-vs-fixed prediction agreement after PTQ on the same N inputs (with
the number of inputs whose float output ties between its top two classes, and the agreement on
the rest); the same after QAT (``neurodeploy.qat.finetune`` towards the float model's
predictions, trained on ``--qat-train`` other inputs — first the weights re-rounded for the
float model's activity on them, then the epochs — the best start and epoch on 128 more kept,
PTQ included) and its CPU seconds; Lava (``Loihi2SimCfg`` fixed point) identical to the
simulator, every layer and step, on 3 inputs for the graph handed back (after QAT). Training
progress goes to stderr; for a trained model the float-vs-source column also gives the source
framework's own accuracy on the held-out inputs.

    PY=$(bash tools/env.sh); $PY tools/bench_import.py [--n 200] [--no-lava] [--epochs 8]

Models (``--models``): ``trained`` (default) are the NIR paper's architectures trained here on
generated data of their tasks' shapes (``tools/import_models.py``: the CNN on N-MNIST-like
saccade events of scikit-learn's digits, 10 classes; the snnTorch models on a Braille-like
12-channel, 7-class spike task), and every column but the bootstrap row's is measured on
held-out inputs of that task; ``random`` are the earlier random-weight stand-ins on random
spike inputs, whose predictions weight noise far below 8-bit rounding already moves
(``tools/bench_cnn_fragility.py``). Random weights are made meaningful (layers active,
predictions spread over the classes, few ties) rather than saturated: the snnTorch models have
no biases, input and output weights x2 and recurrent weights x0.3 of torch's default init; the
CNN's conv 2, conv 3 and both dense-256 layer have zero-mean kernels per output channel (uniform
activity cancels), gains x4, x1.5, x3; its inputs are blob-structured spike maps of 10 classes
(5x5 rate maps, a class prototype mixed with the sample's own, upsampled to 34x34, 2
polarities) instead of independent pixels, whose conv features all look alike; and its last
layer is trained (least squares from the dense-256 layer's float spike rates on 200 other
inputs to the class).

Cases: a Sinabs-style IF CNN written to NIR with ``nir`` (2x34x34 → conv 16 5x5 s2 → conv 16
→ sum-pool 2 → conv 8 → sum-pool 2 → dense 256 → dense 10, T = 100; the source's step is NIR's,
run in plain torch); snnTorch RSynaptic 12-38-7 exported with ``export_to_nir`` (T = 256),
read with NIR's convention (reset at the spike) and with snnTorch's (``from_nir(...,
convention="snntorch")``: the delayed zero reset, a one-step refractory period, which is how
the trained model runs);
snnTorch Synaptic / RLeaky zero-reset models converted directly (T = 256); lava-dl's bootstrap
MNIST ``.net`` (netx runs fixed point only: its float column is the import's own), fed
scikit-learn's digits upsampled to MNIST's 28x28 frame as pixel values 0-255.
"""

from __future__ import annotations

import argparse
import os
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
Inputs = Callable[[int, int], np.ndarray]  # (n, seed) → [n, T, *shape] spikes
Labels = Callable[[int, int], np.ndarray] | None  # (n, seed) → the same inputs' classes [n]
#: a row's model: graph, source forward (None: fixed point only), inputs, T, labels
Case = tuple[Any, Callable | None, Inputs, int, Labels]


def _spikes(n: int, T: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """``[n, T, *shape]`` Bernoulli spikes, each sample with its own rate map."""
    rng = np.random.default_rng(seed)
    rates = rng.random((n, 1, *shape)) ** 3 * 0.4
    return (rng.random((n, T, *shape)) < rates).astype(np.float32)


def _blobs(n: int, T: int, seed: int) -> np.ndarray:
    """``[n, T, 2, 34, 34]`` spikes of 10 classes (sample i: class i mod 10): each rate map is
    the class's 5x5 random map (fixed) mixed 60/40 with the sample's own, upsampled (blobs)."""
    proto = np.random.default_rng(1234).random((10, 2, 5, 5))
    rng = np.random.default_rng(seed)
    coarse = 0.6 * proto[np.arange(n) % 10] + 0.4 * rng.random((n, 2, 5, 5))
    rates = np.repeat(np.repeat(coarse[:, None], 7, -1), 7, -2)[..., :34, :34] ** 2 * 0.4
    return (rng.random((n, T, 2, 34, 34)) < rates).astype(np.float32)


def _pred(out: torch.Tensor) -> np.ndarray:
    return out.sum(0).argmax(-1).cpu().numpy()


def _tx(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x).transpose(0, 1)


def _ds(x: np.ndarray, name: str) -> Any:
    from neurodeploy.data.datasets import Dataset

    return Dataset(x, np.zeros(len(x), np.int64), name, "spikes", 10, int(x.shape[1]))


def _agree(g: Any, qg: Any, x: torch.Tensor) -> str:
    """Float-vs-fixed prediction agreement; then, where the float output's top two classes
    are exactly equal (a tie that argmax breaks by class order, so any change may move it), how
    many inputs that is and the agreement on the others."""
    from neurodeploy.sim import simulate

    ref = simulate(g, x)
    same = ref.predictions == simulate(qg, x, mode="fixed").predictions
    top2 = torch.topk(ref.decoded.to(torch.float64), 2, dim=1).values.cpu().numpy()
    tie = top2[:, 0] == top2[:, 1]
    if not tie.any():
        return f"{np.mean(same):.1%}"
    rest = f", {np.mean(same[~tie]):.1%} on the others" if (~tie).any() else ""
    return f"{np.mean(same):.1%} ({int(tie.sum())} float ties{rest})"


def _quantize(g: Any, inputs: Inputs, T: int) -> tuple[str, Any]:
    from neurodeploy.quantize import quantize

    g.metadata["T"] = T
    t, c = time.time(), time.process_time()
    qg, _ = quantize(g, _ds(inputs(N_CALIB, 0), "calib"))
    secs = (f"{time.time() - t:.1f} / {time.process_time() - c:.1f} "
            f"(load {os.getloadavg()[0]:.1f})")
    return secs, qg


def _qat(g: Any, qg: Any, inputs: Inputs, n_train: int, epochs: int) -> tuple[str, Any]:
    from neurodeploy.qat import finetune

    c = time.process_time()
    q2, rep = finetune(g, _ds(inputs(n_train, 5), "qat"), qg, epochs=epochs,
                       val=_ds(inputs(128, 6), "val"))
    start = "" if rep.start == "ptq" else f"→{rep.score[0]:.1%} re-rounded"
    return (f"cpu {time.process_time() - c:.0f} s, epoch {rep.best_epoch}/{epochs}, val "
            f"{rep.ptq_score:.1%}{start}→{rep.score[rep.best_epoch]:.1%}"), q2


def _lava(qg: Any, inputs: Inputs) -> str:
    from neurodeploy.lava.comparison import compare

    res = compare(qg, _ds(inputs(3, 2), "lava"), samples=3)
    return "yes" if res["identical"] else f"no ({res['first_divergence']})"


def _row(name: str, build: Callable[[], Case], args: argparse.Namespace) -> list[str]:
    from neurodeploy.sim import simulate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g, source, inputs, T, labels = build()
    except Exception as exc:  # a row that cannot be built says why
        return [name, f"no: {' '.join(str(exc).split())[:90]}", "", "", "", "", "", ""]
    x = _tx(inputs(args.n, 1))
    if source is None:  # netx: the file's own integers are the import's quant
        own = np.mean(simulate(g, x).predictions == simulate(g, x, mode="fixed").predictions)
        agree = f"n/a (fixed point only; the file's own integers = float on {own:.1%})"
    else:
        ref = source(x)
        out = simulate(g, x).outputs[g.outputs[0]]
        agree = f"{np.mean(_pred(out) == _pred(ref)):.1%}" + (
            ", spikes identical" if torch.equal(out, ref) else ", spikes differ")
        if labels is not None:  # a trained model: the source's own held-out accuracy
            agree += f" (source accuracy {np.mean(_pred(ref) == labels(args.n, 1)):.1%})"
    try:
        secs, qg = _quantize(g, inputs, T)
        ptq = _agree(g, qg, x)
    except Exception as exc:
        return [name, "yes", agree, f"refused: {' '.join(str(exc).split())[:90]}", "", "", "",
                ""]
    qat, qat_secs, final = ("not run (--epochs 0)" if source is not None
                            else "not run (fixed point only)"), "", qg
    if args.epochs > 0 and source is not None:
        try:
            qat_secs, final = _qat(g, qg, inputs, args.qat_train, args.epochs)
            qat = _agree(g, final, x)
        except Exception as exc:
            qat = f"refused: {' '.join(str(exc).split())[:90]}"
    lv = _lava(final, inputs) if args.lava else "not run (--no-lava)"
    return [name, "yes", agree, secs, ptq, qat, qat_secs, lv]


def _sinabs_cnn(models: str = "random", epochs: int = 12) -> Case:
    from neurodeploy.converters.nir import from_nir
    from nir_nets import nir_chain_forward, sinabs_if_cnn

    from neurodeploy.sim import simulate

    if models == "trained":
        import import_models

        ng = import_models.train_if_cnn(epochs, log=_log("CNN"))
        return (from_nir(ng), lambda x: nir_chain_forward(ng, x),
                lambda n, seed: import_models.digit_events(n, seed)[0], 100,
                lambda n, seed: import_models.digit_images(n, seed)[1])
    ng = sinabs_if_cnn()
    for key, gain in (("2", 4.0), ("5", 1.5), ("9", 3.0)):
        w = ng.nodes[key].weight
        w = w - w.reshape(w.shape[0], -1).mean(1).reshape(-1, *([1] * (w.ndim - 1)))
        ng.nodes[key].weight = (w * gain).astype(np.float32)
    # the readout trained: least squares from the dense-256 layer's float spike rates on 200
    # samples (other inputs than the bench's) to +0.5 for the class, -0.2 for the others
    x = _blobs(200, 100, 7)
    rates = simulate(from_nir(ng), _tx(x), record=["10"]).records["10"]["s"].mean(0).numpy()
    target = np.full((200, 10), -0.2)
    target[np.arange(200), np.arange(200) % 10] = 0.5
    feats = np.concatenate([rates, np.ones((200, 1))], 1)
    sol = np.linalg.solve(feats.T @ feats + 1e-2 * np.eye(feats.shape[1]), feats.T @ target)
    ng.nodes["11"].weight = sol[:-1].T.astype(np.float32)
    return (from_nir(ng), lambda x: nir_chain_forward(ng, x),
            lambda n, seed: _blobs(n, 100, seed), 100, None)


def _log(name: str) -> Callable[[str], None]:
    t0 = time.time()
    return lambda msg: print(f"  [training {name}] {msg} ({time.time() - t0:.0f} s)",
                             file=sys.stderr, flush=True)


def _random_snn(kind: str) -> Any:
    """The random-weight stand-in (module docstring): snnTorch's default init, input and
    output weights x2, recurrent x0.3, no biases."""
    import import_models

    torch.manual_seed(0)
    net = import_models.snn_net(kind).eval()
    hidden, out = net[1], net[3]
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.Linear):
                mod.weight *= 0.3 if mod in (getattr(hidden, "recurrent", None),
                                             getattr(out, "recurrent", None)) else 2.0
    return net


SnnCase = tuple[Any, Callable, Inputs, Labels]


def _snn_case(kind: str, models: str, epochs: int) -> SnnCase:
    """The snnTorch net of ``kind``, its source forward, its inputs and their labels."""
    import import_models

    labels: Labels = None
    if models == "trained":
        net = import_models.train_snntorch(kind, epochs, log=_log(kind))
        inputs: Inputs = lambda n, seed: import_models.braille_like(n, seed)[0]  # noqa: E731
        labels = lambda n, seed: import_models.braille_like(n, seed)[1]  # noqa: E731
    else:
        net, inputs = _random_snn(kind), _snn_inputs

    def source(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return import_models.snn_forward(net, x)

    return net, source, inputs, labels


def _snn_inputs(n: int, seed: int) -> np.ndarray:
    return _spikes(n, 256, (12,), seed)


def _rsynaptic_nir(case: Callable[[], SnnCase], convention: str) -> Callable[[], Case]:
    def build() -> Case:
        from neurodeploy.converters.nir import from_nir
        from snntorch.export_nir import export_to_nir

        net, source, inputs, labels = case()
        g = from_nir(export_to_nir(net, torch.rand(1, 12), ignore_dims=[0]),
                     convention=convention)
        return g, source, inputs, 256, labels

    return build


def _snn_direct(kind: str, models: str, epochs: int) -> Callable[[], Case]:
    def build() -> Case:
        from neurodeploy.converters import convert

        net, source, inputs, labels = _snn_case(kind, models, epochs)
        return convert(net, torch.zeros(1, 12)), source, inputs, 256, labels

    return build


def _digit_frames(n: int, seed: int) -> np.ndarray:
    """``[n, 16, 784]``: scikit-learn's digits in MNIST's 28x28 frame
    (``import_models.digit_images``: seed 1 draws from the held-out third), as pixel values
    0-255 held for 16 steps — what bootstrap MNIST was trained on (its input block's transform
    is in those units; 0/1 spikes leave it silent)."""
    import import_models

    img = import_models.digit_images(n, seed)[0]
    return np.repeat(img.reshape(n, 1, 784) * 255.0, 16, axis=1)


def _bootstrap() -> Case:
    from neurodeploy.converters import convert

    path = ROOT.parent / "shared/data/lava-dl/bootstrap_mnist/network.net"
    return convert(str(path)), None, _digit_frames, 16, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="held-out inputs per case")
    ap.add_argument("--no-lava", dest="lava", action="store_false",
                    help="skip the comparison with Lava on 3 inputs")
    ap.add_argument("--epochs", type=int, default=8, help="QAT epochs (0: no QAT)")
    ap.add_argument("--qat-train", type=int, default=128, help="QAT training inputs per case")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--models", choices=("trained", "random"), default="trained",
                    help="trained here on generated task data (default), or random weights")
    ap.add_argument("--train-epochs", type=int, default=0,
                    help="training epochs of the trained models (0: 12 for the CNN, 6 for "
                         "the snnTorch models)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = args.models
    cnn_epochs, snn_epochs = (args.train_epochs or 12), (args.train_epochs or 6)
    rsyn: list[SnnCase] = []

    def rsynaptic() -> SnnCase:  # one net for both of its rows
        if not rsyn:
            rsyn.append(_snn_case("rsynaptic", m, snn_epochs))
        return rsyn[0]

    cases = [("snnTorch RSynaptic 12-38-7 (export_to_nir)", _rsynaptic_nir(rsynaptic, "nir")),
             ("snnTorch RSynaptic 12-38-7 (export_to_nir, snntorch convention)",
              _rsynaptic_nir(rsynaptic, "snntorch")),
             ("snnTorch Synaptic zero, reset_delay=False", _snn_direct("synaptic", m,
                                                                       snn_epochs)),
             ("snnTorch RLeaky zero, reset_delay=False", _snn_direct("rleaky", m, snn_epochs)),
             ("lava-dl bootstrap MNIST .net", _bootstrap),
             ("Sinabs IF CNN (NIR)", lambda: _sinabs_cnn(m, cnn_epochs))]
    head = ["case", "imports", f"float vs source ({args.n})", "quantize s: wall / cpu",
            f"PTQ float=fixed ({args.n})", f"QAT float=fixed ({args.n})", "QAT",
            "Lava identical (3)"]
    print(" | ".join(head))
    for name, build in cases:
        if args.only and args.only not in name:
            continue
        print(" | ".join(_row(name, build, args)), flush=True)


if __name__ == "__main__":
    main()
