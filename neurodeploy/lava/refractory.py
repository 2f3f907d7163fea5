"""A bit-accurate fixed-point ProcessModel for Lava's ``LIFRefractory``, which lava-nc 0.10 runs
in float only (``PyLifRefractoryModelFloat``).

:class:`PyLifRefractoryModelBitAcc` computes ``u`` and ``v`` with ``PyLifModelBitAcc``'s
arithmetic (``AbstractPyLifModelFixed.subthr_dynamics``: 12-bit decays, 24-bit wrap of ``u``,
clip of ``v``; ``s = v > vth << 6``; ``v = 0`` where it spikes) and gates them as the float
model does: ``u`` always integrates; ``v`` is updated only where
``refractory_period_end < time_step``; a spike in Lava step ``t`` sets
``refractory_period_end = t + refractory_period``. So a neuron that spiked in step ``t`` keeps
``v`` at its reset value 0 (and cannot spike: ``0 > vth << 6`` is false for ``vth >= 0``) in
steps ``t + 1 … t + r``: the ``r`` steps after the spike, as
:func:`neurodeploy.kinds.cuba_lif.fixed_step` blocks them. ``refractory_period_end`` is a state
Var like ``u`` and ``v``: set to 0 between samples, it blocks nothing (Lava's ``time_step``
starts at 1 and only grows).

Lava finds models next to their process, so the run configuration names this one:
:data:`FIXED_MODELS` goes into ``Loihi2SimCfg(exception_proc_model_map=...)`` (keyed by process
class) wherever a fixed-point run may hold a ``LIFRefractory``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed
from lava.proc.lif.process import LIFRefractory


@implements(proc=LIFRefractory, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLifRefractoryModelBitAcc(AbstractPyLifModelFixed):
    """``LIFRefractory`` bit-accurate with ``PyLifModelBitAcc`` plus the refractory gating of
    ``PyLifRefractoryModelFloat`` (module docstring)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self.effective_vth = 0
        self.refractory_period = int(proc_params["refractory_period"])

    def scale_threshold(self) -> None:
        """``vth << 6``, as ``PyLifModelBitAcc``."""
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.effective_vth

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        """Lava's fixed-point ``u`` and ``v``; ``v`` kept where the neuron is refractory."""
        held = self.refractory_period_end >= self.time_step
        v_held = self.v[held]
        super().subthr_dynamics(activation_in)
        self.v[held] = v_held

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        """``v = 0`` where it spiked, which then stays refractory for ``refractory_period``
        steps."""
        self.refractory_period_end[spike_vector] = self.time_step + self.refractory_period
        super().reset_voltage(spike_vector)


#: the fixed-point models Lava's own search does not find, by process class
FIXED_MODELS: dict[type, type] = {LIFRefractory: PyLifRefractoryModelBitAcc}
