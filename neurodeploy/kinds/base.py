"""The interface of a neuron kind: what every stage may ask about one kind of IR neuron node.

A kind is a stateless object, one per IR neuron node type, registered in
:mod:`neurodeploy.kinds`. Stages look it up (``kinds.kind_of(node)``) instead of testing node
types; its methods are pure functions of the IR node and of explicit state:

- **simulation** (torch, batched ``[B, *shape]``; Norse's split: pure step functions on explicit
  state, the graph's time loop elsewhere): :meth:`initial_state`, :meth:`float_params` +
  :meth:`float_step` (the IR's float equations; ``neurodeploy.nn`` trains with the same step,
  passing its surrogate spike function), :meth:`fixed_params` + :meth:`fixed_step` (Lava's
  bit-accurate model), :meth:`record`, :meth:`output`, :meth:`decoding`;
- **fixed point**: :meth:`fixed_refusal` — the one answer to "can Lava's fixed-point model run
  this node?" (:func:`neurodeploy.capability.check_fixed` asks it for the quantizer, the
  simulator, the Lava backend and deploy); :meth:`scale_limits` and :meth:`quantize`, the
  quantization rule (float parameters → integer ones);
- **Lava**: :meth:`float_refusal` (Lava's float models) and :meth:`lava_process`;
- **op counts** (energy, mapping): :attr:`fires`, :attr:`binary`, :meth:`ops`;
- **converters**: :meth:`to_nir` / :meth:`nir_types` / :meth:`from_nir`, :attr:`onnx_op` /
  :meth:`onnx_state` / :meth:`onnx_attributes`, :meth:`netx_neuron`.

The IR node's dataclass (its fields, its file format and its field checks) stays in
:mod:`neurodeploy.ir.nodes`, which knows nothing of torch or of the stages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from neurodeploy.ir.nodes import NeuronQ, Node

Tensor = torch.Tensor
#: a differentiable spike function ``(x = v − vth, v) → spikes`` (``neurodeploy.nn``); None
#: means the plain step ``x > 0``
SpikeFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class NeuronOps:
    """Operations of one neuron node over one inference: ``updates`` (neuron-steps computed)
    and ``spikes`` (messages sent downstream)."""

    updates: float
    spikes: float


class InplaceNeuron(ABC):
    """A neuron node's state held in preallocated buffers and stepped in place: the fast
    simulator's form of a kind's step (:meth:`NeuronKind.inplace`). Its results equal the kind's
    pure :meth:`NeuronKind.float_step` / :meth:`NeuronKind.fixed_step` bit for bit."""

    #: the dtype :meth:`step` takes ``a_in`` in (fixed mode: exact integers)
    a_dtype: torch.dtype
    #: the dtype of what :meth:`step` returns
    y_dtype: torch.dtype
    #: fixed mode: neuron-steps whose state wrapped or was clipped so far (0-d int64)
    saturations: Tensor

    @abstractmethod
    def step(self, a_in: Tensor) -> Tensor:
        """One step on ``a_in`` ``[B, *shape]`` (:attr:`a_dtype`); returns what the node sends
        (a buffer the next step overwrites)."""

    @property
    @abstractmethod
    def state(self) -> Any:
        """The current state, as the kind's :meth:`NeuronKind.record` takes it (views of the
        buffers, any integer dtype in fixed mode)."""


@dataclass
class LavaNeuron:
    """A neuron node built as a Lava process, and what the compiler needs to wire and run it.

    ``a_in``: the InPort its synapses connect to; ``out``: the OutPort its output leaves by;
    ``variables``: recordable Vars by IR variable name; ``resets``: Vars zeroed between samples;
    ``bias``: ``(Var, value)`` to set when the node's first IR step comes (the Var starts at 0),
    None when its bias is not gated.
    """

    proc: Any
    a_in: Any
    out: Any
    variables: dict[str, Any]
    resets: list[Any] = field(default_factory=list)
    bias: tuple[Any, np.ndarray] | None = None


class NeuronKind(ABC):
    """Base of every neuron kind (see the module docstring). Subclasses set the class
    attributes and implement the abstract methods."""

    #: the IR node kind string (``Node.kind``), also the registry key
    name: ClassVar[str]
    #: the IR dataclass of this kind
    node_type: ClassVar[type[Node]]
    #: True: emits spikes downstream; False: a read-out node whose value is read every step
    fires: ClassVar[bool]
    #: True: its output values are 0/1 (a synapse fed by it does ACs, not MACs)
    binary: ClassVar[bool]
    #: recorded variables, in the order Lava computes them within a step
    variables: ClassVar[tuple[str, ...]]
    #: the variable a graph output or a downstream synapse reads
    output_var: ClassVar[str]
    #: the op name of its node in the ONNX export's custom domain
    onnx_op: ClassVar[str]

    # ------------------------------------------------------------ simulation

    @abstractmethod
    def initial_state(self, node: Any, batch_shape: tuple[int, ...], fixed: bool,
                      device: torch.device | str) -> Any:
        """The all-zero state of ``node`` for ``[B, *shape]`` neurons (int64 when ``fixed``)."""

    @abstractmethod
    def float_params(self, node: Any, device: torch.device | str) -> Any:
        """The node's float parameters as :meth:`float_step` takes them."""

    @abstractmethod
    def float_step(self, state: Any, i_in: Tensor, params: Any,
                   spike_fn: SpikeFn | None = None) -> tuple[Any, Tensor]:
        """One float step: state at ``t − 1`` and synaptic input ``I[t]`` → ``(state, y)``, ``y``
        what the node sends downstream. ``spike_fn`` (training) replaces the plain spike."""

    @abstractmethod
    def fixed_params(self, node: Any, device: torch.device | str) -> Any:
        """The node's integer parameters as :meth:`fixed_step` takes them (a quantized node
        that :meth:`fixed_refusal` accepts)."""

    @abstractmethod
    def fixed_step(self, state: Any, a_in: Tensor, params: Any) -> tuple[Any, Tensor, Tensor]:
        """One step of Lava's bit-accurate model on int64 tensors → ``(state, y, saturated)``,
        ``saturated`` a bool tensor marking neurons whose state wrapped or was clipped."""

    def inplace(self, node: Any, batch_shape: tuple[int, ...], fixed: bool,
                device: torch.device | str, a_bound: float) -> InplaceNeuron | None:
        """The node stepped in place for ``[B, *shape]`` neurons whose synaptic input is at most
        ``a_bound`` in magnitude (fixed mode), or None: the simulator then calls the pure
        steps. Kinds without an in-place form need not override this."""
        return None

    @abstractmethod
    def record(self, state: Any, y: Tensor) -> dict[str, Tensor]:
        """The recorded variables (:attr:`variables`) after a step."""

    def output(self, node: Any, y: Tensor, fixed: bool) -> Tensor:
        """``y`` as a graph output reports it (float32): spikes as 0/1; a read-out value in
        float units (fixed mode: times ``quant.scale``)."""
        y = y.to(torch.float32)
        if fixed and not self.fires:
            return y * float(node.quant.scale)
        return y

    def decoding(self, node: Any) -> str:
        """How a graph output of this kind is decoded over time (spike counts: ``sum``)."""
        return "sum"

    # ------------------------------------------------------------ fixed point and quantization

    @abstractmethod
    def fixed_refusal(self, node: Any) -> str | None:
        """Why Lava's fixed-point model cannot run ``node`` (None: it can). A node not yet
        quantized is also refused for what its quantization cannot express."""

    @abstractmethod
    def scale_limits(self, node: Any, max_u: float, max_v: float,
                     bias: np.ndarray) -> list[float]:
        """Upper limits of the layer's scale λ (integer units of synaptic input per float unit)
        that this kind's states and parameters set, from the float run's largest ``|u|`` and
        ``|v|`` on the calibration data and the float ``bias`` it will carry."""

    @abstractmethod
    def quantize(self, node: Any, scale: float, bias: np.ndarray) -> tuple[NeuronQ, list[str]]:
        """The integer parameters of ``node`` at scale λ = ``scale`` with the float ``bias``
        (the node's own, synapse biases folded in), and notes on what could not be kept."""

    # ------------------------------------------------------------ Lava

    @abstractmethod
    def float_refusal(self, node: Any) -> str | None:
        """Why Lava's float model cannot run ``node`` (None: it can)."""

    @abstractmethod
    def lava_process(self, node: Any, shape: tuple[int, ...], fixed: bool,
                     gate_bias: bool, reset: tuple[int, int] | None = None
                     ) -> LavaNeuron | None:
        """The Lava process of ``node`` (integer parameters when ``fixed``, else float).
        ``gate_bias``: start its bias at 0 and return it in :attr:`LavaNeuron.bias`.
        ``reset``: ``(interval, offset)``: a process that zeroes its own state in every Lava
        time step ``≡ offset (mod interval)`` (samples run one after another without
        ``Var.set`` resets or bias gates, see :mod:`neurodeploy.lava.compiler`), or None when
        Lava has no such model for the node."""

    # ------------------------------------------------------------ op counts

    def ops(self, neurons: int, T: int, events: float) -> NeuronOps:
        """Operations over ``T`` steps of a node of ``neurons`` neurons whose output was
        nonzero ``events`` times: one update per neuron per step; spikes if it fires."""
        return NeuronOps(float(neurons * T), float(events) if self.fires else 0.0)

    # ------------------------------------------------------------ converters

    @abstractmethod
    def to_nir(self, node: Any, dt: float, metadata: dict[str, Any]) -> Any:
        """The NIR node of ``node`` with time step ``dt`` (seconds)."""

    @abstractmethod
    def nir_types(self) -> tuple[type, ...]:
        """The NIR node classes :meth:`from_nir` imports as this kind."""

    @abstractmethod
    def from_nir(self, nir_node: Any, dt: float, where: str) -> dict[str, Any]:
        """The IR form of a NIR neuron: the fields of a
        ``neurodeploy.converters._common.NeuronSpec`` (decays, threshold, bias, reset, input
        gain). Raises NeurodeployError naming ``where`` for what the IR cannot express."""

    @abstractmethod
    def onnx_state(self, node: Any) -> tuple[str, ...]:
        """The state variables the ONNX node takes and returns, in order."""

    @abstractmethod
    def onnx_attributes(self, node: Any) -> dict[str, Any]:
        """The node's float fields as ONNX attributes (IR field name → value); the ONNX
        reference kernel rebuilds the node from them."""

    @abstractmethod
    def netx_neuron(self, node: Any) -> dict[str, Any]:
        """The ``neuron`` group of a netx layer (lava-dl hdf5) for a quantized node."""
