"""Node types of the neuron graph: one dataclass per node kind, parameters as numpy arrays.

Time is discrete; one step is one Loihi algorithmic time step. Shapes are per sample and per
step (no time or batch dimension): a Dense input is ``(n,)``, a Conv2d input ``(C, H, W)``.

Synapse nodes (:class:`Dense`, :class:`Conv2d`, :class:`SumPool2d`, :class:`AvgPool2d`,
:class:`Flatten`, :class:`Add`) are linear maps applied within a step, without delay — except
that a :class:`Dense` or :class:`Conv2d` may carry per-synapse integer delays (``delay``;
docs/delays.md). Neuron
nodes (:class:`CubaLIF`, :class:`Readout`) sum all their incoming edges as the synaptic input
``I[t]`` and follow Loihi's CUBA dynamics (float form)::

    u[t] = u[t-1]·(1 − du) + I[t]
    v[t] = v[t-1]·(1 − dv) + u[t] + bias
    s[t] = v[t] > vth                       (CubaLIF only)
    reset where s[t]: zero → v = 0 | subtract → v −= vth | none → v unchanged

A CubaLIF with ``refractory = r > 0`` holds ``v = 0`` and emits no spike for ``r`` steps after a
spike (u keeps integrating; in fixed point too, with a zero reset: Loihi's refractory delay).

Every node carries float parameters. A quantized node also carries ``quant``, its integer
parameters in Loihi's formats (see :class:`WeightQ`, :class:`NeuronQ`, :class:`InputQ`;
the formats themselves: :mod:`neurodeploy.formats`).

This module holds the data (fields, the name stored in files, each node's own field checks);
what a neuron node *does* — its float and fixed-point steps, quantization rule, Lava process,
op counts, NIR/ONNX/netx mapping — is its kind's, in :mod:`neurodeploy.kinds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from neurodeploy.ir import checks

RESET_MODES = ("zero", "subtract", "none")
DECODINGS = ("mean", "max", "last", "sum", "weighted")
ENCODINGS = ("direct", "rate", "spikes")


def _f32(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _coerce_arrays(obj: object, dtype: type) -> None:
    """Turn scalars and lists given for array fields into numpy arrays of ``dtype``, so that a
    node built with ``vth=1.0`` is the same node as one built with ``vth=np.array(1.0)``."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if "np.ndarray" in str(f.type) and value is not None and not isinstance(value, np.ndarray):
            setattr(obj, f.name, np.asarray(value, dtype=dtype))


# ---------------------------------------------------------------- quantized parameter formats


@dataclass(eq=False)
class InputQ:
    """Integer input: ``x_int = clip(round(x / scale), lo, hi)`` with ``bits``-bit messages.

    ``bits = 1`` means binary spikes (0/1); ``bits = b > 1`` means graded unsigned values in
    ``[0, 2**b − 1]`` (Lava's ``num_message_bits``), or signed in ``[−2**(b−1), 2**(b−1) − 1]``
    when ``signed``.
    """

    scale: float
    bits: int = 1
    signed: bool = False


@dataclass(eq=False)
class WeightQ:
    """Integer synapse weights of a Dense or Conv2d, as Lava's bit-accurate models use them.

    ``weight`` holds the effective integer weights (int32 array, same shape as the float weight)
    after Lava's clip and truncation (8-bit; even values only in mixed-sign mode). The synaptic
    output of one step is ``(weight · x) << weight_exp`` (Dense) — see ``neurodeploy.sim.fixed``
    for Conv2d's arithmetic. ``scale`` is the float value of one integer output unit.
    """

    weight: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    scale: float = 1.0

    def __post_init__(self) -> None:
        _coerce_arrays(self, np.int32)


