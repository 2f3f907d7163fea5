"""Small delayed networks and a plain-numpy reference of a delayed Dense (shared by the delay
tests: simulator, files, Lava, netx, NIR)."""

from __future__ import annotations

import numpy as np

from neurodeploy.ir import CubaLIF, Dense, Graph, Input, InputQ, NeuronQ, Readout, WeightQ


def ref_delayed_dense(x: np.ndarray, w: np.ndarray, delay: np.ndarray | None,
                      exp: int | None = None, bias: np.ndarray | None = None) -> np.ndarray:
    """``y[t] = Σ_d (w·[delay == d]) @ x[t − d]`` for ``x`` ``[T, B, in]`` → ``[T, B, out]``,
    synapse by synapse. ``exp`` (fixed point): integers, each delay group's sum shifted by the
    weight exponent (``<< exp``, or ``>> −exp`` rounding toward −∞) as Lava's DelayDense does."""
    T, B = x.shape[:2]
    d_arr = np.zeros(w.shape, np.int64) if delay is None else np.asarray(delay, np.int64)
    fixed = exp is not None
    y = np.zeros((T, B, w.shape[0]), np.int64 if fixed else np.float64)
    for t in range(T):
        for d in np.unique(d_arr):
            if t - d < 0:
                continue
            part = np.zeros((B, w.shape[0]), y.dtype)
            for j in range(w.shape[0]):
                for i in range(w.shape[1]):
                    if d_arr[j, i] == d:
                        part[:, j] += (np.asarray(w[j, i], y.dtype)
                                       * np.asarray(x[t - d, :, i], y.dtype))
            if fixed:
                part = part << exp if exp >= 0 else part >> -exp
            y[t] += part
    if bias is not None:
        y = y + bias
    return y


def delayed_chain(w: np.ndarray, delay: np.ndarray | None, exp: int = 0,
                  spiking: bool = False, vth: int = 200) -> Graph:
    """Quantized ``in (binary) → fc (delayed Dense, integer weights w) → out`` (Readout, or a
    CubaLIF when ``spiking``), float parameters equal to the integers."""
    n_out, n_in = w.shape
    g = Graph(metadata={"source": "test"})
    g.add(Input("in", shape=(n_in,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.inputs = ["in"]
    g.add(Dense("fc", weight=w.astype(np.float32) * 2.0**exp, delay=delay,
                quant=WeightQ(weight=w.astype(np.int32), weight_exp=exp)), "in")
    q = NeuronQ(du=1024, dv=512, vth=vth, scale=1.0)
    if spiking:
        g.add(CubaLIF("out", shape=(n_out,), du=0.25, dv=0.125, vth=float(vth), quant=q), "fc")
    else:
        g.add(Readout("out", shape=(n_out,), du=0.25, dv=0.125, quant=q), "fc")
    g.outputs = ["out"]
    return g
