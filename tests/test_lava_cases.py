"""Hand-quantized test graphs for the Lava backend and a plain-numpy integer reference of the
shared fixed-point semantics (no tests here; imported by tests/test_lava*.py)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy.ir import (
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    SumPool2d,
    WeightQ,
    infer_shapes,
)

T_STEPS = 32
N_SAMPLES = 20


# ------------------------------------------------------------------ hand-quantized graphs


def _wq(rng: np.random.Generator, shape: tuple[int, ...], exp: int, lo: int = -128,
        hi: int = 128) -> WeightQ:
    w = (rng.integers(lo, hi, shape) * 2).astype(np.int32)  # mixed sign: even mantissas
    return WeightQ(weight=w, weight_exp=exp, scale=1.0)


def _dense(name: str, rng: np.random.Generator, n_out: int, n_in: int, exp: int) -> Dense:
    q = _wq(rng, (n_out, n_in), exp)
    return Dense(name, weight=q.weight.astype(np.float32), quant=q)


def _lif(name: str, rng: np.random.Generator, shape: tuple[int, ...], vth: int,
         bias: bool = True) -> CubaLIF:
    bias_mant = rng.integers(-200, 400, shape).astype(np.int32) if bias else np.zeros((), np.int32)
    q = NeuronQ(du=int(rng.integers(200, 3000)), dv=int(rng.integers(100, 2000)), vth=vth,
                bias_mant=bias_mant, bias_exp=2, scale=1.0)
    return CubaLIF(name, shape=shape, quant=q)


def _readout(name: str, n: int) -> Readout:
    return Readout(name, shape=(n,), decoding="mean",
                   quant=NeuronQ(du=4095, dv=300, vth=0, scale=1e-3))


READOUT_VTH = 2**17


def mlp_graph(seed: int = 0) -> Graph:
    """20 binary inputs → 24 LIF → 10 readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(20,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.add(_dense("fc1", rng, 24, 20, 0), "in")
    g.add(_lif("lif1", rng, (24,), vth=300), "fc1")
    g.add(_dense("fc2", rng, 10, 24, -1), "lif1")
    g.add(_readout("out", 10), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def conv_graph(seed: int = 1) -> Graph:
    """(1, 8, 8) 4-bit graded input → conv 3×3 → LIF → sum-pool 2×2 → flatten → dense → LIF
    → dense → readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(1, 8, 8), encoding="direct", quant=InputQ(scale=1 / 15, bits=4)))
    q = _wq(rng, (4, 1, 3, 3), 0, -40, 40)
    g.add(Conv2d("conv", weight=q.weight.astype(np.float32), padding=(1, 1), quant=q), "in")
    g.add(_lif("lif0", rng, (4, 8, 8), vth=400), "conv")
    g.add(SumPool2d("pool", kernel=(2, 2), stride=(2, 2)), "lif0")
    g.add(Flatten("flat"), "pool")
    g.add(_dense("fc1", rng, 16, 64, 0), "flat")
    g.add(_lif("lif1", rng, (16,), vth=200), "fc1")
    g.add(_dense("fc2", rng, 10, 16, 0), "lif1")
    g.add(_readout("out", 10), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def residual_graph(seed: int = 2) -> Graph:
    """A residual block whose paths differ in length: lif3 gets fc3(lif2(fc2(lif1))) + a dense
    skip from lif1 (one step shorter in Lava: DelayDense) + lif1's spikes directly (identity
    shortcut, two steps shorter: a delay process)."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(16,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.add(_dense("fc1", rng, 12, 16, 0), "in")
    g.add(_lif("lif1", rng, (12,), vth=250), "fc1")
    g.add(_dense("fc2", rng, 12, 12, 0), "lif1")
    g.add(_lif("lif2", rng, (12,), vth=250), "fc2")
    g.add(_dense("fc3", rng, 12, 12, 0), "lif2")
    g.add(_dense("skip", rng, 12, 12, -1), "lif1")
    g.add(Add("res"), "fc3", "skip")
    g.add(_lif("lif3", rng, (12,), vth=250), "res", "lif1")
    g.add(_dense("fc4", rng, 5, 12, 0), "lif3")
    g.add(_readout("out", 5), "fc4")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def recurrent_graph(seed: int = 3) -> Graph:
    """in → fc1 → lif1 ⟲ (rec, delay 1) → fc2 → readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(12,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.add(_dense("fc1", rng, 16, 12, 0), "in")
    g.add(_dense("rec", rng, 16, 16, -1))
    g.add(_lif("lif1", rng, (16,), vth=250), "fc1", "rec")
    g.connect("lif1", "rec", delay=1)
    g.add(_dense("fc2", rng, 4, 16, 0), "lif1")
    g.add(_readout("out", 4), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def refractory_graph(seed: int = 7, T: int = 50) -> Graph:
    """16 binary inputs → 12 LIF (refractory 2) → 8 LIF (refractory 1). Neuron 0 of each layer
    has no synapses and a bias above its threshold: it fires in every step it is not blocked
    (every third step, every other step)."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T, "source": "test"})
    g.add(Input("in", shape=(16,), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    for i, (n_in, n, r) in enumerate([(16, 12, 2), (12, 8, 1)], 1):
        fc = _dense(f"fc{i}", rng, n, n_in, 0)
        fc.quant.weight[0] = 0
        fc.weight[0] = 0
        g.add(fc, "in" if i == 1 else f"lif{i - 1}")
        lif = _lif(f"lif{i}", rng, (n,), vth=250)
        lif.quant.bias_mant[0] = 4095  # 4095 << 2 > 250 << 6
        lif.refractory = r
        g.add(lif, f"fc{i}")
    g.inputs, g.outputs = ["in"], ["lif2"]
    return g


def graph_input(g: Graph, seed: int, T: int = T_STEPS, B: int = N_SAMPLES) -> np.ndarray:
    """Random float inputs [T, B, *shape]: spikes for binary inputs, steady images otherwise."""
    rng = np.random.default_rng(100 + seed)
    node = g[g.inputs[0]]
    if node.quant.bits == 1:
        return (rng.random((T, B) + node.shape) < 0.3).astype(np.float32)
    img = rng.random((B,) + node.shape).astype(np.float32)
    return np.broadcast_to(img, (T, B) + node.shape).copy()


# ------------------------------------------------------------------ integer reference


def _shift(a: np.ndarray, e: int) -> np.ndarray:
    return a << e if e > 0 else a >> -e


def reference(g: Graph, x: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Plain numpy of the shared fixed-point semantics; {node: {var: int64 [T, B, *shape]}}.
    A refractory period as Lava's LIFRefractory counts it: a spike in step ``t`` (from 1) sets
    ``end = t + r``; ``v`` is not updated while ``end >= t``."""
    from neurodeploy.lava.compiler import input_integers

    shapes = infer_shapes(g)
    order = g.topological_order()
    T, B = x.shape[:2]
    out: dict[str, dict[str, list]] = {n: {} for n in g.nodes}
    prev: dict[str, np.ndarray] = {n: np.zeros((B,) + shapes[n], np.int64) for n in g.nodes}
    state = {n: (np.zeros((B,) + shapes[n], np.int64), np.zeros((B,) + shapes[n], np.int64),
                 np.zeros((B,) + shapes[n], np.int64))
             for n, node in g.nodes.items() if isinstance(node, (CubaLIF, Readout))}
    xi = input_integers(g[g.inputs[0]], x)
    for t in range(T):
        cur: dict[str, np.ndarray] = {}
        for name in order:
            node = g.nodes[name]
            ins = [(prev if e.delay else cur)[e.src] for e in g.in_edges(name)]
            total = sum(ins) if ins else None
            if isinstance(node, Input):
                y = xi[t]
            elif isinstance(node, Dense):
                y = _shift(total.reshape(B, -1) @ node.quant.weight.T.astype(np.int64),
                           node.quant.weight_exp)
            elif isinstance(node, Conv2d):
                y = F.conv2d(torch.from_numpy(total.astype(np.float64)),
                             torch.from_numpy(node.quant.weight.astype(np.float64)),
                             stride=node.stride, padding=node.padding, dilation=node.dilation,
                             groups=node.groups).numpy().astype(np.int64)
                y = (y + 2**23) % 2**24 - 2**23
            elif isinstance(node, SumPool2d):
                y = F.avg_pool2d(torch.from_numpy(total.astype(np.float64)), node.kernel,
                                 node.stride, node.padding, divisor_override=1)
                y = y.numpy().astype(np.int64)
            elif isinstance(node, Flatten):
                y = total.reshape(B, -1)
            elif isinstance(node, Add):
                y = total
            else:
                q = node.quant
                u, v_old, end = state[name]
                p = u * (4096 - (q.du + 1))
                u = np.sign(p) * (np.abs(p) >> 12) + (total << 6)
                u = np.where(u > 2**23, u - 2**24, u)
                u = np.where(u <= -(2**23), u + 2**24, u)
                qv = v_old * (4096 - q.dv)
                v = np.sign(qv) * (np.abs(qv) >> 12) + u + (
                    np.asarray(q.bias_mant, np.int64) << q.bias_exp)
                v = np.clip(v, -(2**23 - 1), 2**23 - 1)
                v = np.where(end >= t + 1, v_old, v)  # refractory: v not updated
                vth = READOUT_VTH if isinstance(node, Readout) else q.vth
                s = v > (vth << 6)
                v = np.where(s, 0, v)
                end = np.where(s, t + 1 + getattr(node, "refractory", 0), end)
                state[name] = (u, v, end)
                y = s.astype(np.int64)
                out[name].setdefault("u", []).append(u)
                out[name].setdefault("v", []).append(v)
            cur[name] = y
            out[name].setdefault("s" if isinstance(node, (CubaLIF, Readout)) else "y",
                                 []).append(y)
        prev = cur
    return {n: {k: np.stack(v) for k, v in d.items()} for n, d in out.items()}


def netx_ready(g: Graph) -> Graph:
    """Make ``g`` exactly expressible in netx: bias exponent 6, weight exponent 0."""
    for node in g:
        if isinstance(node, (CubaLIF, Readout)):
            node.quant.bias_exp = 6
        if isinstance(node, Dense):
            node.quant.weight_exp = 0
    return g


def netx_conv_graph(seed: int = 4) -> Graph:
    """(2, 8, 8) binary input → conv 3×3 → LIF → conv 3×3 stride 2 → LIF → flatten → dense →
    readout (netx has no pooling: the stride-2 conv downsamples)."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(2, 8, 8), encoding="rate", quant=InputQ(scale=1.0, bits=1)))
    q = _wq(rng, (4, 2, 3, 3), 0, -60, 100)
    g.add(Conv2d("conv1", weight=q.weight.astype(np.float32), padding=(1, 1), quant=q), "in")
    g.add(_lif("lif1", rng, (4, 8, 8), vth=150), "conv1")
    q = _wq(rng, (6, 4, 3, 3), 0, -60, 100)
    g.add(Conv2d("conv2", weight=q.weight.astype(np.float32), padding=(1, 1), stride=(2, 2),
                 quant=q), "lif1")
    g.add(_lif("lif2", rng, (6, 4, 4), vth=200), "conv2")
    g.add(Flatten("flat"), "lif2")
    g.add(_dense("fc", rng, 10, 96, 0), "flat")
    g.add(_readout("out", 10), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return netx_ready(g)


def conv_geometry_graph(seed: int = 5) -> Graph:
    """Non-square maps, grouped/dilated/strided conv, an overlapping padded sum-pool, a second
    conv on graded pool sums: every layout conversion of the compiler (IR (C, H, W) vs Lava's
    (W, H, C) and flipped kernels) shows up here."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": 16, "source": "test"})
    g.add(Input("in", shape=(3, 6, 9), encoding="direct", quant=InputQ(scale=1 / 7, bits=3)))
    q = _wq(rng, (6, 1, 2, 3), 0, -60, 100)
    g.add(Conv2d("conv", weight=q.weight.astype(np.float32), padding=(1, 0), stride=(1, 2),
                 dilation=(2, 1), groups=3, quant=q), "in")
    g.add(_lif("lif0", rng, (6, 6, 4), vth=100), "conv")
    g.add(SumPool2d("pool", kernel=(2, 3), stride=(1, 2), padding=(1, 1)), "lif0")
    q2 = _wq(rng, (4, 6, 3, 2), 0, -60, 100)
    g.add(Conv2d("conv2", weight=q2.weight.astype(np.float32), padding=(1, 1), quant=q2), "pool")
    g.add(_lif("lif1", rng, (4, 7, 3), vth=300), "conv2")
    g.add(Flatten("flat"), "lif1")
    g.add(_dense("fc", rng, 5, 84, 0), "flat")
    g.add(_readout("out", 5), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g
