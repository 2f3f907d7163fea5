"""NIR graphs written the way other tools write them, built with the ``nir`` package directly
(the producing frameworks need not be installed), with a plain-torch reference of NIR's step."""

from __future__ import annotations

from typing import Any

import numpy as np

#: input shape of the N-MNIST-shaped CNN (channels, height, width)
CNN_INPUT = (2, 34, 34)


def _conv(rng: np.random.Generator, c_out: int, c_in: int, k: int, gain: float) -> np.ndarray:
    w = rng.normal(0.0, 1.0, (c_out, c_in, k, k)) / np.sqrt(c_in * k * k)
    return (w * gain + 0.01).astype(np.float32)


def sinabs_if_cnn(seed: int = 0) -> Any:
    """A Sinabs-style IF CNN as Sinabs's ``to_nir`` writes it (``IF`` with ``r = 1``, stepped
    per time step): 2x34x34 → conv 16 5x5 s2 → IF → conv 16 3x3 → IF → sum-pool 2 → conv 8 3x3
    → IF → sum-pool 2 → flatten → dense 256 → IF → dense 10 → IF."""
    import nir

    rng = np.random.default_rng(seed)

    def if_(shape: tuple[int, ...]) -> Any:
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=np.ones(shape, np.float32),
                      v_reset=np.zeros(shape, np.float32))

    def conv(c_out: int, c_in: int, k: int, stride: int, pad: int, hw: int, gain: float) -> Any:
        return nir.Conv2d(input_shape=(hw, hw), weight=_conv(rng, c_out, c_in, k, gain),
                          stride=stride, padding=pad, dilation=1, groups=1,
                          bias=np.zeros(c_out, np.float32))

    def dense(n_out: int, n_in: int, gain: float) -> Any:
        w = rng.normal(0.0, 1.0, (n_out, n_in)) / np.sqrt(n_in) * gain
        return nir.Linear(weight=w.astype(np.float32))

    nodes = {
        "input": nir.Input(input_type=np.array(CNN_INPUT)),
        "0": conv(16, 2, 5, 2, 1, 34, 3.0), "1": if_((16, 16, 16)),
        "2": conv(16, 16, 3, 1, 1, 16, 1.5), "3": if_((16, 16, 16)),
        "4": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                           padding=np.array([0, 0])),
        "5": conv(8, 16, 3, 1, 1, 8, 0.5), "6": if_((8, 8, 8)),
        "7": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                           padding=np.array([0, 0])),
        "8": nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=0, end_dim=-1),
        "9": dense(256, 128, 0.6), "10": if_((256,)),
        "11": dense(10, 256, 1.0), "12": if_((10,)),
        "output": nir.Output(output_type=np.array([10])),
    }
    order = list(nodes)
    edges = list(zip(order[:-1], order[1:], strict=False))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def nir_chain_forward(g: Any, x: Any) -> Any:
    """NIR's per-step semantics of a chain graph in plain torch (the producers' step: IF
    ``v += r·I``, spike where ``v > θ``, ``v ← v_reset``): ``x [T, B, ...]`` → output spikes
    ``[T, B, ...]``."""
    import nir
    import torch
    import torch.nn.functional as F

    order = [n for n in g.nodes if not isinstance(g.nodes[n], (nir.Input, nir.Output))]
    state: dict[str, Any] = {}
    outs = []
    for t in range(x.shape[0]):
        h = x[t]
        for name in order:
            n = g.nodes[name]
            if isinstance(n, nir.Conv2d):
                h = F.conv2d(h, torch.as_tensor(n.weight), torch.as_tensor(n.bias),
                             stride=int(np.asarray(n.stride).reshape(-1)[0]),
                             padding=int(np.asarray(n.padding).reshape(-1)[0]))
            elif isinstance(n, nir.SumPool2d):
                k = int(np.asarray(n.kernel_size).reshape(-1)[0])
                h = F.avg_pool2d(h, k) * (k * k)
            elif isinstance(n, nir.Flatten):
                h = h.flatten(1)
            elif isinstance(n, (nir.Linear, nir.Affine)):
                h = h @ torch.as_tensor(n.weight).T
                if isinstance(n, nir.Affine):
                    h = h + torch.as_tensor(n.bias)
            elif isinstance(n, nir.IF):
                v = state.get(name, torch.zeros_like(h)) + torch.as_tensor(n.r) * h
                s = (v > torch.as_tensor(n.v_threshold)).to(h.dtype)
                state[name] = torch.where(s > 0, torch.as_tensor(n.v_reset), v)
                h = s
            else:
                raise TypeError(type(n).__name__)
        outs.append(h)
    return torch.stack(outs)
