"""Graph capture with torch.fx: the per-step forward of a PyTorch SNN becomes IR nodes.

The module's ``forward`` must map one time step's input ``[B, *shape]`` to that step's output,
with the neuron state held inside the neuron modules (snnTorch ``init_hidden=True``,
SpikingJelly single-step nodes, Norse cells in ``SequentialState``). Neuron modules are traced as
leaves and handed to the framework's *handler* (``module, where, shape -> NeuronSpec``); the
synaptic modules around them are mapped here:

==========================  ===================================================================
``nn.Linear``               Dense (input must be 1-D: a Flatten is needed before it on images)
``nn.Conv2d``               Conv2d (zero padding only; ``padding='same'`` when symmetric)
``nn.AvgPool2d``            AvgPool2d (no ceil mode, no divisor override)
``nn.Flatten``, ``x.flatten(1)``, ``x.view(x.size(0), -1)``   Flatten
``nn.BatchNorm1d/2d``       folded into the preceding Linear/Conv2d (running statistics):
                            ``W' = W·γ/√(σ²+ε)``, ``b' = (b − μ)·γ/√(σ²+ε) + β``
``a + b``, ``torch.add``    Add (residual connections)
``nn.Dropout``, ``nn.Identity``   nothing (inference)
==========================  ===================================================================

Anything else (MaxPool2d, ReLU, a multiplication, ...) is refused with the module's name. A list
of BatchNorm modules (per-time-step BN, "BNTT") is refused unless ``allow_bntt``; with it, each
list is replaced by one BN whose statistics and affine parameters are the means over time steps
(an approximation; a warning says so).
"""

from __future__ import annotations

import copy
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from neurodeploy.converters._common import Builder, NeuronSpec, Shape, Value, check_finite

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, validate
from neurodeploy.ir.nodes import Add

Handler = Callable[[Any, str, Shape], NeuronSpec]


@dataclass
class _Part:
    """Element ``what`` ("mem", "syn", ...) of a neuron module's tuple output."""

    neuron: str
    what: str
    where: str


class _Size:
    """``x.size(0)`` / ``x.shape[0]``: the batch size."""


def _bntt_lists(module: Any) -> list[str]:
    import torch.nn as nn

    out = []
    for name, m in module.named_modules():
        if isinstance(m, nn.ModuleList) and len(m) and all(
                isinstance(c, nn.modules.batchnorm._BatchNorm) for c in m):
            out.append(name)
    return out


def _mean_bn(bns: Any) -> Any:
    """One BatchNorm with the means of the per-step BNs' statistics and affine parameters."""
    import torch

    bn = copy.deepcopy(bns[0])
    with torch.no_grad():
        for attr in ("running_mean", "running_var", "weight", "bias"):
            vals = [getattr(b, attr) for b in bns if getattr(b, attr, None) is not None]
            if vals:
                getattr(bn, attr).copy_(torch.stack([v.detach() for v in vals]).mean(0))
    return bn


def _replace_bntt(module: Any, names: list[str]) -> Any:
    import torch.nn as nn

    class _SameBN(nn.ModuleList):
        def __getitem__(self, idx: Any) -> Any:  # every step uses the mean BN
            return self._modules["0"]

    module = copy.deepcopy(module)
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        lst = _SameBN([_mean_bn(getattr(parent, attr))])
        setattr(parent, attr, lst)
    return module


def _trace(module: Any, leaf_types: tuple[type, ...]) -> Any:
    import torch.fx as fx

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return isinstance(m, leaf_types) or super().is_leaf_module(m, qualname)

    tracer = _Tracer()
    try:
        graph = tracer.trace(module)
    except Exception as exc:  # fx's errors are long; keep one line naming the model
        msg = " ".join(str(exc).split())[:300]
        raise NeurodeployError(
            f"module '{type(module).__name__}': torch.fx cannot trace its forward ({msg}); the "
            "forward must map one time step to the next without data-dependent control flow"
        ) from None
    return fx.GraphModule(tracer.root, graph)


def _pair(x: Any) -> tuple[int, int]:
    return (int(x), int(x)) if isinstance(x, int) else (int(x[0]), int(x[1]))