@dataclass(eq=False)
class NeuronQ:
    """Integer CUBA parameters in Lava's ``PyLifModelBitAcc`` formats (lava/proc/lif/models.py).

    - ``du``, ``dv``: 12-bit decays in ``[0, 4095]``; current keeps ``4096 − (du + 1)`` / 4096
      per step, voltage keeps ``4096 − dv`` / 4096. Also ``du = −1`` (a current that never
      decays) and ``dv = 4096`` (no voltage memory: ``v = u + bias``), as netx's default
      integrator (``iDecay = 0``, ``vDecay = 4096``) runs them in Lava.
    - ``vth``: threshold mantissa; the effective threshold is ``vth << 6``.
    - ``bias_mant``: per-neuron 13-bit signed mantissa (int32 array, scalar or node shape);
      the effective bias is ``bias_mant << bias_exp``.
    - ``scale``: the float value of one unit of ``v`` (for decoding and reports).
    """

    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray = field(default_factory=lambda: np.zeros((), np.int32))
    bias_exp: int = 0
    scale: float = 1.0

    def __post_init__(self) -> None:
        _coerce_arrays(self, np.int32)


@dataclass(eq=False)
class SigmaDeltaQ:
    """Integer sigma-delta parameters in Lava's fixed-point formats (lava/proc/sdn/models.py).

    - ``vth``: delta threshold (integer, ≥ 0); the state compares ``|delta|`` with
      ``vth << (spike_exp + state_exp)``.
    - ``bias``: per-neuron integer bias (int32 array, scalar or node shape), entering the
      activation as ``bias << (spike_exp + state_exp)``.
    - ``spike_exp``, ``state_exp``: 3-bit exponents; a graded spike carries ``spike_exp``
      fractional bits, the state ``spike_exp + state_exp``.
    - ``scale``: the float value of one unit of the output (a graded spike; ``sigma`` mode: of
      the sigma it sends).
    """

    vth: int = 0
    bias: np.ndarray = field(default_factory=lambda: np.zeros((), np.int32))
    spike_exp: int = 0
    state_exp: int = 0
    scale: float = 1.0

    def __post_init__(self) -> None:
        _coerce_arrays(self, np.int32)


# ---------------------------------------------------------------- nodes


@dataclass(eq=False)
class Node:
    """Base of every node: a unique name. ``kind`` is the name stored in files."""

    name: str
    kind: ClassVar[str] = "node"
    #: how many incoming edges the node takes: (min, max); max None = unbounded
    arity: ClassVar[tuple[int, int | None]] = (1, 1)

    def __post_init__(self) -> None:
        _coerce_arrays(self, np.float32)

    def check(self, shape: tuple[int, ...]) -> None:
        """Check the node's own fields given its output ``shape``; a NeurodeployError naming
        the node on a fault. (Checks that need the graph are in :mod:`neurodeploy.ir.validate`.)
        """


@dataclass(eq=False)
class Input(Node):
    """Graph input. ``shape`` per step; ``encoding`` tells how a static sample becomes steps:
    ``direct`` (the same value every step), ``rate`` (Bernoulli spikes), ``spikes`` (the data
    is already ``[T, ...]``)."""

    shape: tuple[int, ...] = ()
    encoding: str = "direct"
    quant: InputQ | None = None
    kind: ClassVar[str] = "input"
    arity: ClassVar[tuple[int, int | None]] = (0, 0)


class _Delayed(Node):
    """A synapse with optional per-synapse integer delays ``delay`` (int32, the weight's shape);
    floats are coerced, the integer delays are kept as integers."""

    delay: np.ndarray | None

    def __post_init__(self) -> None:
        delay, self.delay = self.delay, None
        super().__post_init__()
        self.delay = None if delay is None else checks.integer_array(delay)

    @property
    def max_delay(self) -> int:
        """The largest synaptic delay in steps (0 without delays)."""
        return 0 if self.delay is None or self.delay.size == 0 else int(self.delay.max())

    def check(self, shape: tuple[int, ...]) -> None:
        checks.check_delay(self, self.weight.shape)  # type: ignore[attr-defined]


