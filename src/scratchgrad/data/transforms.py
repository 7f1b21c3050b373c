"""Data augmentation on whole batches: (N, C, H, W) float arrays in, the same shape (or size) out.

    augment = Compose([RandomCrop(28, padding=4), RandomRotation(15), ColorJitter(0.2, 0.2)])
    for x, t in loader:
        x = augment(x)          # a Tensor or an ndarray; every sample gets its own random parameters

Unlike torchvision, which transforms one image at a time in the loader, each transform here
draws N random parameters at once and applies them to the whole batch with array arithmetic,
without a Python loop over samples. The geometric ones share one sampler: every output pixel
(i, j) of sample n reads the input at a source position (y, x) computed from (i, j) — a crop
shifts it, a rotation or a zoom maps it through a 2x2 matrix — by one gather per bilinear
corner ("index arithmetic"); source positions outside the image read `fill`.

Randomness: `generator=None` draws from scratchgrad's global generator at call time (so
`sg.manual_seed` makes a run repeatable and the Trainer's checkpoints resume it exactly);
an int seed or a np.random.Generator gives the transform its own stream.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor
from .dataset import as_generator


class Transform:
    """Base class: `apply(x, rng)` maps an (N, C, H, W) array; calling works on arrays and Tensors."""

    def __init__(self, generator=None):
        self.generator = None if generator is None else as_generator(generator)

    def __call__(self, x):
        if isinstance(x, Tensor):
            return Tensor(self.apply(x.data, as_generator(self.generator)))
        return self.apply(np.asarray(x), as_generator(self.generator))

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply `transforms` one after the other (each with its own generator setting)."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def apply(self, x, rng):
        return self(x)


def _uniform(rng, n, low, high, dtype):
    """n draws from U(low, high) in `dtype` (no float64 array leaks into the batch)."""
    return (low + (high - low) * rng.random(n)).astype(dtype)


def _range(v, name, center=0.0):
    """A number v -> (center - v, center + v); a pair stays as it is."""
    if isinstance(v, numbers.Real):
        if v < 0:
            raise ValueError(f"{name} must be non-negative, got {v}")
        return center - v, center + v
    lo, hi = v
    if lo > hi:
        raise ValueError(f"{name} range must be (low, high) with low <= high, got {v}")
    return float(lo), float(hi)


def _size(size):
    return (int(size), int(size)) if isinstance(size, numbers.Integral) else tuple(int(s) for s in size)


# ---- the shared sampler -----------------------------------------------------------------------
def sample(x, sy, sx, mode="bilinear", fill=0.0):
    """Values of x (N, C, H, W) at source positions sy, sx (N, OH, OW) -> (N, C, OH, OW).

    bilinear: the 4 neighbours (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1) weighted by
    (1-wy)(1-wx), (1-wy)wx, wy(1-wx), wy wx with wy = y - y0, wx = x - x0;
    nearest: the pixel at (round(y), round(x)). A neighbour outside the image counts as `fill`.
    Each neighbour is one gather of flat indices n*H*W + y*W + x over the whole batch.
    """
    N, C, H, W = x.shape
    out_hw = sy.shape[1:]
    flat = x.reshape(N, C, H * W)
    if mode == "nearest":
        corners = [(np.rint(sy), np.rint(sx), None)]
    elif mode == "bilinear":
        y0, x0 = np.floor(sy), np.floor(sx)
        wy, wx = (sy - y0).astype(x.dtype), (sx - x0).astype(x.dtype)
        corners = [(y0, x0, (1 - wy) * (1 - wx)), (y0, x0 + 1, (1 - wy) * wx),
                   (y0 + 1, x0, wy * (1 - wx)), (y0 + 1, x0 + 1, wy * wx)]
    else:
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    out = np.zeros((N, C, int(np.prod(out_hw))), x.dtype)
    for iy, ix, weight in corners:           # 1 or 4 gathers, each over the whole batch
        iy, ix = iy.astype(np.intp).reshape(N, -1), ix.astype(np.intp).reshape(N, -1)
        inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
        index = np.clip(iy, 0, H - 1) * W + np.clip(ix, 0, W - 1)
        values = np.take_along_axis(flat, index[:, None, :], axis=2)   # (N, C, OH*OW)
        values = np.where(inside[:, None], values, np.asarray(fill, x.dtype))
        out += values if weight is None else weight.reshape(N, 1, -1) * values
    return out.reshape(N, C, *out_hw)


def affine_grid(matrices, shifts, hw, dtype=np.float32):
    """Source positions (sy, sx), each (N, H, W), of the map about the image centre c:
    source = c + A_n (p - c) + t_n for every output pixel p = (i, j); A (N, 2, 2), t (N, 2), rows (y, x)."""
    H, W = hw
    cy, cx = (H - 1) / 2, (W - 1) / 2
    i = (np.arange(H, dtype=dtype) - cy)[None, :, None]
    j = (np.arange(W, dtype=dtype) - cx)[None, None, :]
    A, t = matrices.astype(dtype)[:, :, :, None, None], shifts.astype(dtype)[:, :, None, None]
    sy = cy + A[:, 0, 0] * i + A[:, 0, 1] * j + t[:, 0]
    sx = cx + A[:, 1, 0] * i + A[:, 1, 1] * j + t[:, 1]
    return sy, sx


# ---- geometric transforms ---------------------------------------------------------------------
class RandomAffine(Transform):
    """Per sample: rotate by an angle in `degrees` (d: U(-d, d); or a (low, high) pair), zoom by a
    factor from U(*scale), shift by up to `translate` = (fraction of W, fraction of H), about the
    image centre; the output keeps the input size.

    A positive angle turns the content counter-clockwise (as torchvision). Output pixel p reads the
    source at c + R(-angle) (p - c) / zoom - shift: the inverse map, so no hole is left.
    """

    def __init__(self, degrees=0.0, translate=None, scale=None, mode="bilinear", fill=0.0, generator=None):
        super().__init__(generator)
        self.degrees = _range(degrees, "degrees")
        self.translate, self.scale = translate, None if scale is None else tuple(float(s) for s in scale)
        self.mode, self.fill = mode, fill

    def apply(self, x, rng):
        N, H, W = x.shape[0], *x.shape[2:]
        angle = np.deg2rad(_uniform(rng, N, *self.degrees, np.float64))
        zoom = _uniform(rng, N, *self.scale, np.float64) if self.scale is not None else np.ones(N)
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        # (y, x) rows: y_s = cos*y + sin*x, x_s = -sin*y + cos*x (y points down, x right)
        A = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)
        shift = np.zeros((N, 2))
        if self.translate is not None:
            ty, tx = self.translate[1] * H, self.translate[0] * W
            shift = -np.stack([_uniform(rng, N, -ty, ty, np.float64), _uniform(rng, N, -tx, tx, np.float64)], 1)
        sy, sx = affine_grid(A, shift, (H, W), x.dtype)
        return sample(x, sy, sx, self.mode, self.fill)


class RandomRotation(RandomAffine):
    """Rotate each sample by its own angle drawn from U(-degrees, degrees) (or a (low, high) pair)."""

    def __init__(self, degrees, mode="bilinear", fill=0.0, generator=None):
        super().__init__(degrees, mode=mode, fill=fill, generator=generator)


class RandomCrop(Transform):
    """Pad each side by `padding` (with `fill`), then cut a size x size window at a random place
    per sample. Integer shifts: the sampler's nearest mode reads exact pixels."""

    def __init__(self, size, padding=0, fill=0.0, generator=None):
        super().__init__(generator)
        self.size, self.padding, self.fill = _size(size), int(padding), fill

    def apply(self, x, rng):
        N, H, W = x.shape[0], *x.shape[2:]
        (h, w), p = self.size, self.padding
        if h > H + 2 * p or w > W + 2 * p:
            raise ValueError(f"crop size {self.size} is larger than the padded image {(H + 2 * p, W + 2 * p)}")
        top = rng.integers(0, H + 2 * p - h + 1, N) - p            # in input coordinates
        left = rng.integers(0, W + 2 * p - w + 1, N) - p
        sy = np.broadcast_to(top[:, None, None] + np.arange(h)[None, :, None], (N, h, w))
        sx = np.broadcast_to(left[:, None, None] + np.arange(w)[None, None, :], (N, h, w))
        return sample(x, sy, sx, "nearest", self.fill)


