"""`neurodeploy export`: inputs, JSON summary, and one-line refusals with exit code 1."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn

from neurodeploy.converters import convert  # noqa: E402

from neurodeploy.cli.main import main  # noqa: E402
from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.ir import graph_diff, load_graph  # noqa: E402


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), snn.Leaky(beta=0.9, init_hidden=True),
                         nn.Linear(8, 3), snn.Leaky(beta=0.9, init_hidden=True))


def _picklable_net():
    from spikingjelly.activation_based import neuron  # snnTorch's surrogates do not pickle

    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), neuron.IFNode(), nn.Linear(8, 3), neuron.IFNode())


def test_pickle_refused_without_flag_then_exported(tmp_path, capsys):
    pytest.importorskip("spikingjelly")
    path = tmp_path / "full.pt"
    torch.save(_picklable_net(), path)
    capsys.readouterr()  # drop what importing SpikingJelly prints (CUDA, Prophesee notices)
    assert main(["export", str(path), "-o", str(tmp_path / "m.ndg"),
                 "--input-shape", "6"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "full.pt" in err and "--trust-pickle" in err and "runs code" in err
    assert main(["export", str(path), "-o", str(tmp_path / "m.ndg"), "--input-shape", "6",
                 "--trust-pickle", "--json", "--T", "16"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["source"] == "spikingjelly" and summary["neurons"] == 11
    assert summary["metadata"]["T"] == 16
    assert load_graph(tmp_path / "m.ndg").metadata["source"] == "spikingjelly"


def test_state_dict_with_model_module(tmp_path, capsys, monkeypatch):
    import sys
    import types

    mod = types.ModuleType("nd_test_factory")
    mod.build = _net
    monkeypatch.setitem(sys.modules, "nd_test_factory", mod)
    path = tmp_path / "sd.pt"
    torch.save(_net().state_dict(), path)
    out = tmp_path / "m.ndg"
    assert main(["export", str(path), "-o", str(out), "--input-shape", "6"]) == 1
    assert "--model-module" in capsys.readouterr().err
    assert main(["export", str(path), "-o", str(out), "--input-shape", "6",
                 "--model-module", "nd_test_factory:build"]) == 0
    assert graph_diff(load_graph(out), convert(_net(), torch.zeros(1, 6))) is None


def test_nir_file_to_ndg_and_back(tmp_path, capsys):
    g = convert(_net(), torch.zeros(1, 6))
    assert main(["export", "--help"]) == 0
    capsys.readouterr()
    from neurodeploy.converters import write

    write(g, tmp_path / "m.nir", "nir")
    assert main(["export", str(tmp_path / "m.nir"), "-o", str(tmp_path / "m.ndg"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nodes"] == len(g.nodes)
    assert graph_diff(load_graph(tmp_path / "m.ndg"), g) is None


def test_unsupported_layer_names_the_module():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(NeurodeployError, match=r"module '1' \(MaxPool2d\): not supported"):
        convert(net, torch.zeros(1, 1, 8, 8))


def test_nan_weight_names_the_parameter():
    net = _net()
    with torch.no_grad():
        net[2].weight[0, 0] = math.nan
    with pytest.raises(NeurodeployError, match=r"module '2': parameter 'weight' contains NaN"):
        convert(net, torch.zeros(1, 6))


def test_shape_mismatch_names_the_layer():
    with pytest.raises(NeurodeployError, match=r"module '0' \(Linear\): shape mismatch"):
        convert(_net(), torch.zeros(1, 7))


def test_bntt_refused_without_flag():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)
            self.bn = nn.ModuleList([nn.BatchNorm1d(4) for _ in range(3)])
            self.lif = snn.Leaky(beta=0.9, init_hidden=True)

        def forward(self, x):
            return self.lif(self.bn[0](self.fc(x)))

    with pytest.raises(NeurodeployError, match=r"module 'bn': per-time-step BatchNorm"):
        convert(M().eval(), torch.zeros(1, 6))
    with pytest.warns(UserWarning, match="BNTT"):
        g = convert(M().eval(), torch.zeros(1, 6), allow_bntt=True)
    assert [n.kind for n in g] == ["input", "dense", "cuba_lif", "dense"]


def test_cli_error_is_one_line_exit_1(tmp_path, capsys):
    pytest.importorskip("spikingjelly")
    net = _picklable_net()
    with torch.no_grad():
        net[0].bias[1] = math.nan
    path = tmp_path / "nan.pt"
    torch.save(net, path)
    capsys.readouterr()
    assert main(["export", str(path), "-o", str(tmp_path / "x.ndg"), "--input-shape", "6",
                 "--trust-pickle"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "parameter 'bias' contains NaN" in err
    assert not (tmp_path / "x.ndg").exists()


def test_snntorch_delayed_subtract_reset_on_conv_layers_is_exact():
    """Leaky/Synaptic with the (default) delayed subtractive reset and RLeaky on (C, H, W)
    layers: the reset (and RLeaky's V) become recurrent 1×1 / k×k Conv2d nodes fed only by the
    previous step's spikes; every layer's spikes equal snnTorch's exactly over T = 16."""
    import snntorch.utils as su

    from neurodeploy.sim import simulate

    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), snn.Leaky(beta=0.8, init_hidden=True),
                        nn.Conv2d(4, 4, 3, padding=1),
                        snn.Synaptic(alpha=0.6, beta=0.85, threshold=0.8, init_hidden=True),
                        nn.Conv2d(4, 4, 3, padding=1),
                        snn.RLeaky(beta=0.9, conv2d_channels=4, kernel_size=3, init_hidden=True),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 5),
                        snn.Leaky(beta=0.7, threshold=0.2, init_hidden=True, output=True)).eval()
    steps, batch = 16, 3
    x = torch.rand(steps, batch, 2, 8, 8) * 6
    seen: dict[str, list] = {"1": [], "3": [], "5": []}
    for name in seen:
        net[int(name)].register_forward_hook(lambda m, i, o, n=name: seen[n].append(o.clone()))
    su.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t])[0] for t in range(steps)])
    g = convert(net, x[0])
    assert {"1.reset", "3.reset", "5.recurrent"} <= set(g.nodes)
    assert all(g[n].kind == "conv2d" for n in ("1.reset", "3.reset", "5.recurrent"))
    res = simulate(g, x, mode="float", record=list(seen))
    torch.testing.assert_close(res.outputs[g.outputs[0]], ref, rtol=1e-5, atol=1e-5)
    for name, outs in seen.items():
        spikes = torch.stack(outs)
        assert spikes.sum() > 0, name
        torch.testing.assert_close(res.records[name]["s"], spikes, rtol=0, atol=0)
    assert ref.sum() > 0


def test_recurrent_conv2d_takes_its_input_shape_from_its_delayed_source():
    import numpy as np

    from neurodeploy.ir import Conv2d, CubaLIF, Graph, Input, infer_shapes

    g = Graph()
    g.add(Input("in", shape=(2, 5, 6)))
    g.add(Conv2d("fwd", weight=np.ones((3, 2, 3, 3), np.float32), padding=(1, 1)), "in")
    g.add(Conv2d("rec", weight=np.ones((3, 3, 3, 3), np.float32), padding=(1, 1)))
    g.add(CubaLIF("lif", shape=(3, 5, 6)), "fwd", "rec")
    g.connect("lif", "rec", delay=1)
    g.inputs, g.outputs = ["in"], ["lif"]
    assert infer_shapes(g)["rec"] == (3, 5, 6)
    g["rec"].weight = np.ones((3, 4, 3, 3), np.float32)  # expects 4 channels, gets 3
    with pytest.raises(NeurodeployError, match="node 'rec' \\(conv2d\\).*4 input channels"):
        infer_shapes(g)