@dataclass(eq=False)
class Dense(_Delayed):
    """Fully connected synapse: ``y = weight @ x (+ bias)``; ``weight`` is ``[out, in]``.

    ``delay`` (optional, int32 ``[out, in]``, the weight's shape): per-synapse delays in steps,
    ``0 ≤ delay ≤`` :data:`neurodeploy.formats.DELAY_MAX`. Synapse ``(j, i)`` carries
    ``s_in[t]`` to ``y[t + delay[j, i]]``::

        y[t] = Σ_d (weight · [delay == d]) @ x[t − d]  (+ bias)      (x[t < 0] = 0)

    ``None`` (or all zeros) is the delay-free synapse. In fixed point the weight exponent
    shifts each delay group's sum separately, as Lava's ``DelayDense`` does.
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    bias: np.ndarray | None = None
    quant: WeightQ | None = None
    delay: np.ndarray | None = field(default=None, metadata={"dtype": np.int32})
    kind: ClassVar[str] = "dense"



@dataclass(eq=False)
class Conv2d(_Delayed):
    """2-D convolution synapse, PyTorch's semantics (cross-correlation).

    ``weight`` is ``[C_out, C_in / groups, kH, kW]``; input ``(C_in, H, W)``.

    ``delay`` (optional, int32, the weight's shape ``[C_out, C_in / groups, kH, kW]``): a delay
    per kernel tap, shared by every output position (as the weight is), ``0 ≤ delay ≤``
    :data:`neurodeploy.formats.DELAY_MAX`; lava-dl's per-output-channel delay is the case
    ``delay[co] ≡ d[co]``. Like a Dense's delays::

        y[t] = Σ_d conv(x[t − d], weight · [delay == d])  (+ bias)      (x[t < 0] = 0)

    In fixed point a delayed convolution runs as Lava's ``DelayDense`` over the unrolled
    (im2col) weights: each delay group's sum is exact (no 24-bit wrap as Lava's Conv applies).
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 1, 1), np.float32))
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    quant: WeightQ | None = None
    delay: np.ndarray | None = field(default=None, metadata={"dtype": np.int32})
    kind: ClassVar[str] = "conv2d"


@dataclass(eq=False)
class SumPool2d(Node):
    """Sum over each ``kernel`` window (per channel), PyTorch pooling geometry."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (0, 0)
    kind: ClassVar[str] = "sumpool2d"


@dataclass(eq=False)
class AvgPool2d(Node):
    """Mean over each ``kernel`` window (zero padding counted, like ``count_include_pad``)."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (0, 0)
    kind: ClassVar[str] = "avgpool2d"


@dataclass(eq=False)
class Flatten(Node):
    """Reshape ``(C, H, W)`` (or any shape) to ``(C·H·W,)`` in C order, like ``torch.flatten``."""

    kind: ClassVar[str] = "flatten"


@dataclass(eq=False)
class Add(Node):
    """Elementwise sum of two or more inputs of one shape (residual connections)."""

    kind: ClassVar[str] = "add"
    arity: ClassVar[tuple[int, int | None]] = (2, None)


@dataclass(eq=False)
class CubaLIF(Node):
    """Loihi CUBA leaky integrate-and-fire neurons (equations in the module docstring).

    ``du``, ``dv`` in [0, 1], ``vth`` > 0 and ``bias`` are float32 arrays, either 0-d (one value
    per layer) or of the node's shape (per neuron). ``shape`` is the neuron array's shape and
    equals the input's.
    """

    shape: tuple[int, ...] = ()
    du: np.ndarray = field(default_factory=lambda: _f32(1.0))
    dv: np.ndarray = field(default_factory=lambda: _f32(0.0))
    vth: np.ndarray = field(default_factory=lambda: _f32(1.0))
    bias: np.ndarray = field(default_factory=lambda: _f32(0.0))
    reset: str = "zero"
    refractory: int = 0
    quant: NeuronQ | None = None
    kind: ClassVar[str] = "cuba_lif"
    arity: ClassVar[tuple[int, int | None]] = (1, None)

    def check(self, shape: tuple[int, ...]) -> None:
        checks.check_cuba(self, shape, ("du", "dv", "bias", "vth"))
        if np.any(self.vth <= 0):
            checks.fail(self, "threshold 'vth' must be positive")
        if self.reset not in RESET_MODES:
            checks.fail(self, f"reset '{self.reset}' is not one of {', '.join(RESET_MODES)}")
        if self.refractory < 0:
            checks.fail(self, f"refractory period must be >= 0 steps, got {self.refractory}")
        checks.check_neuron_q(self, shape)


