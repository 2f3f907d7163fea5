"""ONNX out (converters/onnx.py): one ONNX graph = one time step, neurons in the custom domain.

Checked here: ``onnx.checker.check_model(full_check=True)`` on MLP, conv+pool, residual and
recurrent (Dense and Conv2d) graphs; the standard-op part carries the IR's parameters bit for
bit (initializers, attributes, op order, value_info shapes); and the model stepped with
``onnx.reference`` (its standard kernels + our custom-op kernels) reproduces
``neurodeploy.sim.simulate`` in float mode, every listed layer, every step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from graphs import random_graphs
from hypothesis import HealthCheck, given, settings
from neurodeploy.converters.onnx import DOMAIN, run_onnx, to_onnx, write_onnx

from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    NeuronQ,
    Readout,
    SumPool2d,
    WeightQ,
    infer_shapes,
)
from neurodeploy.sim import simulate

onnx = pytest.importorskip("onnx")

T, B = 16, 3
RTOL = 1e-5  # float32 sums in a different order (numpy vs torch)


def _w(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.normal(0, scale, shape)).astype(np.float32)


def mlp() -> Graph:
    rng = np.random.default_rng(0)
    g = Graph(metadata={"T": T, "source": "test"})
    g.add(Input("in", shape=(6,)))
    g.add(Dense("fc1", weight=_w(rng, 10, 6), bias=_w(rng, 10)), "in")
    g.add(CubaLIF("lif1", shape=(10,), du=0.3, dv=0.2, vth=0.5, bias=0.05, reset="subtract"),
          "fc1")
    g.add(Dense("fc2", weight=_w(rng, 4, 10)), "lif1")
    g.add(Readout("out", shape=(4,), du=0.5, dv=0.1, decoding="mean"), "fc2")
    g.inputs, g.outputs = ["in"], ["out", "lif1"]
    return g


def conv_pool() -> Graph:
    rng = np.random.default_rng(1)
    g = Graph(metadata={"T": T})
    g.add(Input("in", shape=(2, 7, 6)))
    g.add(Conv2d("conv1", weight=_w(rng, 4, 2, 3, 3), bias=_w(rng, 4), padding=(1, 0),
                 stride=(1, 1)), "in")
    g.add(CubaLIF("lif1", shape=(4, 7, 4), du=1.0, dv=0.1, vth=0.6, refractory=2), "conv1")
    g.add(SumPool2d("sum", kernel=(2, 2), stride=(1, 2), padding=(1, 0)), "lif1")
    g.add(Conv2d("conv2", weight=_w(rng, 4, 2, 3, 3), groups=2, dilation=(2, 1),
                 padding=(2, 1)), "sum")
    g.add(CubaLIF("lif2", shape=(4, 8, 2), du=0.5, dv=0.25, vth=0.4, reset="none"), "conv2")
    g.add(AvgPool2d("avg", kernel=(2, 2), stride=(2, 2), padding=(1, 1)), "lif2")
    g.add(Flatten("flat"), "avg")
    g.add(Dense("fc", weight=_w(rng, 3, 4 * 5 * 2)), "flat")
    g.add(Readout("out", shape=(3,), decoding="max"), "fc")
    g.inputs, g.outputs = ["in"], ["out", "lif1", "lif2"]
    return g


def residual() -> Graph:
    rng = np.random.default_rng(2)
    g = Graph()
    g.add(Input("in", shape=(8,)))
    g.add(Dense("fc1", weight=_w(rng, 8, 8)), "in")
    g.add(CubaLIF("lif1", shape=(8,), dv=0.2, vth=0.3), "fc1")
    g.add(Dense("fc2", weight=_w(rng, 8, 8)), "lif1")
    g.add(CubaLIF("lif2", shape=(8,), dv=0.2, vth=0.3), "fc2")
    g.add(Add("res", ), "lif1", "lif2")
    g.add(Dense("fc3", weight=_w(rng, 5, 8)), "res")
    g.add(Dense("skip", weight=_w(rng, 5, 8)), "in")
    g.add(Readout("out", shape=(5,), dv=0.3), "fc3", "skip")  # two edges: a Sum before it
    g.inputs, g.outputs = ["in"], ["out", "lif2"]
    return g


def recurrent() -> Graph:
    """A recurrent Dense and a recurrent Conv2d (fed only by the previous step's spikes)."""
    rng = np.random.default_rng(3)
    g = Graph()
    g.add(Input("in", shape=(1, 5, 5)))
    g.add(Conv2d("conv", weight=_w(rng, 3, 1, 3, 3), padding=(1, 1)), "in")
    g.add(Conv2d("rconv", weight=_w(rng, 3, 3, 3, 3, scale=0.3), padding=(1, 1)))
    g.add(CubaLIF("lif0", shape=(3, 5, 5), du=0.4, dv=0.1, vth=0.5), "conv", "rconv")
    g.connect("lif0", "rconv", delay=1)
    g.add(Flatten("flat"), "lif0")
    g.add(Dense("fc1", weight=_w(rng, 7, 75, scale=0.3)), "flat")
    g.add(Dense("rec", weight=_w(rng, 7, 7)))
    g.add(CubaLIF("lif1", shape=(7,), dv=0.3, vth=0.5), "fc1", "rec")
    g.connect("lif1", "rec", delay=1)
    g.add(Dense("fc2", weight=_w(rng, 2, 7)), "lif1")
    g.add(Readout("out", shape=(2,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out", "lif0", "lif1"]
    return g


GRAPHS = {"mlp": mlp, "conv_pool": conv_pool, "residual": residual, "recurrent": recurrent}


def _x(g: Graph, seed: int) -> np.ndarray:
    shape = infer_shapes(g)[g.inputs[0]]
    return np.random.default_rng(seed).uniform(0, 1.5, (T, B, *shape)).astype(np.float32)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_checker_passes_and_steps_equal_the_simulator(name: str) -> None:
    g = GRAPHS[name]()
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    x = _x(g, 7)
    sim = simulate(g, x, mode="float")
    got = run_onnx(model, x)
    assert list(got) == g.outputs
    for out in g.outputs:
        ref = sim.outputs[out].numpy()
        np.testing.assert_allclose(got[out], ref, rtol=RTOL, atol=RTOL * np.abs(ref).max(),
                                   err_msg=f"{name}: {out}")
    for out in g.outputs[1:]:  # spiking layers: every spike the same, and some spikes
        assert 0 < got[out].sum() < got[out].size, (name, out)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_structure_carries_the_ir_exactly(name: str) -> None:
    g = GRAPHS[name]()
    shapes = infer_shapes(g)
    model = to_onnx(g)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    ops = [(n.name, n.op_type, n.domain) for n in model.graph.node]
    expect = []
    std = {Dense: "Gemm", Conv2d: "Conv", SumPool2d: "Conv", AvgPool2d: "AveragePool",
           Flatten: "Flatten", Add: "Sum", CubaLIF: "CubaLIF", Readout: "Readout"}
    for n in g.topological_order():
        node = g[n]
        if isinstance(node, Input):
            continue
        if isinstance(node, (CubaLIF, Readout)) and len(g.in_edges(n)) > 1:
            expect.append((f"{n}.in", "Sum", ""))
        expect.append((n, std[type(node)], DOMAIN if isinstance(node, (CubaLIF, Readout))
                       else ""))
        if isinstance(node, (Dense, Conv2d)):
            assert inits[f"{n}.weight"].dtype == np.float32
            np.testing.assert_array_equal(inits[f"{n}.weight"], node.weight)
            if node.bias is not None:
                np.testing.assert_array_equal(inits[f"{n}.bias"], node.bias)
            else:
                assert f"{n}.bias" not in inits
    assert ops == expect
    declared = {v.name: v for v in [*model.graph.value_info, *model.graph.output,
                                    *model.graph.input]}
    for n in g.nodes:
        dims = declared[n].type.tensor_type.shape.dim
        assert dims[0].dim_param == "B"
        assert tuple(d.dim_value for d in dims[1:]) == shapes[n]
    pairs = json.loads({p.key: p.value for p in model.metadata_props}["neurodeploy.state"])
    neurons = [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]
    delayed = sorted({e.src for e in g.edges if e.delay})
    want = {(f"{n}.{s}_next", f"{n}.{s}") for n in neurons for s in "uv"}
    want |= {(f"{n}.ref_next", f"{n}.ref") for n in neurons
             if isinstance(g[n], CubaLIF) and g[n].refractory}
    want |= {(s, f"{s}.prev") for s in delayed}
    assert {tuple(p) for p in pairs} == want


def test_neuron_attributes_and_quantized_parameters() -> None:
    g = mlp()
    g["fc1"].quant = WeightQ(weight=np.arange(60, dtype=np.int32).reshape(10, 6) * 2 - 60,
                             weight_exp=-3, scale=0.25)
    g["lif1"].quant = NeuronQ(du=1228, dv=819, vth=5000,
                              bias_mant=np.arange(10, dtype=np.int32) - 5, bias_exp=3,
                              scale=0.01)
    g["lif1"].vth = np.linspace(0.3, 0.7, 10).astype(np.float32)  # per neuron
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    node = next(n for n in model.graph.node if n.name == "lif1")
    att = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    for k in ("du", "dv", "vth", "bias"):
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(att[k]), getattr(g["lif1"], k))
    assert att["reset"] == b"subtract" and att["refractory"] == 0
    assert (att["q_du"], att["q_dv"], att["q_vth"], att["q_bias_exp"]) == (1228, 819, 5000, 3)
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(att["q_bias_mant"]),
                                  g["lif1"].quant.bias_mant)
    assert att["q_scale"] == pytest.approx(0.01, rel=1e-7)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    np.testing.assert_array_equal(inits["fc1.quant.weight"], g["fc1"].quant.weight)
    assert inits["fc1.quant.weight"].dtype == np.int32
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["neurodeploy.quant.fc1"]) == {
        "weight_exp": -3, "num_weight_bits": 8, "scale": 0.25}
    # the quantized side data does not change the float step
    x = _x(g, 3)
    np.testing.assert_allclose(run_onnx(model, x)["out"], simulate(g, x).outputs["out"].numpy(),
                               rtol=RTOL, atol=1e-5)


def test_a_wrong_weight_is_caught() -> None:
    """The comparison can fail: one weight changed in the ONNX model changes the outputs."""
    g = mlp()
    model = to_onnx(g)
    init = next(i for i in model.graph.initializer if i.name == "fc2.weight")
    w = onnx.numpy_helper.to_array(init).copy()
    w[0, 0] += 0.5
    init.CopyFrom(onnx.numpy_helper.from_array(w, "fc2.weight"))
    x = _x(g, 7)
    ref = simulate(g, x).outputs["out"].numpy()
    assert not np.allclose(run_onnx(model, x)["out"], ref, rtol=RTOL, atol=1e-5)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_graphs())
