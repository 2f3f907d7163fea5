"""IR → ONNX: one ONNX graph is one time step of the neuron graph, state in and state out.

:func:`to_onnx` ``(graph) -> onnx.ModelProto``, :func:`write_onnx` ``(graph, path)``.

**The synaptic dataflow uses standard ONNX ops** (opset :data:`OPSET`, float32, a leading batch
dimension ``B`` on every value, IR shapes after it):

- ``Dense`` → ``Gemm(x, W, b, transB=1)``: ``y = x·Wᵀ + b``, ``x`` ``[B, n_in]``, ``W`` the IR's
  ``[n_out, n_in]`` weight as an initializer ``<node>.weight`` (bit-identical float32), ``b``
  ``<node>.bias`` when the node has one.
- ``Conv2d`` → ``Conv`` (``pads = [pH, pW, pH, pW]``, ``strides``, ``dilations``, ``group``);
  the weight ``[C_out, C_in/g, kH, kW]`` as ``<node>.weight``.
- ``AvgPool2d`` → ``AveragePool(count_include_pad=1)`` (the IR counts zero padding).
- ``SumPool2d`` → a depthwise ``Conv`` (``group = C``) with an all-ones ``[C, 1, kH, kW]`` kernel
  ``<node>.ones``: the window *sum* (an ``AveragePool`` times ``kH·kW`` would round).
- ``Flatten`` → ``Flatten(axis=1)`` (C order, as ``torch.flatten``); ``Add`` → ``Sum``.
- A neuron with several incoming edges gets their ``Sum`` ``<node>.in`` as its input ``I[t]``.

**Neurons are nodes of the custom domain** :data:`DOMAIN` (version 1), with their state as
explicit inputs and outputs, so that the graph is honest about being one step:

- ``CubaLIF(I, u, v[, ref]) → (s, u', v'[, ref'])`` with attributes ``du``, ``dv``, ``vth``,
  ``bias`` (float32 tensors, 0-d or the neuron shape), ``reset`` (``zero|subtract|none``),
  ``refractory`` (steps); computes the IR's equations::

      u' = u·(1 − du) + I;  v' = v·(1 − dv) + u' + bias;  s = v' > vth   (0/1 float)
      reset where s: zero → v' = 0 | subtract → v' −= vth | none

  (with ``refractory = r > 0``, ``ref`` counts the blocked steps left, as
  :func:`neurodeploy.kinds.cuba_lif.float_step`).
- ``Readout(I, u, v) → (y, u', v')``: the same without threshold, ``y = v'``; attributes
  ``du``, ``dv``, ``bias``, ``decoding`` and, for ``weighted``, ``weights`` (decoding acts over
  steps, outside the one-step graph).
- Quantized parameters (``NeuronQ``) ride along as attributes ``q_du``, ``q_dv``, ``q_vth``,
  ``q_bias_exp`` (ints), ``q_bias_mant`` (int32 tensor), ``q_scale`` (float).
- Each neuron kind (:mod:`neurodeploy.kinds`) names its op, its state and its attributes; the
  reference kernels run the kind's own float step.

**State I/O names.** Graph inputs: each IR input ``<in>`` ``[B, *shape]``; each neuron's
``<n>.u``, ``<n>.v`` (and ``<n>.ref``); for each source ``<src>`` of a recurrent (delay 1) edge,
``<src>.prev`` (its output of the previous step). Graph outputs: the IR's outputs, then
``<n>.u_next``, ``<n>.v_next`` (``<n>.ref_next``) and ``<src>`` for delayed sources. The model's
``metadata_props["neurodeploy.state"]`` (JSON) lists the ``[output, input]`` pairs to feed back
each step; every state starts at zero at ``t = 0``.

Quantized synapse weights (``WeightQ``) are initializers ``<node>.quant.weight`` (int32, not
consumed by the float graph); their ``weight_exp``, ``num_weight_bits``, ``scale`` and every
``InputQ`` are JSON in ``metadata_props["neurodeploy.quant.<node>"]``. Graph metadata is in
``metadata_props["neurodeploy.metadata"]``.

The model passes ``onnx.checker.check_model``, also with ``full_check=True`` (strict shape
inference: onnx 1.23 skips nodes of a domain it has no schema for, so the custom nodes' output
shapes come from the declared graph outputs and ``value_info``, which carry every shape).
:func:`run_onnx` steps a model with ``onnx.reference.ReferenceEvaluator`` and the reference
kernels of :func:`reference_ops` (numpy), e.g. to check an export against
:func:`neurodeploy.sim.simulate`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    SumPool2d,
    validate,
)

DOMAIN = "ai.neurodeploy"
OPSET = 17
IR_VERSION = 8
BATCH = "B"


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise NeurodeployError("ONNX export needs the 'onnx' package (pip install onnx)") from None
    return onnx


def _tensor_attr(onnx: Any, name: str, value: Any, dtype: Any = np.float32) -> Any:
    return onnx.helper.make_attribute(name, onnx.numpy_helper.from_array(
        np.ascontiguousarray(np.asarray(value, dtype)), name))


def _quant_json(q: Any) -> str:
    out = {}
    for k, v in vars(q).items():
        if isinstance(v, np.ndarray):
            continue
        out[k] = v.item() if isinstance(v, np.generic) else v
    return json.dumps(out, sort_keys=True)


def _quant_attributes(q: Any) -> dict[str, Any]:
    """A neuron's integer parameters (NeuronQ) as ONNX attribute values: its int and float
    fields as such, its arrays as arrays."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(q):
        v = getattr(q, f.name)
        out[f.name] = (np.asarray(v) if isinstance(v, np.ndarray)
                       else float(v) if f.type == "float" else int(v))
    return out


