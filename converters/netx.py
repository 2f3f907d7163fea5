"""lava-dl netx ``.net`` (HDF5) → IR: :func:`from_netx`, :func:`is_netx`.

Reads what ``lava.lib.dl.netx.hdf5.Network`` loads (lava-dl 0.6, netx/hdf5.py and utils.py) —
files written by ``slayer`` blocks' ``export_hdf5`` or by :func:`neurodeploy.lava.netx.export_netx`
— into a *quantized* Graph whose fixed-point simulation (``neurodeploy.sim``, ``mode="fixed"``)
is what netx runs in Lava, spike for spike:

- ``layer/<i>`` in index order; ``type`` ``input`` (``shape``, no neuron) → Input
  (``encoding="spikes"``; ``InputQ(scale=1, bits=1)`` for binary spikes, ``bits = b`` for the
  ``input_message_bits`` attribute our exporter writes or the ``input_bits`` argument);
  ``flatten`` → Flatten before the next layer (netx flattens Lava's (W, H, C) as (C, H, W) in C
  order, which is the IR's order); ``dense`` → Dense + neuron; ``conv`` → Conv2d + neuron.
- **Input block with a neuron** (``type = input`` with ``neuron``, PilotNet LIF, bootstrap
  MNIST) → an Input ``in`` (``encoding="direct"``, integer data: ``InputQ(scale=1, bits=13,
  signed=True)``, Loihi's bias-mantissa range) feeding the neuron layer ``layer0.neuron``
  (CubaLIF, shape = the input's) directly, without a synapse. The data are the frame. Why this
  is exact: netx builds the block as a LIF (``du = iDecay − 1``, ``dv = vDecay``, ``vth =
  vThMant``, ``bias_exp = 6``, bias 0) whose InPort is connected to nothing; lava-dl drives it
  by setting its ``bias_mant`` to the frame (its PilotNet LIF test) or through
  ``in_layer.neuron.a_in``. Fed as data, Lava's LIF computes ``u = decay_u(u) + (x << 6)``,
  ``v = decay_v(v) + u``; with ``iDecay = 4096`` the current keeps ``4096 − (du + 1) = 0``, so
  ``u = x << 6`` every step and ``v = decay_v(v) + (x << 6)``: the very integers of ``u = 0``,
  ``v = decay_v(v) + (bias_mant << 6)`` with ``bias_mant = x`` (tested bit for bit against
  netx with the frame as bias). With ``iDecay < 4096`` the current persists and the data are
  netx's ``a_in`` drive (slayer's: its input block feeds the neuron's current), which differs
  from a bias drive. netx reads the block's scalar ``weight``/``bias`` (slayer's input transform
  ``weight·x + bias``) with ``int(...)`` into ``Input.transform`` and never applies them, so
  they are *not* the neuron's bias: they are kept in ``metadata["netx_input_transform"]``
  (written back on export). Our exporter's ``input_scale``/``input_bits``/``input_signed``
  attributes, when present, give the InputQ instead.
- Integers exactly as netx reads them (``NetDict`` casts ``weight``/``bias`` with
  ``astype(int)``, truncating floats toward zero).
- **Dense weights**: netx's ``optimize_weight_bits`` gives ``w' = w << k``, ``weight_exp = −k``
  and ``num_weight_bits``; Lava's Dense clips/truncates ``w'`` (8-bit mantissa, mixed sign even)
  and computes ``(Σ w'·s) >> k``. The IR keeps that effective mantissa and exponent, reduced
  while exact: ``(Σ 2^m·w''·s) >> k = (Σ w''·s) >> (k − m)`` for integers, so a halving that
  stays on Lava's 8-bit grid changes nothing. A dense ``delay`` (netx: a ``DelayDense``) becomes
  the Dense's per-synapse ``delay`` (see ``_delays`` for netx's shapes); a conv ``delay`` (one
  per output channel, as slayer's conv blocks write it; lava-dl's netx ignores it) the conv's
  (``_conv_delays``). **Conv weights** (``[C_out, C_in/g, kH, kW]``,
  PyTorch's layout; netx flips and transposes them for Lava) have no exponent.
  ``stride``/``padding``/``dilation`` are stored (H, W) (netx reverses them to Lava's (x, y)).
- **Neuron** ``type = CUBA`` (or ``LOIHI``), mapped as netx does: ``du = iDecay − 1``,
  ``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias``, ``bias_exp = 6`` (NeuronQ; a bias
  mantissa beyond 13 bits is halved into the exponent while exact). ``iDecay`` and ``vDecay``
  lie in [0, 4096]: ``iDecay = 0`` gives ``du = −1``, a current that never decays (Lava keeps
  ``4096 − (du + 1) = 4096``/4096), ``vDecay = 4096`` a voltage without memory (``v = u +
  bias``). A conv bias is per channel ``[C]`` or per neuron in Lava's (W, H, C) order
  (transposed to (C, H, W)). ``refDelay`` is ignored as netx ignores it (netx builds a plain
  ``LIF``). A ``dense`` layer without ``neuron`` gets netx's default
  non-leaky integrator: ``iDecay 0``, ``vDecay 4096``, ``vThMant 1 << 17``.
- The **last** layer with ``vThMant ≥ 2**17`` can never spike (``vth << 6 ≥ 2**23`` exceeds the
  24-bit voltage) — the netx idiom for an output integrator, and what our exporter writes for a
  Readout — and becomes a Readout (``decoding="mean"``) whose ``v`` is read every step. A last
  layer with a smaller threshold stays a CubaLIF even when it is meant as an output (PilotNet
  LIF: ``vThMant = 2**17 − 1`` fires once v exceeds ``2**23 − 64``): read its ``v`` from the
  simulator's records.
- **Float equivalents**, with one float unit of ``v`` = 64 integer units (``NeuronQ.scale =
  1/64``; the ``a_in << 6`` of Lava's LIF): ``W = w_eff·2**weight_exp``,
  ``du = iDecay/4096``, ``dv = vDecay/4096``, ``vth = vThMant``,
  ``bias = (bias_mant << bias_exp)/64``; the float simulation approximates the fixed-point one
  (Lava truncates each decay to an integer).
- **SDNN** neurons (``type = SDNN``, lava-dl's sigma-delta networks, PilotNet SDNN) →
  :class:`~neurodeploy.ir.SigmaDelta` with netx's exponents ``spike_exp = state_exp = 6``
  (``SigmaDeltaQ``), as netx builds them (hdf5.py ``get_neuron_params``): the input block
  → mode ``delta`` (Lava's ``Delta`` encoder, no bias; its data are integers, ``InputQ(scale=1,
  bits=12, signed=True)``: ``x << 12`` fits the 24-bit state), a layer with ``sigma_output`` →
  mode ``sigma`` (Lava's ``Sigma``: no threshold, no bias), any other → mode ``sigma_delta``
  with ReLU (netx never reads ``activation``); ``vth = vThMant``, the layer's ``bias`` as the
  neuron's integer bias. A graded spike carries 6 fractional bits and the state 12, so the
  float equivalents are ``W = w_eff·2**-6`` (``2**-12`` from the network's input), ``vth``
  and ``bias`` as read, one output unit ``2**-6`` (sigma: ``2**-12``). ``vThMant`` or
  ``|bias|`` above ``2047`` (``<< 12`` beyond the 24-bit state) are refused naming the layer
  and the limit, as are ``messageBits <= 0`` and a network mixing SDNN and CUBA neurons.
- ``simulation/tSample``, when present, becomes ``metadata["T"]``.

Refused, with one line naming the file, layer and field: layer types netx does not implement or
the IR has no form for (``pool``, ``average``, ``concat``, ``convT``, ``unpool``, ``dense_rec``,
``dense_comp``, complex weights), a ``delay`` that is negative, non-integral or above 62
(netx clamps it) or a conv ``delay`` that is not one per output channel, neuron types other than
CUBA and SDNN (``RF``, ...), graded output spikes of CUBA neurons, a neuron field that is
missing or not one integer,
``iDecay``/``vDecay`` outside [0, 4096], ``vThMant ≤ 0``, a hidden layer that can never spike,
an input block's ``weight``/``bias`` that is not one number (netx's ``int(...)`` fails), shapes
that do not chain.

Time: the IR is delay-free; netx's ``net.layers[i]`` (the input block, when it has a neuron,
is ``i = 0``) shows IR step ``t`` at Lava step ``t + i + 1`` when loaded with ``reset_offset =
1``, data entering the input block's neuron at step ``t + 1`` (see :mod:`neurodeploy.lava.netx`).
netx ignores ``reset_interval`` for SDNN neurons, so lava-dl runs an SDNN as a pipeline whose
biases act from step 0; :func:`netx_timing` gives that pipeline as an IR graph (delay-1 edges
into every synapse), whose fixed-point simulation is lava-dl's run step for step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import (
    BIAS_EXP_MAX,
    BIAS_MANT_RANGE,
    DECAY_UNITY,
    DELAY_MAX,
    NETX_BIAS_EXP,
    NETX_SPIKE_EXP,
    NETX_STATE_EXP,
    STATE_BITS,
)
from neurodeploy.formats import NEVER_FIRE_VTH as NEVER_SPIKES
from neurodeploy.ir import (
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
    WeightQ,
    validate,
)
from neurodeploy.ir.checks import sigma_delta_q_refusal
from neurodeploy.ir.shapes import node_output_shape
from neurodeploy.kinds import is_neuron

#: netx's neuron for a dense layer without one (hdf5.py ``create_dense``: ``1 << 18 - 1`` is
#: ``1 << 17``): (iDecay, vDecay, vThMant) — a non-leaky, never-firing integrator
NETX_DEFAULT_NEURON = (0, DECAY_UNITY, 1 << 17)
#: message bits of the data into an input block's neuron: Loihi's 13-bit signed bias mantissa,
#: the range netx's frame-as-bias drive has
INPUT_NEURON_BITS = 13
#: netx's SDNN exponents: graded spikes carry ``spike_exp`` fractional bits, the state
#: ``spike_exp + state_exp``
SDNN_EXP = NETX_SPIKE_EXP + NETX_STATE_EXP
#: message bits of the data into an SDNN input block (a Delta shifts them left by
#: ``SDNN_EXP``): what keeps ``x << 12`` within the 24-bit state
SDNN_INPUT_BITS = STATE_BITS - SDNN_EXP
REFUSED_TYPES = {
    "pool": "pooling (netx: not implemented)",
    "average": "averaging (netx: not implemented)",
    "concat": "concatenation (netx: not implemented)",
    "convT": "transposed convolution (netx: not implemented)",
    "unpool": "unpooling (netx: not implemented)",
    "dense_rec": "recurrent dense (not supported by this importer)",
    "dense_comp": "complex dense (no IR form)",
}


def is_netx(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file with netx's ``layer/0`` group."""
    import h5py

    try:
        if not h5py.is_hdf5(str(path)):
            return False
        with h5py.File(path, "r") as f:
            return isinstance(f.get("layer"), h5py.Group) and "0" in f["layer"]
    except OSError:
        return False


