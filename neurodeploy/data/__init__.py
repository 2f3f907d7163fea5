"""Reference datasets and the on-disk dataset format; no downloads at run time.

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 samples, 10 classes), pixels
  scaled to [0, 1]; ``digits`` gives ``x`` as ``[N, 64]``, ``digits-image`` as ``[N, 1, 8, 8]``.
  Static data, encoded ``direct`` (the same values every step) unless a ``rate`` encoding is asked.
- ``randman``: Zenke & Vogels' random-manifold spike-timing task (generated, each input unit
  spikes once), ``x`` is ``[N, T, units]`` of 0/1, encoding ``spikes``.
- a path to a ``.npz`` file with ``x`` and ``y`` (and optionally ``encoding``): your own data.

Splits are fixed functions of the spec (a stratified 70/30 train/test split for digits, 80/20 for
Randman), so training and evaluation see the same test set.
"""

from __future__ import annotations

from neurodeploy.data.datasets import Dataset, load_dataset, save_dataset
from neurodeploy.data.encoding import encode

__all__ = ["Dataset", "encode", "load_dataset", "save_dataset"]
