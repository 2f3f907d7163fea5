"""tools/import_models.py, the data and training behind ``tools/bench_import.py``'s trained rows:
the held-out digits never reach training, calibration or QAT; the generators are deterministic
in their seed and give the shapes, classes and spike statistics their docstrings state; the
trained IF CNN's NIR graph keeps the architecture of ``tests/nir_nets.sinabs_if_cnn``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
try:
    import import_models
finally:
    sys.path.pop(0)

pytest.importorskip("sklearn")


def test_held_out_digits_are_disjoint_from_every_other_seed():
    held = set(import_models._digit_index(599, import_models.HELD_OUT_SEED))
    assert len(held) == 599  # the whole held-out third, no repeats
    for seed in (0, 2, 5, 6, 1000, 1011):
        assert held.isdisjoint(import_models._digit_index(1198, seed))
    assert len(set(import_models._digit_index(1198, 1000))) == 1198  # the training pool


def test_digit_events_shape_polarity_and_determinism():
    x, y = import_models.digit_events(6, 3, T=40)
    assert x.shape == (6, 40, 2, 34, 34) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert y.shape == (6,) and y.min() >= 0 and y.max() <= 9
    x2, y2 = import_models.digit_events(6, 3, T=40)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    # both polarities fire, far above the 0.2 % background, on the steps the digit moves
    per_step = x.mean((0, 2, 3, 4))
    assert x[:, :, 0].mean() > 0.005 and x[:, :, 1].mean() > 0.005
    assert per_step.max() > 10 * 0.002 and per_step.min() < 0.004


def test_braille_like_classes_and_rates():
    x, y = import_models.braille_like(700, 4)
    assert x.shape == (700, 256, 12) and set(np.unique(x)) <= {0.0, 1.0}
    assert np.array_equal(np.unique(y), np.arange(7))
    # the class, not the sample, sets each channel's timing: class means differ
    means = np.stack([x[y == k].mean((0, 1)) for k in range(7)])
    assert np.abs(means - means.mean(0)).max() > 0.02
    assert not np.array_equal(x, import_models.braille_like(700, 5)[0])


def test_trained_cnn_keeps_the_nir_architecture():
    torch = pytest.importorskip("torch")
    pytest.importorskip("nir")
    sys.path.insert(0, str(ROOT / "tests"))
    from nir_nets import sinabs_if_cnn

    torch.set_num_threads(1)
    ng = import_models.train_if_cnn(epochs=1, n=8)
    ref = sinabs_if_cnn(0)
    assert list(ng.nodes) == list(ref.nodes)
    for k in ("0", "2", "5", "9", "11"):
        assert ng.nodes[k].weight.shape == ref.nodes[k].weight.shape
        assert not np.array_equal(ng.nodes[k].weight, ref.nodes[k].weight)
