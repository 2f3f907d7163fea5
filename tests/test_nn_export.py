"""Checkpoints and lossless export of neurodeploy.nn models to the IR (simulated in float)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neurodeploy.converters.neurodeploy_nn import to_graph
from torch import nn

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF as IRCubaLIF
from neurodeploy.ir import Dense, load_graph, save_graph
from neurodeploy.ir import Readout as IRReadout
from neurodeploy.nn import SNN, CubaLIF, Readout, SpikeConfig, SumPool2d, convnet, mlp
from neurodeploy.nn.checkpoint import load_checkpoint, save_checkpoint

try:  # the simulator lands separately; the export-equals-sim tests need it
    from neurodeploy.sim import simulate
except ImportError:  # pragma: no cover - depends on the checkout
    simulate = None

needs_sim = pytest.mark.skipif(simulate is None,
                               reason="neurodeploy.sim.simulate is not available yet")


def _randomise(model: nn.Module, seed: int) -> None:
    """Give every parameter a non-default value (per-neuron decays differ per neuron)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith(("du", "dv")):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.6 + 0.05)
            elif name.endswith("vth"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.5 + 0.5)
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * 1.5 / p[0].numel() ** 0.5)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def _mlp(binary: bool = False) -> SNN:
    m = SNN((20,), [
        ("fc1", (nn.Linear(20, 32) if not binary else mlp(20, [32], 5, binary=True).layers[0])),
        ("lif1", CubaLIF(32, per_neuron=True, learn_threshold=True)),
        ("fc2", nn.Linear(32, 16, bias=False)),
        ("lif2", CubaLIF(16, reset="subtract", spike=SpikeConfig(method="asgl"))),
        ("fc_out", nn.Linear(16, 5)),
        ("out", Readout(5, du=0.5, dv=0.2, learn_decay=True)),
    ])
    _randomise(m, 3)
    return m.eval()


def _conv() -> SNN:
    m = SNN((2, 8, 8), [
        ("conv1", nn.Conv2d(2, 4, 3, padding=1)),
        ("lif1", CubaLIF((4, 8, 8), per_neuron=True)),
        ("pool1", nn.AvgPool2d(2)),
        ("conv2", nn.Conv2d(4, 6, 3, stride=1, padding=1, groups=2)),
        ("lif2", CubaLIF((6, 4, 4))),
        ("pool2", SumPool2d(2)),
        ("flat", nn.Flatten()),
        ("fc_out", nn.Linear(24, 3)),
        ("out", Readout(3, decoding="max")),
    ])
    _randomise(m, 4)
    return m.eval()


def _assert_sim_matches(model: SNN, x: torch.Tensor, meta: dict) -> None:
    graph = to_graph(model, meta)
    with torch.no_grad():
        v, spikes = model(x, return_spikes=True)
        scores = model.decode(v)
    assert sum(float(s.sum()) for s in spikes) > 0  # the case exercises spiking
    res = simulate(graph, x, mode="float", record=True)
    out = res.outputs[graph.outputs[0]]
    np.testing.assert_allclose(out.numpy(), v.numpy(), rtol=1e-5, atol=1e-5)
    names = [n for n, m in zip(model.names, model.layers, strict=True) if isinstance(m, CubaLIF)]
    for name, s in zip(names, spikes, strict=True):
        assert torch.equal(res.records[name]["s"].to(s.dtype), s), name
    np.testing.assert_allclose(res.decoded.numpy(), scores.numpy(), rtol=1e-5, atol=1e-5)


@needs_sim
def test_exported_mlp_simulates_like_the_module() -> None:
    x = torch.rand(16, 6, 20) * 1.5
    _assert_sim_matches(_mlp(), x, {"T": 16, "encoding": "direct"})


@needs_sim
def test_exported_binary_mlp_simulates_like_the_module() -> None:
    m = _mlp(binary=True)
    g = to_graph(m)
    w = g["fc1"].weight
    assert np.allclose(np.abs(w), np.abs(w).max(1, keepdims=True))  # ±α per output neuron
    _assert_sim_matches(m, (torch.rand(20, 4, 20) < 0.4).float(), {"T": 20})


