"""Batched simulator of neuron graphs, float or bit-accurate fixed point (torch, CPU or CUDA).

``simulate(graph, x [T, B, *input_shape], mode, record, device) -> SimResult`` runs one batch;
``run_dataset(graph, ds, ...) -> DatasetResult`` runs a whole dataset. The graph's time loop
(:mod:`neurodeploy.sim.runner`) is separate from the neuron dynamics, which are pure step
functions on explicit state held by each neuron kind (:mod:`neurodeploy.kinds`; the integer
formats: :mod:`neurodeploy.formats`). Two engines run the loop and return the same results bit
for bit: :mod:`neurodeploy.sim.fast` (the default: preallocated buffers updated in place, each
node in the narrowest exact dtype its bounds allow, event-driven sums for sparse spikes; the
neurons' in-place form from their kind) and :mod:`neurodeploy.sim.reference`
(``engine="reference"``: the equations below written plainly, int64 in fixed mode).

Float mode: the IR's equations (``neurodeploy.ir.nodes``) in float32, every synapse acting
within the step; recurrent (delay 1) edges carry the previous step's output (zeros at t = 0).

Fixed-point mode (``mode="fixed"``, a quantized graph), Lava's bit-accurate models
(lava-nc 0.10.0), all integers (exact in every dtype the engines use, see
:mod:`neurodeploy.sim.ops` and :mod:`neurodeploy.sim.fast`):

- **Input** (the graph's ``InputQ``): ``x_int = clip(round(x / scale), lo, hi)``, round half to
  even; ``bits = 1`` → [0, 1]; unsigned ``bits = b`` → [0, 2**b − 1]; signed
  → [−2**(b−1), 2**(b−1) − 1] (graded spikes, Lava's ``num_message_bits``).
- **Dense** (lava/proc/dense/models.py ``AbstractPyDenseModelBitAcc.run_spk``):
  ``a = W_int @ s``, then ``a << weight_exp`` if ``weight_exp > 0`` else arithmetic
  ``a >> −weight_exp`` (numpy ``right_shift``: floor). ``W_int`` is ``WeightQ.weight``, already
  what Lava's ``clip_weights(num_bits=8)`` + ``truncate_weights`` leave (lava/utils/
  weightutils.py): excitatory [0, 255], inhibitory [−255, 0], mixed sign [−256, 255] with the
  LSB cleared (even values). No clamp of ``a`` (the ``precision=16`` of ``a_buff`` is a type
  annotation the Python model does not enforce). A Dense with ``delay``
  (``PyDelayDenseModelBitAcc``): the same per delay group ``d`` — ``(W_int·[delay == d]) @ s``
  shifted on its own — arriving ``d`` steps later (ring buffer: :mod:`neurodeploy.sim.delays`).
- **Conv2d** (lava/proc/conv/models.py ``PyConvModelFixed`` + lava/proc/conv/utils.py
  ``conv``/``signed_clamp``): ``a = conv(s, W_int)`` with no weight exponent (the quantizer uses
  ``weight_exp = 0``), then wrapped to 24 bits signed: ``(a + 2**23) mod 2**24 − 2**23``.
  (Lava computes the sum in float32, which is exact while |partial sums| ≤ 2**24; we compute it
  exactly always. Lava's conv takes weights in its own XYZ layout and flips them; the Lava
  compiler converts.)
- **SumPool2d**: integer window sums (zero padding). **AvgPool2d** has no fixed-point form and
  is refused (the quantizer rewrites it to SumPool2d and folds 1/k² into the adjacent synapse).
  **Flatten**: reshape. **Add**: integer sum.
- **CubaLIF** (lava/proc/lif/models.py ``AbstractPyLifModelFixed.subthr_dynamics`` and
  ``PyLifModelBitAcc``; reset ``zero`` only — other resets are refused naming the node), per
  step with ``a_in`` the sum of the incoming edges::

      p = u·(4096 − (du + 1));  u = sign(p)·(|p| >> 12)          (ds_offset = 1)
      u = u + (a_in << 6)                                          (act_shift = 6)
      u = u − 2**24 if u > 2**23 else u + 2**24 if u <= −2**23 else u   (one wrap, as Lava)
      q = v·(4096 − dv);  v = sign(q)·(|q| >> 12) + u + (bias_mant << bias_exp)
      v = clip(v, −(2**23 − 1), 2**23 − 1)
      s = v > (vth << 6)                                           (vth_shift = 6)
      v = 0 where s                                                (u is not reset)

  ``>> 12`` of ``|p|`` with the sign restored rounds toward zero. A negative ``bias_exp``
  right-shifts the mantissa (Lava's ``scale_bias``). With ``refractory = r > 0``, for the r
  steps after a spike ``v`` stays 0 (not updated, never clipped) and no spike is sent; ``u``
  integrates as always (Lava: ``LIFRefractory``, :mod:`neurodeploy.lava.refractory`).
- **Readout**: the same sub-threshold dynamics, never spiking (Lava runs it with a threshold
  ``vth`` the clipped v cannot exceed); its output is ``v · NeuronQ.scale`` every step.
- Records hold u and v exactly as Lava stores them (including the ``<< 6`` of ``a_in``).
- Lava's Dense and Conv send the *previous* step's accumulation (a one-step delay per
  synapse); the IR and this simulator are delay-free, and the Lava compiler compensates.
"""

from __future__ import annotations

from neurodeploy.sim.dataset import DatasetResult, run_dataset
from neurodeploy.sim.runner import SimResult, decode, simulate

__all__ = ["DatasetResult", "SimResult", "decode", "run_dataset", "simulate"]
