"""NIR files written by snnTorch's ``export_to_nir``, read with ``convention="snntorch"``: spikes
identical to snnTorch's own forward (zero reset with its default ``reset_delay=True``); the
default reading (NIR's reset at the spike) unchanged; bad values refused in one line naming the
node; the refractory step quantizes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nir")
nn = torch.nn

from neurodeploy.converters.nir import from_nir  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402

from neurodeploy.cli.main import main  # noqa: E402
from neurodeploy.data import Dataset  # noqa: E402
from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.ir import load_graph  # noqa: E402
from neurodeploy.quantize import quantize  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402

T, B = 120, 6


def _net(hidden: str) -> nn.Module:
    """12 → hidden 24 (zero reset, snnTorch's default reset_delay=True) → 7 → an output layer;
    input and output weights x2 so that every layer spikes. Non-recurrent layers get one
    parameter per neuron (export_to_nir cannot size scalar ones)."""
    kw = dict(init_hidden=True, reset_mechanism="zero")

    def per(n: int, v: float) -> torch.Tensor:
        return torch.full((n,), v)

    def syn(n: int) -> nn.Module:
        return snn.Synaptic(alpha=per(n, 0.7), beta=per(n, 0.85), threshold=per(n, 0.5), **kw)

    rkw = dict(beta=0.85, threshold=0.5, **kw)
    layers = {"RSynaptic": lambda: snn.RSynaptic(alpha=0.7, linear_features=24, **rkw),
              "RSynaptic-1to1": lambda: snn.RSynaptic(alpha=0.7, all_to_all=False,
                                                      V=torch.randn(24) * 0.5, **rkw),
              "RLeaky": lambda: snn.RLeaky(linear_features=24, **rkw),
              "Synaptic": lambda: syn(24)}
    torch.manual_seed(len(hidden))
    out = syn(7) if hidden != "Synaptic" else snn.Leaky(beta=per(7, 0.85),
                                                        threshold=per(7, 0.5), **kw)
    net = nn.Sequential(nn.Linear(12, 24), layers[hidden](), nn.Linear(24, 7), out).eval()
    with torch.no_grad():
        net[0].weight *= 2.0
        net[2].weight *= 2.0
    return net


def _source(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    for mod in net.modules():  # snntorch.utils.reset keeps RSynaptic's spk
        if hasattr(mod, "reset_mem"):
            mod.reset_mem()
    with torch.no_grad():
        return torch.stack([net(x[t]) for t in range(x.shape[0])])


def _export(net: nn.Module):
    return export_to_nir(net, torch.rand(1, 12), ignore_dims=[0])


@pytest.mark.parametrize("hidden", ["RSynaptic", "RSynaptic-1to1", "RLeaky", "Synaptic"])
def test_snntorch_convention_spikes_identical_to_snntorch(hidden: str) -> None:
    net = _net(hidden)
    g = from_nir(_export(net), convention="snntorch")
    assert g.metadata["nir_convention"] == "snntorch"
    x = (torch.rand(T, B, 12) < 0.3).float()
    ref = _source(net, x)
    out = simulate(g, x).outputs[g.outputs[0]]
    assert ref.sum() > 30 and (ref.sum(0) > 0).any()  # the output layer spikes
    assert torch.equal(out, ref)
    # every neuron here discards the step after a spike, except a Leaky (LIF without a loop)
    assert sorted(int(n.refractory) for n in g if n.kind == "cuba_lif") == (
        [0, 1] if hidden == "Synaptic" else [1, 1])
    # NIR's own reading resets at the spike: a different network on these inputs
    plain = from_nir(_export(net))
    assert not torch.equal(simulate(plain, x).outputs[plain.outputs[0]], ref)


def test_default_reading_is_unchanged() -> None:
    ng = _export(_net("RSynaptic"))
    a, b = from_nir(ng), from_nir(ng, convention="nir")
    assert "nir_convention" not in a.metadata
    assert all(int(n.refractory) == 0 for n in a if n.kind == "cuba_lif")
    assert list(a.nodes) == list(b.nodes) and a.edges == b.edges
    for name, node in a.nodes.items():
        other = b.nodes[name]
        for f in ("weight", "du", "dv", "vth", "bias"):
            if hasattr(node, f) and getattr(node, f) is not None:
                assert np.array_equal(getattr(node, f), getattr(other, f)), (name, f)


def test_unknown_convention_refused_in_one_line_and_refractory_step_quantized() -> None:
    ng = _export(_net("RSynaptic"))
    with pytest.raises(NeurodeployError) as err:
        from_nir(ng, convention="sinabs")
    assert str(err.value) == "unknown NIR convention 'sinabs' (choose from nir, snntorch)"
    g = from_nir(ng, convention="snntorch")
    rng = np.random.default_rng(0)
    data = Dataset((rng.random((4, 10, 12)) < 0.3).astype(np.float32), np.zeros(4, np.int64),
                   "t", "spikes", 7, 10)
    qg, _ = quantize(g, data)  # the refractory step has a fixed-point form
    assert [int(n.refractory) for n in qg if n.kind == "cuba_lif"] == [1, 1]
    assert simulate(qg, np.swapaxes(data.x, 0, 1), mode="fixed").outputs[qg.outputs[0]].shape \
        == (10, 4, 7)


def test_cli_export_nir_convention(tmp_path, capsys) -> None:
    import nir

    path = tmp_path / "rsyn.nir"
    nir.write(path, _export(_net("RSynaptic")))
    out = tmp_path / "rsyn.ndg"
    assert main(["export", str(path), "-o", str(out), "--nir-convention", "snntorch"]) == 0
    assert [int(n.refractory) for n in load_graph(out) if n.kind == "cuba_lif"] == [1, 1]
    capsys.readouterr()
    assert main(["export", str(path), "-o", str(tmp_path / "x.ndg"), "--nir-convention",
                 "lava"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "unknown NIR convention 'lava'" \
        in err[0]