def _string(group: Any, key: str) -> str:
    value = group[key]
    raw = value[0] if len(value.shape) > 0 else value[()]
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


def _ints(group: Any, key: str) -> np.ndarray:
    """An integer array as netx's ``NetDict`` reads it (``astype(int)``: floats truncated)."""
    return np.asarray(group[key][()]).astype(np.int64)


def _scalar(group: Any, key: str) -> float:
    return float(np.asarray(group[key][()]).reshape(-1)[0])


def _pair(group: Any, key: str, default: int) -> tuple[int, int]:
    if key not in group:
        return (default, default)
    v = np.asarray(group[key][()]).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def optimize_weight_bits(w: np.ndarray) -> tuple[np.ndarray, int, int]:
    """netx's ``utils.optimize_weight_bits`` (lava-dl 0.6) in numpy: ``(w << k, num_weight_bits,
    −k)`` with the sign-mode scale ``k``; weights beyond [−256, 254] in mixed sign are clipped
    as netx clips them. An all-zero matrix (netx divides by zero) stays zero, exponent 0."""
    w = np.asarray(w, np.int64)
    if not w.size or not np.any(w):
        return np.zeros_like(w), 8, 0
    hi, lo = int(w.max()), int(w.min())
    if (hi > 254 and lo < 0) or (lo < -256 and hi > 0):
        w = np.clip(w, -256, 254)
        hi, lo = int(w.max()), int(w.min())
    if hi < 0:
        scale, signed = -256 / lo, 0
    elif lo >= 0:
        scale, signed = 255 / hi, 0
    else:
        scale, signed = min(127 / hi, -128 / lo), 1
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / 2**n - np.round(w / 2**n))) != 0:
        n -= 1
    n -= signed
    return np.left_shift(w, scale_bits), 8 - scale_bits - n, -scale_bits