def _conv(mod: Any, where: str) -> Conv2d:
    if mod.padding_mode != "zeros":
        raise NeurodeployError(f"module '{where}' (Conv2d): padding_mode '{mod.padding_mode}' "
                               "is not supported (zero padding only)")
    k = _pair(mod.kernel_size)
    dil = _pair(mod.dilation)
    pad = mod.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0, 0)
        else:
            total = [dil[i] * (k[i] - 1) for i in (0, 1)]
            if any(t % 2 for t in total) or _pair(mod.stride) != (1, 1):
                raise NeurodeployError(f"module '{where}' (Conv2d): padding='same' with an "
                                       "asymmetric padding is not supported")
            pad = (total[0] // 2, total[1] // 2)
    w = check_finite(where, "weight", mod.weight)
    b = check_finite(where, "bias", mod.bias) if mod.bias is not None else None
    return Conv2d(where, weight=w, bias=b, stride=_pair(mod.stride), padding=_pair(pad),
                  dilation=dil, groups=int(mod.groups))


def _fold_bn(builder: Builder, src: Value, mod: Any, where: str) -> Value:
    syn = builder.graph.nodes.get(src.node)
    if not isinstance(syn, (Dense, Conv2d)) or syn.name not in builder.exclusive \
            or builder.graph.out_edges(syn.name):
        raise NeurodeployError(f"module '{where}' ({type(mod).__name__}): BatchNorm must directly "
                               "follow a Linear or Conv2d whose output feeds nothing else, to be "
                               "folded into it")
    if mod.running_mean is None or mod.running_var is None:
        raise NeurodeployError(f"module '{where}' ({type(mod).__name__}): no running statistics "
                               "(track_running_stats=False) to fold")
    mean = check_finite(where, "running_mean", mod.running_mean).astype(np.float64)
    var = check_finite(where, "running_var", mod.running_var).astype(np.float64)
    gamma = check_finite(where, "weight", mod.weight).astype(np.float64) if mod.affine \
        else np.ones_like(mean)
    beta = check_finite(where, "bias", mod.bias).astype(np.float64) if mod.affine \
        else np.zeros_like(mean)
    if mean.shape[0] != syn.weight.shape[0]:
        raise NeurodeployError(f"module '{where}' ({type(mod).__name__}): {mean.shape[0]} "
                               f"features, but '{syn.name}' has {syn.weight.shape[0]} outputs")
    k = gamma / np.sqrt(var + float(mod.eps))
    shape = (-1,) + (1,) * (syn.weight.ndim - 1)
    syn.weight = (syn.weight.astype(np.float64) * k.reshape(shape)).astype(np.float32)
    b = syn.bias.astype(np.float64) if syn.bias is not None else np.zeros_like(mean)
    syn.bias = ((b - mean) * k + beta).astype(np.float32)
    return src


def capture(module: Any, input_shape: Shape, handlers: dict[type, Handler], *,
            source: str, allow_bntt: bool = False, metadata: dict[str, Any] | None = None,
            decoding: str = "mean") -> Graph:
    """Trace ``module`` (one time step per call) into a validated Graph.

    ``input_shape``: one sample's per-step input shape (no batch). ``handlers``: neuron module
    type → function giving its :class:`NeuronSpec`. ``source`` names the framework in errors
    and metadata. Raises NeurodeployError naming the module at fault.
    """
    import torch
    import torch.nn as nn

    bntt = _bntt_lists(module)
    if bntt:
        if not allow_bntt:
            raise NeurodeployError(
                f"module '{bntt[0]}': per-time-step BatchNorm (BNTT) has no exact form in the IR "
                "(one synapse for all steps); pass --allow-bntt / allow_bntt=True to approximate "
                "it with the time-averaged BatchNorm")
        warnings.warn(f"BNTT modules {bntt} approximated by their time-averaged BatchNorm",
                      stacklevel=2)
        module = _replace_bntt(module, bntt)
    leaf_types = tuple(handlers)
    gm = _trace(module, leaf_types)
    meta = {"source": source, **(metadata or {})}
    b = Builder(meta)
    vals: dict[str, Any] = {}
    mem_wanted = _membrane_outputs(gm, handlers)
    first_input = True

    def where_of(n: Any) -> str:
        return str(n.target) if n.op == "call_module" else n.name

    def need_value(n: Any, v: Any, who: str) -> Value:
        if isinstance(v, Value):
            return v
        if isinstance(v, _Part):
            raise NeurodeployError(f"'{who}': uses the {v.what} state of neuron module "
                                   f"'{v.where}'; only spikes can feed other layers in the IR")
        raise NeurodeployError(f"'{who}': takes {type(v).__name__} {v!r}, not a layer output; "
                               "only layer outputs can be combined")

    for n in gm.graph.nodes:
        where = where_of(n)
        if n.op == "placeholder":
            if first_input:
                vals[n.name] = b.add(Input("input", shape=tuple(input_shape)))
                b.graph.inputs = [vals[n.name].node]
                first_input = False
            else:
                vals[n.name] = None  # optional state arguments (default None)
            continue
        if n.op == "output":
            outs = _flatten_outputs(n.args[0], vals)
            _set_outputs(b, outs)
            continue
        args = [vals[a.name] if isinstance(a, torch.fx.Node) else a for a in n.args]
        if n.op == "call_module":
            mod = gm.get_submodule(n.target)
            x = args[0] if args else None
            if isinstance(mod, leaf_types):
                spec = handlers[type(mod)](mod, where, need_value(n, x, where).shape) \
                    if type(mod) in handlers else _handler_for(handlers, mod)(
                        mod, where, need_value(n, x, where).shape)
                if where in mem_wanted and spec.reset == "none" and not spec.recurrent \
                        and not spec.delayed_reset:
                    spec.readout = True
                out = b.neuron(where, spec, [need_value(n, x, where)], where)
                returns = getattr(spec, "returns", ("spikes",))
                if len(returns) == 1:
                    vals[n.name] = out
                else:
                    vals[n.name] = tuple(out if r == "spikes" else _Part(out.node, r, where)
                                         for r in returns)
                continue
            x = need_value(n, x, where)
            if isinstance(mod, nn.Linear):
                if len(x.shape) != 1:
                    raise NeurodeployError(
                        f"module '{where}' (Linear): takes 1-D inputs of {mod.in_features} "
                        f"features, got per-sample shape {x.shape} (a Flatten is needed)")
                if x.shape[0] != mod.in_features:
                    raise NeurodeployError(
                        f"module '{where}' (Linear): shape mismatch: expects {mod.in_features} "
                        f"input features, its input has {x.shape[0]}")
                w = check_finite(where, "weight", mod.weight)
                bias = check_finite(where, "bias", mod.bias) if mod.bias is not None else None
                vals[n.name] = b.synapse(Dense(where, weight=w, bias=bias), x, where)
                _mark_exclusive(b, n, vals[n.name])
            elif isinstance(mod, nn.Conv2d):
                if len(x.shape) != 3 or x.shape[0] != mod.in_channels:
                    raise NeurodeployError(
                        f"module '{where}' (Conv2d): shape mismatch: expects ({mod.in_channels}, "
                        f"H, W) inputs, got per-sample shape {x.shape}")
                vals[n.name] = b.synapse(_conv(mod, where), x, where)
                _mark_exclusive(b, n, vals[n.name])
            elif isinstance(mod, nn.AvgPool2d):
                if mod.ceil_mode or mod.divisor_override is not None or (
                        not mod.count_include_pad and _pair(mod.padding) != (0, 0)):
                    raise NeurodeployError(f"module '{where}' (AvgPool2d): ceil_mode, "
                                           "divisor_override and count_include_pad=False are "
                                           "not supported")
                k = _pair(mod.kernel_size)
                s = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
                out = b.add(AvgPool2d(where, kernel=k, stride=s, padding=_pair(mod.padding)),
                            Value(x.node, x.shape), where=where)
                vals[n.name] = Value(out.node, out.shape, x.scale)
            elif isinstance(mod, nn.Flatten):
                if mod.start_dim != 1 or mod.end_dim != -1:
                    raise NeurodeployError(f"module '{where}' (Flatten): only start_dim=1, "
                                           "end_dim=-1 is supported")
                vals[n.name] = _flatten(b, x, where)
            elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
                vals[n.name] = _fold_bn(b, x, mod, where)
            elif isinstance(mod, (nn.Dropout, nn.Dropout2d, nn.Identity)):
                vals[n.name] = x
            else:
                raise NeurodeployError(
                    f"module '{where}' ({type(mod).__name__}): not supported by the {source} "
                    "exporter (it maps Linear, Conv2d, AvgPool2d, Flatten, BatchNorm, residual "
                    "additions and the framework's neurons)")
            continue
        if n.op in ("call_function", "call_method"):
            vals[n.name] = _call(b, n, args, where, need_value)
            continue
        raise NeurodeployError(f"'{where}': {n.op} of '{n.target}' is not supported; the model "
                               "may only use its layers' outputs")
    validate(b.graph)
    return b.graph


def _handler_for(handlers: dict[type, Handler], mod: Any) -> Handler:
    for t, h in handlers.items():
        if isinstance(mod, t):
            return h
    raise KeyError(type(mod))


def _mark_exclusive(b: Builder, n: Any, v: Value) -> None:
    if len(n.users) == 1:
        b.exclusive.add(v.node)


def _membrane_outputs(gm: Any, handlers: dict[type, Handler]) -> set[str]:
    """Neuron modules whose non-spike output (membrane) is among the model's outputs."""
    import torch.fx as fx

    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    wanted: set[str] = set()

    def walk(a: Any) -> None:
        if isinstance(a, (tuple, list)):
            for x in a:
                walk(x)
        elif isinstance(a, fx.Node) and a.op == "call_function" and a.target is operator.getitem:
            src = a.args[0]
            if isinstance(src, fx.Node) and src.op == "call_module" and a.args[1] != 0:
                wanted.add(str(src.target))

    walk(out_node.args[0])
    return wanted


def _flatten_outputs(a: Any, vals: dict[str, Any]) -> list[Any]:
    import torch.fx as fx

    if isinstance(a, (tuple, list)):
        return [x for item in a for x in _flatten_outputs(item, vals)]
    if isinstance(a, fx.Node):
        v = vals[a.name]
        return list(v) if isinstance(v, tuple) else [v]
    return []


def _set_outputs(b: Builder, outs: list[Any]) -> None:
    names: list[str] = []
    spike_nodes = {o.node for o in outs if isinstance(o, Value)}
    for o in outs:
        if isinstance(o, Value):
            node = b.graph.nodes[o.node]
            if o.scale != 1.0:
                raise NeurodeployError(f"output '{o.node}': spikes of amplitude {o.scale} at the "
                                       "output have no place to fold the amplitude into")
            if not kinds.is_neuron(node):
                raise NeurodeployError(f"output '{o.node}' ({node.kind}): the IR's outputs are "
                                       "neuron layers; end the model with a neuron")
            name = o.node
        elif isinstance(o, _Part):
            node = b.graph.nodes[o.neuron]
            if not kinds.fires(node) or o.neuron in spike_nodes:
                name = o.neuron
            else:
                raise NeurodeployError(
                    f"module '{o.where}': its {o.what} is a model output, but the neuron resets "
                    "or fires; the IR reads membranes only from non-firing (reset 'none') "
                    "Readout layers")
        else:
            continue
        if name not in names:
            names.append(name)
    if not names:
        raise NeurodeployError("the model returns no neuron layer output")
    b.graph.outputs = names


def _flatten(b: Builder, x: Value, where: str) -> Value:
    if len(x.shape) == 1:
        return x
    out = b.add(Flatten(where), Value(x.node, x.shape), where=where)
    return Value(out.node, out.shape, x.scale)


def _call(b: Builder, n: Any, args: list[Any], where: str, need_value: Any) -> Any:
    import torch

    t = n.target
    if t is operator.getitem:
        src, idx = args
        if isinstance(src, tuple):
            return src[idx]
        if getattr(src, "__class__", None) is _ShapeOf and idx == 0:
            return _Size()
        raise NeurodeployError(f"'{where}': indexing a layer output is not supported")
    if t in (operator.add, operator.iadd, torch.add) or (n.op == "call_method" and t == "add"):
        if n.kwargs.get("alpha", 1) != 1:
            raise NeurodeployError(f"'{where}': torch.add with alpha is not supported")
        xs = [need_value(n, a, where) for a in args[:2]]
        if xs[0].scale != xs[1].scale:
            raise NeurodeployError(f"'{where}': adds spikes of amplitudes {xs[0].scale} and "
                                   f"{xs[1].scale}")
        if xs[0].shape != xs[1].shape:
            raise NeurodeployError(f"'{where}': shape mismatch: adds {xs[0].shape} and "
                                   f"{xs[1].shape}")
        out = b.add(Add(where), Value(xs[0].node, xs[0].shape), Value(xs[1].node, xs[1].shape),
                    where=where)
        return Value(out.node, out.shape, xs[0].scale)
    if t is torch.flatten or (n.op == "call_method" and t == "flatten"):
        start = args[1] if len(args) > 1 else n.kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else n.kwargs.get("end_dim", -1)
        if start != 1 or end != -1:
            raise NeurodeployError(f"'{where}': flatten must keep the batch dimension "
                                   "(start_dim=1, end_dim=-1)")
        return _flatten(b, need_value(n, args[0], where), where)
    if n.op == "call_method" and t == "size":
        if len(args) > 1 and args[1] == 0:
            return _Size()
        return _ShapeOf()
    if n.op == "call_function" and t is getattr and args[1] == "shape":
        return _ShapeOf()
    if n.op == "call_method" and t in ("view", "reshape"):
        x = need_value(n, args[0], where)
        dims = list(args[1]) if len(args) == 2 and isinstance(args[1], (tuple, list)) \
            else list(args[1:])
        total = int(np.prod(x.shape))
        if len(dims) == 2 and isinstance(dims[0], _Size) and dims[1] in (-1, total):
            return _flatten(b, x, where)
        raise NeurodeployError(f"'{where}': {t}{tuple(dims)} is not supported; only "
                               "x.view(x.size(0), -1) (a Flatten)")
    if n.op == "call_method" and t in ("contiguous", "clone", "detach", "float"):
        return args[0]
    name = getattr(t, "__name__", str(t))
    raise NeurodeployError(f"'{where}': the operation '{name}' is not supported by the exporter "
                           "(only layers, additions and flatten)")


class _ShapeOf:
    """``x.shape`` / ``x.size()``."""