def to_onnx(graph: Graph) -> Any:
    """``graph`` (float, optionally quantized) as an ``onnx.ModelProto`` of one time step
    (layout and names in the module docstring). Raises NeurodeployError for an invalid graph."""
    onnx = _require_onnx()
    helper = onnx.helper
    shapes = validate(graph)
    nodes: list[Any] = []
    inits: list[Any] = []
    inputs: list[Any] = []
    outputs: list[Any] = []
    value_info: list[Any] = []
    state_pairs: list[list[str]] = []
    props: dict[str, str] = {}
    delayed_srcs = [n for n in graph.nodes if any(e.delay and e.src == n for e in graph.edges)]

    def vi(name: str, shape: tuple[int, ...]) -> Any:
        return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [BATCH, *shape])

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def src_value(edge: Any) -> str:
        return f"{edge.src}.prev" if edge.delay else edge.src

    for name in graph.inputs:
        inputs.append(vi(name, shapes[name]))
    for name in delayed_srcs:
        inputs.append(vi(f"{name}.prev", shapes[name]))

    for name in graph.topological_order():
        node = graph.nodes[name]
        shape = shapes[name]
        ins = [src_value(e) for e in graph.in_edges(name)]
        if isinstance(node, Input):
            if node.quant is not None:
                props[f"neurodeploy.quant.{name}"] = _quant_json(node.quant)
            continue
        if isinstance(node, (Dense, Conv2d)) and node.quant is not None:
            init(f"{name}.quant.weight", np.asarray(node.quant.weight, np.int32))
            props[f"neurodeploy.quant.{name}"] = _quant_json(node.quant)
        if isinstance(node, (Dense, Conv2d)) and node.max_delay > 0:
            raise NeurodeployError(f"node '{name}' ({node.kind}): synaptic delays (up to "
                                   f"{node.max_delay} steps) have no ONNX form "
                                   f"({'Gemm' if isinstance(node, Dense) else 'Conv'})")
        if isinstance(node, Dense):
            args = [ins[0], init(f"{name}.weight", np.asarray(node.weight, np.float32))]
            if node.bias is not None:
                args.append(init(f"{name}.bias", np.asarray(node.bias, np.float32)))
            nodes.append(helper.make_node("Gemm", args, [name], name=name, transB=1))
        elif isinstance(node, Conv2d):
            kh, kw = node.weight.shape[2:]
            args = [ins[0], init(f"{name}.weight", np.asarray(node.weight, np.float32))]
            if node.bias is not None:
                args.append(init(f"{name}.bias", np.asarray(node.bias, np.float32)))
            nodes.append(helper.make_node(
                "Conv", args, [name], name=name, kernel_shape=[int(kh), int(kw)],
                strides=list(node.stride), dilations=list(node.dilation),
                pads=[*node.padding, *node.padding], group=int(node.groups)))
        elif isinstance(node, AvgPool2d):
            nodes.append(helper.make_node(
                "AveragePool", ins, [name], name=name, kernel_shape=list(node.kernel),
                strides=list(node.stride), pads=[*node.padding, *node.padding],
                count_include_pad=1))
        elif isinstance(node, SumPool2d):
            c = shapes[graph.in_edges(name)[0].src][0]
            ones = init(f"{name}.ones", np.ones((c, 1, *node.kernel), np.float32))
            nodes.append(helper.make_node(
                "Conv", [ins[0], ones], [name], name=name, kernel_shape=list(node.kernel),
                strides=list(node.stride), pads=[*node.padding, *node.padding], group=int(c)))
        elif isinstance(node, Flatten):
            nodes.append(helper.make_node("Flatten", ins, [name], name=name, axis=1))
        elif isinstance(node, Add):
            nodes.append(helper.make_node("Sum", ins, [name], name=name))
        elif (kind := kinds.kind_of(node)) is not None:
            i_in = ins[0]
            if len(ins) > 1:
                i_in = f"{name}.in"
                nodes.append(helper.make_node("Sum", ins, [i_in], name=i_in))
                value_info.append(vi(i_in, shape))
            state = kind.onnx_state(node)
            state_in = [f"{name}.{v}" for v in state]
            state_out = [f"{name}.{v}_next" for v in state]
            attrs = [_tensor_attr(onnx, k, v) if isinstance(v, np.ndarray)
                     else helper.make_attribute(k, v)
                     for k, v in kind.onnx_attributes(node).items()]
            q = node.quant
            if q is not None:
                attrs += [_tensor_attr(onnx, f"q_{k}", v, np.int32) if isinstance(v, np.ndarray)
                          else helper.make_attribute(f"q_{k}", v)
                          for k, v in _quant_attributes(q).items()]
            op = helper.make_node(kind.onnx_op, [i_in, *state_in], [name, *state_out],
                                  name=name, domain=DOMAIN)
            op.attribute.extend(attrs)
            nodes.append(op)
            for s_in, s_out in zip(state_in, state_out, strict=True):
                inputs.append(vi(s_in, shape))
                outputs.append(vi(s_out, shape))
                state_pairs.append([s_out, s_in])
        else:  # pragma: no cover - validate() knows every node kind
            raise NeurodeployError(f"node '{name}' ({node.kind}): no ONNX form")
        if name not in graph.outputs and name not in delayed_srcs:
            value_info.append(vi(name, shape))

    head = [vi(n, shapes[n]) for n in graph.outputs]
    head += [vi(n, shapes[n]) for n in delayed_srcs if n not in graph.outputs]
    state_pairs += [[n, f"{n}.prev"] for n in delayed_srcs]
    g = helper.make_graph(nodes, str(graph.metadata.get("name", "neurodeploy_step")),
                          inputs, head + outputs, initializer=inits, value_info=value_info)
    model = helper.make_model(
        g, producer_name="neurodeploy", ir_version=IR_VERSION,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)],
        doc_string="One time step of a neurodeploy neuron graph: feed each state output back "
                   "to its input (metadata 'neurodeploy.state'), zeros at t = 0.")
    props["neurodeploy.state"] = json.dumps(state_pairs)
    props["neurodeploy.outputs"] = json.dumps(list(graph.outputs))
    props["neurodeploy.metadata"] = json.dumps(graph.metadata, sort_keys=True, default=str)
    helper.set_model_props(model, props)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:  # pragma: no cover - a bug in this module
        raise NeurodeployError(f"ONNX export produced an invalid model: "
                               f"{' '.join(str(exc).split())[:300]}") from None
    return model


