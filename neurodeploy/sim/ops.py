"""Synapse operations and input quantization on batched tensors ``[B, *shape]`` (no state, no
delay).

Float mode computes in float32. Fixed mode takes and returns int64 tensors holding exact
integers; the sums themselves run as float matrix products/convolutions, which are exact
because every partial sum is an integer bounded by ``bound_in · max|W| · fan_in`` (checked by
the caller, :func:`accum_dtype`): float32 when that bound is ≤ 2**24, float64 when ≤ 2**53.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from neurodeploy.capability import fixed_refusal
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import input_range
from neurodeploy.ir import Input

FLOAT32_EXACT = 2**24
FLOAT64_EXACT = 2**53


def accum_dtype(bound: float, where: str) -> torch.dtype:
    """The float dtype in which integer sums up to ``bound`` are exact."""
    if bound <= FLOAT32_EXACT:
        return torch.float32
    if bound <= FLOAT64_EXACT:
        return torch.float64
    raise NeurodeployError(f"node '{where}': integer sums up to {bound:.3g} exceed 2**53; the "
                           "fixed-point simulator cannot compute them exactly")


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x [B, n_in] @ weight.T (+ bias)`` → ``[B, n_out]``."""
    y = x.reshape(x.shape[0], -1) @ weight.t()
    return y + bias if bias is not None else y


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
           stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
           groups: int) -> torch.Tensor:
    """PyTorch's 2-D cross-correlation, ``x [B, C, H, W]``."""
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation,
                    groups=groups)


def conv2d_gemm(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int],
                padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> torch.Tensor:
    """:func:`conv2d` without bias as an explicit im2col product (``unfold``, then one
    batched matrix product per group): fixed mode's exact integer sums on CUDA, where cuDNN is
    off (its transform-based algorithms round) and PyTorch's own convolution is slow."""
    B, _, H, W = x.shape
    c_out, cin_g, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    h_out = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    w_out = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = cols.reshape(B, groups, cin_g * kh * kw, h_out * w_out)
    y = torch.matmul(weight.reshape(groups, c_out // groups, cin_g * kh * kw), cols)
    return y.reshape(B, c_out, h_out, w_out)


def sum_pool2d(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
               padding: tuple[int, int]) -> torch.Tensor:
    """Per-channel window sums with zero padding: ``avg_pool2d`` with divisor 1 where its
    padding limit (at most half the kernel) allows, else a grouped convolution with a ones
    kernel."""
    if all(2 * p <= k for p, k in zip(padding, kernel, strict=True)):
        return F.avg_pool2d(x, kernel, stride, padding, divisor_override=1)
    c = x.shape[1]
    ones = torch.ones((c, 1, *kernel), dtype=x.dtype, device=x.device)
    return F.conv2d(x, ones, None, stride=stride, padding=padding, groups=c)


@contextmanager
def exact_float_math(fixed: bool) -> Iterator[None]:
    """Within: float matrix products and convolutions that sum integers exactly (fixed mode on
    CUDA). CUDA may use TF32 (10-bit mantissas) for float32 products, and cuDNN may pick
    transform-based convolutions (Winograd, FFT) whose rounding breaks exact integer sums; both
    are switched off here (cuDNN entirely: PyTorch's own convolution is an im2col product).
    The CPU kernels (BLAS, oneDNN's direct convolution) sum exactly as they are."""
    if not fixed or not torch.cuda.is_available():
        yield
        return
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32


def wrap_signed(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Lava conv/utils.py ``signed_clamp``: ``(x + 2**(bits−1)) mod 2**bits − 2**(bits−1)``."""
    half = 1 << (bits - 1)
    return torch.remainder(x + half, 1 << bits) - half


def to_int(x: torch.Tensor) -> torch.Tensor:
    """Exact-integer float tensor → int64 (rounding only removes float noise of zero)."""
    return torch.round(x).to(torch.int64)


def input_quantizer(node: Input) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    """The integer messages of ``node`` for float inputs, as the simulator and the Lava backend
    both send them: ``x ↦ clip(round(x / scale), lo, hi)`` (int64; ``x`` float32, float32
    division, rounding half to even — float64 would round some ``x / scale`` differently), with
    ``(lo, hi)`` the range of its ``InputQ`` (:func:`neurodeploy.formats.input_range`).

    Returns the function and the largest ``|message|``. Raises NeurodeployError naming the node
    when it has no ``InputQ`` or a scale that is not positive.
    """
    why = fixed_refusal(node)
    if why:
        raise NeurodeployError(f"node '{node.name}' ({node.kind}): {why}")
    q = node.quant
    scale = float(q.scale)
    if not scale > 0:
        raise NeurodeployError(f"node '{node.name}' (input): InputQ scale must be > 0")
    lo, hi = input_range(q.bits, q.signed)

    def quantize(x: torch.Tensor) -> torch.Tensor:
        # divide by a tensor on x's device: CUDA multiplies by the reciprocal of a Python
        # scalar divisor, which rounds some quotients differently (seen on an H200)
        div = torch.tensor(scale, dtype=torch.float32, device=x.device)
        return torch.round(x / div).clamp_(lo, hi).to(torch.int64)

    return quantize, max(abs(lo), abs(hi))
