"""A CubaLIF's refractory period in fixed point (Loihi's refractDelay; snnTorch's delayed zero
reset is a refractory step): both engines identical, equal to a numpy statement of Lava's
``LIFRefractory`` counting, spikes blocked, nothing changed without one; Lava's fixed_pt run of
:mod:`neurodeploy.lava.refractory` identical on every layer and step with samples reset between
runs; an snnTorch RSynaptic quantizes and runs; what has no refractory form (netx) is refused
in one line naming the node, and deploy bundles the process network instead."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lava_cases import graph_input, reference, refractory_graph

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF
from neurodeploy.kinds import cuba, cuba_lif
from neurodeploy.sim import simulate

T, B = 50, 5


def _same(a, b) -> None:
    for n in b.records:
        for var, want in b.records[n].items():
            got = a.records[n][var]
            assert got.dtype == want.dtype and torch.equal(got, want), (n, var)


def test_engines_identical_numpy_reference_and_spikes_blocked() -> None:
    g = refractory_graph(T=T)
    x = graph_input(g, 0, T=T, B=B)
    ref = simulate(g, x, mode="fixed", record=True, engine="reference")
    _same(simulate(g, x, mode="fixed", record=True), ref)
    numpy_ref = reference(g, x)
    for name in ("lif1", "lif2"):
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(ref.records[name][var].numpy(), numpy_ref[name][var],
                                          err_msg=f"{name}.{var}")
    s1, s2 = (ref.records[n]["s"].numpy() for n in ("lif1", "lif2"))
    # the driven neuron 0 fires in every step it may: every third (r = 2), every other (r = 1)
    assert (s1[:, :, 0] == (np.arange(T) % 3 == 0)[:, None]).all()
    assert (s2[:, :, 0] == (np.arange(T) % 2 == 0)[:, None]).all()
    for s, r in ((s1, 2), (s2, 1)):  # no neuron fires within r steps of its last spike
        assert all(not (s[k:] * s[:-k]).any() for k in range(1, r + 1))
    assert 0.05 < ref.firing_rates["lif1"] < 0.5 and 0.05 < ref.firing_rates["lif2"] < 0.5
    # without the period: u is the same (a zero reset leaves it), spikes are not
    g0 = copy.deepcopy(g)
    for n in ("lif1", "lif2"):
        g0[n].refractory = 0
    free = simulate(g0, x, mode="fixed", record=True)
    assert torch.equal(free.records["lif1"]["u"], ref.records["lif1"]["u"])
    assert (free.records["lif1"]["s"] != ref.records["lif1"]["s"]).any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.sampled_from([2**8, 2**17, 2**20]))
def test_fixed_step_counts_as_lava_and_period_zero_changes_nothing(seed: int, r: int,
                                                                   a_max: int) -> None:
    """The kind's fixed step over 30 steps, inputs up to ``a_max`` (reaching the u wrap and
    the v clip), against Lava's LIFRefractory counting in numpy (``end``, time steps from 1)
    and, for the same inputs, PyLifModelBitAcc's plain step (no period: the same numbers where
    ``r = 0``, whose state carries no counter)."""
    rng = np.random.default_rng(seed)
    du, dv, vth = int(rng.integers(0, 4096)), int(rng.integers(0, 4097)), int(rng.integers(1, 300))
    bias = torch.as_tensor(rng.integers(-4096, 4096, (3, 5)), dtype=torch.int64) << 2
    node = CubaLIF("n", shape=(5,), refractory=r)
    state = kinds.CUBA_LIF.initial_state(node, (3, 5), True, "cpu")
    plain = cuba.zero_state((3, 5), torch.int64, "cpu")
    assert (state.ref is None) == (r == 0)
    u = v = end = np.zeros((3, 5), np.int64)
    for t in range(1, 31):
        a = torch.as_tensor(rng.integers(-a_max, a_max + 1, (3, 5)))
        state, s, _ = cuba_lif.fixed_step(state, a, du, dv, vth, bias, r)
        plain, s_plain, _ = cuba_lif.fixed_step(plain, a, du, dv, vth, bias)
        p = u * (4096 - (du + 1))
        u = np.sign(p) * (np.abs(p) >> 12) + (a.numpy() << 6)
        u = np.where(u > 2**23, u - 2**24, np.where(u <= -(2**23), u + 2**24, u))
        q = v * (4096 - dv)
        v_new = np.clip(np.sign(q) * (np.abs(q) >> 12) + u + bias.numpy(), 1 - 2**23, 2**23 - 1)
        v = np.where(end >= t, v, v_new)
        fired = v > (vth << 6)
        v = np.where(fired, 0, v)
        end = np.where(fired, t + r, end)
        assert np.array_equal(s.numpy(), fired) and np.array_equal(state.u.numpy(), u)
        assert np.array_equal(state.v.numpy(), v)
        if r == 0:
            assert torch.equal(s, s_plain) and torch.equal(state.v, plain.v)


NETX_REFUSAL = ("node 'lif1' (cuba_lif): refractory period 2 has no netx form (lava-dl's netx "
                "ignores refDelay)")


def test_netx_export_refuses_the_period_in_one_line(tmp_path) -> None:
    pytest.importorskip("h5py")
    from neurodeploy.lava.netx import export_netx

    with pytest.raises(NeurodeployError) as err:
        export_netx(refractory_graph(T=8), tmp_path / "m.net")
    assert str(err.value) == NETX_REFUSAL and not (tmp_path / "m.net").exists()


@pytest.mark.lava
def test_deploy_bundles_the_process_network_and_run_py_reproduces_it(tmp_path, monkeypatch
                                                                     ) -> None:
    """netx refuses the period, so the bundle carries the process network; its run.py (Lava's
    CPU simulation) reproduces the simulator's spike counts and every step's v."""
    pytest.importorskip("lava.lib.dl.netx")
    from test_deploy import N, _check_run, _dataset

    from neurodeploy.deploy.bundle import build_bundle

    g = refractory_graph(T=32)
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=N)
    assert b.info["network"] == "lava-processes" and b.info["netx_refusal"] == NETX_REFUSAL
    _check_run(g, b.path, monkeypatch)


def test_snntorch_rsynaptic_quantizes_and_runs_in_fixed_point() -> None:
    """snnTorch's RSynaptic with its default delayed zero reset (refractory 1) → quantize →
    the fixed-point simulator, and Lava's fixed_pt identical to it."""
    snn = pytest.importorskip("snntorch")
    from neurodeploy.converters import convert

    from neurodeploy.data import Dataset
    from neurodeploy.quantize import quantize

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(12, 24), snn.RSynaptic(alpha=0.7, beta=0.85, threshold=0.6,
                                               linear_features=24, init_hidden=True,
                                               reset_mechanism="zero"),
        torch.nn.Linear(24, 5), snn.Leaky(beta=0.9, threshold=0.3, init_hidden=True,
                                          reset_mechanism="zero")).eval()
    with torch.no_grad():  # every layer spikes
        net[0].weight *= 2.0
        net[2].weight *= 2.0
    g = convert(net, torch.zeros(1, 12))
    assert [int(n.refractory) for n in g if n.kind == "cuba_lif"] == [1, 0]  # Leaky: none
    rng = np.random.default_rng(0)
    ds = Dataset((rng.random((6, 40, 12)) < 0.3).astype(np.float32), np.zeros(6, np.int64),
                 "t", "spikes", 5, 40)
    qg, _ = quantize(g, ds)
    x = np.swapaxes(ds.x, 0, 1)
    fixed = simulate(qg, x, mode="fixed", record=True)
    float_ = simulate(g, x, mode="float", record=True)
    assert fixed.firing_rates[qg.outputs[0]] > 0
    hidden = next(n for n in qg if n.kind == "cuba_lif" and n.refractory == 1).name
    s = fixed.records[hidden]["s"]
    assert s.any() and not (s[1:] * s[:-1]).any()  # never two steps in a row
    # the quantized train follows the float one (measured: 93 % of neuron-steps equal)
    assert float((s == float_.records[hidden]["s"]).float().mean()) > 0.9
    pytest.importorskip("lava.magma")
    from neurodeploy.lava.comparison import compare

    res = compare(qg, ds, samples=3)
    assert res["identical"], res["first_divergence"]


