"""``nn.Module`` wrappers: neuron layers over time-major sequences, and the synapses the IR has
that plain torch lacks (sum pooling, binary-weight Linear/Conv2d).

Neuron layers (:class:`NeuronLayer`) take the synaptic input of every step ``[T, B, *shape]``
and return spikes (or, for :class:`Readout`, the voltage) of the same shape; state starts at
zero for every call. Each steps with its neuron kind's float step (:mod:`neurodeploy.kinds`),
the simulator's own, and knows its arch entry and its IR node. Synapse layers are ordinary
torch modules applied to each step (the IR has no synaptic delay).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neurodeploy import ir
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.nodes import DECODINGS, RESET_MODES
from neurodeploy.kinds import cuba_lif as lif_kind
from neurodeploy.kinds import readout as readout_kind
from neurodeploy.kinds.base import SpikeFn
from neurodeploy.kinds.cuba import CubaState, zero_state
from neurodeploy.nn import functional as snf
from neurodeploy.nn.functional import SpikeConfig

Tensor = torch.Tensor


#: where a neuron layer's bias (added to ``v`` each step) varies: one value per ``layer``, one
#: per ``neuron`` (an array of the layer's shape), or one per ``channel`` (the first dimension
#: of a ``(C, H, W)`` layer, shared over H, W; exported to the IR broadcast to the layer's shape)
BIAS_MODES = ("layer", "neuron", "channel")


def _param(value: float | Tensor, shape: tuple[int, ...], per_neuron: bool, learn: bool,
           module: nn.Module, name: str, param_shape: tuple[int, ...] | None = None) -> None:
    t = torch.as_tensor(value, dtype=torch.float32)
    if param_shape is not None:
        t = t.expand(param_shape).clone()
    else:
        t = t.expand(shape).clone() if per_neuron else t.reshape(()).clone()
    if learn:
        module.register_parameter(name, nn.Parameter(t))
    else:
        module.register_buffer(name, t)


def _bias_shape(shape: tuple[int, ...], mode: str) -> tuple[int, ...]:
    """The stored shape of a bias varying per ``mode`` (see :data:`BIAS_MODES`)."""
    if mode not in BIAS_MODES:
        raise NeurodeployError(f"unknown bias mode '{mode}' (choose from {', '.join(BIAS_MODES)})")
    if mode == "layer":
        return ()
    if mode == "channel":
        return (shape[0],) + (1,) * (len(shape) - 1) if shape else ()
    return shape


def _np(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().to(torch.float32).numpy().copy()


class NeuronLayer(nn.Module):
    """Base of the neuron layers: ``kind`` (the IR kind string, also the arch ``type``),
    ``fires`` (spikes out, or a voltage read every step), :meth:`to_arch` (the JSON-able arch
    entry, without the name), :meth:`from_arch` and :meth:`to_ir` (the IR node, lossless)."""

    kind: str
    fires: bool

    def to_arch(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_arch(cls, entry: dict) -> NeuronLayer:
        raise NotImplementedError

    def to_ir(self, name: str) -> ir.Node:
        raise NotImplementedError


class CubaLIF(NeuronLayer):
    """CUBA LIF neurons of ``shape`` (per sample, per step), e.g. ``(128,)`` or ``(C, H, W)``.

    ``du``, ``dv`` in [0, 1] (fraction of current / voltage lost per step), threshold ``vth``
    (> 0), constant ``bias`` added to ``v`` each step, ``reset`` zero | subtract | none,
    ``refractory`` steps without spiking (v held at 0) after a spike (quantizes with
    ``reset="zero"``: Loihi's refractory delay, Lava's ``LIFRefractory``).
    ``per_neuron`` makes each parameter an array of ``shape`` instead of one value per layer;
    ``learn_decay`` / ``learn_threshold`` / ``learn_bias`` make them trainable. ``bias_mode``
    (``layer`` | ``neuron`` | ``channel``, default: ``neuron`` if ``per_neuron`` else ``layer``)
    sets where the bias varies independently of ``per_neuron``; ``channel`` (one value per
    first dimension of a ``(C, H, W)`` layer, like a conv bias) is exported broadcast to the
    layer's shape, which the IR carries exactly. The neuron bias is Loihi's own (``bias_mant <<
    bias_exp``), so a learned one deploys exactly, unlike a synapse bias, which charges the
    current ``u`` (a ramp when ``du < 1``) and has to be approximated by a constant. Decays are
    clamped to [0, 1] and the threshold to ≥ 1e-3 when used (and when exported). ``spike``
    selects the surrogate and the gradient method (SGS, MSG, ASGL).
    """

    kind = "cuba_lif"
    fires = True

    def __init__(self, shape: tuple[int, ...] | int, du: float = 0.2, dv: float = 0.1,
                 vth: float = 1.0, bias: float = 0.0, reset: str = "zero",
                 per_neuron: bool = False, learn_decay: bool = True,
                 learn_threshold: bool = False, spike: SpikeConfig | None = None,
                 learn_du: bool | None = None, learn_bias: bool = False,
                 bias_mode: str | None = None, refractory: int = 0) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        self.bias_mode = bias_mode or ("neuron" if per_neuron else "layer")
        bias_shape = _bias_shape(self.shape, self.bias_mode)
        if reset not in RESET_MODES:
            raise NeurodeployError(f"unknown reset '{reset}' (choose from "
                                   f"{', '.join(RESET_MODES)})")
        if int(refractory) != refractory or refractory < 0:
            raise NeurodeployError(f"refractory period must be a whole number of steps >= 0, "
                                   f"got {refractory}")
        for name, value in (("du", du), ("dv", dv)):
            if not 0.0 <= float(value) <= 1.0:
                raise NeurodeployError(f"decay '{name}' must lie in [0, 1], got {value}")
        if float(vth) <= 0:
            raise NeurodeployError(f"threshold vth must be positive, got {vth}")
        self.reset = reset
        self.refractory = int(refractory)
        self.per_neuron = per_neuron
        self.learn_decay = learn_decay
        self.learn_du = learn_decay if learn_du is None else learn_du
        self.learn_threshold = learn_threshold
        self.learn_bias = learn_bias
        self.spike_cfg = spike or SpikeConfig()
        _param(du, self.shape, per_neuron, self.learn_du, self, "du")
        _param(dv, self.shape, per_neuron, learn_decay, self, "dv")
        _param(vth, self.shape, per_neuron, learn_threshold, self, "vth")
        _param(bias, self.shape, per_neuron, learn_bias, self, "bias", bias_shape)
        if self.spike_cfg.method == "asgl":
            self.width = nn.Parameter(torch.tensor(float(self.spike_cfg.asgl_width)))

    def effective(self) -> dict[str, Tensor]:
        """The parameters as the dynamics use them (clamped): du, dv, vth, bias (a per-channel
        bias broadcast to the layer's shape)."""
        return {"du": self.du.clamp(0.0, 1.0), "dv": self.dv.clamp(0.0, 1.0),
                "vth": self.vth.clamp(min=1e-3), "bias": _effective_bias(self.bias,
                                                                         self.bias_mode,
                                                                         self.shape)}

    def _spike_fn(self) -> SpikeFn:
        width = self.width.clamp(min=1e-2) if self.spike_cfg.method == "asgl" else None
        cfg, training = self.spike_cfg, self.training

        def fn(x: Tensor, v: Tensor) -> Tensor:
            return snf.spike(x, v, cfg, width, training)

        return fn

    def forward(self, i_seq: Tensor) -> Tensor:
        """Spikes ``[T, B, *shape]`` for synaptic input ``i_seq`` ``[T, B, *shape]``."""
        p = self.effective()
        s, _ = snf.cuba_lif(i_seq, p["du"], p["dv"], p["vth"], p["bias"], self.reset,
                            self._spike_fn(), refractory=self.refractory)
        return s

    def initial_state(self, i_in: Tensor) -> CubaState:
        """The zero state for one step's input ``i_in`` ``[B, *shape]``."""
        return zero_state(tuple(i_in.shape), i_in.dtype, i_in.device, self.refractory)

    def step(self, i_in: Tensor, state: CubaState) -> tuple[Tensor, CubaState]:
        """One step (the same float step :meth:`forward` runs): spikes ``[B, *shape]`` and the
        new state for input ``i_in`` ``[B, *shape]``."""
        p = self.effective()
        st, s = lif_kind.float_step(state, i_in, p["du"], p["dv"], p["vth"], p["bias"],
                                    self.reset, self.refractory, self._spike_fn())
        return s, st

    def to_arch(self) -> dict:
        return {"type": self.kind, "shape": list(self.shape), "reset": self.reset,
                "refractory": self.refractory, "per_neuron": self.per_neuron,
                "learn_decay": self.learn_decay, "learn_du": self.learn_du,
                "learn_threshold": self.learn_threshold, "learn_bias": self.learn_bias,
                "bias_mode": self.bias_mode, "spike": self.spike_cfg.to_dict()}

    @classmethod
    def from_arch(cls, entry: dict) -> CubaLIF:
        """The layer of an arch entry (parameters at their initial values; arch entries written
        before ``learn_du``, ``learn_bias``, ``bias_mode`` or ``refractory`` existed rebuild as
        they were)."""
        return cls(tuple(entry["shape"]), reset=entry["reset"], per_neuron=entry["per_neuron"],
                   learn_decay=entry["learn_decay"], learn_du=entry.get("learn_du"),
                   learn_threshold=entry["learn_threshold"], spike=SpikeConfig(**entry["spike"]),
                   learn_bias=bool(entry.get("learn_bias", False)),
                   bias_mode=entry.get("bias_mode"), refractory=int(entry.get("refractory", 0)))

    def to_ir(self, name: str) -> ir.CubaLIF:
        """The IR node: decays and threshold as clamped in the forward pass, the bias as added
        to ``v`` (a per-channel one broadcast to the layer's shape)."""
        p = self.effective()
        return ir.CubaLIF(name, shape=self.shape, du=_np(p["du"]), dv=_np(p["dv"]),
                          vth=_np(p["vth"]), bias=_np(p["bias"]), reset=self.reset,
                          refractory=self.refractory)

    def extra_repr(self) -> str:
        return (f"shape={self.shape}, reset={self.reset}, per_neuron={self.per_neuron}, "
                f"bias={self.bias_mode}{' (learned)' if self.learn_bias else ''}, "
                f"spike={self.spike_cfg.surrogate}/{self.spike_cfg.method}"
                + (f", refractory={self.refractory}" if self.refractory else ""))


def _effective_bias(bias: Tensor, mode: str, shape: tuple[int, ...]) -> Tensor:
    """``bias`` as the dynamics add it: a per-channel one expanded to the layer's shape."""
    return bias.expand(shape) if mode == "channel" else bias


def LIF(shape: tuple[int, ...] | int, dv: float = 0.1, **kw: object) -> CubaLIF:
    """LIF without a current state: a :class:`CubaLIF` with ``du = 1`` fixed."""
    return CubaLIF(shape, du=1.0, dv=dv, learn_du=False, **kw)  # type: ignore[arg-type]


def IF(shape: tuple[int, ...] | int, **kw: object) -> CubaLIF:
    """Non-leaky integrate-and-fire: a :class:`CubaLIF` with ``du = 1``, ``dv = 0`` fixed."""
    kw.setdefault("learn_decay", False)
    return CubaLIF(shape, du=1.0, dv=0.0, learn_du=False, **kw)  # type: ignore[arg-type]


class Readout(NeuronLayer):
    """Non-firing CUBA integrator read every step: returns ``v`` ``[T, B, *shape]``.

    :meth:`decode` turns the voltage sequence into class scores ``[B, *shape]`` with
    ``decoding`` mean | max | last | sum | weighted (``weights``: one per step, TWO).
    ``learn_bias`` makes the bias (added to ``v`` each step) trainable; ``bias_mode`` ``layer``
    (one value, the default) | ``neuron`` (one per output) | ``channel`` (per first dimension).
    """

    kind = "readout"
    fires = False

    def __init__(self, shape: tuple[int, ...] | int, du: float = 1.0, dv: float = 0.0,
                 bias: float = 0.0, decoding: str = "mean",
                 weights: list[float] | Tensor | None = None, learn_decay: bool = False,
                 learn_bias: bool = False, bias_mode: str | None = None) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        self.bias_mode = bias_mode or "layer"
        bias_shape = _bias_shape(self.shape, self.bias_mode)
        if decoding not in DECODINGS:
            raise NeurodeployError(f"unknown decoding '{decoding}' (choose from "
                                   f"{', '.join(DECODINGS)})")
        self.decoding = decoding
        self.learn_decay = learn_decay
        self.learn_bias = learn_bias
        _param(du, self.shape, False, learn_decay, self, "du")
        _param(dv, self.shape, False, learn_decay, self, "dv")
        _param(bias, self.shape, False, learn_bias, self, "bias", bias_shape)
        self.weights: Tensor | None = None
        if weights is not None:
            self.set_weights(weights)
        elif decoding == "weighted":
            raise NeurodeployError("readout decoding 'weighted' needs weights (one per step)")

    def set_weights(self, weights: list[float] | Tensor) -> None:
        """Set the per-step decoding weights (TWO); a plain tensor, saved in the arch."""
        self.weights = torch.as_tensor(weights, dtype=torch.float32).detach().clone()

    def effective(self) -> dict[str, Tensor]:
        """The parameters as the dynamics use them (clamped decays): du, dv, bias."""
        return {"du": self.du.clamp(0.0, 1.0), "dv": self.dv.clamp(0.0, 1.0),
                "bias": _effective_bias(self.bias, self.bias_mode, self.shape)}

    def forward(self, i_seq: Tensor) -> Tensor:
        p = self.effective()
        return snf.readout(i_seq, p["du"], p["dv"], p["bias"])

    def initial_state(self, i_in: Tensor) -> CubaState:
        """The zero state for one step's input ``i_in`` ``[B, *shape]``."""
        return zero_state(tuple(i_in.shape), i_in.dtype, i_in.device)

    def step(self, i_in: Tensor, state: CubaState) -> tuple[Tensor, CubaState]:
        """One step (the float step :meth:`forward` runs): ``v`` ``[B, *shape]`` and the new
        state."""
        p = self.effective()
        st, v = readout_kind.float_step(state, i_in, p["du"], p["dv"], p["bias"])
        return v, st

    def decode(self, v_seq: Tensor, decoding: str | None = None) -> Tensor:
        """Class scores ``[B, *shape]`` from the voltage sequence (this layer's decoding)."""
        return snf.decode(v_seq, decoding or self.decoding, self.weights)

    def to_arch(self) -> dict:
        return {"type": self.kind, "shape": list(self.shape), "decoding": self.decoding,
                "weights": None if self.weights is None else [float(w) for w in self.weights],
                "learn_decay": self.learn_decay, "learn_bias": self.learn_bias,
                "bias_mode": self.bias_mode}

    @classmethod
    def from_arch(cls, entry: dict) -> Readout:
        """The layer of an arch entry (parameters at their initial values)."""
        return cls(tuple(entry["shape"]), decoding=entry["decoding"],
                   weights=entry.get("weights"), learn_decay=entry["learn_decay"],
                   learn_bias=bool(entry.get("learn_bias", False)),
                   bias_mode=entry.get("bias_mode"))

    def to_ir(self, name: str) -> ir.Readout:
        """The IR node: decays as clamped in the forward pass, decoding and TWO weights."""
        p = self.effective()
        return ir.Readout(name, shape=self.shape, du=_np(p["du"]), dv=_np(p["dv"]),
                          bias=_np(p["bias"]), decoding=self.decoding, weights=_np(self.weights))


#: the neuron layers by arch ``type`` (= IR kind string)
NEURON_LAYERS: dict[str, type[NeuronLayer]] = {cls.kind: cls for cls in (CubaLIF, Readout)}


class SumPool2d(nn.Module):
    """Sum over each window (per channel), PyTorch pooling geometry (the IR's SumPool2d)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None
                 = None, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            divisor_override=1)


#: where a binary layer's scale α varies: one per ``channel`` (output neuron / channel, the
#: former default) or one per ``layer`` (what folds exactly into Loihi's one threshold per layer)
ALPHA_MODES = ("channel", "layer")


def binarize(weight: Tensor, alpha: str = "channel") -> Tensor:
    """``α·sign(W)`` with ``α = mean|W|`` per output channel (row; ``alpha="channel"``) or over
    the whole tensor (``alpha="layer"``); forward exact, backward straight-through (identity
    where ``|W| ≤ 1``, zero outside) for the sign, exact for α."""
    if alpha not in ALPHA_MODES:
        raise NeurodeployError(f"unknown binary alpha '{alpha}' (choose from "
                               f"{', '.join(ALPHA_MODES)})")
    dims = tuple(range(1, weight.ndim)) if alpha == "channel" else tuple(range(weight.ndim))
    scale = weight.abs().mean(dim=dims, keepdim=True)
    return scale * _SignSTE.apply(weight)


class _SignSTE(torch.autograd.Function):
    """``sign(w)`` (+1 at 0) forward; straight-through backward, zero where ``|w| > 1``."""

    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class BinaryLinear(nn.Linear):
    """A Linear layer whose weights are ``±α`` (straight-through training); ``alpha``:
    ``channel`` (one α per output neuron) or ``layer`` (one α for the layer, see
    :data:`ALPHA_MODES`)."""

    def __init__(self, *args: object, alpha: str = "channel", **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        binarize(torch.zeros(1, 1), alpha)  # refuses an unknown mode here
        self.alpha = alpha

    def effective_weight(self) -> Tensor:
        return binarize(self.weight, self.alpha)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.effective_weight(), self.bias)


class BinaryConv2d(nn.Conv2d):
    """A Conv2d whose weights are ``±α`` (straight-through training); ``alpha`` as
    :class:`BinaryLinear`."""

    def __init__(self, *args: object, alpha: str = "channel", **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        binarize(torch.zeros(1, 1), alpha)
        self.alpha = alpha

    def effective_weight(self) -> Tensor:
        return binarize(self.weight, self.alpha)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)
