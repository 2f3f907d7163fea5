"""Surrogate-gradient training layers whose forward pass is exactly the IR's CUBA LIF.

- :mod:`neurodeploy.nn.surrogates` — Heaviside spikes with surrogate backward passes
  (superspike, sigmoid, atan, triangle, rect, ste) and the SGS / MSG / ASGL spike rules.
- :mod:`neurodeploy.nn.functional` — ``cuba_lif``, ``readout`` and ``decode`` over time-major
  sequences ``[T, B, *shape]``, each step the simulator's own (the neuron kinds' pure float
  steps, :mod:`neurodeploy.kinds`) with a surrogate spike function.
- :mod:`neurodeploy.nn.layers` — ``CubaLIF`` / ``LIF`` / ``IF`` / ``Readout`` modules,
  ``SumPool2d``, binary-weight ``BinaryLinear`` / ``BinaryConv2d`` (one α per output channel or
  per layer; per layer folds exactly into Loihi's threshold, :mod:`neurodeploy.quantize.binary`).
- :mod:`neurodeploy.nn.model` — ``SNN`` (a layer list with a JSON-able ``arch``), ``mlp``,
  ``convnet``, ``build_model``.
- :mod:`neurodeploy.nn.regularizers`, :mod:`neurodeploy.nn.two` — Lipschitz and activity
  penalties, temporally weighted output (TWO).
- :mod:`neurodeploy.nn.training` — ``train(TrainConfig)`` on digits / Randman / ``.npz``.
- :mod:`neurodeploy.nn.online` — memory-light train modes SLTT and OTTT (a loss and a backward
  at every step: memory independent of T), ``TrainConfig(train_mode=...)``.
- :mod:`neurodeploy.nn.checkpoint` — ``save_checkpoint`` / ``load_checkpoint``.
"""

from __future__ import annotations

from neurodeploy.nn.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.nn.functional import SpikeConfig, cuba_lif, decode, readout
from neurodeploy.nn.layers import IF, LIF, BinaryConv2d, BinaryLinear, CubaLIF, Readout, SumPool2d
from neurodeploy.nn.model import SNN, build_model, convnet, mlp
from neurodeploy.nn.surrogates import FUNCTIONS, SURROGATES, surrogate_grad

__all__ = [
    "FUNCTIONS", "IF", "LIF", "SNN", "SURROGATES", "BinaryConv2d", "BinaryLinear", "CubaLIF",
    "Readout", "SpikeConfig", "SumPool2d", "build_model", "convnet", "cuba_lif", "decode",
    "load_checkpoint", "mlp", "readout", "save_checkpoint", "surrogate_grad",
]