@pytest.mark.lava
def test_lava_fixed_pt_identical_every_layer_step_and_sample() -> None:
    """Two lanes of five samples: three laned runs, so the refractory state is reset between
    them (a spike at a sample's end must not block the next sample's first steps)."""
    pytest.importorskip("lava.magma")
    from neurodeploy.lava import simulate_lava

    g = refractory_graph(T=T)
    x = graph_input(g, 0, T=T, B=B)
    sim = simulate(g, x, mode="fixed", record=True)
    lava = simulate_lava(g, x, record=True, lanes=2)
    for name in ("lif1", "lif2"):
        for var in ("s", "u", "v"):
            want, got = sim.records[name][var], lava.records[name][var]
            diff = (got != want).nonzero()
            assert len(diff) == 0, f"{name}.{var} differs first at {diff[0].tolist()}"


def test_held_voltage_is_not_clipped_or_counted_as_saturated() -> None:
    """u just below 2**23 that never decays plus a large bias clips v every step; while the
    neuron is refractory Lava does not compute v, so only the steps it is free count (pure and
    in-place steps alike)."""
    bias = torch.tensor([[4095 << 7]])
    a = torch.tensor([[2**17 - 1]])  # a << 6 = 2**23 − 64: no wrap
    inp = cuba.CubaInplace((1, 1), True, "cpu", 4096, 4096, bias, 1 << 6, refractory=2)
    state = cuba.zero_state((1, 1), torch.int64, "cpu", 2)
    spikes, sats = [], []
    for t in range(6):
        state, s, sat = cuba_lif.fixed_step(state, a if t == 0 else 0 * a, -1, 0, 1, bias, 2)
        assert torch.equal(inp.step((a if t == 0 else 0 * a).to(inp.a_dtype)), s.float())
        spikes.append(int(s))
        sats.append(int(sat))
    assert spikes == [1, 0, 0, 1, 0, 0] and sats == spikes
    assert int(inp.saturations) == 2
