"""The CUBA family (Loihi's current-based LIF, lava/proc/lif): what its kinds share.

The state ``(u, v)``, the sub-threshold dynamics in float and in Lava's fixed point, one value
per layer for decays and threshold, the scale limits and integer parameters of the quantization
rule, the Lava LIF process, the netx neuron group and NIR's time constants. The kinds built on
it: :mod:`neurodeploy.kinds.cuba_lif` (fires) and :mod:`neurodeploy.kinds.readout` (never
fires, read every step).

Float (the IR's equations, :mod:`neurodeploy.ir.nodes`)::

    u[t] = u[t-1]·(1 − du) + I[t]
    v[t] = v[t-1]·(1 − dv) + u[t] + bias

Fixed point (lava/proc/lif/models.py ``AbstractPyLifModelFixed.subthr_dynamics``; int64)::

    p = u·(4096 − (du + 1));  u = sign(p)·(|p| >> 12) + (a_in << 6), wrapped once at 24 bits
    q = v·(4096 − dv);        v = clip(sign(q)·(|q| >> 12) + u + bias_eff, ±(2**23 − 1))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy.errors import NeurodeployError
from neurodeploy.kinds.base import InplaceNeuron, LavaNeuron

Tensor = torch.Tensor

#: integer units of ``v`` per unit of synaptic input (``a_in << 6``): ``v_int ≈ V_UNIT·λ·v``
V_UNIT = 2**lf.ACT_SHIFT
#: the quantizer keeps ``V_UNIT·λ·max|u|`` (and a read-out's ``|v|``) below 0.9·2**23
U_HEADROOM = 0.9 * lf.STATE_HALF / V_UNIT
#: the threshold's target ``λ·vth``: half the voltage range
V_TARGET = lf.STATE_HALF / V_UNIT / 2
#: ``λ·vth`` is not lowered below this to keep a negative ``v`` from clipping
V_MIN_TARGET = 2**10


class CubaState(NamedTuple):
    """State of one CUBA neuron array ``[B, *shape]``: current ``u``, voltage ``v``, and
    ``ref``, the refractory steps left (int32; a CubaLIF with a refractory period only, else
    None)."""

    u: Tensor
    v: Tensor
    ref: Tensor | None = None


def zero_state(batch_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str,
               refractory: int = 0) -> CubaState:
    """All-zero state of ``dtype`` (int64: fixed point), with a refractory counter when
    ``refractory > 0``."""
    z = torch.zeros(batch_shape, dtype=dtype, device=device)
    ref = torch.zeros(batch_shape, dtype=torch.int32, device=device) if refractory > 0 else None
    return CubaState(z, z.clone(), ref)


# ---------------------------------------------------------------- dynamics


def subthreshold_float(state: CubaState, i_in: Tensor, du: Any, dv: Any,
                       bias: Any) -> tuple[Tensor, Tensor]:
    """The float ``(u, v)`` of one step (module docstring); parameters broadcast against
    ``[B, *shape]`` (tensors, or Python floats)."""
    u = state.u * (1 - du) + i_in
    v = state.v * (1 - dv) + u + bias
    return u, v


def decay_fixed(x: Tensor, keep: int) -> Tensor:
    """``sign(p)·(|p| >> 12)`` with ``p = x·keep``: Lava's decay, rounding toward zero."""
    p = x * keep
    return torch.sign(p) * (p.abs() >> lf.DECAY_SHIFT)


def wrap_u(u: Tensor) -> Tensor:
    """Lava's single conditional 24-bit wrap of the current: ``u − 2**24`` where ``u > 2**23``,
    else ``u + 2**24`` where ``u <= −2**23`` (applied once, not modulo)."""
    half = lf.STATE_HALF
    return torch.where(u > half, u - 2 * half, torch.where(u <= -half, u + 2 * half, u))