@needs_sim
def test_exported_convnet_simulates_like_the_module() -> None:
    x = torch.rand(16, 3, 2, 8, 8) * 2
    _assert_sim_matches(_conv(), x, {"T": 16})


def test_export_copies_parameters_exactly() -> None:
    m = _mlp()
    g = to_graph(m, {"T": 8, "encoding": "rate", "method": "asgl", "hyperparameters": {"a": 1}})
    assert g.inputs == ["input"] and g.outputs == ["out"] and g["input"].encoding == "rate"
    assert g.metadata["source"] == "neurodeploy.nn" and g.metadata["method"] == "asgl"
    assert "hyperparameters" not in g.metadata
    assert isinstance(g["fc2"], Dense) and g["fc2"].bias is None
    np.testing.assert_array_equal(g["fc1"].weight, m.layers[0].weight.detach().numpy())
    lif = g["lif1"]
    assert isinstance(lif, IRCubaLIF) and lif.du.shape == (32,) and lif.reset == "zero"
    np.testing.assert_array_equal(lif.vth, m.layers[1].vth.detach().numpy())
    assert g["lif2"].reset == "subtract" and g["lif2"].du.shape == ()
    ro = g["out"]
    assert isinstance(ro, IRReadout) and ro.decoding == "mean"
    assert float(ro.du) == float(m.layers[-1].du) and float(ro.bias) == float(m.layers[-1].bias)


def test_checkpoint_round_trip_two_predictions_and_weights_only(tmp_path) -> None:
    torch.manual_seed(0)
    model = mlp(64, [24], 10, decoding="weighted", two_weights=[0.05, 0.1, 0.2, 0.25, 0.4],
                spike=SpikeConfig(method="msg", surrogate="triangle"))
    _randomise(model, 5)
    model.eval()
    x = torch.rand(5, 30, 64)
    with torch.no_grad():
        before = model.scores(x)
    meta = {"task": "digits", "method": "msg", "T": 5, "encoding": "direct", "dt": 1e-3,
            "decoding": "weighted", "two_weights": [0.05, 0.1, 0.2, 0.25, 0.4]}
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, meta)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "neurodeploy-ckpt" and raw["version"] == 1
    assert raw["arch"]["layers"][-1]["weights"] == pytest.approx(meta["two_weights"])
    loaded, meta2 = load_checkpoint(path)
    assert meta2 == meta and not loaded.training
    with torch.no_grad():
        after = loaded.scores(x)
    assert torch.equal(before, after)
    assert torch.equal(before.argmax(-1), after.argmax(-1))
    g = to_graph(loaded, meta2)
    np.testing.assert_array_equal(g["out"].weights, np.float32(meta["two_weights"]))
    save_graph(g, tmp_path / "m.ndg")
    assert load_graph(tmp_path / "m.ndg")["out"].decoding == "weighted"