@dataclass(eq=False)
class Readout(Node):
    """Non-firing CUBA integrator whose ``v`` is read every step and decoded over time.

    ``decoding``: ``mean`` | ``max`` | ``last`` | ``sum`` of ``v`` over steps, or ``weighted``:
    ``Σ_t weights[t]·v[t]`` with ``weights`` of length T (temporally weighted output, TWO).
    """

    shape: tuple[int, ...] = ()
    du: np.ndarray = field(default_factory=lambda: _f32(1.0))
    dv: np.ndarray = field(default_factory=lambda: _f32(0.0))
    bias: np.ndarray = field(default_factory=lambda: _f32(0.0))
    decoding: str = "mean"
    weights: np.ndarray | None = None
    quant: NeuronQ | None = None
    kind: ClassVar[str] = "readout"
    arity: ClassVar[tuple[int, int | None]] = (1, None)

    def check(self, shape: tuple[int, ...]) -> None:
        checks.check_cuba(self, shape, ("du", "dv", "bias"))
        if self.decoding not in DECODINGS:
            checks.fail(self, f"decoding '{self.decoding}' is not one of {', '.join(DECODINGS)}")
        if self.decoding == "weighted":
            if self.weights is None or self.weights.ndim != 1 or self.weights.size == 0:
                checks.fail(self, "decoding 'weighted' needs a 1-D array 'weights' (one per step)")
            checks.check_finite(self, "weights", self.weights)
        checks.check_neuron_q(self, shape)


SIGMA_DELTA_MODES = ("sigma_delta", "delta", "sigma")
ACTIVATIONS = ("relu", "identity")


@dataclass(eq=False)
class SigmaDelta(Node):
    """Loihi 2's sigma-delta neurons with graded spikes (Lava's lava/proc/sdn), float form::

        sigma[t] = sigma[t-1] + I[t]                    (modes sigma_delta, sigma)
        act[t]   = f(sigma[t] + bias)  | I[t] (mode delta)
        delta    = act[t] − act[t-1] + residue[t-1]
        y[t]     = delta where |delta| >= vth, else 0;  residue[t] = delta − y[t]

    ``mode``: ``sigma_delta`` (Lava's ``SigmaDelta``: the above, ``f`` = ``activation``,
    ``relu`` or ``identity``), ``delta`` (Lava's ``Delta``: encodes its input, no sigma, no
    activation, no bias — netx's SDNN input block), ``sigma`` (Lava's ``Sigma``: sends
    ``y = sigma`` every step, no activation, bias or threshold — netx's ``sigma_output``
    layer). ``vth`` ≥ 0 and ``bias`` are float32 arrays, 0-d or of the node's shape (``vth``
    one per layer in fixed point). Its fixed-point form: :mod:`neurodeploy.kinds.sigma_delta`.
    """

    shape: tuple[int, ...] = ()
    mode: str = "sigma_delta"
    activation: str = "relu"
    vth: np.ndarray = field(default_factory=lambda: _f32(0.0))
    bias: np.ndarray = field(default_factory=lambda: _f32(0.0))
    quant: SigmaDeltaQ | None = None
    kind: ClassVar[str] = "sigma_delta"
    arity: ClassVar[tuple[int, int | None]] = (1, None)

    def check(self, shape: tuple[int, ...]) -> None:
        checks.check_sigma_delta(self, shape)


NODE_TYPES: dict[str, type[Node]] = {
    cls.kind: cls
    for cls in (Input, Dense, Conv2d, SumPool2d, AvgPool2d, Flatten, Add, CubaLIF, Readout,
                SigmaDelta)
}
QUANT_TYPES: dict[str, type] = {cls.__name__: cls
                                for cls in (InputQ, WeightQ, NeuronQ, SigmaDeltaQ)}

#: the neuron node types; each has one kind in :mod:`neurodeploy.kinds` (its behaviour)
NEURON_TYPES = (CubaLIF, Readout, SigmaDelta)
SYNAPSE_TYPES = (Dense, Conv2d)