class CenterCrop(Transform):
    """The central size x size window (top = round((H - h) / 2), as torchvision)."""

    def __init__(self, size):
        super().__init__()
        self.size = _size(size)

    def apply(self, x, rng):
        (h, w), (H, W) = self.size, x.shape[2:]
        if h > H or w > W:
            raise ValueError(f"crop size {self.size} is larger than the image {(H, W)}")
        top, left = int(round((H - h) / 2)), int(round((W - w) / 2))
        return x[:, :, top:top + h, left:left + w].copy()


def interpolation_matrix(n_in, n_out, mode="bilinear", dtype=np.float32):
    """The (n_out, n_in) matrix that resamples one axis (PyTorch's F.interpolate, align_corners=False):
    output i reads the input at (i + 0.5) * n_in / n_out - 0.5 (bilinear, clamped at 0) or at
    floor(i * n_in / n_out) (nearest)."""
    scale = n_in / n_out
    rows = np.arange(n_out)
    M = np.zeros((n_out, n_in), dtype)
    if mode == "nearest":
        M[rows, np.minimum(np.floor(rows * scale).astype(np.intp), n_in - 1)] = 1
        return M
    src = np.maximum((rows + 0.5) * scale - 0.5, 0)
    lo = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    hi, frac = np.minimum(lo + 1, n_in - 1), src - lo
    M[rows, lo] = 1 - frac
    M[rows, hi] += frac      # at the last input pixel hi == lo: the weights add up to 1 there
    return M