def _dense_weights(w: np.ndarray) -> tuple[np.ndarray, int]:
    """Effective integer mantissas and exponent of a netx dense layer (module docstring)."""
    from neurodeploy.formats import lava_effective_weights

    w_opt, bits, exp = optimize_weight_bits(w)
    eff = np.asarray(lava_effective_weights(w_opt, bits), np.int64)
    while exp < 0 and np.all(eff % 2 == 0):
        half = eff >> 1
        if not np.array_equal(lava_effective_weights(half, 8), half):
            break
        eff, exp = half, exp + 1
    return eff.astype(np.int32), exp


def from_netx(path: str | Path, input_bits: int | None = None) -> Graph:
    """Read the netx file ``path`` into a quantized Graph (mapping in the module docstring).

    ``input_bits``: message bits of the input (0 = binary spikes), as ``Network``'s
    ``input_message_bits``; default: the file's ``input_message_bits`` attribute, else 0. Not
    used when the input block has a neuron (its data are integers, see the module docstring).
    Raises NeurodeployError naming the file and layer for what the IR cannot express.
    """
    from neurodeploy.safeload import in_child

    path = Path(path)
    if not path.is_file():
        raise NeurodeployError(f"{path}: no such file")
    graph = in_child(lambda: _read_file(path, input_bits), path, READ_TIMEOUT_S)
    try:
        validate(graph)
    except NeurodeployError as exc:
        raise NeurodeployError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a value no check foresaw: still one line
        raise NeurodeployError(f"{path}: invalid network ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from None
    return graph


#: longest read of a netx file (seconds) before it is abandoned as damaged or crafted
READ_TIMEOUT_S = 120.0


def _read_file(path: Path, input_bits: int | None) -> Graph:
    """Open and read netx file ``path`` (run in a limited child: see :func:`from_netx`)."""
    import h5py

    from neurodeploy.safeload import check_hdf5_tree

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise NeurodeployError(f"{path}: not an HDF5 netx file ({exc})") from None
    with f:
        try:
            check_hdf5_tree(f, path)
            if not isinstance(f.get("layer"), h5py.Group) or "0" not in f["layer"]:
                raise NeurodeployError(f"{path}: not a lava-dl netx network (no 'layer/0' "
                                       "group)")
            if input_bits is None:
                input_bits = int(f.attrs.get("input_message_bits", 0))
            return _read(f, path, int(input_bits))
        except NeurodeployError:
            raise
        except MemoryError:
            raise NeurodeployError(f"{path}: reading it needs more memory than allowed"
                                   ) from None
        except Exception as exc:  # h5py/numpy raise many types on malformed content
            raise NeurodeployError(f"{path}: malformed netx content ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:200]})") from None


def _read(f: Any, path: Path, input_bits: int) -> Graph:
    import h5py

    layers = f["layer"]
    keys = sorted(layers, key=lambda k: int(k) if k.isdigit() else -1)
    if any(not k.isdigit() for k in keys):
        raise NeurodeployError(f"{path}: layer group '{keys[0]}' is not a layer index")

    def fail(i: str, kind: str, what: str) -> NeurodeployError:
        return NeurodeployError(f"{path}: layer {i} ({kind}): {what}")

    first = layers[keys[0]]
    first_type = _string(first, "type")
    g = Graph(metadata={"source": "netx", "file": path.name})
    if "simulation" in f and "tSample" in f["simulation"]:
        g.metadata["T"] = int(_scalar(f["simulation"], "tSample"))
    bits = 1 if input_bits == 0 else input_bits
    input_neuron = first_type == "input" and "neuron" in first
    if first_type == "input":
        if "shape" not in first:
            raise fail(keys[0], "input", "no 'shape'")
        in_shape = tuple(int(s) for s in np.asarray(first["shape"][()]).reshape(-1))
        if not in_shape or min(in_shape) < 1:
            raise fail(keys[0], "input", f"shape {in_shape} must be non-empty with positive "
                       "sizes")
        body = keys[1:]
    elif first_type == "dense" and "weight" in first:
        # slayer networks usually start with a dense block: netx sizes the input from it
        n_out = int(np.prod(np.asarray(first["shape"][()])))
        in_shape = (int(np.asarray(first["weight"][()]).reshape(n_out, -1).shape[1]),)
        body = keys
    else:
        raise fail(keys[0], first_type, "without an 'input' layer only a dense first layer "
                   "gives the input shape (netx would need input_shape)")
    synapse_layers = [k for k in body if _string(layers[k], "type") in ("dense", "conv")]
    if input_neuron:
        # the frame is data into the input block's neuron (module docstring)
        attrs = f.attrs
        default_bits = (SDNN_INPUT_BITS if _neuron_type(first) == "SDNN"
                        else INPUT_NEURON_BITS)
        g.add(Input("in", shape=in_shape, encoding="direct",
                    quant=InputQ(scale=float(attrs.get("input_scale", 1.0)),
                                 bits=int(attrs.get("input_bits", default_bits)),
                                 signed=bool(attrs.get("input_signed", True)))))
        transform = _input_transform(first, keys[0], fail)
        if transform:
            g.metadata["netx_input_transform"] = transform
        neuron = _neuron(first, keys[0], "input", in_shape, last=not synapse_layers,
                         fail=fail, bias=False)
        g.add(neuron, "in")
        cur = neuron.name
    else:
        g.add(Input("in", shape=in_shape, encoding="spikes",
                    quant=InputQ(scale=1.0, bits=bits)))
        cur = "in"
    shape = in_shape
    flatten_next = False
    for i in body:
        layer = layers[i]
        kind = _string(layer, "type")
        if kind == "flatten":
            flatten_next = True
            continue
        if kind in REFUSED_TYPES:
            raise fail(i, kind, f"{REFUSED_TYPES[kind]} has no IR import")
        if kind not in ("dense", "conv"):
            raise fail(i, kind, "unknown netx layer type")
        if "weight" not in layer or not isinstance(layer["weight"], h5py.Dataset):
            raise fail(i, kind, "no real 'weight' dataset (complex weights are not supported)")
        name = f"layer{i}"
        if flatten_next and len(shape) > 1:
            g.add(Flatten(f"{name}.flatten"), cur)
            cur, shape = f"{name}.flatten", (int(np.prod(shape)),)
        flatten_next = False
        w = _ints(layer, "weight")
        if kind == "dense":
            n_out = int(np.prod(np.asarray(layer["shape"][()])))
            w = w.reshape(n_out, -1)
            if cur == "in" and len(shape) > 1 and int(np.prod(shape)) == w.shape[1]:
                # netx feeds a dense first layer (n_in,) whatever the input layer's shape says
                g.nodes["in"].shape = shape = (w.shape[1],)  # type: ignore[attr-defined]
            if len(shape) != 1 or shape[0] != w.shape[1]:
                raise fail(i, kind, f"weight {tuple(w.shape)} does not take the previous "
                           f"layer's output of shape {shape}" + (" (a 'flatten' layer is "
                           "needed)" if len(shape) > 1 else ""))
            if w.size and (w.max() > 255 or w.min() < -256):
                raise fail(i, kind, f"weights in [{w.min()}, {w.max()}] exceed Lava's 8-bit "
                           "range [-256, 255]")
            eff, exp = _dense_weights(w)
            syn: Dense | Conv2d = Dense(name, weight=(eff * 2.0**exp).astype(np.float32),
                                        quant=WeightQ(weight=eff, weight_exp=exp, scale=1.0),
                                        delay=_delays(layer, w.shape, lambda why, i=i, k=kind:
                                                      fail(i, k, why)))
        else:
            if w.ndim < 4:
                raise fail(i, kind, f"weight of shape {tuple(w.shape)}: expected "
                           "[C_out, C_in/groups, kH, kW]")
            w = w.reshape(w.shape[:4])
            groups = int(np.asarray(layer["groups"][()]).reshape(-1)[0]) if "groups" in layer \
                else 1
            syn = Conv2d(name, weight=w.astype(np.float32), stride=_pair(layer, "stride", 1),
                         padding=_pair(layer, "padding", 0), dilation=_pair(layer, "dilation", 1),
                         groups=groups, quant=WeightQ(weight=w.astype(np.int32), weight_exp=0,
                                                      scale=1.0),
                         delay=_conv_delays(layer, w.shape, lambda why, i=i, k=kind:
                                            fail(i, k, why)))
        try:
            out_shape = node_output_shape(syn, [shape])
        except NeurodeployError as exc:
            raise fail(i, kind, str(exc)) from None
        declared = tuple(int(s) for s in np.asarray(layer["shape"][()]).reshape(-1))
        if int(np.prod(declared)) != int(np.prod(out_shape)) or (
                kind == "conv" and declared != out_shape):
            raise fail(i, kind, f"declared shape {declared} differs from the synapse's output "
                       f"shape {out_shape}")
        g.add(syn, cur)
        neuron = _neuron(layer, i, kind, out_shape, last=i == synapse_layers[-1], fail=fail)
        if isinstance(neuron, SigmaDelta):
            # a graded spike carries spike_exp fractional bits, the state spike_exp + state_exp
            # (the network's integer input: none)
            frac = NETX_SPIKE_EXP if cur != "in" else 0
            syn.weight = (syn.weight * 2.0**(frac - SDNN_EXP)).astype(np.float32)
            syn.quant.scale = 2.0**-SDNN_EXP
        g.add(neuron, name)
        cur, shape = neuron.name, out_shape
    if not synapse_layers:
        raise NeurodeployError(f"{path}: no dense or conv layer to import")
    families = {isinstance(n, SigmaDelta) for n in g.nodes.values() if is_neuron(n)}
    if len(families) > 1:
        raise NeurodeployError(f"{path}: mixes SDNN and CUBA neurons; only networks of one "
                               "neuron family are imported")
    if flatten_next:
        raise NeurodeployError(f"{path}: the network ends with a 'flatten' layer")
    g.inputs, g.outputs = ["in"], [cur]
    return g


def _delays(layer: Any, shape: tuple[int, int], fail: Any) -> np.ndarray | None:
    """A dense layer's ``delay`` dataset as netx applies it (hdf5.py ``create_dense``), as
    per-synapse delays ``[out, in]``: a scalar for every synapse; 1-D of length ``out`` (slayer's
    axonal delay of the layer's neurons, which netx applies to every synapse into that neuron —
    checked first, as netx does) or of length ``in`` (per input); 2-D of the weight's shape.
    Refused, naming the layer: negative or non-integral delays (netx's ``astype(int)`` would
    truncate them), delays above :data:`neurodeploy.formats.DELAY_MAX` (netx clamps them with a
    warning: the file would not run as written), other shapes."""
    d = _delay_values(layer, fail)
    if d is None:
        return None
    n_out, n_in = shape
    if d.ndim == 0:
        full = np.full(shape, d.reshape(-1)[0])
    elif d.ndim == 1 and d.size == n_out:
        full = np.repeat(d.reshape(-1, 1), n_in, axis=1)
    elif d.ndim == 1 and d.size == n_in:
        full = np.repeat(d.reshape(1, -1), n_out, axis=0)
    elif d.shape == tuple(shape):
        full = d
    else:
        raise fail(f"'delay' of shape {tuple(d.shape)} fits neither the weight {tuple(shape)} "
                   "nor its rows or columns")
    return full.astype(np.int32)


def _delay_values(layer: Any, fail: Any) -> np.ndarray | None:
    """A layer's ``delay`` dataset as float64, None without one; refused, naming the layer:
    negative or non-integral delays (netx's ``astype(int)`` would truncate them), delays above
    :data:`neurodeploy.formats.DELAY_MAX` (netx clamps them with a warning)."""
    if "delay" not in layer:
        return None
    d = np.asarray(layer["delay"][()], np.float64)
    if d.size and (not np.all(np.isfinite(d)) or np.any(d != np.round(d))):
        raise fail("'delay' holds non-integral values (netx would truncate them)")
    if d.size and d.min() < 0:
        raise fail(f"'delay' {d.min():g} is negative")
    if d.size and d.max() > DELAY_MAX:
        raise fail(f"'delay' {d.max():g} exceeds Loihi 2's maximum synaptic delay of "
                   f"{DELAY_MAX} steps (netx would clamp it)")
    return d


def _conv_delays(layer: Any, shape: tuple[int, ...], fail: Any) -> np.ndarray | None:
    """A conv layer's ``delay`` dataset as per-tap delays of the kernel's ``shape`` ``[C_out,
    C_in/g, kH, kW]``: a scalar, or 1-D of length ``C_out`` (slayer's conv blocks write one
    delay per channel) read as netx reads a dense layer's per-neuron delay: every synapse into
    that channel's neurons. lava-dl 0.6's netx ignores it (``create_conv`` never reads it), so
    lava-dl runs such a file undelayed. Other shapes are refused naming the layer."""
    d = _delay_values(layer, fail)
    if d is None:
        return None
    if d.size == 1:
        d = np.full(shape[0], d.reshape(-1)[0])
    if d.ndim != 1 or d.size != shape[0]:
        raise fail(f"'delay' of shape {tuple(d.shape)}: a conv layer's delay is one per output "
                   f"channel ({shape[0]})")
    return np.broadcast_to(d.reshape(-1, 1, 1, 1), shape).astype(np.int32)


def _input_transform(layer: Any, i: str, fail: Any) -> dict[str, int]:
    """The input block's ``weight``/``bias`` as netx reads them (``int(...)``: one number each;
    netx stores them in ``Input.transform`` and applies neither)."""
    out = {}
    for key in ("weight", "bias"):
        if key in layer:
            v = np.asarray(layer[key][()])
            if v.size != 1 or not np.issubdtype(v.dtype, np.number):
                raise fail(i, "input", f"'{key}' of shape {tuple(v.shape)}: netx reads an input "
                           f"block's {key} as one number (slayer's input transform)")
            out[key] = int(v.reshape(-1)[0])
    return out


def _bias(layer: Any, i: str, kind: str, shape: tuple[int, ...], fail: Any) -> np.ndarray:
    """netx's bias mantissa in the IR's (C, H, W) / (n,) layout (0-d when absent)."""
    if "bias" not in layer:
        return np.zeros((), np.int64)
    b = _ints(layer, "bias")
    if b.size == 1:
        return b.reshape(())
    if len(shape) == 1:
        if b.size != shape[0]:
            raise fail(i, kind, f"bias of shape {b.shape} does not fit {shape[0]} neurons")
        return b.reshape(shape)
    whc = shape[::-1]
    if tuple(b.shape) == whc:
        return b.transpose(2, 1, 0)
    if b.ndim == 1 and b.size == shape[0]:
        return np.broadcast_to(b.reshape(-1, 1, 1), shape).copy()
    raise fail(i, kind, f"bias of shape {b.shape} is neither per channel ({shape[0]},) nor per "
               f"neuron in (W, H, C) order {whc}")


def _neuron_field(nc: Any, key: str, i: str, kind: str, fail: Any) -> int:
    """One integer neuron field ``neuron/<key>``; refused naming the field when missing or not
    one integer."""
    if key not in nc:
        raise fail(i, kind, f"neuron has no '{key}'")
    v = np.asarray(nc[key][()])
    if v.size != 1 or not np.issubdtype(v.dtype, np.number) or not np.isfinite(v).all() \
            or float(v.reshape(-1)[0]) != int(v.reshape(-1)[0]):
        raise fail(i, kind, f"neuron/{key} must be one integer, got {v.reshape(-1)[:4].tolist()}")
    return int(v.reshape(-1)[0])


def _neuron_config(layer: Any, i: str, kind: str, fail: Any) -> tuple[int, int, int, bool]:
    """``(iDecay, vDecay, vThMant, default)`` of the layer's CUBA neuron, checked; a dense
    layer without ``neuron`` gets netx's default non-leaky integrator (``default = True``)."""
    import h5py

    if "neuron" not in layer:
        if kind != "dense":
            raise fail(i, kind, "no 'neuron' (netx reads one for this layer type)")
        return NETX_DEFAULT_NEURON + (True,)
    nc = layer["neuron"]
    if not isinstance(nc, h5py.Group):
        raise fail(i, kind, "'neuron' is not a group")
    if "type" not in nc:
        raise fail(i, kind, "neuron has no 'type'")
    ntype = _string(nc, "type")
    if ntype not in ("CUBA", "LOIHI"):
        raise fail(i, kind, f"neuron type '{ntype}' is not supported (CUBA and SDNN only)")
    if "gradedSpike" in nc and bool(_scalar(nc, "gradedSpike")):
        raise fail(i, kind, "graded output spikes (gradedSpike) are not supported")
    if "messageBits" in nc and int(_scalar(nc, "messageBits")) != 0:
        raise fail(i, kind, "graded output spikes (messageBits > 0) are not supported")
    i_decay, v_decay, vth = (_neuron_field(nc, k, i, kind, fail)
                             for k in ("iDecay", "vDecay", "vThMant"))
    if not 0 <= i_decay <= DECAY_UNITY:
        raise fail(i, kind, f"neuron/iDecay {i_decay} outside [0, {DECAY_UNITY}] (Lava's du = "
                   f"iDecay - 1 = {i_decay - 1} must lie in [-1, {DECAY_UNITY - 1}])")
    if not 0 <= v_decay <= DECAY_UNITY:
        raise fail(i, kind, f"neuron/vDecay {v_decay} outside [0, {DECAY_UNITY}]")
    if vth <= 0:
        raise fail(i, kind, f"neuron/vThMant {vth} must be positive")
    return i_decay, v_decay, vth, False


def _neuron_type(layer: Any) -> str | None:
    """The ``neuron/type`` of a layer (None: no neuron group or no type)."""
    import h5py

    nc = layer.get("neuron") if hasattr(layer, "get") else None
    if not isinstance(nc, h5py.Group) or "type" not in nc:
        return None
    return _string(nc, "type")


def _sdnn_neuron(layer: Any, i: str, kind: str, shape: tuple[int, ...], fail: Any,
                 input_block: bool) -> SigmaDelta:
    """The layer's SDNN neuron as netx builds it (hdf5.py ``get_neuron_params``): the input
    block → ``Delta`` (mode ``delta``, no bias), ``sigma_output`` → ``Sigma`` (mode
    ``sigma``), else ``SigmaDelta`` with ReLU (netx never reads ``activation``);
    ``spike_exp = state_exp = 6``, ``vth = vThMant``, the layer's ``bias`` as the neuron's."""
    nc = layer["neuron"]
    if "messageBits" in nc and int(_scalar(nc, "messageBits")) <= 0:
        raise fail(i, kind, "SDNN neuron with messageBits <= 0: Lava's synapses would read its "
                   "graded spikes as binary")
    sigma_out = "sigma_output" in nc and bool(_scalar(nc, "sigma_output")) and not input_block
    vth = 0 if sigma_out else _neuron_field(nc, "vThMant", i, kind, fail)
    bias = np.zeros((), np.int64) if input_block else _bias(layer, i, kind, shape, fail)
    if sigma_out and np.any(bias != 0):
        raise fail(i, kind, "a sigma_output layer with a bias: netx's Sigma takes none")
    why = sigma_delta_q_refusal(vth, bias, NETX_SPIKE_EXP, NETX_STATE_EXP)
    if why:
        raise fail(i, kind, f"neuron: {why}")
    mode = "delta" if input_block else "sigma" if sigma_out else "sigma_delta"
    scale = 2.0**-SDNN_EXP if sigma_out else 2.0**-NETX_SPIKE_EXP
    q = SigmaDeltaQ(vth=vth, bias=bias.astype(np.int32), spike_exp=NETX_SPIKE_EXP,
                    state_exp=NETX_STATE_EXP, scale=scale)
    return SigmaDelta(f"layer{i}.neuron", shape=shape, mode=mode,
                      activation="relu" if mode == "sigma_delta" else "identity",
                      vth=np.float32(vth), bias=bias.astype(np.float32), quant=q)


def _neuron(layer: Any, i: str, kind: str, shape: tuple[int, ...], last: bool,
            fail: Any, bias: bool = True) -> CubaLIF | Readout | SigmaDelta:
    """The layer's neuron as a quantized CubaLIF (or Readout), or SigmaDelta for SDNN, netx's
    mapping; ``bias``: whether the layer's ``bias`` is the neuron's (not for an input block)."""
    if _neuron_type(layer) == "SDNN":
        return _sdnn_neuron(layer, i, kind, shape, fail, input_block=not bias)
    i_decay, v_decay, vth, default = _neuron_config(layer, i, kind, fail)
    mant = _bias(layer, i, kind, shape, fail) if bias else np.zeros((), np.int64)
    exp = NETX_BIAS_EXP
    while mant.size and (mant.min() < BIAS_MANT_RANGE[0] or mant.max() > BIAS_MANT_RANGE[1]):
        if exp >= BIAS_EXP_MAX or np.any(mant % 2):
            raise fail(i, kind, "bias mantissa outside Loihi's 13-bit range with exponent 6")
        mant, exp = mant >> 1, exp + 1
    bias_f = ((mant << exp) / 64.0).astype(np.float32)
    name = f"layer{i}.neuron"
    f_params = {"du": np.float32(i_decay / DECAY_UNITY), "dv": np.float32(v_decay / DECAY_UNITY),
                "bias": bias_f}
    du, dv = i_decay - 1, v_decay
    if vth >= NEVER_SPIKES:
        if not last:
            raise fail(i, kind, ("no neuron: netx's default integrator" if default else
                                 f"vThMant {vth}") + " can never be reached (v is 24-bit), so "
                       "this hidden layer never spikes")
        q = NeuronQ(du=du, dv=dv, vth=0, bias_mant=mant.astype(np.int32), bias_exp=exp,
                    scale=1 / 64)
        return Readout(name, shape=shape, decoding="mean", quant=q, **f_params)
    q = NeuronQ(du=du, dv=dv, vth=vth, bias_mant=mant.astype(np.int32), bias_exp=exp,
                scale=1 / 64)
    return CubaLIF(name, shape=shape, vth=np.float32(vth), reset="zero", quant=q, **f_params)


def netx_timing(graph: Graph) -> Graph:
    """``graph`` as lava-dl's netx runs it in Lava without resets: every synapse one step late
    (Lava's Dense and Conv send the previous step's sums) and every bias on from step 0 — a
    copy whose edges into each Dense/Conv2d have delay 1.

    The imported graph is delay-free (the module docstring: CUBA layers reach the IR exactly
    through ``reset_interval``). netx ignores ``reset_interval`` for SDNN neurons, so lava-dl
    runs an SDNN as this pipeline, biases included while the data have not arrived: its
    fixed-point simulation, step ``t``, is netx's Lava step ``t + 1`` layer by layer (the input
    block's data entering in step ``t + 1``), which is what lava-dl's PilotNet SDNN test
    records."""
    import copy
    import dataclasses

    out = copy.deepcopy(graph)
    out.edges = [dataclasses.replace(e, delay=1) if isinstance(out.nodes[e.dst], (Dense, Conv2d))
                 else e for e in out.edges]
    return out
