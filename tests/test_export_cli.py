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
