"""Weights at fewer bits (Lava's ``num_weight_bits``, 1-8): the quantizer puts them on Lava's
b-bit grid, Lava's own clip and truncation leave them unchanged, the simulator and Lava agree,
the mapper packs them into less synapse memory; bad widths are one line."""

from __future__ import annotations

import numpy as np
import pytest
from graphs import digits_mlp
from hypothesis import assume, given
from hypothesis import strategies as st

from neurodeploy import formats as fmt
from neurodeploy.data import load_dataset
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout
from neurodeploy.quantize import quantize


def _graph() -> Graph:
    return digits_mlp(seed=7, hidden=24)


@given(st.lists(st.integers(-400, 400), min_size=1, max_size=20), st.integers(1, 8))
def test_the_b_bit_grid_is_what_lava_keeps(values: list[int], bits: int) -> None:
    """quantize_weights at ``b`` bits lands on ``mantissa_grid(its sign mode, b)``, which
    Lava's clip_weights and truncate_weights at ``num_bits = b`` leave unchanged (1-bit mixed
    sign holds only -256 and 0: the quantizer refuses it)."""
    weightutils = pytest.importorskip("lava.utils.weightutils")
    w = np.array(values, np.float64)
    mode = fmt.sign_mode(w)
    assume(not (bits == 1 and mode == "mixed"))
    w_int, _ = fmt.quantize_weights(w, 0, bits)
    # rounding may leave one sign only (a mixed matrix whose positives round to 0)
    step, lo, hi = fmt.mantissa_grid(fmt.sign_mode(w_int), bits)
    assert np.all(w_int % step == 0) and w_int.min() >= lo and w_int.max() <= hi
    step, lo, hi = fmt.mantissa_grid(mode, bits)
    sm = weightutils.determine_sign_mode(w_int)
    lava = weightutils.truncate_weights(weightutils.clip_weights(w_int, sm, num_bits=8), sm, bits)
    np.testing.assert_array_equal(lava, w_int)
    grid = np.arange(lo, hi + 1, step)
    if fmt.sign_mode(grid) == mode:
        np.testing.assert_array_equal(fmt.lava_effective_weights(grid, bits), grid)


@pytest.fixture(scope="module")
def calib():
    return load_dataset("digits", "train", limit=48)


def test_fewer_bits_coarser_weights_same_in_lava_less_synapse_memory(calib) -> None:
    from neurodeploy.energy import load_profile
    from neurodeploy.mapping import map_graph

    g = _graph()
    eight, _ = quantize(g, calib, weight_bits=8)
    three, rep = quantize(g, calib, weight_bits=3)
    for name in ("fc1", "fc2"):
        q8, q3 = eight.nodes[name].quant, three.nodes[name].quant
        assert (q8.num_weight_bits, q3.num_weight_bits) == (8, 3)
        assert np.all(q3.weight % 64 == 0)  # mixed sign: 2 magnitude bits left of 8
        assert len(np.unique(q3.weight)) <= 8 < len(np.unique(q8.weight))
    assert all(r.weight_error > 0.05 for r in rep.layers if r.weight_error is not None)
    prof = load_profile("loihi2")
    words = [sum(c.synmem_words for c in map_graph(q, prof).cores) for q in (eight, three)]
    assert words[1] < words[0]
    lava = pytest.importorskip("neurodeploy.lava")
    pytest.importorskip("lava.magma")
    doc = lava.compare(three, load_dataset("digits", "test", limit=2), samples=2)
    assert doc["identical"] is True


@pytest.mark.parametrize("bits", [0, 9, 2.5, True, "4"])
def test_bad_weight_bits_is_one_line(calib, bits) -> None:
    with pytest.raises(NeurodeployError, match=r"^weight bits must be an integer from 1 to 8, "
                                               r"got .*$"):
        quantize(_graph(), calib, weight_bits=bits)


def test_one_bit_mixed_sign_is_refused_naming_the_synapse(calib) -> None:
    with pytest.raises(NeurodeployError, match=r"^node 'fc1' \(dense\): 1-bit weights of mixed "
                                               r"sign hold only -256 and 0"):
        quantize(_graph(), calib, weight_bits=1)


def test_the_scale_leaves_room_for_the_largest_weight_at_fewer_bits() -> None:
    """A conv (no weight exponent) of one sign at 4 bits: the scale puts its largest weight on
    the top of the 4-bit grid (240), not on the 8-bit top (255), where it would be clipped."""
    from neurodeploy.data import Dataset
    from neurodeploy.ir import Conv2d, Flatten

    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 8, "source": "test"})
    g.add(Input("in", shape=(1, 6, 6), encoding="rate"))
    g.add(Conv2d("conv", weight=rng.uniform(0.05, 0.5, (3, 1, 3, 3)).astype(np.float32)), "in")
    g.add(CubaLIF("lif", shape=(3, 4, 4), du=1.0, dv=0.2, vth=1.0), "conv")
    g.add(Flatten("flat"), "lif")
    g.add(Dense("fc", weight=rng.normal(0, 0.5, (4, 48)).astype(np.float32)), "flat")
    g.add(Readout("out", shape=(4,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    ds = Dataset(rng.random((16, 1, 6, 6)).astype(np.float32), np.arange(16) % 4, "img",
                 "direct", 4)
    q, rep = quantize(g, ds, weight_bits=4, candidates=(1.0,))
    assert rep.layer("lif").saturated == 0
    assert int(np.abs(q.nodes["conv"].quant.weight).max()) == 240
