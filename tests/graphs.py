"""Random valid graphs for property tests (hypothesis), covering every node kind."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    SigmaDelta,
    SigmaDeltaQ,
    SumPool2d,
    WeightQ,
)


def digits_mlp(seed: int = 3, hidden: int = 16, T: int = 6, encoding: str = "rate",
               w1_std: float = 0.4) -> Graph:
    """The small float model many tests quantize on scikit-learn's digits: 64 inputs → Dense
    (N(0, ``w1_std``)) → CUBA LIF of ``hidden`` → Dense (N(0, 0.5)) → 10 readouts."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T, "source": "test"})
    g.add(Input("in", shape=(64,), encoding=encoding))
    g.add(Dense("fc1", weight=rng.normal(0, w1_std, (hidden, 64)).astype(np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(hidden,), du=0.5, dv=0.1, vth=1.0), "fc1")
    g.add(Dense("fc2", weight=rng.normal(0, 0.5, (10, hidden)).astype(np.float32)), "lif1")
    g.add(Readout("out", shape=(10,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g

def _neuron_params(rng: np.random.Generator, shape: tuple[int, ...], per_neuron: bool) -> dict:
    size = shape if per_neuron else ()
    return {
        "du": rng.uniform(0, 1, size).astype(np.float32),
        "dv": rng.uniform(0, 1, size).astype(np.float32),
        "bias": rng.normal(0, 0.1, size).astype(np.float32),
    }


def _neuron_q(rng: np.random.Generator, shape: tuple[int, ...]) -> NeuronQ:
    return NeuronQ(du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                   vth=int(rng.integers(1, 2**17)),
                   bias_mant=rng.integers(-4096, 4096, shape).astype(np.int32),
                   bias_exp=int(rng.integers(0, 8)), scale=float(rng.uniform(0.01, 1)))


def _weight_q(rng: np.random.Generator, shape: tuple[int, ...]) -> WeightQ:
    return WeightQ(weight=(rng.integers(-128, 128, shape) * 2).astype(np.int32),
                   weight_exp=int(rng.integers(-8, 8)), scale=float(rng.uniform(0.01, 1)))


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    """A random valid graph: conv/pool front end or not, dense layers, optional residual Add,
    optional recurrent edge, optional quantized parameters, readout or spiking output."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    quant = draw(st.booleans())
    per_neuron = draw(st.booleans())
    g = Graph(metadata={"source": "hypothesis", "dt": draw(st.sampled_from([1e-3, 1e-4])),
                        "T": draw(st.integers(1, 32))})
    image = draw(st.booleans())
    if image:
        c, h = draw(st.integers(1, 3)), draw(st.integers(4, 9))
        g.add(Input("in", shape=(c, h, h), encoding=draw(st.sampled_from(["direct", "rate"])),
                    quant=InputQ(scale=0.5, bits=8) if quant else None))
        k = draw(st.sampled_from([1, 3]))  # odd: 'same' padding k // 2
        c_out = draw(st.integers(1, 4))
        groups = draw(st.sampled_from([g_ for g_ in (1, c) if c_out % g_ == 0]))
        w = rng.normal(0, 1, (c_out, c // groups, k, k)).astype(np.float32)
        conv = Conv2d("conv", weight=w, bias=rng.normal(0, 1, c_out).astype(np.float32)
                      if draw(st.booleans()) else None, padding=(k // 2, k // 2),
                      stride=(1, 1), dilation=(1, 1), groups=groups,
                      quant=_weight_q(rng, w.shape) if quant else None)
        g.add(conv, "in")
        shape = (c_out, h, h)
        g.add(CubaLIF("lif0", shape=shape, vth=np.float32(1.0), reset="subtract",
                      refractory=draw(st.integers(0, 2)), quant=_neuron_q(rng, shape) if quant
                      else None, **_neuron_params(rng, shape, per_neuron)), "conv")
        pool_cls = draw(st.sampled_from([SumPool2d, AvgPool2d]))
        g.add(pool_cls("pool", kernel=(2, 2), stride=(2, 2)), "lif0")
        g.add(Flatten("flat"), "pool")
        prev, n_prev = "flat", c_out * (h // 2) * (h // 2)
    else:
        n_prev = draw(st.integers(1, 12))
        g.add(Input("in", shape=(n_prev,), encoding="spikes"))
        prev = "in"
    n = draw(st.integers(1, 10))
    w = rng.normal(0, 1, (n, n_prev)).astype(np.float32)
    g.add(Dense("fc1", weight=w, quant=_weight_q(rng, w.shape) if quant else None), prev)
    sources = ["fc1"]
    if draw(st.booleans()):  # residual: a second path added to the first
        w2 = rng.normal(0, 1, (n, n_prev)).astype(np.float32)
        g.add(Dense("fc1b", weight=w2), prev)
        g.add(Add("res"), "fc1", "fc1b")
        sources = ["res"]
    recurrent = draw(st.booleans())
    if recurrent:
        wr = rng.normal(0, 1, (n, n)).astype(np.float32)
        g.add(Dense("rec", weight=wr))
        sources.append("rec")
    g.add(CubaLIF("lif1", shape=(n,), vth=rng.uniform(0.1, 2, (n,) if per_neuron else ())
                  .astype(np.float32), reset=draw(st.sampled_from(["zero", "subtract", "none"])),
                  quant=_neuron_q(rng, (n,)) if quant else None,
                  **_neuron_params(rng, (n,), per_neuron)), *sources)
    if recurrent:
        g.connect("lif1", "rec", delay=1)
    last = "lif1"
    if draw(st.booleans()):  # a sigma-delta layer with graded spikes
        w = rng.normal(0, 1, (n, n)).astype(np.float32)
        g.add(Dense("fc_sd", weight=w, quant=_weight_q(rng, w.shape) if quant else None), "lif1")
        mode = draw(st.sampled_from(["sigma_delta", "delta", "sigma"]))
        full = mode == "sigma_delta"
        bias = rng.normal(0, 0.5, (n,) if per_neuron else ()).astype(np.float32)
        q = SigmaDeltaQ(vth=int(rng.integers(0, 64)) if mode != "sigma" else 0,
                        bias=rng.integers(-100, 100, (n,)).astype(np.int32) if full else 0,
                        spike_exp=int(rng.integers(0, 4)), state_exp=int(rng.integers(0, 4)),
                        scale=float(rng.uniform(0.01, 1)))
        g.add(SigmaDelta("sd", shape=(n,), mode=mode,
                         activation=draw(st.sampled_from(["relu", "identity"])) if full
                         else "identity", vth=np.float32(0.1 if mode != "sigma" else 0),
                         bias=bias * full, quant=q if quant else None), "fc_sd")
        last = "sd"
    n_out = draw(st.integers(1, 5))
    g.add(Dense("fc2", weight=rng.normal(0, 1, (n_out, n)).astype(np.float32)), last)
    decoding = draw(st.sampled_from(["mean", "max", "last", "sum", "weighted"]))
    g.add(Readout("out", shape=(n_out,), decoding=decoding,
                  weights=rng.uniform(0, 2, 8).astype(np.float32) if decoding == "weighted"
                  else None, **_neuron_params(rng, (n_out,), per_neuron)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g
