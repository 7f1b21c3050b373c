"""Receptive field, jump and start of a unit: the notes' formula, one layer at a time.

The notes give the receptive field of layer i (along one axis, input length L):

    R_i = min(R_{i-1} + (k_i - 1) * prod_{j<i} s_j,  L)

Tracking three numbers per layer makes it a one-line step (Araujo et al., "Computing receptive
fields of convolutional neural networks", Distill 2019; Dang-Ha's "receptive field arithmetic"):

    j_out     = j_in * s                                  jump: distance between two neighbouring
                                                          units, in input pixels (= prod of strides)
    r_out     = r_in + (k - 1) * d * j_in                 receptive field size (dilation d)
    start_out = start_in + ((k - 1) / 2 * d - p) * j_in   centre of the first unit's field

with r = 1, j = 1, start = 0.5 for the input (pixel i spans [i, i+1), its centre is i + 0.5).
The centre of unit n of a layer is `start + n * jump`. The sizes here are the formula's, NOT clipped
to L (the notes' min(., L)): a unit whose field is larger than the image simply sees all of it.

    >>> rf = INPUT
    >>> for k, s, p in [(3, 1, 1), (3, 1, 1), (2, 2, 0)]:    # conv3x3, conv3x3, maxpool 2x2
    ...     rf = conv_step(rf, k, s, p)
    >>> rf
    RF(size=6, jump=2, start=1)
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RF:
    """Receptive field of a layer's units along one axis, in input pixels."""
    size: float   # r: how many input pixels one unit sees
    jump: float   # j: input pixels between two neighbouring units (product of the strides so far)
    start: float  # centre of the first unit's field (input pixel i has its centre at i + 0.5)

    def __repr__(self):
        return f"RF(size={_num(self.size)}, jump={_num(self.jump)}, start={_num(self.start)})"


INPUT = RF(1, 1, 0.5)


def _num(v):
    """6.0 -> 6 (the formulas give integers for integer strides), else a short float."""
    return int(v) if float(v).is_integer() else round(float(v), 4)


def conv_step(rf: RF, k: int, s: int = 1, p: float = 0, d: int = 1) -> RF:
    """The RF after a convolution or pooling window of size k, stride s, padding p, dilation d."""
    return RF(rf.size + (k - 1) * d * rf.jump, rf.jump * s, rf.start + ((k - 1) / 2 * d - p) * rf.jump)


def transposed_step(rf: RF, k: int, s: int = 1, p: float = 0, d: int = 1) -> RF:
    """The RF after a transposed convolution (or an unpooling): stride s divides the jump.

    Output unit o gathers the inputs i with i*s = o + p - t*d (t = 0..k-1), so, with j' = j / s:
        j_out = j / s;  r_out = r + (k - 1) * d * j';  start_out = start + (p - (k - 1) / 2 * d) * j'
    (r_out is an upper bound: with s > 1 only every s-th tap meets a real input unit).
    """
    j = rf.jump / s
    return RF(rf.size + (k - 1) * d * j, j, rf.start + (p - (k - 1) / 2 * d) * j)


def resize_step(rf: RF, ratio: float) -> RF:
    """The RF after resizing by `ratio` (out size / in size) without a kernel: nearest upsampling,
    pixel shuffle (ratio > 1), or an unknown downsampling treated as a k = s = 1/ratio window."""
    if ratio < 1:
        s = 1 / ratio
        return conv_step(rf, round(s), s)
    return RF(rf.size, rf.jump / ratio, rf.start + (0.5 / ratio - 0.5) * rf.jump)


def receptive_field(layers, rf: RF = INPUT) -> list[RF]:
    """The RF after each of `layers`, a list of (k, s, p, d) or shorter tuples (s, p, d default 1, 0, 1).

    >>> [r.size for r in receptive_field([(3,), (3,), (3,)])]     # three 3x3 convs see 7x7 (VGG's point)
    [3, 5, 7]
    """
    out = []
    for layer in layers:
        rf = conv_step(rf, *layer)
        out.append(rf)
    return out


# ---- the geometry of a layer ----------------------------------------------------------------
def _first(v):
    """kernel_size/stride/padding of a module (int or tuple) along the first spatial axis."""
    return v[0] if isinstance(v, (tuple, list)) else v


def adaptive_window(n: int, out: int) -> tuple[int, float]:
    """(k, s) of an adaptive pooling from n to `out` bins (bin i spans floor(i n/out) .. ceil((i+1) n/out))."""
    k = max(math.ceil((i + 1) * n / out) - (i * n) // out for i in range(out))
    return k, n / out


def layer_step(module, rf: RF, in_size: int, out_size: int) -> RF:
    """The RF after a leaf `module` along the first spatial axis (H), whose input has `in_size`
    pixels there and whose output `out_size`.

    Layers with a window (`kernel_size`: conv, pooling, unpooling) use its k, s, p, d; adaptive
    pooling (`output_size`) its bins; any other layer that changes the size is a resize; the rest
    (activations, normalisation, dropout) leave the RF as it is.
    """
    if hasattr(module, "kernel_size"):
        k = _first(module.kernel_size)
        s = _first(getattr(module, "stride", None) or k)
        d = _first(getattr(module, "dilation", 1))
        p = getattr(module, "padding", 0)
        if isinstance(p, str):  # 'same': d(k-1) in total, the smaller half before (as PyTorch)
            p = (d * (k - 1)) // 2 if p == "same" else 0
        p = _first(p)
        if getattr(module, "_transposed", False) or "Unpool" in type(module).__name__:
            return transposed_step(rf, k, s, p, d)
        return conv_step(rf, k, s, p, d)
    if hasattr(module, "output_size") and out_size != in_size:
        k, s = adaptive_window(in_size, out_size)
        return conv_step(rf, k, s)
    if out_size != in_size and not hasattr(module, "in_features"):  # a Linear acts on the last axis only
        return resize_step(rf, out_size / in_size)
    return rf
