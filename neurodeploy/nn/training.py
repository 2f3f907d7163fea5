"""Training loop for the reference tasks with the seed methods.

:func:`train` builds a model for a task (``digits``, ``digits-image``, ``randman`` or a ``.npz``
path), trains it with one of :data:`METHODS` (plus TWO, activity and Lipschitz regularisation,
binary weights) and returns the trained model with the checkpoint metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from neurodeploy.errors import NeurodeployError
from neurodeploy.nn import online
from neurodeploy.nn import two as two_mod
from neurodeploy.nn.functional import SpikeConfig
from neurodeploy.nn.layers import ALPHA_MODES
from neurodeploy.nn.model import SNN, convnet, mlp
from neurodeploy.nn.online import check_train_mode
from neurodeploy.nn.regularizers import activity_penalty, lipschitz_penalty

Tensor = torch.Tensor

#: --method name → spike configuration (surrogate, gradient method) and binary weights
METHODS: dict[str, dict[str, Any]] = {
    "superspike": {"surrogate": "superspike", "method": "plain"},
    "sigmoid": {"surrogate": "sigmoid", "method": "plain"},
    "atan": {"surrogate": "atan", "method": "plain"},
    "triangle": {"surrogate": "triangle", "method": "plain"},
    "rect": {"surrogate": "rect", "method": "plain"},
    "ste": {"surrogate": "ste", "method": "plain"},
    "sgs": {"surrogate": "superspike", "method": "sgs", "delta": 1e-4},
    "msg": {"surrogate": "triangle", "alpha": 2.0, "method": "msg", "p": 0.5},
    "asgl": {"surrogate": "superspike", "method": "asgl", "p": 0.2, "asgl_width": 0.5},
    "binary": {"surrogate": "superspike", "method": "plain", "binary_weights": True},
}


@dataclass
class TrainConfig:
    """Everything one training run depends on (defaults per task when None)."""

    task: str = "digits"
    method: str = "superspike"
    epochs: int = 20
    seed: int = 0
    T: int | None = None              # digits: 8; spike data: the data's steps
    encoding: str | None = None       # digits: direct; spike data: spikes
    hidden: tuple[int, ...] = (128,)
    arch: str = "mlp"                 # mlp | conv (conv needs image data, e.g. digits-image)
    lr: float = 5e-3
    batch_size: int = 64
    two: bool = False
    activity_reg: float = 0.0
    lipschitz: float = 0.0
    binary_weights: bool = False
    decoding: str | None = None       # mean (digits) | max (spike data); weighted with TWO
    du: float = 0.2
    dv: float = 0.1
    readout_dv: float | None = None   # digits: 0 (integrator); spike data: 0.1 (leaky)
    dt: float = 1e-3                  # seconds per step (metadata)
    limit: int | None = None          # train on the first N samples only (tests)
    test_limit: int | None = None
    data_seed: int = 0
    # False: Loihi-native synapses without bias and a learned per-neuron (per-channel after a
    # conv) bias on v, exact after quantization; True: the former Linear/Conv2d biases on the
    # current u, which quantization can only approximate when du < 1
    synapse_bias: bool = False
    # bptt: full backpropagation through time; sltt / ottt: online, one backward per step,
    # memory independent of T (neurodeploy.nn.online)
    train_mode: str = "bptt"
    # binary weights: one α per layer (folds exactly into Loihi's per-layer threshold) or per
    # output channel (the former models; refused by the quantizer's binary folding)
    binary_alpha: str = "layer"
    # overrides of the method's spike settings (SpikeConfig fields: alpha, p, asgl_width, ...)
    spike: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_train_mode(self.train_mode, activity_reg=self.activity_reg)
        if self.binary_alpha not in ALPHA_MODES:
            raise NeurodeployError(f"unknown binary alpha '{self.binary_alpha}' (choose from "
                                   f"{', '.join(ALPHA_MODES)})")
        if self.method not in METHODS:
            raise NeurodeployError(f"unknown method '{self.method}' (choose from "
                                   f"{', '.join(METHODS)})")
        if self.epochs < 1:
            raise NeurodeployError(f"epochs must be >= 1, got {self.epochs}")
        known = {f.name for f in fields(SpikeConfig)}
        for key in self.spike or {}:
            if key not in known:
                raise NeurodeployError(f"unknown spike setting '{key}' (choose from "
                                       f"{', '.join(sorted(known))})")
        self.hidden = tuple(int(h) for h in self.hidden)


@dataclass
class TrainResult:
    model: SNN
    metadata: dict[str, Any]
    test_accuracy: float
    train_accuracy: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def _split_npz(spec: str, seed: int) -> tuple[Any, Any]:
    from neurodeploy.data import load_dataset

    ds = load_dataset(spec, "all")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(ds))
    n_test = max(1, int(round(0.2 * len(ds))))
    return ds.subset(order[n_test:]), ds.subset(order[:n_test])


def load_task(task: str, seed: int = 0) -> tuple[Any, Any]:
    """Train and test :class:`neurodeploy.data.Dataset` of ``task``."""
    from neurodeploy.data import load_dataset

    if task in ("digits", "digits-image", "randman"):
        return load_dataset(task, "train", seed=seed), load_dataset(task, "test", seed=seed)
    if not Path(task).exists():
        raise NeurodeployError(f"task '{task}': neither digits, digits-image, randman nor an "
                               "existing .npz file")
    return _split_npz(task, seed)


def encode_batch(x: np.ndarray, encoding: str, T: int, seed: int) -> Tensor:
    """``[T, B, *shape]`` float32 tensor for a batch of samples."""
    from neurodeploy.data import encode

    return torch.from_numpy(encode(x, encoding, T, seed=seed))


@torch.no_grad()
def evaluate(model: SNN, ds: Any, T: int, encoding: str, batch_size: int = 256,
             seed: int = 0) -> tuple[float, np.ndarray]:
    """Accuracy (0–1) and predictions of ``model`` (eval mode) on dataset ``ds``."""
    was_training = model.training
    model.eval()
    preds = []
    for k, start in enumerate(range(0, len(ds), batch_size)):
        xb = encode_batch(ds.x[start:start + batch_size], encoding, T, seed + k)
        preds.append(model.scores(xb).argmax(-1).numpy())
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return float((pred == ds.y).mean()) if len(ds) else 0.0, pred


def build_for(cfg: TrainConfig, input_shape: tuple[int, ...], n_classes: int,
              spike: SpikeConfig, decoding: str, readout_dv: float, binary: bool,
              two_weights: list[float] | None = None) -> SNN:
    if cfg.arch == "mlp":
        n_in = int(np.prod(input_shape))
        if len(input_shape) != 1:
            raise NeurodeployError(f"arch 'mlp' needs flat inputs, the task's samples have shape "
                                   f"{list(input_shape)} (use --arch conv or task 'digits')")
        return mlp(n_in, cfg.hidden, n_classes, spike=spike, binary=binary, du=cfg.du,
                   dv=cfg.dv, readout_dv=readout_dv, decoding=decoding, two_weights=two_weights,
                   synapse_bias=cfg.synapse_bias, binary_alpha=cfg.binary_alpha)
    if cfg.arch == "conv":
        if len(input_shape) != 3:
            raise NeurodeployError(f"arch 'conv' needs [C, H, W] inputs, got {list(input_shape)}")
        return convnet(input_shape, cfg.hidden, n_classes, spike=spike, binary=binary,  # type: ignore[arg-type]
                       du=cfg.du, dv=cfg.dv, readout_dv=readout_dv, decoding=decoding,
                       two_weights=two_weights, synapse_bias=cfg.synapse_bias,
                       binary_alpha=cfg.binary_alpha)
    raise NeurodeployError(f"unknown arch '{cfg.arch}' (choose from mlp, conv)")


def train(cfg: TrainConfig, progress: bool = False,
          on_epoch: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train a model as ``cfg`` says; returns it (eval mode) with its checkpoint metadata."""
    from neurodeploy.progress import track

    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_ds, test_ds = load_task(cfg.task, cfg.data_seed)
    if cfg.limit is not None:
        train_ds = train_ds.subset(slice(0, cfg.limit))
    if cfg.test_limit is not None:
        test_ds = test_ds.subset(slice(0, cfg.test_limit))
    spike_data = train_ds.encoding == "spikes"
    encoding = cfg.encoding or train_ds.encoding
    T = cfg.T or (train_ds.T if spike_data else 8)
    decoding = "weighted" if cfg.two else (cfg.decoding or ("max" if spike_data else "mean"))
    readout_dv = cfg.readout_dv if cfg.readout_dv is not None else (0.1 if spike_data else 0.0)
    preset = {**METHODS[cfg.method], **(cfg.spike or {})}
    binary = bool(preset.pop("binary_weights", False)) or cfg.binary_weights
    spike = SpikeConfig(**preset)
    n_classes = max(int(train_ds.y.max()) + 1, train_ds.n_classes)
    two_w = torch.ones(T)
    model = build_for(cfg, train_ds.shape, n_classes, spike, decoding, readout_dv, binary,
                      two_mod.decoding_weights(two_w).tolist() if cfg.two else None)
    check_train_mode(cfg.train_mode, model, cfg.activity_reg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    history: list[dict[str, float]] = []
    n = len(train_ds)
    y_all = torch.from_numpy(train_ds.y)
    for epoch in track(range(cfg.epochs), f"training {cfg.method}", total=cfg.epochs,
                       enabled=progress):
        model.train()
        order = rng.permutation(n)
        correct_t = torch.zeros(T)
        correct, total_loss = 0, 0.0
        for k, start in enumerate(range(0, n, cfg.batch_size)):
            idx = order[start:start + cfg.batch_size]
            xb = encode_batch(train_ds.x[idx], encoding, T, seed=cfg.seed * 100003 + epoch * 1009
                              + k)
            yb = y_all[idx]
            opt.zero_grad()
            if cfg.train_mode == "bptt":
                v_seq, spikes = model(xb, return_spikes=True)
                scores = model.decode(v_seq)
                loss = F.cross_entropy(scores, yb)
                if cfg.activity_reg:
                    loss = loss + activity_penalty(spikes, cfg.activity_reg)
                if cfg.lipschitz:
                    loss = loss + lipschitz_penalty(model, cfg.lipschitz)
                loss.backward()
                loss_value = float(loss)
                step_ok = two_mod.step_correct(v_seq.detach(), yb)
            else:  # online: one backward per step inside, memory independent of T
                scores, step_ok, loss_value = online.train_batch(model, xb, yb, cfg.train_mode)
                if cfg.lipschitz:
                    penalty = lipschitz_penalty(model, cfg.lipschitz)
                    penalty.backward()
                    loss_value += float(penalty)
            opt.step()
            with torch.no_grad():
                correct += int((scores.argmax(-1) == yb).sum())
                total_loss += loss_value * len(idx)
                correct_t += step_ok
        sched.step()
        if cfg.two:
            two_w = two_mod.update_weights(two_w, correct_t / n)
            model.readout.set_weights(two_mod.decoding_weights(two_w))
        row = {"epoch": epoch + 1, "loss": total_loss / n, "train_accuracy": correct / n}
        history.append(row)
        if on_epoch:
            on_epoch(row)
    model.eval()
    test_acc, _ = evaluate(model, test_ds, T, encoding)
    seconds = time.perf_counter() - t0
    hyper = {k: v for k, v in asdict(cfg).items() if k not in ("task",)}
    hyper["hidden"] = list(cfg.hidden)
    metadata = {
        "source": "neurodeploy.nn", "task": cfg.task, "method": cfg.method, "T": int(T),
        "encoding": encoding, "dt": cfg.dt, "decoding": decoding,
        "two_weights": [float(w) for w in model.readout.weights] if cfg.two else None,
        "test_accuracy": test_acc, "train_accuracy": history[-1]["train_accuracy"],
        "n_test": len(test_ds), "n_train": n, "n_classes": n_classes, "epochs": cfg.epochs,
        "seed": cfg.seed, "seconds": seconds, "spike": spike.to_dict(),
        "binary_weights": binary, "binary_alpha": cfg.binary_alpha if binary else None,
        "train_mode": cfg.train_mode, "hyperparameters": hyper,
        "input_shape": list(train_ds.shape),
    }
    return TrainResult(model, metadata, test_acc, history[-1]["train_accuracy"], seconds,
                       history)