def test_conv_checkpoint_round_trip(tmp_path) -> None:
    model = convnet((1, 8, 8), [4], 10, binary=True, pool="sum")
    _randomise(model, 6)
    model.eval()
    save_checkpoint(tmp_path / "c.pt", model, {"T": 4})
    loaded, _ = load_checkpoint(tmp_path / "c.pt")
    x = torch.rand(4, 3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_bad_checkpoint_files_are_one_line_errors(tmp_path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(NeurodeployError, match="bad.pt: not a readable neurodeploy checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(NeurodeployError, match="other.pt: not a neurodeploy checkpoint"):
        load_checkpoint(other)
    with pytest.raises(NeurodeployError, match="missing.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    wrong = tmp_path / "wrong.pt"
    m = mlp(4, [3], 2)
    save_checkpoint(wrong, m, {})
    ck = torch.load(wrong, weights_only=True)
    ck["state_dict"]["fc1.weight"] = torch.zeros(7, 7)
    torch.save(ck, wrong)
    with pytest.raises(NeurodeployError, match="wrong.pt: state_dict does not match"):
        load_checkpoint(wrong)
    with pytest.raises(NeurodeployError, match="metadata must be JSON-able"):
        save_checkpoint(tmp_path / "x.pt", m, {"a": object()})


def test_default_models_have_no_synapse_bias_and_learn_the_neuron_bias() -> None:
    m = mlp(20, [16, 8], 4)
    for name, layer in zip(m.names, m.layers, strict=True):
        if isinstance(layer, nn.Linear):
            assert layer.bias is None, name
        if isinstance(layer, (CubaLIF, Readout)):
            assert isinstance(layer.bias, nn.Parameter) and layer.bias_mode == "neuron", name
            assert tuple(layer.bias.shape) == layer.shape and layer.learn_bias
    c = convnet((1, 8, 8), [4], 3)
    assert c.layers[0].bias is None and c.layers[4].bias is None
    lif = c.layers[1]
    assert lif.bias_mode == "channel" and tuple(lif.bias.shape) == (4, 1, 1)
    old = mlp(20, [16], 4, synapse_bias=True)
    assert old.layers[0].bias is not None and not isinstance(old.layers[1].bias, nn.Parameter)
    assert old.layers[1].bias.shape == () and old.layers[-1].bias.shape == ()


@needs_sim
@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_learned_neuron_bias_exports_exactly(kind: str) -> None:
    torch.manual_seed(1)
    if kind == "mlp":
        model, x = mlp(20, [32], 5), torch.rand(12, 4, 20) * 1.5
    else:
        model, x = convnet((2, 8, 8), [4], 3), torch.rand(12, 3, 2, 8, 8) * 2
    _randomise(model, 7)
    model.eval()
    g = to_graph(model, {"T": 12})
    lif = model.layers[1]
    want = lif.bias.detach().expand(lif.shape).numpy()
    assert g["lif1"].bias.shape == lif.shape  # per channel: broadcast to (C, H, W)
    np.testing.assert_array_equal(g["lif1"].bias, want)
    np.testing.assert_array_equal(g["out"].bias, model.layers[-1].bias.detach().numpy())
    assert all(g[n].bias is None for n in g.nodes if g[n].kind in ("dense", "conv2d"))
    _assert_sim_matches(model, x, {"T": 12})


def _old_arch(arch: dict) -> dict:
    """``arch`` as written before the neuron bias was learnable (no learn_bias / bias_mode)."""
    layers = [{k: v for k, v in e.items() if k not in ("learn_bias", "bias_mode")}
              for e in arch["layers"]]
    return {**arch, "layers": layers}


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_old_synapse_bias_checkpoint_loads_and_exports_identically(kind: str, tmp_path) -> None:
    model = (mlp(20, [16], 5, synapse_bias=True) if kind == "mlp"
             else convnet((1, 8, 8), [4], 3, synapse_bias=True))
    _randomise(model, 8)
    model.eval()
    save_checkpoint(tmp_path / "old.pt", model, {"T": 6})
    ck = torch.load(tmp_path / "old.pt", weights_only=True)
    ck["arch"] = _old_arch(ck["arch"])
    assert ck["arch"]["layers"][0]["bias"] is True
    torch.save(ck, tmp_path / "old.pt")
    loaded, _ = load_checkpoint(tmp_path / "old.pt")
    assert loaded.arch() == model.arch()
    g0, g1 = to_graph(model), to_graph(loaded)
    assert list(g0.nodes) == list(g1.nodes)
    for name in g0.nodes:
        for field in ("weight", "bias", "du", "dv", "vth"):
            a, b = getattr(g0[name], field, None), getattr(g1[name], field, None)
            assert (a is None) == (b is None), (name, field)
            if a is not None:
                np.testing.assert_array_equal(a, b)
    x = torch.rand(6, 2, *model.input_shape)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_bad_bias_mode_is_a_neurodeploy_error() -> None:
    with pytest.raises(NeurodeployError, match="unknown bias mode 'row'"):
        CubaLIF(4, bias_mode="row")
