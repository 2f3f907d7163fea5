"""snnTorch's Synaptic / RLeaky / RSynaptic in every configuration the IR expresses exactly:
spikes identical to snnTorch's own forward over 200 steps; refusals name module and class."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn

from neurodeploy.converters import convert  # noqa: E402

from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402

T, B = 200, 4


def _neuron(kind: str, reset: str, delay: bool, n: int):
    kw = dict(beta=0.85, threshold=0.6, init_hidden=True, reset_mechanism=reset,
              reset_delay=delay)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=0.7, **kw)
    if kind == "RLeaky":
        return snn.RLeaky(linear_features=n, **kw)
    if kind == "RSynaptic":
        return snn.RSynaptic(alpha=0.7, linear_features=n, **kw)
    return snn.RSynaptic(alpha=torch.rand(n) * 0.5 + 0.4, all_to_all=False,  # one-to-one V
                         V=torch.randn(n) * 0.5, **kw)


CASES = [("Synaptic", "zero", False), ("Synaptic", "zero", True),
         ("RLeaky", "zero", False), ("RLeaky", "zero", True), ("RLeaky", "subtract", True),
         ("RSynaptic", "zero", True), ("RSynaptic", "subtract", True),
         ("RSynaptic-1to1", "zero", True)]


@pytest.mark.parametrize("kind,reset,delay", CASES,
                         ids=[f"{k}-{r}-delay{int(d)}" for k, r, d in CASES])
def test_spikes_identical_to_snntorch(kind, reset, delay):
    import snntorch.utils as su

    torch.manual_seed(len(kind) + 3 * delay)
    net = nn.Sequential(nn.Linear(12, 24), _neuron(kind, reset, delay, 24),
                        nn.Linear(24, 7), snn.Leaky(beta=0.9, threshold=0.3, init_hidden=True,
                                                    reset_mechanism="zero")).eval()
    x = (torch.rand(T, B, 12) < 0.3).float()
    su.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t]) for t in range(T)])
    g = convert(net, x[0])
    lif = [n for n in g if n.kind == "cuba_lif"][0]
    assert lif.refractory == (1 if reset == "zero" and delay else 0)
    out = simulate(g, x).outputs[g.outputs[0]]
    assert ref.sum() > 50  # both layers active
    assert torch.equal(out, ref)


@pytest.mark.parametrize("mod,msg", [
    (lambda: snn.RSynaptic(alpha=0.5, beta=0.5, linear_features=4, init_hidden=True,
                           reset_mechanism="zero", reset_delay=False),
     "module '1' (RSynaptic): reset_delay=False cannot run in snnTorch 1.0 itself"),
    (lambda: snn.Alpha(alpha=0.6, beta=0.5, init_hidden=True),
     "module '1' (Alpha): snnTorch's Alpha neuron has no IR form (supported: Leaky, "
     "Synaptic, RLeaky, RSynaptic)"),
    (lambda: snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True, reset_delay=False),
     "module '1' (Synaptic): reset_delay=False with reset_mechanism='subtract'"),
])
def test_refusals_name_module_and_class(mod, msg):
    net = nn.Sequential(nn.Linear(3, 4), mod())
    with pytest.raises(NeurodeployError) as err:
        convert(net, torch.zeros(1, 3))
    assert str(err.value).startswith(msg)
    assert "\n" not in str(err.value)


def test_rsynaptic_export_to_nir_imports_as_nir_reads_it():
    """snnTorch's export_to_nir of an RSynaptic 12-38-7 network through the NIR path: NIR's
    CubaLIF resets at once (snnTorch's own importer reads it with reset_delay=False), so it
    equals the direct conversion with the delayed reset's refractory step dropped."""
    from neurodeploy.converters.nir import from_nir
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(5)
    net = nn.Sequential(
        nn.Linear(12, 38), snn.RSynaptic(alpha=0.8, beta=0.9, linear_features=38,
                                         init_hidden=True, reset_mechanism="zero"),
        nn.Linear(38, 7), snn.RSynaptic(alpha=0.8, beta=0.9, linear_features=7,
                                        init_hidden=True, reset_mechanism="zero")).eval()
    g = from_nir(export_to_nir(net, torch.rand(1, 12), ignore_dims=[0]))
    assert sorted(e.dst for e in g.edges if e.delay == 1) == ["1.w_rec", "3.w_rec"]
    direct = convert(net, torch.zeros(1, 12))
    for n in direct:
        if n.kind == "cuba_lif":
            n.refractory = 0
    x = (torch.rand(T, B, 12) < 0.3).float()
    out = simulate(g, x).outputs[g.outputs[0]]
    ref = simulate(direct, x).outputs[direct.outputs[0]]
    assert ref.sum() > 50
    assert torch.equal(out, ref)