def write_onnx(graph: Graph, path: str | Path) -> None:
    """Write ``graph`` as an ONNX file of one time step (atomically)."""
    onnx = _require_onnx()
    from neurodeploy.atomic import atomic_path

    model = to_onnx(graph)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))


# ------------------------------------------------------------------ reference kernels


def reference_ops() -> list[type]:
    """``onnx.reference`` kernels of the custom neuron ops (``CubaLIF``, ``Readout``: one per
    neuron kind), for ``ReferenceEvaluator(model, new_ops=reference_ops())``. Each rebuilds
    its IR node from the attributes and runs the kind's float step (torch, float32) — the
    simulator's arithmetic."""
    from onnx.reference.op_run import OpRun

    ops = []
    for kind in kinds.KINDS.values():
        fields = {f.name for f in dataclasses.fields(kind.node_type)} - {"name", "shape", "quant"}

        def run(self: Any, i_in: np.ndarray, *state: np.ndarray, kind: Any = kind,
                fields: set = fields, **att: Any) -> tuple[np.ndarray, ...]:
            import torch

            node = kind.node_type("onnx", shape=tuple(i_in.shape[1:]),
                                  **{k: np.array(v) if isinstance(v, np.ndarray) else v
                                     for k, v in att.items() if k in fields})
            names = kind.onnx_state(node)
            zero = kind.initial_state(node, tuple(i_in.shape), False, "cpu")
            st = zero._replace(**{n: torch.as_tensor(a).to(getattr(zero, n).dtype)
                                  for n, a in zip(names, state, strict=True)})
            st, y = kind.float_step(st, torch.as_tensor(i_in), kind.float_params(node, "cpu"))
            f32 = np.float32
            return (y.numpy().astype(f32), *(getattr(st, n).numpy().astype(f32) for n in names))

        ops.append(type(kind.onnx_op, (OpRun,), {"op_domain": DOMAIN, "_run": run}))
    return ops


