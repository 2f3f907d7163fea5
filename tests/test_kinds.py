"""Neuron kinds: one registry entry per IR neuron type; training and the simulator run one step
(the refractory period included; a surrogate spike function plugs into it); unknown resets are
refused everywhere; one fixed-point check and one input quantization for every stage; the IR
stays torch-free."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from neurodeploy.converters.neurodeploy_nn import to_graph
from torch import nn

from neurodeploy import formats, kinds
from neurodeploy.capability import fixed_refusal
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, InputQ, Readout, nodes
from neurodeploy.kinds import cuba_lif
from neurodeploy.kinds.cuba import CubaState
from neurodeploy.lava.compiler import input_integers
from neurodeploy.nn import SNN
from neurodeploy.nn import CubaLIF as NNCubaLIF
from neurodeploy.nn import Readout as NNReadout
from neurodeploy.nn.model import build_model
from neurodeploy.quantize import quantize
from neurodeploy.sim import simulate


def test_every_ir_neuron_type_has_exactly_one_kind() -> None:
    assert {k.node_type for k in kinds.KINDS.values()} == set(nodes.NEURON_TYPES)
    for name, kind in kinds.KINDS.items():
        assert name == kind.name == kind.node_type.kind  # the .ndg kind string is the key
        assert kind.output_var in kind.variables
    assert kinds.kind_of(Dense("d")) is None and not kinds.is_neuron(Input("i"))
    assert kinds.fires(CubaLIF("l")) and not kinds.fires(Readout("r"))
    with pytest.raises(NeurodeployError, match=r"node 'd' \(dense\): not a neuron layer"):
        kinds.neuron_kind(Dense("d"))


def test_the_ir_does_not_import_torch() -> None:
    code = "import sys, neurodeploy.ir; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _refractory_snn() -> SNN:
    torch.manual_seed(0)
    m = SNN((6,), [("fc1", nn.Linear(6, 8, bias=False)),
                   ("lif1", NNCubaLIF(8, du=0.6, dv=0.2, vth=0.7, reset="subtract",
                                      refractory=2)),
                   ("fc2", nn.Linear(8, 3, bias=False)),
                   ("out", NNReadout(3, du=0.5, dv=0.1))])
    return m.eval()


def test_training_layers_step_like_the_simulator_refractory_included() -> None:
    """The refractory period exists in nn as in the IR: the exported graph's float simulation
    gives the same spikes and voltages, bit for bit, and the arch keeps it."""
    m = _refractory_snn()
    x = torch.rand(12, 5, 6) * 2
    with torch.no_grad():
        v, (spikes,) = m(x, return_spikes=True)
    assert 0 < spikes.sum() < spikes.numel()
    g = to_graph(m)
    assert g["lif1"].refractory == 2 and g["lif1"].reset == "subtract"
    res = simulate(g, x.numpy(), record=["lif1", "out"])
    assert torch.equal(res.records["lif1"]["s"], spikes)
    assert torch.equal(res.records["out"]["v"], v)
    # the gap after each spike is at least the refractory period
    for n in range(8):
        times = np.flatnonzero(spikes[:, 0, n].numpy())
        assert np.all(np.diff(times) > 2)
    rebuilt = build_model(m.arch())
    assert rebuilt.layers[1].refractory == 2
    entry = {k: v for k, v in m.arch()["layers"][1].items() if k != "refractory"}
    assert NNCubaLIF.from_arch(entry).refractory == 0  # arch entries from before load as they were


def test_surrogate_spike_function_plugs_into_the_shared_step() -> None:
    u = torch.zeros(2, 3)
    i = torch.tensor([[2.0, 0.1, 1.2], [0.0, 3.0, 0.9]], requires_grad=True)
    vth = torch.tensor(1.0)
    plain_state, plain = cuba_lif.float_step(CubaState(u, u), i, 1.0, 0.0, vth, 0.0)

    def spike_fn(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        s = (x > 0).to(x.dtype)
        return s + x - x.detach()  # straight-through: forward the step, gradient 1

    st, s = cuba_lif.float_step(CubaState(u, u), i, 1.0, 0.0, vth, 0.0, spike_fn=spike_fn)
    assert torch.equal(s, plain) and torch.equal(st.v, plain_state.v)
    s.sum().backward()
    assert torch.equal(i.grad, torch.ones_like(i))


def test_unknown_reset_is_an_error_everywhere() -> None:
    z = torch.zeros(1, 1)
    with pytest.raises(NeurodeployError, match="unknown reset 'soft'"):
        cuba_lif.float_step(CubaState(z, z), z + 2, 1.0, 0.0, 1.0, 0.0, reset="soft")
    with pytest.raises(NeurodeployError, match="unknown reset 'soft'"):
        NNCubaLIF(3, reset="soft")
    g = Graph()
    g.add(Input("in", shape=(1,)))
    g.add(CubaLIF("lif", shape=(1,), reset="soft"), "in")
    g.inputs, g.outputs = ["in"], ["lif"]
    with pytest.raises(NeurodeployError, match="node 'lif' .*reset 'soft' is not one of"):
        simulate(g, np.ones((2, 1, 1), np.float32))


def _lif_graph(**lif: object) -> Graph:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(4,), encoding="rate"))
    g.add(Dense("fc", weight=np.eye(4, dtype=np.float32)), "in")
    g.add(CubaLIF("lif", shape=(4,), **lif), "fc")
    g.add(Dense("fc2", weight=np.ones((2, 4), np.float32)), "lif")
    g.add(Readout("out", shape=(2,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def test_one_fixed_point_check_for_quantizer_and_simulator() -> None:
    from neurodeploy.data import Dataset

    g = _lif_graph(reset="none", refractory=3)
    why = fixed_refusal(g["lif"], quantized=False)
    assert why == kinds.CUBA_LIF.fixed_refusal(g["lif"]) and "reset 'none'" in why
    message = re.escape(f"node 'lif' (cuba_lif): {why}")
    ds = Dataset(np.ones((4, 4), np.float32), np.zeros(4, np.int64), "ones", "rate", 2)
    with pytest.raises(NeurodeployError, match=message):
        quantize(g, ds)
    g["lif"].quant = g["out"].quant = nodes.NeuronQ(du=0, dv=0, vth=1)
    g["in"].quant = InputQ(scale=1.0)
    g["fc"].quant = nodes.WeightQ(weight=np.eye(4, dtype=np.int32))
    g["fc2"].quant = nodes.WeightQ(weight=np.ones((2, 4), np.int32))
    with pytest.raises(NeurodeployError, match=message):
        simulate(g, np.ones((2, 1, 4), np.float32), mode="fixed")


def test_one_input_quantization_for_simulator_and_lava() -> None:
    rng = np.random.default_rng(0)
    scale = 1 / 7
    x = rng.uniform(-20, 20, (5, 3, 4)).astype(np.float32)
    x[0, 0] = np.array([0.5, 1.5, 2.5, -0.5], np.float32) * np.float32(scale)  # halfway values
    for q in (InputQ(scale=scale, bits=8, signed=True), InputQ(scale=scale, bits=4),
              InputQ(scale=scale, bits=1)):
        g = _lif_graph()
        g["in"].quant = q
        g["fc"].quant = nodes.WeightQ(weight=np.eye(4, dtype=np.int32))
        g["fc2"].quant = nodes.WeightQ(weight=np.ones((2, 4), np.int32))
        g["lif"].quant = g["out"].quant = nodes.NeuronQ(du=0, dv=0, vth=100)
        got = simulate(g, x, mode="fixed", record=["in"]).records["in"]["y"].numpy()
        np.testing.assert_array_equal(got, input_integers(g["in"], x))
        lo, hi = formats.input_range(q.bits, q.signed)
        assert got.min() == lo and got.max() == hi  # clipped at both ends


def test_never_fire_threshold_is_out_of_the_voltage_range() -> None:
    assert formats.NEVER_FIRE_VTH << formats.VTH_SHIFT > formats.V_LIMIT
    assert (formats.NEVER_FIRE_VTH - 1) == formats.VTH_MAX
    q = nodes.NeuronQ(du=4095, dv=0, vth=0)
    assert kinds.READOUT.netx_neuron(Readout("r", shape=(2,), quant=q))["vThMant"] == \
        formats.NEVER_FIRE_VTH
