"""A feed-forward SNN as a list of layers, described by a plain JSON-able ``arch`` dict.

``arch = {"input_shape": [64], "layers": [{"type": "linear", "name": "fc1", ...}, ...]}``;
layer types: ``linear``, ``conv2d`` (both with ``binary``), ``avgpool2d``, ``sumpool2d``,
``flatten``, ``cuba_lif``, ``readout`` (last). :func:`build_model` rebuilds the module from the
arch (parameter values come from the ``state_dict``), so a checkpoint needs no pickled code.

:func:`mlp` and :func:`convnet` build Loihi-native models by default: synapses without bias and
a learned bias on each neuron's ``v`` (per neuron; per channel after a convolution), which the
IR and Loihi carry exactly. ``synapse_bias=True`` gives the former models (Linear/Conv2d with a
bias, which charges the current ``u`` and is only approximated by Loihi's constant neuron bias
when ``du < 1``). Arch entries written before the neuron bias was learnable (no ``learn_bias``
key) rebuild as they were: a fixed bias, one per layer (or per neuron with ``per_neuron``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neurodeploy.errors import NeurodeployError
from neurodeploy.nn.functional import SpikeConfig
from neurodeploy.nn.layers import (
    NEURON_LAYERS,
    BinaryConv2d,
    BinaryLinear,
    CubaLIF,
    NeuronLayer,
    Readout,
    SumPool2d,
)

Tensor = torch.Tensor

SYNAPSE_TYPES = ("linear", "conv2d", "avgpool2d", "sumpool2d", "flatten")


def _pair(v: Any) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


def _alpha_entry(module: nn.Module) -> dict:
    """A binary layer's ``alpha`` arch key (entries without it rebuild per ``channel``)."""
    return {"alpha": module.alpha} if isinstance(module, (BinaryLinear, BinaryConv2d)) else {}


def _synapse_kw(entry: dict) -> dict:
    return {"alpha": str(entry.get("alpha", "channel"))} if entry.get("binary") else {}


def layer_arch(name: str, module: nn.Module) -> dict:
    """The arch entry of one layer module."""
    if isinstance(module, NeuronLayer):
        return {"name": name, **module.to_arch()}
    if isinstance(module, nn.Linear):
        return {"name": name, "type": "linear", "in_features": module.in_features,
                "out_features": module.out_features, "bias": module.bias is not None,
                "binary": isinstance(module, BinaryLinear), **_alpha_entry(module)}
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise NeurodeployError(f"layer '{name}': only numeric zero padding is supported")
        return {"name": name, "type": "conv2d", "in_channels": module.in_channels,
                "out_channels": module.out_channels, "kernel_size": _pair(module.kernel_size),
                "stride": _pair(module.stride), "padding": _pair(module.padding),
                "dilation": _pair(module.dilation), "groups": module.groups,
                "bias": module.bias is not None, "binary": isinstance(module, BinaryConv2d),
                **_alpha_entry(module)}
    if isinstance(module, nn.AvgPool2d):
        if module.ceil_mode or not module.count_include_pad or module.divisor_override:
            raise NeurodeployError(f"layer '{name}': AvgPool2d needs ceil_mode=False, "
                                   "count_include_pad=True, no divisor_override")
        return {"name": name, "type": "avgpool2d", "kernel_size": _pair(module.kernel_size),
                "stride": _pair(module.stride), "padding": _pair(module.padding)}
    if isinstance(module, SumPool2d):
        return {"name": name, "type": "sumpool2d", "kernel_size": _pair(module.kernel_size),
                "stride": _pair(module.stride), "padding": _pair(module.padding)}
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise NeurodeployError(f"layer '{name}': Flatten must flatten all but the batch")
        return {"name": name, "type": "flatten"}
    raise NeurodeployError(f"layer '{name}': {type(module).__name__} is not a supported layer")


