"""Exported IR, simulated in float mode, reproduces each framework's own forward (≤ 1e-5 rel)
on an MLP, a conv+pool network and a residual network (recurrent where the framework has it)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from neurodeploy.converters import convert  # noqa: E402

from neurodeploy.sim import simulate  # noqa: E402

T, B = 16, 4


def _compare(graph, x, ref):
    out = simulate(graph, x, mode="float").outputs[graph.outputs[0]]
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref.float(), rtol=1e-5, atol=1e-5)
    assert ref.abs().sum() > 0  # the check is not vacuous


def _run(step, x):
    with torch.no_grad():
        return torch.stack([step(x[t]) for t in range(x.shape[0])])


# ------------------------------------------------------------------ snnTorch
snn = pytest.importorskip("snntorch")

from snntorch_nets import SnnResidual  # noqa: E402


def _snn_run(net, x):
    import snntorch.utils as su

    su.reset(net)
    return _run(lambda xt: (lambda y: y[0] if isinstance(y, tuple) else y)(net(xt)), x)


def test_snntorch_mlp_leaky_synaptic():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 24), snn.Leaky(beta=0.8, init_hidden=True),
                        nn.Linear(24, 16), snn.Synaptic(alpha=0.7, beta=0.9, init_hidden=True),
                        nn.Linear(16, 5), snn.Leaky(beta=torch.rand(5) * 0.5 + 0.5,
                                                    threshold=0.7, init_hidden=True, output=True,
                                                    reset_mechanism="zero")).eval()
    x = torch.rand(T, B, 12) * 2
    g = convert(net, x[0])
    assert g.metadata["source"] == "snntorch"
    assert "1.reset" in g.nodes  # delayed subtractive reset written as a recurrent synapse
    _compare(g, x, _snn_run(net, x))


def test_snntorch_conv_pool_bn():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                        snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism="zero"),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10),
                        snn.Leaky(beta=0.7, threshold=0.3, init_hidden=True, output=True))
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.2, 0.2)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
    net.eval()
    x = torch.rand(T, B, 1, 8, 8) * 6
    g = convert(net, x[0])
    assert [n.kind for n in g][:3] == ["input", "conv2d", "cuba_lif"]  # BN folded
    _compare(g, x, _snn_run(net, x))


def test_snntorch_residual_recurrent():
    torch.manual_seed(2)
    net = SnnResidual().eval()
    x = torch.rand(T, B, 10) * 2
    g = convert(net, x[0])
    assert any(e.delay == 1 and e.dst == "l3.recurrent" for e in g.edges)
    assert any(n.kind == "add" for n in g)
    _compare(g, x, _snn_run(net, x))


# ------------------------------------------------------------------ SpikingJelly
sj = pytest.importorskip("spikingjelly.activation_based.neuron")


def _sj_run(net, x):
    from spikingjelly.activation_based import functional

    functional.reset_net(net)
    return _run(net, x)


def test_spikingjelly_mlp():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(12, 24), sj.LIFNode(tau=2.0, decay_input=True),
                        nn.Linear(24, 16), sj.ParametricLIFNode(decay_input=False, v_reset=None),
                        nn.Linear(16, 5), sj.LIFNode(tau=3.0, decay_input=False, v_threshold=0.3)).eval()
    x = torch.rand(T, B, 12) * 8
    g = convert(net, x[0])
    assert g.metadata["source"] == "spikingjelly"
    _compare(g, x, _sj_run(net, x))


def test_spikingjelly_conv_pool():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), sj.IFNode(),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10),
                        sj.LIFNode(tau=2.0, v_reset=None, v_threshold=0.2)).eval()
    x = torch.rand(T, B, 1, 8, 8) * 6
    _compare(convert(net, x[0]), x, _sj_run(net, x))


class _SjRes(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.n1 = nn.Linear(10, 20), sj.IFNode(v_reset=None)
        self.fc2, self.n2 = nn.Linear(20, 20), sj.LIFNode(tau=2.0)
        self.fc3, self.n3 = nn.Linear(20, 6), sj.LIFNode(tau=4.0, decay_input=False)

    def forward(self, x):
        a = self.n1(self.fc1(x))
        return self.n3(self.fc3(torch.add(a, self.n2(self.fc2(a)))))


def test_spikingjelly_residual():
    torch.manual_seed(5)
    net = _SjRes().eval()
    x = torch.rand(T, B, 10) * 3
    _compare(convert(net, x[0]), x, _sj_run(net, x))


# ------------------------------------------------------------------ Norse
nt = pytest.importorskip("norse.torch")


def _norse_run(net, x):
    state = None
    outs = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = net(x[t], state)
            outs.append(y)
    return torch.stack(outs)


def test_norse_mlp_lif_li():
    torch.manual_seed(6)
    net = nt.SequentialState(nn.Linear(12, 24), nt.LIFCell(), nn.Linear(24, 5), nt.LICell())
    x = torch.rand(T, B, 12) * 8
    g = convert(net, x[0])
    assert g.metadata["source"] == "norse" and g.nodes[g.outputs[0]].kind == "readout"
    _compare(g, x, _norse_run(net, x))


def test_norse_conv_pool():
    torch.manual_seed(7)
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
    net = nt.SequentialState(nn.Conv2d(1, 4, 3, padding=1), nt.LIFCell(p), nn.AvgPool2d(2),
                             nn.Flatten(), nn.Linear(64, 10), nt.LIFCell(p))
    x = torch.rand(T, B, 1, 8, 8) * 8
    _compare(convert(net, x[0]), x, _norse_run(net, x))


class _NorseRes(nn.Module):
    def __init__(self):
        super().__init__()
        p = nt.LIFParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
        self.fc1, self.n1 = nn.Linear(10, 20), nt.LIFCell(p)
        self.fc2, self.n2 = nn.Linear(20, 20), nt.LIFCell(p)
        self.fc3, self.n3 = nn.Linear(20, 6), nt.LICell()

    def forward(self, x):
        a = self.n1(self.fc1(x))[0]
        return self.n3(self.fc3(a + self.n2(self.fc2(a))[0]))[0]


def test_norse_residual():
    torch.manual_seed(8)
    net = _NorseRes()
    x = torch.rand(T, B, 10) * 8
    g = convert(net, x[0])
    outs = []
    with torch.no_grad():  # cells without explicit state: carry it by hand
        s = [None] * 3
        for t in range(T):
            z1, s[0] = net.n1(net.fc1(x[t]), s[0])
            z2, s[1] = net.n2(net.fc2(z1), s[1])
            v, s[2] = net.n3(net.fc3(z1 + z2), s[2])
            outs.append(v)
    _compare(g, x, torch.stack(outs))
