"""Datasets and input encodings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.data import Dataset, encode, load_dataset, save_dataset
from neurodeploy.errors import NeurodeployError


def test_digits_split_is_fixed_stratified_and_disjoint():
    tr, te = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert len(tr) + len(te) == 1797 and te.x.shape[1:] == (64,)
    assert np.bincount(te.y).min() >= 52  # 30 % of every class
    assert 0.0 <= te.x.min() and te.x.max() <= 1.0
    rows = {r.tobytes() for r in tr.x}
    assert sum(r.tobytes() in rows for r in te.x) < 10  # only the digits' own duplicate images
    again = load_dataset("digits", "test")
    assert np.array_equal(again.x, te.x) and np.array_equal(again.y, te.y)
    assert load_dataset("digits-image", "test").x.shape[1:] == (1, 8, 8)


def test_randman_is_one_spike_per_unit_and_deterministic():
    a, b = load_dataset("randman", "test"), load_dataset("randman", "test")
    assert a.encoding == "spikes" and a.x.shape[1:] == (a.T, 50)
    assert np.all(a.x.sum(1) == 1)  # each unit spikes exactly once per sample
    assert np.array_equal(a.x, b.x)
    assert not np.array_equal(a.x, load_dataset("randman", "test", seed=1).x)


def test_npz_round_trip_and_errors_name_the_file(tmp_path):
    ds = load_dataset("randman", "test", limit=7)
    path = tmp_path / "mine.npz"
    save_dataset(ds, path)
    back = load_dataset(path)
    assert back.encoding == "spikes" and np.array_equal(back.x, ds.x) and len(back) == 7
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 4)), y=np.zeros(2, np.int64))
    with pytest.raises(NeurodeployError, match=r"bad\.npz: x has 3 samples"):
        load_dataset(bad)
    np.savez(bad, inputs=np.zeros(3))
    with pytest.raises(NeurodeployError, match=r"bad\.npz: a dataset file needs arrays 'x' and 'y'"):
        load_dataset(bad)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(NeurodeployError, match=r"junk\.npz: not a readable"):
        load_dataset(tmp_path / "junk.npz")
    with pytest.raises(NeurodeployError, match="neither a task"):
        load_dataset("mnist")


@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31))
def test_encodings_shapes_and_values(batch, T, seed):
    x = np.random.default_rng(seed).random((batch, 3)).astype(np.float32)
    direct = encode(x, "direct", T)
    assert direct.shape == (T, batch, 3) and np.all(direct == x)
    rate = encode(x, "rate", T, seed=seed)
    assert set(np.unique(rate)) <= {0.0, 1.0}
    assert np.array_equal(rate, encode(x, "rate", T, seed=seed))
    raster = (np.random.default_rng(seed).random((batch, T, 3)) < 0.3).astype(np.float32)
    steps = encode(raster, "spikes", T + 2)
    assert steps.shape == (T + 2, batch, 3) and np.array_equal(steps[:T], raster.swapaxes(0, 1))
    assert not steps[T:].any()


def test_rate_encoding_refuses_values_outside_0_1_and_spikes_refuse_cropping():
    with pytest.raises(NeurodeployError, match=r"values in \[0, 1\]"):
        encode(np.array([[2.0]]), "rate", 4)
    with pytest.raises(NeurodeployError, match="shorter than the spike data's 5 steps"):
        encode(np.zeros((1, 5, 2)), "spikes", 3)
    assert isinstance(load_dataset("digits", limit=3), Dataset)