def build_layer(entry: dict) -> nn.Module:
    """A layer module from its arch entry (parameters at their initial values)."""
    kind = entry.get("type")
    try:
        if kind == "linear":
            cls = BinaryLinear if entry.get("binary") else nn.Linear
            return cls(entry["in_features"], entry["out_features"], bias=entry["bias"],
                       **_synapse_kw(entry))
        if kind == "conv2d":
            cls = BinaryConv2d if entry.get("binary") else nn.Conv2d
            return cls(entry["in_channels"], entry["out_channels"],
                       tuple(entry["kernel_size"]), stride=tuple(entry["stride"]),
                       padding=tuple(entry["padding"]), dilation=tuple(entry["dilation"]),
                       groups=entry["groups"], bias=entry["bias"], **_synapse_kw(entry))
        if kind == "avgpool2d":
            return nn.AvgPool2d(tuple(entry["kernel_size"]), tuple(entry["stride"]),
                                tuple(entry["padding"]))
        if kind == "sumpool2d":
            return SumPool2d(tuple(entry["kernel_size"]), tuple(entry["stride"]),
                             tuple(entry["padding"]))
        if kind == "flatten":
            return nn.Flatten()
        if kind in NEURON_LAYERS:
            return NEURON_LAYERS[kind].from_arch(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise NeurodeployError(f"layer '{entry.get('name', '?')}' ({kind}): bad arch entry "
                               f"({type(exc).__name__}: {exc})") from None
    raise NeurodeployError(f"layer '{entry.get('name', '?')}': unknown layer type {kind!r}")


class SNN(nn.Module):
    """A feed-forward spiking network: synapses and neuron layers in sequence, ending in a
    :class:`Readout`. ``forward`` maps input steps ``[T, B, *input_shape]`` to the readout's
    voltage ``[T, B, n]``; :meth:`decode` gives class scores ``[B, n]``."""

    def __init__(self, input_shape: tuple[int, ...], layers: list[tuple[str, nn.Module]]) -> None:
        super().__init__()
        if not layers or not isinstance(layers[-1][1], Readout):
            raise NeurodeployError("an SNN must end with a Readout layer")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.names = [n for n, _ in layers]
        if len(set(self.names)) != len(self.names) or "input" in self.names:
            raise NeurodeployError(f"layer names must be unique and not 'input': {self.names}")
        self.layers = nn.ModuleList([m for _, m in layers])

    @property
    def readout(self) -> Readout:
        return self.layers[-1]  # type: ignore[return-value]

    def arch(self) -> dict:
        """The JSON-able description :func:`build_model` rebuilds this network from."""
        return {"input_shape": list(self.input_shape),
                "layers": [layer_arch(n, m) for n, m in zip(self.names, self.layers, strict=True)]}

    def forward(self, x: Tensor, return_spikes: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Readout voltage ``[T, B, n]`` (and, if asked, each neuron layer's spikes)."""
        if tuple(x.shape[2:]) != self.input_shape:
            raise NeurodeployError(f"input has per-step shape {list(x.shape[2:])}; the model "
                                   f"expects {list(self.input_shape)} (as [T, B, ...])")
        T, B = x.shape[:2]
        spikes = []
        h = x
        for m in self.layers:
            if isinstance(m, NeuronLayer):
                h = m(h)
                if m.fires:
                    spikes.append(h)
            else:
                y = m(h.reshape(T * B, *h.shape[2:]))
                h = y.reshape(T, B, *y.shape[1:])
        return (h, spikes) if return_spikes else h

    def decode(self, v_seq: Tensor, decoding: str | None = None) -> Tensor:
        return self.readout.decode(v_seq, decoding)

    def scores(self, x: Tensor) -> Tensor:
        """Class scores ``[B, n]``: the readout's decoding of ``forward(x)``."""
        return self.decode(self.forward(x))  # type: ignore[arg-type]


def build_model(arch: dict) -> SNN:
    """Rebuild an :class:`SNN` from ``arch`` (see the module docstring)."""
    if not isinstance(arch, dict) or "layers" not in arch or "input_shape" not in arch:
        raise NeurodeployError("arch must be a dict with 'input_shape' and 'layers'")
    layers = []
    for i, entry in enumerate(arch["layers"]):
        if not isinstance(entry, dict):
            raise NeurodeployError(f"arch layer {i} is not a dict")
        layers.append((str(entry.get("name", f"layer{i}")), build_layer(entry)))
    return SNN(tuple(arch["input_shape"]), layers)


def _binary(cls: type[nn.Module], alpha: str) -> Any:
    """``cls`` with its ``alpha`` mode bound (a layer factory taking the usual arguments)."""

    def make(*args: Any, **kw: Any) -> nn.Module:
        return cls(*args, alpha=alpha, **kw)

    return make


def mlp(n_in: int, hidden: list[int] | tuple[int, ...], n_out: int,
        spike: SpikeConfig | None = None, binary: bool = False, du: float = 0.2,
        dv: float = 0.1, vth: float = 1.0, reset: str = "zero", per_neuron: bool = False,
        readout_du: float = 1.0, readout_dv: float = 0.0, decoding: str = "mean",
        two_weights: list[float] | None = None, synapse_bias: bool = False,
        binary_alpha: str = "channel") -> SNN:
    """``n_in → hidden… → n_out``: Linear + CubaLIF per hidden layer, Linear + Readout.

    By default the Linear layers have no bias and every CubaLIF and the Readout learn one bias
    per neuron on ``v`` (Loihi's neuron bias: exact after quantization); ``synapse_bias=True``
    puts the bias on the Linear layers instead (into the current ``u``) and fixes the neurons'
    bias at 0, as models trained before this option were. ``binary``: ±α weights, one α per
    output neuron (``binary_alpha="channel"``) or per layer (``"layer"``, folds exactly into
    Loihi's per-layer threshold).
    """
    layers: list[tuple[str, nn.Module]] = []
    prev = n_in
    lin = _binary(BinaryLinear, binary_alpha) if binary else nn.Linear
    neuron_bias = {} if synapse_bias else {"learn_bias": True, "bias_mode": "neuron"}
    for k, n in enumerate(hidden, 1):
        layers.append((f"fc{k}", lin(prev, n, bias=synapse_bias)))
        layers.append((f"lif{k}", CubaLIF(n, du=du, dv=dv, vth=vth, reset=reset,
                                          per_neuron=per_neuron, spike=spike, **neuron_bias)))
        prev = n
    layers.append(("fc_out", lin(prev, n_out, bias=synapse_bias)))
    layers.append(("out", Readout(n_out, du=readout_du, dv=readout_dv, decoding=decoding,
                                  weights=two_weights, **neuron_bias)))  # type: ignore[arg-type]
    return SNN((n_in,), layers)


def convnet(input_shape: tuple[int, int, int], channels: list[int] | tuple[int, ...],
            n_out: int, spike: SpikeConfig | None = None, binary: bool = False,
            du: float = 0.2, dv: float = 0.1, vth: float = 1.0, pool: str = "avg",
            readout_dv: float = 0.0, decoding: str = "mean",
            two_weights: list[float] | None = None, synapse_bias: bool = False,
            binary_alpha: str = "channel") -> SNN:
    """Conv3×3(pad 1) + CubaLIF + 2×2 pooling per entry of ``channels``, Flatten, Linear,
    Readout.

    By default the convolutions and the Linear have no bias; each CubaLIF learns one bias on
    ``v`` per channel (as many parameters as a conv bias; the IR gets it broadcast over H, W,
    exactly) and the Readout one per output. ``synapse_bias=True``: biases on the synapses
    (into the current ``u``) and the neurons' bias fixed at 0, as before this option.
    """
    c, h, w = input_shape
    conv = _binary(BinaryConv2d, binary_alpha) if binary else nn.Conv2d
    lin = _binary(BinaryLinear, binary_alpha) if binary else nn.Linear
    layers: list[tuple[str, nn.Module]] = []
    learn = not synapse_bias
    for k, ch in enumerate(channels, 1):
        layers.append((f"conv{k}", conv(c, ch, 3, padding=1, bias=synapse_bias)))
        layers.append((f"lif{k}", CubaLIF((ch, h, w), du=du, dv=dv, vth=vth, spike=spike,
                                          learn_bias=learn,
                                          bias_mode="channel" if learn else None)))
        layers.append((f"pool{k}", nn.AvgPool2d(2) if pool == "avg" else SumPool2d(2)))
        c, h, w = ch, h // 2, w // 2
    layers.append(("flat", nn.Flatten()))
    layers.append(("fc_out", lin(c * h * w, n_out, bias=synapse_bias)))
    layers.append(("out", Readout(n_out, dv=readout_dv, decoding=decoding, weights=two_weights,
                                  learn_bias=learn, bias_mode="neuron" if learn else None)))
    return SNN(input_shape, layers)
