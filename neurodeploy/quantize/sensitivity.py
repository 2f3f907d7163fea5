"""How much of a float-vs-fixed gap the float model would show by itself: its predictions under
relative weight noise far below any rounding Loihi does.

Quantization changes every weight by up to half a mantissa step (about 0.2-0.4 % of the
layer's largest weight at 8 bits). Where the float model's prediction flips under a change a
hundred times smaller, no rounding can keep it: IF neurons with a zero reset, for instance, drop
a residual voltage that moves with every spike time, so one spike a step earlier changes the
next layer, and inputs whose two best classes (nearly) tie go either way. Measuring that tells a
user whether the gap is the quantizer's or the model's.

:func:`float_sensitivity` runs the float graph ``draws`` times with every Dense and Conv2d
weight multiplied by ``1 + ε·N(0, 1)`` (independent draws, seeded) and compares each draw's
predictions with the unperturbed ones: the agreement per draw, and the inputs that flip in at
least one draw ("fragile"). :func:`split_agreement` then reports the float-vs-fixed agreement
on the other ("stable") inputs, where a quantizer should be judged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Dense, Graph

#: default relative weight noise: 1e-4 is about 1/40 of the smallest 8-bit rounding step
EPS = 1e-4
#: default number of noise draws
DRAWS = 4


@dataclass
class Sensitivity:
    """The float model's own agreement under relative weight noise ``eps``.

    ``agreement``: per draw, the fraction of inputs whose prediction is unchanged;
    ``fragile``: bool ``[N]``, inputs whose prediction changed in at least one draw."""

    eps: float
    agreement: list[float]
    fragile: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.agreement)) if self.agreement else 1.0

    @property
    def worst(self) -> float:
        return float(np.min(self.agreement)) if self.agreement else 1.0


def perturbed(graph: Graph, eps: float, rng: np.random.Generator) -> Graph:
    """A copy of ``graph`` with every Dense and Conv2d weight ``w`` replaced by
    ``w·(1 + eps·N(0, 1))`` (float32; ``graph`` is left as it is)."""
    out = copy.deepcopy(graph)
    for node in out.nodes.values():
        if isinstance(node, (Dense, Conv2d)):
            w = np.asarray(node.weight, np.float64)
            node.weight = (w * (1.0 + eps * rng.standard_normal(w.shape))).astype(np.float32)
    return out


def float_sensitivity(graph: Graph, predict: Callable[[Graph], np.ndarray],
                      reference: np.ndarray | None = None, eps: float = EPS,
                      draws: int = DRAWS, seed: int = 0) -> Sensitivity:
    """:class:`Sensitivity` of ``graph``: ``predict(g)`` returns ``g``'s predictions (int
    ``[N]``) on the inputs to judge, in float mode; ``reference`` is ``predict(graph)`` when the
    caller already has it. ``eps`` (relative, > 0), ``draws`` (≥ 1) and ``seed`` fix the
    noise."""
    if not (np.isfinite(eps) and eps > 0) or draws < 1:
        raise NeurodeployError(f"sensitivity needs eps > 0 and draws >= 1 (got eps={eps}, "
                               f"draws={draws})")
    ref = np.asarray(predict(graph) if reference is None else reference)
    rng = np.random.default_rng(seed)
    agreement, fragile = [], np.zeros(ref.shape, bool)
    for _ in range(int(draws)):
        p = np.asarray(predict(perturbed(graph, eps, rng)))
        agreement.append(float(np.mean(p == ref)))
        fragile |= p != ref
    return Sensitivity(float(eps), agreement, fragile)


def split_agreement(same: np.ndarray, fragile: np.ndarray) -> tuple[float | None, float | None]:
    """Float-vs-fixed agreement (``same``: bool ``[N]``, prediction unchanged by quantization)
    on the stable and on the fragile inputs; None where there are none."""
    same, fragile = np.asarray(same, bool), np.asarray(fragile, bool)
    stable = float(np.mean(same[~fragile])) if (~fragile).any() else None
    shaky = float(np.mean(same[fragile])) if fragile.any() else None
    return stable, shaky
