"""NIR out and in: IR → NIR → IR is the identity; snnTorch's own NIR export imports and matches
snnTorch's forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
nn = torch.nn

from neurodeploy.converters import convert  # noqa: E402
from neurodeploy.converters.nir import from_nir, to_nir, write_nir  # noqa: E402
from snntorch_nets import SnnResidual  # noqa: E402

from neurodeploy.ir import graph_diff  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402


def _nets():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(10, 16), snn.Synaptic(alpha=0.6, beta=0.8, init_hidden=True),
                        nn.Linear(16, 4), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1),
                         snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism="zero"),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(48, 5),
                         snn.RLeaky(beta=0.8, linear_features=5, init_hidden=True))
    return [(mlp, (10,)), (conv, (1, 8, 8)), (SnnResidual(), (10,))]


@pytest.mark.parametrize("i", [0, 1, 2], ids=["mlp", "conv-pool-recurrent", "residual"])
def test_nir_round_trip_is_identity(tmp_path, i):
    net, shape = _nets()[i]
    g = convert(net.eval(), torch.zeros(1, *shape))
    g.metadata["T"] = 16
    if i == 2:
        assert any(n.kind == "add" for n in g) and any(e.delay == 1 for e in g.edges)
    assert graph_diff(g, from_nir(to_nir(g))) is None
    write_nir(g, tmp_path / "m.nir")
    assert graph_diff(g, from_nir(tmp_path / "m.nir")) is None


def test_snntorch_export_to_nir_imports_and_matches():
    import snntorch.utils as su
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(10, 16),
        snn.Leaky(beta=torch.full((16,), 0.8), threshold=torch.ones(16), init_hidden=True,
                  reset_mechanism="zero"),
        nn.Linear(16, 4),
        snn.Leaky(beta=torch.full((4,), 0.9), threshold=torch.full((4,), 0.5),
                  init_hidden=True, reset_mechanism="zero", output=True)).eval()
    ng = export_to_nir(net, torch.rand(1, 10), ignore_dims=[0])
    g = from_nir(ng, dt=1e-4)
    x = torch.rand(16, 3, 10) * 2
    su.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t])[0] for t in range(16)])
    out = simulate(g, x).outputs[g.outputs[0]]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert ref.sum() > 0


def test_nir_out_loads_in_snntorch_import():
    from snntorch.import_nir import import_from_nir

    net, shape = _nets()[0]
    g = convert(nn.Sequential(net[0], snn.Leaky(beta=0.9, init_hidden=True,
                                                reset_mechanism="zero")).eval(),
                torch.zeros(1, 10))
    module = import_from_nir(to_nir(g))
    assert isinstance(module, nn.Module)