def run_onnx(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Step a :func:`to_onnx` model over ``x`` ``[T, B, *input_shape]`` (one input) with
    ``onnx.reference``; returns each IR output ``[T, B, *shape]`` (float32)."""
    from onnx.reference import ReferenceEvaluator

    props = {p.key: p.value for p in model.metadata_props}
    pairs = json.loads(props["neurodeploy.state"])
    outs = json.loads(props["neurodeploy.outputs"])
    sess = ReferenceEvaluator(model, new_ops=reference_ops())
    graph_in = [i.name for i in model.graph.input]
    state_in = {inp for _, inp in pairs}
    data_in = [n for n in graph_in if n not in state_in]
    if len(data_in) != 1:
        raise NeurodeployError(f"run_onnx takes models with one data input, got {data_in}")
    out_names = [o.name for o in model.graph.output]
    x = np.asarray(x, np.float32)
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim[1:]]
            for i in model.graph.input}
    state = {n: np.zeros((x.shape[1], *dims[n]), np.float32) for n in state_in}
    rec: dict[str, list[np.ndarray]] = {n: [] for n in outs}
    for t in range(x.shape[0]):
        res = dict(zip(out_names, sess.run(None, {data_in[0]: x[t], **state}), strict=True))
        for n in outs:
            rec[n].append(res[n])
        state = {inp: res[out] for out, inp in pairs}
    return {n: np.stack(v) for n, v in rec.items()}