def test_random_graphs_check_and_step_like_the_simulator(g: Graph) -> None:
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    x = _x(g, 1)[:8]
    ref = simulate(g, x).outputs[g.outputs[0]].numpy()
    np.testing.assert_allclose(run_onnx(model, x)[g.outputs[0]], ref, rtol=RTOL,
                               atol=RTOL * max(1.0, float(np.abs(ref).max())))


def test_cli_export_format_onnx(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from neurodeploy.converters.nir import write_nir

    from neurodeploy.cli.main import main

    g = mlp()
    g.outputs = ["out"]
    write_nir(g, tmp_path / "m.nir")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "m.nir"), "-o", str(out), "--format", "onnx",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "onnx"
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output][:1] == ["out"]
    x = _x(g, 5)
    np.testing.assert_allclose(run_onnx(model, x)["out"], simulate(g, x).outputs["out"].numpy(),
                               rtol=RTOL, atol=1e-5)
    # an .ndg graph file converts too, to exactly what to_onnx makes of the graph
    from neurodeploy.ir import save_graph

    save_graph(g, tmp_path / "m.ndg")
    assert main(["export", str(tmp_path / "m.ndg"), "-o", str(tmp_path / "g.onnx"),
                 "--format", "onnx"]) == 0
    assert onnx.load(str(tmp_path / "g.onnx")).graph == to_onnx(g).graph


def test_write_is_atomic_on_an_invalid_graph(tmp_path: Path) -> None:
    from neurodeploy.errors import NeurodeployError

    g = mlp()
    g["fc2"].weight = np.full((4, 10), np.nan, np.float32)
    with pytest.raises(NeurodeployError, match="node 'fc2'.*NaN"):
        write_onnx(g, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()