class Resize(Transform):
    """Resample every image to `size` (int or (h, w)): separable, y = A_h x A_w^T with the
    interpolation matrices of `interpolation_matrix` (two batched matrix products)."""

    def __init__(self, size, mode="bilinear"):
        super().__init__()
        self.size, self.mode = _size(size), mode

    def apply(self, x, rng):
        (H, W), (h, w) = x.shape[2:], self.size
        Ah = interpolation_matrix(H, h, self.mode, x.dtype)
        Aw = interpolation_matrix(W, w, self.mode, x.dtype)
        return np.matmul(np.matmul(Ah, x), Aw.T)


class RandomScale(RandomAffine):
    """Zoom each sample in or out by its own factor from U(low, high) about the centre, same size."""

    def __init__(self, scale=(0.9, 1.1), mode="bilinear", fill=0.0, generator=None):
        super().__init__(0.0, scale=scale, mode=mode, fill=fill, generator=generator)


class _RandomFlip(Transform):
    axis = -1

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        self.p = p

    def apply(self, x, rng):
        chosen = rng.random(len(x)) < self.p
        out = x.copy()
        out[chosen] = np.flip(x[chosen], axis=self.axis)
        return out


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each sample left-right with probability p."""
    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror each sample upside-down with probability p."""
    axis = -2


# ---- intensity transforms ---------------------------------------------------------------------
class ColorJitter(Transform):
    """Per sample: brightness x *= b, then contrast x = (x - mean) * c + mean (mean over the
    sample's pixels and channels), with b, c from U(1 - v, 1 + v) (floored at 0); clipped to
    `clip` (the [0, 1] range of image data; None: no clipping, e.g. after Normalize)."""

    def __init__(self, brightness=0.0, contrast=0.0, clip=(0.0, 1.0), generator=None):
        super().__init__(generator)
        self.brightness, self.contrast = _range(brightness, "brightness", 1.0), _range(contrast, "contrast", 1.0)
        self.clip = clip

    def apply(self, x, rng):
        N = len(x)
        shape = (N,) + (1,) * (x.ndim - 1)
        b = _uniform(rng, N, max(self.brightness[0], 0.0), self.brightness[1], x.dtype).reshape(shape)
        c = _uniform(rng, N, max(self.contrast[0], 0.0), self.contrast[1], x.dtype).reshape(shape)
        out = x * b
        mean = out.reshape(N, -1).mean(axis=1).reshape(shape)
        out = (out - mean) * c + mean
        return out if self.clip is None else np.clip(out, *self.clip, out=out)


class GaussianNoise(Transform):
    """x + std * N(0, 1), independently per element; optionally clipped to `clip`."""

    def __init__(self, std=0.1, clip=None, generator=None):
        super().__init__(generator)
        self.std, self.clip = float(std), clip

    def apply(self, x, rng):
        out = x + rng.standard_normal(x.shape, dtype=np.float32).astype(x.dtype, copy=False) * x.dtype.type(self.std)
        return out if self.clip is None else np.clip(out, *self.clip, out=out)


class Normalize(Transform):
    """(x - mean[c]) / std[c] per channel (e.g. MNIST's mean 0.1307, std 0.3081)."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if np.any(self.std == 0):
            raise ValueError("std must not contain zeros")

    def apply(self, x, rng):
        m = self.mean.astype(x.dtype)[:, None, None]
        s = self.std.astype(x.dtype)[:, None, None]
        return (x - m) / s


# ---- the CLI's --augment names ------------------------------------------------------------------
def from_names(names, image_size: int) -> Compose:
    """A Compose of the augmentations named as in `scratchgrad train --augment`, with settings that
    suit small grey images of side `image_size` (MNIST 28, digits 8):

    flip   RandomHorizontalFlip(0.5)            vflip  RandomVerticalFlip(0.5)
    crop   RandomCrop(size, padding=size // 7)  rotate RandomRotation(15)
    scale  RandomScale((0.9, 1.1))              jitter ColorJitter(brightness=0.2, contrast=0.2)
    noise  GaussianNoise(0.05, clip=(0, 1))
    """
    makers = {"flip": lambda: RandomHorizontalFlip(), "vflip": lambda: RandomVerticalFlip(),
              "crop": lambda: RandomCrop(image_size, padding=max(1, image_size // 7)),
              "rotate": lambda: RandomRotation(15), "scale": lambda: RandomScale((0.9, 1.1)),
              "jitter": lambda: ColorJitter(0.2, 0.2), "noise": lambda: GaussianNoise(0.05, clip=(0.0, 1.0))}
    unknown = [n for n in names if n not in makers]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(makers)}")
    return Compose([makers[n]() for n in names])


__all__ = ["CenterCrop", "ColorJitter", "Compose", "GaussianNoise", "Normalize", "RandomAffine", "RandomCrop",
           "RandomHorizontalFlip", "RandomRotation", "RandomScale", "RandomVerticalFlip", "Resize", "Transform",
           "affine_grid", "from_names", "interpolation_matrix", "sample"]