def subthreshold_fixed(state: CubaState, a_in: Tensor, du: int, dv: int,
                       bias_eff: Tensor, hold: Tensor | None = None
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """Lava's ``subthr_dynamics`` on int64 tensors: new ``(u, v, saturated)``, ``saturated``
    marking neurons whose u wrapped or v was clipped. ``bias_eff = bias_mant << bias_exp``.

    ``hold`` (bool, ``[B, *shape]``): neurons whose ``v`` is not updated but held at 0 (a
    refractory CubaLIF: Lava's refractory model leaves ``v`` at its reset value 0); their ``u``
    integrates and may wrap, their ``v`` is never clipped."""
    u_pre = decay_fixed(state.u, lf.current_keep(du)) + (a_in << lf.ACT_SHIFT)
    u = wrap_u(u_pre)
    v_pre = decay_fixed(state.v, lf.voltage_keep(dv)) + u + bias_eff
    v = v_pre.clamp(-lf.V_LIMIT, lf.V_LIMIT)
    clipped = v != v_pre
    if hold is not None:
        v = torch.where(hold, torch.zeros_like(v), v)
        clipped = clipped & ~hold
    return u, v, (u != u_pre) | clipped


# ---------------------------------------------------------------- in place (fast simulator)

#: the largest integer an int32 holds, less a margin for the float arithmetic of the bounds
_INT32_SAFE = 2**31 - 2**10


def int32_fits(keep_u: int, a_bound: float, bias_max: float) -> bool:
    """Whether Lava's ``u`` and ``v``, and every intermediate of :func:`subthreshold_fixed`,
    stay within int32 for synaptic inputs ``|a_in| <= a_bound``, ``|bias_eff| <= bias_max``
    and a current that keeps ``keep_u/4096`` per step.

    With ``k = keep_u/4096`` and ``d = a_bound << 6``: if ``|u| <= U`` before a step, then
    ``|u_pre| <= k·U + d`` and Lava's single wrap leaves ``|u| <= max(2**23, k·U + d − 2**24)``.
    So ``U = 2**23`` holds forever when ``d − 2**24 <= (1 − k)·2**23``, else (``k < 1``)
    ``U = (d − 2**24)/(1 − k)``; int32 suffices when ``k·U + d`` and ``V_LIMIT + U + bias_max``
    (the largest ``|v_pre|``) fit.
    """
    k = keep_u / lf.DECAY_UNITY
    drive = float(V_UNIT) * a_bound
    excess = drive - 2 * lf.STATE_HALF
    if excess <= (1 - k) * lf.STATE_HALF:
        u_max = float(lf.STATE_HALF)
    elif k >= 1:
        return False
    else:
        u_max = excess / (1 - k) + 1
    return k * u_max + drive < _INT32_SAFE and lf.V_LIMIT + u_max + bias_max < _INT32_SAFE


class CubaInplace(InplaceNeuron):
    """A CUBA neuron array ``[B, *shape]`` stepped in place: :func:`subthreshold_float` /
    :func:`subthreshold_fixed`, then (``vth`` given) CubaLIF's threshold and reset
    (:mod:`neurodeploy.kinds.cuba_lif`); ``vth`` None: a Readout (sends ``v``).

    ``u`` and ``v`` lie in one buffer ``uv`` ``[2, B, *shape]`` so that both decay in one
    pass: ``v``'s decay uses last step's ``v`` only, so it may come before ``u``'s update.

    Float mode: float32 state, the pure step's operations (``keep_u = 1 − du``, ``keep_v = 1 −
    dv``, float32 tensors; each product and sum rounded as there), so the same results. A zero
    bias is not added (``x + 0 = x``; only the sign of a zero may differ). The zero reset
    multiplies ``v`` by ``v <= vth`` (a voltage of ±inf, which finite inputs never make, would
    become NaN where the pure step writes 0).

    Fixed mode: int32 state where :func:`int32_fits` proves it (``a_bound`` is the largest
    ``|a_in|``), else int64. The decay ``sign(p)·(|p| >> 12)`` of ``p = x·keep`` is, in int32,
    ``trunc(x · (keep/4096))`` computed in float64 — exact, since ``|x·keep| < 2**43 < 2**53``
    and a power-of-two scale is exact — and truncated by the cast back to int32 (C's cast rounds
    toward zero); in int64 it is the integer form. On CPU the wrap of ``u`` and the clip of
    ``v`` run only when a min/max shows they act (most steps they do not); on CUDA always (no
    synchronisation). ``a_in`` comes in :attr:`a_dtype`.

    ``refractory = r > 0`` (a CubaLIF): an int32 counter ``ref`` as the pure step keeps it; while
    ``ref > 0`` the new ``v`` is multiplied by 0 (float: ±0), its clip is not counted as a
    saturation and its spike is dropped.
    """

    def __init__(self, batch_shape: tuple[int, ...], fixed: bool, device: torch.device | str,
                 keep_u: Any, keep_v: Any, bias: Tensor, vth: Any, reset: str = "zero",
                 a_bound: float = float(2**31), refractory: int = 0) -> None:
        self.fixed, self.reset, self.refractory = fixed, reset, int(refractory)
        dev = torch.device(device)
        per = (2, 1, *batch_shape[1:])  # one keep per state, broadcast over the batch
        if fixed:
            bias_max = float(bias.abs().max()) if bias.numel() else 0.0
            dtype = torch.int32 if int32_fits(keep_u, a_bound, bias_max) else torch.int64
            self.check = dev.type == "cpu"
            self._decays = (keep_u, keep_v) != (lf.DECAY_UNITY, lf.DECAY_UNITY)
            if dtype == torch.int32:
                keep = torch.tensor([keep_u, keep_v], dtype=torch.float64) / lf.DECAY_UNITY
                self._wide = torch.empty((2, *batch_shape), dtype=torch.float64, device=dev)
            else:
                keep = torch.tensor([keep_u, keep_v], dtype=torch.int64)
            self._keep = keep.to(dev).reshape(2, *[1] * len(batch_shape))
        else:
            dtype = torch.float32
            shape = batch_shape[1:]
            self._keep = torch.stack([torch.as_tensor(keep_u).expand(shape),
                                      torch.as_tensor(keep_v).expand(shape)]).reshape(per)
        self.a_dtype = dtype
        self.y_dtype = dtype if vth is None else torch.float32
        self.uv = torch.zeros((2, *batch_shape), dtype=dtype, device=dev)
        self.u, self.v = self.uv[0], self.uv[1]
        self.bias = bias.to(dtype) if bool((bias != 0).any()) else None
        self.vth = vth
        self.saturations = torch.zeros((), dtype=torch.int64, device=dev)
        # scratch: 0/1 masks in the state's dtype (comparisons into them are fast; into bool
        # and masked_fill_ are several times slower on CPU)
        self._m1 = torch.empty(batch_shape, dtype=dtype, device=dev)
        self._m2 = torch.empty(batch_shape, dtype=dtype, device=dev)
        if vth is not None:
            self.s = torch.empty(batch_shape, dtype=torch.float32, device=dev)
        self.ref = (torch.zeros(batch_shape, dtype=torch.int32, device=dev)
                    if self.refractory > 0 else None)
        self._free = torch.empty(batch_shape, dtype=dtype, device=dev)  # 1: not refractory

    @property
    def state(self) -> CubaState:
        return CubaState(self.u, self.v, self.ref)

    def _decay(self) -> None:
        """Lava's decay of ``u`` and ``v`` (fixed mode), in place."""
        uv = self.uv
        if not self._decays:
            return
        if uv.dtype == torch.int32:  # via a preallocated float64 buffer: no temporaries
            uv.copy_(self._wide.copy_(uv).mul_(self._keep))
        else:
            uv.mul_(self._keep)
            sign = torch.sign(uv)
            uv.abs_().bitwise_right_shift_(lf.DECAY_SHIFT).mul_(sign)

    def _out_of(self, x: Tensor, lo: int, hi: int) -> bool:
        """Whether some ``x`` lies outside ``[lo, hi]`` (always True on CUDA: no sync)."""
        if not self.check:
            return True
        mn, mx = torch.aminmax(x)
        return bool(mn < lo) or bool(mx > hi)

    def _fixed(self, a_in: Tensor, free: Tensor | None) -> None:
        u, v, m1, m2, half = self.u, self.v, self._m1, self._m2, lf.STATE_HALF
        self._decay()
        u.add_(a_in, alpha=V_UNIT)
        sat = None
        if self._out_of(u, 1 - half, half):  # Lava's one conditional 24-bit wrap
            torch.gt(u, half, out=m1)
            m1.sub_(torch.le(u, -half, out=m2))  # +1: u − 2**24, −1: u + 2**24
            u.sub_(m1, alpha=2 * half)
            sat = m1.abs_()
        v.add_(u)
        if self.bias is not None:
            v.add_(self.bias)
        if self._out_of(v, -lf.V_LIMIT, lf.V_LIMIT):
            torch.gt(torch.abs(v, out=m2), lf.V_LIMIT, out=m2)
            v.clamp_(-lf.V_LIMIT, lf.V_LIMIT)
            if free is not None:  # a held v is not computed in Lava: no clip
                m2.mul_(free)
            sat = m2 if sat is None else sat.bitwise_or_(m2)
        if sat is not None:  # summed in the mask's dtype: no int64 copy of an int32 mask
            self.saturations += sat.sum(dtype=sat.dtype)

    def step(self, a_in: Tensor) -> Tensor:
        v = self.v
        free = None if self.ref is None else torch.le(self.ref, 0, out=self._free)
        if self.fixed:
            self._fixed(a_in, free)
        else:
            self.uv.mul_(self._keep)
            self.u.add_(a_in)
            v.add_(self.u)
            if self.bias is not None:
                v.add_(self.bias)
        if free is not None:
            v.mul_(free)
        if self.vth is None:
            return v
        s = self.s
        torch.gt(v, self.vth, out=s)
        if free is not None:
            s.mul_(free)
        if self.reset == "zero":  # v · (v <= vth): 0 where it fired (float: ±0)
            v.mul_(torch.le(v, self.vth, out=self._m1))
        elif self.reset == "subtract":
            v.sub_(s * self.vth)
        if self.ref is not None:
            self.ref.sub_(1).clamp_(min=0).masked_fill_(s.bool(), self.refractory)
        return s


# ---------------------------------------------------------------- parameters


def state_dtype(fixed: bool) -> torch.dtype:
    """The simulator's state dtype: int64 in fixed point, float32 in float."""
    return torch.int64 if fixed else torch.float32


def param(value: Any, device: torch.device | str) -> Tensor:
    """A float parameter (0-d or the node's shape) as a float32 tensor."""
    return torch.as_tensor(np.asarray(value, np.float32), device=device)


def bias_eff(node: Any, device: torch.device | str) -> Tensor:
    """The node's integer bias ``bias_mant << bias_exp`` (int64)."""
    q = node.quant
    return lf.shift(torch.as_tensor(np.asarray(q.bias_mant, np.int64), device=device),
                    int(q.bias_exp))


def nonuniform(node: Any, fields: tuple[str, ...]) -> str | None:
    """Why ``node`` cannot take one value per layer for ``fields`` (Loihi's and Lava's LIF take
    one ``du``, ``dv``, ``vth`` per layer), or None."""
    for f in fields:
        arr = np.asarray(getattr(node, f), np.float32)
        if arr.size == 0 or np.any(arr != arr.reshape(-1)[0]):
            return (f"per-neuron {f} differs between neurons; Loihi's and Lava's LIF take one "
                    f"{f} per layer")
    return None


def layer_value(node: Any, field: str) -> float:
    """One float per layer from a 0-d or uniform per-neuron parameter; NeurodeployError naming
    the node otherwise."""
    why = nonuniform(node, (field,))
    if why:
        raise NeurodeployError(f"node '{node.name}' ({node.kind}): {why}")
    return float(np.asarray(getattr(node, field), np.float32).reshape(-1)[0])


# ---------------------------------------------------------------- quantization rule


def scale_limits(max_u: float, max_v: float, bias: np.ndarray) -> list[float]:
    """Limits on λ every CUBA kind shares: the current must not wrap, the bias must fit its
    mantissa and exponent. (The voltage's limits are each kind's.)"""
    limits = [U_HEADROOM / max(max_u, 1e-12)]
    b_max = float(np.abs(bias).max(initial=0))
    if b_max > 0:
        limits.append((lf.BIAS_MANT_RANGE[1] * 2**lf.BIAS_EXP_MAX) / (V_UNIT * b_max))
    return limits


def quantized(node: Any, scale: float, bias: np.ndarray,
              vth: int) -> tuple[dict[str, Any], list[str]]:
    """The NeuronQ fields of a CUBA node at scale λ with threshold mantissa ``vth``, and notes
    on decays the 12-bit format moves."""
    du, dv = layer_value(node, "du"), layer_value(node, "dv")
    mant, bexp = lf.bias_q(V_UNIT * scale * bias, node.name)
    du_q, dv_q = lf.decay_q(du, True), lf.decay_q(dv, False)
    notes = []
    if round(lf.DECAY_UNITY * du) - lf.CURRENT_DECAY_OFFSET < lf.DU_RANGE[0]:
        notes.append(f"du = {du:g} has no 12-bit form: the current decays by "
                     f"{lf.DECAY_UNITY - lf.current_keep(du_q)}/{lf.DECAY_UNITY} per step")
    if round(lf.DECAY_UNITY * dv) > lf.DV_RANGE[1]:
        notes.append(f"dv = {dv:g} has no 12-bit form: the voltage keeps "
                     f"{lf.voltage_keep(dv_q)}/{lf.DECAY_UNITY} per step")
    return dict(du=du_q, dv=dv_q, vth=vth, bias_mant=mant, bias_exp=bexp,
                scale=1.0 / (V_UNIT * scale)), notes


# ---------------------------------------------------------------- Lava


def lava_lif(node: Any, shape: tuple[int, ...], fixed: bool, gate_bias: bool,
             vth: Any, refractory: int = 0,
             reset: tuple[int, int] | None = None) -> LavaNeuron | None:
    """A ``lava.proc.lif`` LIF process for a CUBA node: integer parameters (``fixed``) or float
    ones (one du, dv per layer), threshold mantissa (float: threshold) ``vth``; with
    ``refractory > 0``: ``LIFRefractory`` (v held at 0 for the r steps after a spike; in fixed
    point run by :class:`neurodeploy.lava.refractory.PyLifRefractoryModelBitAcc`, which the
    compiler's run configuration selects).

    ``reset``: ``(interval, offset)``: a ``LIFReset`` (Lava's LIF that zeroes ``u`` and ``v``
    in the time steps ``≡ offset (mod interval)``, after receiving that step's input and before
    integrating it), no bias gate, nothing to reset from outside; None when the node has a
    refractory period (no Lava model has both)."""
    from lava.proc.lif.process import LIF, LIFRefractory, LIFReset

    if fixed:
        q = node.quant
        du: Any = int(q.du)
        dv: Any = int(q.dv)
        bias = np.broadcast_to(np.asarray(q.bias_mant, np.int64), shape).copy()
        bias_exp = np.full(shape, int(q.bias_exp), np.int64)
    else:
        du, dv = layer_value(node, "du"), layer_value(node, "dv")
        bias = np.broadcast_to(np.asarray(node.bias, np.float64), shape).copy()
        bias_exp = np.zeros(shape, np.float64)
    if reset is not None:
        if refractory > 0:
            return None
        proc = LIFReset(shape=shape, du=du, dv=dv, vth=vth, bias_mant=bias, bias_exp=bias_exp,
                        reset_interval=reset[0], reset_offset=reset[1], name=node.name)
        return LavaNeuron(proc, proc.a_in, proc.s_out, {"u": proc.u, "v": proc.v})
    gated = bool(np.any(bias != 0)) and gate_bias
    kw = dict(shape=shape, du=du, dv=dv, vth=vth,
              bias_mant=np.zeros(shape, bias.dtype) if gated else bias, bias_exp=bias_exp,
              name=node.name)
    resets = []
    if refractory > 0:
        proc = LIFRefractory(refractory_period=refractory, **kw)
        resets.append(proc.refractory_period_end)
    else:
        proc = LIF(**kw)
    resets += [proc.u, proc.v]
    if gated:
        resets.append(proc.bias_mant)
    return LavaNeuron(proc, proc.a_in, proc.s_out, {"u": proc.u, "v": proc.v}, resets,
                      (proc.bias_mant, bias) if gated else None)


def netx_neuron(node: Any, vth: int) -> dict[str, Any]:
    """netx's ``neuron`` group of a quantized CUBA node (netx maps ``du = iDecay − 1``)."""
    q = node.quant
    return {"type": "CUBA", "iDecay": int(q.du) + lf.CURRENT_DECAY_OFFSET, "vDecay": int(q.dv),
            "vThMant": vth, "refDelay": 1, "gradedSpike": False}


# ---------------------------------------------------------------- NIR


def f32(x: Any) -> np.ndarray:
    """A NIR parameter (numpy array, tensor or number) as a float32 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def nir_constants(node: Any, dt: float) -> dict[str, np.ndarray]:
    """NIR's continuous-time constants of a CUBA node (float32 arrays of its shape), the
    forward-Euler step with ``dt`` read backwards: ``τs = dt/du``, ``τm = dt/dv``, ``r = τm/dt``,
    ``w_in = τs/dt``, ``v_leak = bias/dv`` (0 where dv = 0); also the broadcast ``du``, ``dv``."""
    shape = tuple(node.shape)

    def full(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, np.float64), shape).astype(np.float32)

    du, dv = full(node.du), full(node.dv)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_syn = np.float32(dt) / du
        tau_mem = np.float32(dt) / dv
        r = tau_mem / np.float32(dt)
        w_in = tau_syn / np.float32(dt)
        v_leak = full(node.bias) / dv
    v_leak = np.where(np.isfinite(v_leak), v_leak, 0).astype(np.float32)
    return dict(du=du, dv=dv, tau_syn=tau_syn, tau_mem=tau_mem, r=r, w_in=w_in, v_leak=v_leak)


def from_nir(nir_node: Any, dt: float, where: str) -> dict[str, Any]:
    """A NIR CUBA-family neuron's forward-Euler step with ``dt`` as the IR's decays, input gain
    and bias: ``LIF``/``LI`` (``tau``) → ``du = 1``, ``dv = dt/τ``, ``gain = r·dt/τ``;
    ``CubaLIF``/``CubaLI`` (``tau_syn``) → ``du = dt/τs``, ``dv = dt/τm``,
    ``gain = (dt/τs·w_in)·(dt/τm·r)``; ``IF`` → ``dv = 0``, ``gain = dt·r``; ``bias = dv·v_leak``.
    """
    dtf = np.float32(dt)
    if hasattr(nir_node, "tau_syn"):
        ks, km = dtf / f32(nir_node.tau_syn), dtf / f32(nir_node.tau_mem)
        out = dict(du=ks, dv=km, gain=(ks * f32(nir_node.w_in)) * (km * f32(nir_node.r)),
                   bias=km * f32(nir_node.v_leak))
    elif hasattr(nir_node, "tau"):
        k = dtf / f32(nir_node.tau)
        out = dict(du=1.0, dv=k, gain=k * f32(nir_node.r), bias=k * f32(nir_node.v_leak))
    else:
        out = dict(du=1.0, dv=0.0, gain=dtf * f32(nir_node.r))
    for f in ("du", "dv"):
        v = np.asarray(out[f], np.float32)
        if np.any(v < 0) or np.any(v > 1):
            raise NeurodeployError(f"NIR node '{where}': dt={dt:g} s gives the decay {f} outside "
                                   "[0, 1] (dt larger than a time constant); pass a smaller --dt")
    return out
