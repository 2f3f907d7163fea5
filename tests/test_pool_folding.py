"""Pool folding: a pooled convolution is a convolution with a larger kernel and stride, and
pool → flatten → dense is a dense with summed columns — exactly; kept (with the reason) where
it cannot be exact or would cost more; the energy model then counts the synapses after the
pools as ACs (hand count)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nir")

from neurodeploy.converters.nir import from_nir  # noqa: E402
from nir_nets import CNN_INPUT, sinabs_if_cnn  # noqa: E402

from neurodeploy.energy import count_ops  # noqa: E402
from neurodeploy.ir import (  # noqa: E402
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Graph,
    Input,
    Readout,
    SumPool2d,
)
from neurodeploy.quantize.pool_folding import fold_pools  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402


def _grid_cnn() -> Graph:
    """The Sinabs-style CNN with weights on a 1/64 grid (float sums are exact in any order)."""
    g = from_nir(sinabs_if_cnn())
    for n in g:
        if getattr(n, "weight", None) is not None:
            n.weight = (np.round(n.weight * 64) / 64).astype(np.float32)
    return g


def test_cnn_pools_fold_exactly():
    g = _grid_cnn()
    f, notes = fold_pools(g)
    assert [str(n) for n in notes] == ["4 folded into 5 (binary input, 4.00x weights)",
                                       "7 folded into 9 (binary input, 4.00x weights)"]
    assert not any(n.kind == "sumpool2d" for n in f)
    conv = f.nodes["5"]
    assert conv.weight.shape == (8, 16, 6, 6) and conv.stride == (2, 2) and conv.padding == (2, 2)
    assert f.nodes["9"].weight.shape == (256, 8 * 8 * 8)
    torch.manual_seed(0)
    x = (torch.rand(30, 3, *CNN_INPUT) < 0.15).float()
    a, b = simulate(g, x), simulate(f, x)
    assert a.outputs["12"].sum() > 0
    assert torch.equal(a.outputs["12"], b.outputs["12"])
    assert np.array_equal(a.counts["6"], b.counts["6"])


@pytest.mark.parametrize("pool_cls,k,s,hw,pad,folded", [
    (AvgPool2d, 2, 2, 8, 1, True),      # 1/k² folded into the weights
    (SumPool2d, 3, 3, 9, 0, True),
    (SumPool2d, 3, 2, 9, 0, True),      # overlapping, unpadded conv: exact
    (SumPool2d, 3, 2, 9, 1, False),     # overlapping before a padded conv: kept
    (SumPool2d, 2, 2, 9, 0, False),     # the pool drops the last row and column: kept
])
def test_pool_into_conv(pool_cls, k, s, hw, pad, folded):
    rng = np.random.default_rng(k + s + pad)
    g = Graph(metadata={"T": 12})
    g.add(Input("in", shape=(2, hw, hw), encoding="spikes"))
    g.add(Conv2d("c0", weight=(rng.integers(-8, 9, (3, 2, 3, 3)) / 8).astype(np.float32),
                 padding=(1, 1)), "in")
    g.add(CubaLIF("l0", shape=(3, hw, hw), dv=np.float32(0.25), vth=np.float32(0.5)), "c0")
    g.add(pool_cls("pool", kernel=(k, k), stride=(s, s)), "l0")
    g.add(Conv2d("c1", weight=(rng.integers(-8, 9, (4, 3, 3, 3)) / 8).astype(np.float32),
                 bias=np.full(4, 0.125, np.float32), padding=(pad, pad)), "pool")
    ho = (hw - k) // s + 1 + 2 * pad - 2
    g.add(Readout("out", shape=(4, ho, ho), dv=np.float32(0.5)), "c1")
    g.inputs, g.outputs = ["in"], ["out"]
    f, notes = fold_pools(g)
    assert len(notes) == 1 and notes[0].folded == folded
    if not folded:
        assert "pool" in f.nodes and notes[0].reason in (
            "an overlapping pool before a padded convolution",
            "the pool leaves input rows or columns unread")
        return
    x = (torch.rand(12, 4, 2, hw, hw, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    torch.testing.assert_close(simulate(f, x).outputs["out"], simulate(g, x).outputs["out"],
                               rtol=0, atol=0)


def test_large_folded_fan_in_keeps_the_pool():
    g = _grid_cnn()
    f, notes = fold_pools(g, max_fan_in=520)
    assert [n.folded for n in notes] == [False, True]
    assert str(notes[0]) == "4 kept before 5: folded fan-in 576 > 520 synapses per neuron"
    assert f.nodes["4"].kind == "sumpool2d"


def test_quantized_synapse_keeps_its_pool():
    from neurodeploy.ir import WeightQ

    g = _grid_cnn()
    w = g.nodes["9"].weight
    g.nodes["9"].quant = WeightQ(weight=np.zeros(w.shape, np.int32))
    _, notes = fold_pools(g)
    assert str(notes[1]) == ("7 kept before 9: the synapse is already quantized (fold before "
                             "quantizing)")


def _valid(m: int, size: int) -> int:
    """Outputs of a 3x3, pad-1, stride-1 convolution on ``size`` positions that read ``m``."""
    return sum(1 for i in range(size) if abs(i - m) <= 1)


def test_energy_counts_folded_synapses_as_acs_hand_count():
    f, _ = fold_pools(_grid_cnn())
    torch.manual_seed(2)
    x = (torch.rand(20, 2, *CNN_INPUT) < 0.15).float()
    res = simulate(f, x)
    rows = {r.name: r for r in count_ops(f, res.counts, T=20, spike_data=True)}
    spikes3, spikes6 = res.counts["3"], res.counts["6"]  # [16, 16, 16], [8, 8, 8]
    # conv '5' after the first pool: a spike of '3' at (c, h, w) reaches pooled cell
    # (h // 2, w // 2) of the 8x8 map, read by _valid(m)·_valid(n) positions x 8 channels
    hand5 = sum(float(spikes3[c, h, w]) * 8 * _valid(h // 2, 8) * _valid(w // 2, 8)
                for c in range(16) for h in range(16) for w in range(16))
    hand9 = float(spikes6.sum()) * 256  # dense 256 after the second pool: every spike, all
    for name, hand in (("5", hand5), ("9", hand9)):
        assert rows[name].snn_macs == 0
        assert rows[name].snn_acs == pytest.approx(hand, rel=1e-9)
    assert hand5 > 0 and hand9 > 0
