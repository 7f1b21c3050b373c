"""im2col / col2im: the notes' trick that turns a convolution into ONE matrix product.

    Im2Col: 每个k*k拆成一行 — each k x k patch becomes one row. An image gives
    OH*OW rows (one per output pixel); with C channels a row holds C*K*K numbers
    ("多个channel就拼起来": the channels are laid side by side). A batch of N images
    becomes an (N*OH*OW, C*K*K) matrix, and the convolution is
        (N*OH*OW, C*K*K) @ (C*K*K, C_out)  ->  (N*OH*OW, C_out)
    which is reshaped back to (N, C_out, OH, OW). col2im is the adjoint: it adds
    every row back onto the patch it came from (overlapping patches add up).

Output size, per spatial axis (the notes' formula, with dilation d):
    OH = floor((H + pad_top + pad_bottom - d*(K-1) - 1) / stride) + 1

Memory layout (the speed story). Convolutions keep activations NHWC in memory
("channels last") while their shape stays NCHW, as PyTorch's `channels_last`
format does: the GEMM writes (N*OH*OW, C_out), which *is* NHWC, so the output is a
free view and the next layer reads the channels of a pixel as one contiguous run.
The patches are gathered by ONE copy of a strided `windows` view (no data moved
to build the view), into memory that keeps the source's contiguous axis contiguous:
  * NHWC input: rows contiguous, columns ordered (ki, kj, c); each row's (kj, c)
    pairs form one run of KW*C numbers (measured 2-7x faster here than the textbook
    K x K loop of slice copies, whose inner run is only C numbers);
  * NCHW input (a network's first layer): cols^T contiguous, each (ki, kj, c) row
    a run of OW pixels, exactly what the textbook K x K loop writes (4x faster for
    one input channel than rows of 5 numbers).
BLAS takes either order of the same logical matrix. col2im cannot be one copy
(overlapping patches add up): it is the K x K loop of strided `+=` (never np.add.at).
The tests keep the textbook K x K loop as the reference im2col.

Public functions use the notes' column order (c, ki, kj), which matches
`weight.reshape(C_out, -1)`; `channels_last=True` gives the fast (ki, kj, c)
order that conv2d uses internally.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .blocks import constant_vector


def pair(v, name="argument"):
    """An int or a 2-sequence -> a tuple of two ints."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def pads4(padding):
    """int, (ph, pw) or (top, bottom, left, right) -> (top, bottom, left, right)."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    p = tuple(int(a) for a in padding)
    if len(p) == 2:
        return p[0], p[0], p[1], p[1]
    if len(p) == 4:
        return p
    raise ValueError(f"padding must be an int, a pair or 4 values, got {padding}")


def conv_out_size(size, k, stride=1, pad=(0, 0), dilation=1, ceil_mode=False):
    """floor((size + pad_lo + pad_hi - d*(k-1) - 1) / s) + 1 (ceil with ceil_mode, PyTorch's rule)."""
    lo, hi = (pad, pad) if isinstance(pad, (int, np.integer)) else pad
    span = size + lo + hi - dilation * (k - 1) - 1
    if span < 0:
        raise ValueError(f"kernel {k} (dilation {dilation}) is larger than the padded input {size + lo + hi}")
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + lo:  # the last window must start inside the input or left padding
        out -= 1
    return out


def is_channels_last(a):
    """True when a 4-D NCHW-shaped array is NHWC in memory (conv outputs are)."""
    return a.shape[1] > 1 and a.strides[1] < a.strides[3]


def empty_image(shape, dtype, channels_last):
    """Uninitialised (N, C, H, W) array, NHWC in memory if channels_last."""
    if not channels_last:
        return np.empty(shape, dtype)
    N, C, H, W = shape
    return np.empty((N, H, W, C), dtype).transpose(0, 3, 1, 2)


def crop_negative_pads(x, pads):
    """Split pads = (top, bottom, left, right) of (N, C, H, W) x into a crop and a padding: returns
    (x cropped where a pad is negative (a view), the pads with negatives set to 0)."""
    t, b, l, r = pads
    H, W = x.shape[2:]
    return x[:, :, max(-t, 0):H - max(-b, 0), max(-l, 0):W - max(-r, 0)], tuple(max(p, 0) for p in pads)


def pad_image(x, pads, value=0.0, extra=(0, 0)):
    """Pad (N, C, H, W) x by pads = (top, bottom, left, right) (negative crops), keeping x's
    memory layout; `extra` adds rows/cols at the bottom/right (ceil_mode). x itself if no padding."""
    t, b, l, r = pads
    x, (t, b, l, r) = crop_negative_pads(x, (t, b + extra[0], l, r + extra[1]))
    if t == b == l == r == 0:
        return x
    N, C, H, W = x.shape
    xp = empty_image((N, C, H + t + b, W + l + r), x.dtype, is_channels_last(x))
    xp[:, :, :t], xp[:, :, t + H:], xp[:, :, t:t + H, :l], xp[:, :, t:t + H, l + W:] = value, value, value, value
    xp[:, :, t:t + H, l:l + W] = x
    return xp


def taps(kh, kw, stride, dilation, out_hw):
    """(k, key) for each of the K*K kernel taps (i, j), k = i*kw + j in row-major order:
    xp[key] is the (N, C, OH, OW) strided slice that tap (i, j) sees at every output pixel."""
    (sh, sw), (dh, dw), (OH, OW) = pair(stride), pair(dilation), out_hw
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (Ellipsis, slice(i * dh, i * dh + sh * (OH - 1) + 1, sh),
                               slice(j * dw, j * dw + sw * (OW - 1) + 1, sw))


def windows(xp, kh, kw, stride, dilation, out_hw, groups=1):
    """Read-only strided view (N, OH, OW, G, KH, KW, C/G) of the patches of padded xp (N, C, H, W).

    patch[n, oh, ow, g, i, j, c] = xp[n, g*C/G + c, oh*sh + i*dh, ow*sw + j*dw]
    No data is copied: the view only sets strides (any memory layout of xp works).
    """
    (sh, sw), (dh, dw), (OH, OW) = pair(stride), pair(dilation), out_hw
    N, C = xp.shape[:2]
    sN, sC, sH, sW = xp.strides
    shape = (N, OH, OW, groups, kh, kw, C // groups)
    strides = (sN, sH * sh, sW * sw, sC * (C // groups), sH * dh, sW * dw, sC)
    return as_strided(xp, shape, strides, writeable=False)


def unfold(xp, kh, kw, stride, dilation, out_hw, groups=1):
    """The cols of padded xp as an (N*OH*OW, G, KH*KW*C/G) matrix per group, columns (ki, kj, c).

    ONE copy of the `windows` view into memory that keeps xp's contiguous axis contiguous:
    NHWC input -> rows contiguous (each row's (kj, c) pairs are one run of KW*C numbers);
    NCHW input -> columns contiguous (cols^T, each (ki, kj, c) row a run of OW pixels, as the
    textbook K x K loop writes it). The logical matrix is the same; BLAS reads either order.
    """
    return copy_windows(windows(xp, kh, kw, stride, dilation, out_hw, groups), is_channels_last(xp))


def copy_windows(v, channels_last, out=None):
    """Copy a `windows` view (N, OH, OW, G, KH, KW, C/G) into cols (N*OH*OW, G, KH*KW*C/G), laid out
    as `unfold` says; into the front of the flat buffer `out` if given, else into new memory."""
    N, OH, OW, G = v.shape[:4]
    size = v.size
    if channels_last:
        cols = np.empty(v.shape, v.dtype) if out is None else out[:size].reshape(v.shape)
    else:
        shape_t = v.shape[3:] + v.shape[:3]
        cols = (np.empty(shape_t, v.dtype) if out is None else out[:size].reshape(shape_t)).transpose(4, 5, 6, 0, 1,
                                                                                                     2, 3)
    cols[...] = v
    return cols.reshape(N * OH * OW, G, -1)


def im2col(x, kh, kw, stride=1, padding=0, dilation=1, channels_last=False):
    """Unfold the patches of x (N, C, H, W) into the matrix cols (N*OH*OW, C*KH*KW).

    Row n*OH*OW + oh*OW + ow is the patch under output pixel (oh, ow) of image n:
    每个k*k拆成一行 (each k x k patch becomes one row), channels side by side.
    Columns are ordered (c, ki, kj) like `weight.reshape(C_out, -1)`, so that
    `im2col(x, ...) @ weight.reshape(C_out, -1).T` is the convolution; with
    `channels_last=True` they are ordered (ki, kj, c) (the fast layout).
    padding: int, (ph, pw) or (top, bottom, left, right).
    """
    x = np.asarray(x)
    (sh, sw), (dh, dw), pads = pair(stride), pair(dilation), pads4(padding)
    N, C, H, W = x.shape
    OH = conv_out_size(H, kh, sh, pads[:2], dh)
    OW = conv_out_size(W, kw, sw, pads[2:], dw)
    v = windows(pad_image(x, pads), kh, kw, (sh, sw), (dh, dw), (OH, OW))[:, :, :, 0]
    if not channels_last:
        v = v.transpose(0, 1, 2, 5, 3, 4)  # (N, OH, OW, C, KH, KW)
    return np.ascontiguousarray(v).reshape(N * OH * OW, C * kh * kw)


def col2im_nhwc(cols, xp_shape, kh, kw, stride, dilation, out_hw, groups=1, out=None):
    """Adjoint of `unfold`: add cols (N*OH*OW, G*KH*KW*C/G), ordered (g, ki, kj, c), back onto
    a zero NHWC array of shape xp_shape (or into `out`). K x K strided `+=`, never np.add.at."""
    (sh, sw), (dh, dw), (OH, OW) = pair(stride), pair(dilation), out_hw
    N, Hp, Wp, C = xp_shape
    G = groups
    c7 = cols.reshape(N, OH, OW, G, kh, kw, C // G)
    if out is None:
        out = np.zeros(xp_shape, dtype=cols.dtype)
    else:
        out.fill(0)
    o5 = out.reshape(N, Hp, Wp, G, C // G)
    for i in range(kh):
        for j in range(kw):
            o5[:, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw] += c7[:, :, :, :, i, j]
    return out


def col2im(cols, x_shape, kh, kw, stride=1, padding=0, dilation=1, channels_last=False):
    """Fold cols (N*OH*OW, C*KH*KW) back into an image of x_shape (N, C, H, W), ADDING overlaps.

    The adjoint of `im2col` (so col2im(im2col(x)) multiplies each pixel by the number of
    patches that contain it); it is the backward pass of im2col and the heart of the
    transposed convolution. Column order as in `im2col`.
    """
    cols = np.asarray(cols)
    (sh, sw), (dh, dw), pads = pair(stride), pair(dilation), pads4(padding)
    N, C, H, W = x_shape
    OH = conv_out_size(H, kh, sh, pads[:2], dh)
    OW = conv_out_size(W, kw, sw, pads[2:], dw)
    if not channels_last:  # (c, ki, kj) -> (ki, kj, c)
        cols = cols.reshape(-1, C, kh, kw).transpose(0, 2, 3, 1)
    t, b, l, r = pads
    out = col2im_nhwc(cols, (N, H + t + b, W + l + r, C), kh, kw, (sh, sw), (dh, dw), (OH, OW))
    return out[:, t:t + H, l:l + W].transpose(0, 3, 1, 2)


def channel_sum(a):
    """Sum of (N, C, H, W) over N, H, W -> (C,). A GEMV when a is NHWC in memory (~5x np.sum)."""
    if is_channels_last(a):
        rows = a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
        return constant_vector(1, len(rows), a.dtype) @ rows
    return a.sum(axis=(0, 2, 3))


def add_bias(y, bias):
    """y (N, C, H, W) += bias[c], in place. On NHWC memory a plain broadcast would run NumPy's
    inner loop over only C numbers per pixel (measured 2-5 ms for SimpleConvNet's conv), so
    each image is one long row instead, plus the bias tiled H*W times."""
    yh = y.transpose(0, 2, 3, 1)
    if yh.flags.c_contiguous:
        rows = yh.reshape(len(y), -1)
        rows += np.tile(bias.astype(y.dtype, copy=False), y.shape[2] * y.shape[3])
    else:
        y += bias[:, None, None]
