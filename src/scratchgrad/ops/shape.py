"""Shape and indexing ops: reshape, permute, getitem, index_put, cat/stack/split, pad, gather.

Repeated indices accumulate in backward. The scatter-add behind getitem, gather and
index_put(accumulate=True) is `np.bincount` (single elements) or a 0/1 sparse-matrix product
(whole rows, as in an embedding's gradient): several times faster than `np.add.at`.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor
from .arithmetic import ShapeError


def _scatter_add(shape, key, g: np.ndarray) -> np.ndarray:
    """out = zeros(shape); out[key] += g, where repeated indices ACCUMULATE (unlike out[key] = g).

    Keys of integer/boolean arrays on the leading dims (embedding rows, x[rows, cols], masks)
    become one flat row index: a bincount for single elements, a sparse-matrix product for
    whole rows. Anything else (slices between arrays, None, ...) numbers the elements of
    `shape` and bincounts those numbers. No np.add.at (slow) and no Python loop.
    """
    keys = _lead_index_arrays(key, len(shape))
    if keys is None:  # general key: number the elements of `shape`, then index the numbers
        keys = (np.arange(int(np.prod(shape))).reshape(shape)[key],)
        lead_shape, rest = (int(np.prod(shape)),), 1
    else:
        lead_shape, rest = shape[:len(keys)], int(np.prod(shape[len(keys):]))
    rows = np.ravel_multi_index(keys, lead_shape, mode="wrap").ravel()  # broadcasts the index arrays
    n_rows = int(np.prod(lead_shape))
    g2 = g.reshape(rows.size, rest)
    if rest == 1:
        out = np.bincount(rows, weights=g2[:, 0], minlength=n_rows).astype(g.dtype, copy=False)
    else:  # sum whole rows: (n_rows x M) 0/1 sparse matrix times (M x rest)
        from scipy import sparse
        m = sparse.csr_matrix((np.ones(rows.size, dtype=g.dtype), (rows, np.arange(rows.size))),
                              shape=(n_rows, rows.size))
        out = np.asarray(m @ g2)
    return out.reshape(shape)


def _lead_index_arrays(key, ndim):
    """`key` as a tuple of integer arrays for the leading dims (a boolean mask counts as its
    nonzero() arrays), or None when it has slices, None or Ellipsis."""
    keys = key if isinstance(key, tuple) else (key,)
    out = []
    for k in keys:
        if k is None or k is Ellipsis or isinstance(k, slice):
            return None
        k = np.asarray(k)
        if k.dtype == bool and k.ndim:
            out.extend(np.nonzero(k))
        elif k.dtype.kind in "iu":
            out.append(k)
        else:
            return None
    return tuple(out) if len(out) <= ndim else None


class Reshape(Function):
    """y = x viewed as `shape`    gx = gy viewed as x.shape"""
    saves_inputs = False
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with axes permuted   gx = gy with the inverse permutation"""
    saves_inputs = False
    is_view = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return np.transpose(x, self.axes)

    def backward(self, gy):
        return gy.permute(*np.argsort(self.axes))


def _is_basic(key):
    """True for keys of ints, slices, None and Ellipsis only (NumPy returns a view)."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) for k in keys)


class GetItem(Function):
    """y = x[key]                  gx = zeros(x.shape) with gx[key] += gy (repeats accumulate)"""
    saves_inputs = False

    def __init__(self, key):
        self.key = key
        self.is_view = _is_basic(key)

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        return GetItemGrad(self.key, self.inputs[0].shape)(gy)


class GetItemGrad(Function):
    """y = zeros(shape); y[key] += g      gg = gy[key]      (the backward of getitem)"""
    saves_inputs = False

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, g):
        if _is_basic(self.key):  # no repeats possible: plain assignment
            out = np.zeros(self.shape, dtype=g.dtype)
            out[self.key] = g
            return out
        return _scatter_add(self.shape, self.key, g)

    def backward(self, gy):
        return gy[self.key]


class IndexPut(Function):
    """y = x with y[key] = v        gx = gy with gy[key] = 0,  gv = gy[key]
    accumulate: y[key] += v         gx = gy,                   gv = gy[key]"""
    saves_inputs = False

    def __init__(self, key, accumulate=False):
        self.key, self.accumulate = key, accumulate

    def forward(self, x, v):
        y = x.copy()
        if self.accumulate:  # repeated indices add up
            y += _scatter_add(x.shape, self.key, np.broadcast_to(v, x[self.key].shape).astype(x.dtype))
        else:
            y[self.key] = v
        return y

    def backward(self, gy):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = gy if self.accumulate else index_put(gy, self.key, 0.0)
        if self.needs_input_grad[1]:
            gv = gy[self.key]
        return gx, gv


class Cat(Function):
    """y = concat(xs, axis)        gx_i = the i-th slab of gy"""
    saves_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        return split(gy, self.sizes, self.axis)


class Split(Function):
    """ys = pieces of x along axis  gx = concat(gys) (zeros for unused pieces)"""
    saves_inputs = False
    is_view = True

    def __init__(self, sizes, axis):
        self.sizes, self.axis = sizes, axis

    def forward(self, x):
        self.dtype = x.dtype
        bounds = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(x, bounds, axis=self.axis))

    def backward(self, *gys):
        shape = list(self.inputs[0].shape)
        parts = []
        for n, g in zip(self.sizes, gys):
            if g is None:
                shape[self.axis] = n
                g = Tensor(np.zeros(shape, dtype=self.dtype))
            parts.append(g)
        return cat(parts, self.axis)


class Pad(Function):
    """y = x padded with a constant   gx = the centre slice of gy"""
    saves_inputs = False

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return np.pad(x, self.widths, constant_values=self.value)

    def backward(self, gy):
        key = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return gy[key]


def _along_key(index, axis):
    """The advanced-index key that picks x[i][index[i][j]][k] (index at `axis`, aranges elsewhere),
    which also allows an index smaller than x in the other dims (as PyTorch's gather)."""
    key = [np.arange(n).reshape((-1,) + (1,) * (index.ndim - 1 - d)) for d, n in enumerate(index.shape)]
    key[axis] = index
    return tuple(key)


class Gather(Function):
    """y[i][j] = x[i][index[i][j]]  (dim=1)      gx = zeros; gx[i][index[i][j]] += gy[i][j]"""
    saves_inputs = False

    def __init__(self, axis, index):
        self.axis, self.index = axis, index

    def forward(self, x):
        return x[_along_key(self.index, self.axis)]

    def backward(self, gy):
        return scatter_add_along(gy, self.index, self.axis, self.inputs[0].shape)


class ScatterAddAlong(Function):
    """y = zeros(shape); y[i][index[i][j]] += g[i][j]  (dim=1)      gg = gather(gy, index)"""
    saves_inputs = False

    def __init__(self, index, axis, shape):
        self.index, self.axis, self.shape = index, axis, tuple(shape)

    def forward(self, g):
        return _scatter_add(self.shape, _along_key(self.index, self.axis), g)

    def backward(self, gy):
        return Gather(self.axis, self.index)(gy)


# ---- functional API -----------------------------------------------------------
def reshape(x, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


def permute(x, *axes):
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    axes = tuple(int(a) % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute(axes)(x)


def transpose(x, dim0=None, dim1=None):
    """Swap two dims (PyTorch); with no dims, reverse all (NumPy's `.T`)."""
    if dim0 is None:
        return Permute(tuple(reversed(range(x.ndim))))(x)
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {int(d) % x.ndim for d in ((dim,) if np.ndim(dim) == 0 else dim)}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def flatten(x, start_dim=0, end_dim=-1):
    end = end_dim % x.ndim if x.ndim else 0
    shape = x.shape[:start_dim] + (-1,) + x.shape[end + 1:]
    return reshape(x, shape)


def _key(key):
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return key.data if isinstance(key, Tensor) else key


def getitem(x, key):
    return GetItem(_key(key))(x)


def index_put(x, key, value, accumulate=False):
    """Out-of-place `x[key] = value` (or `+= value` with accumulate) that gradients flow through,
    to x and to value. `key` is anything `x[key]` accepts: ints, slices, index arrays, masks."""
    return IndexPut(_key(key), accumulate)(x, as_tensor(value, like=x))


def cat(xs, dim=0):
    xs = [as_tensor(x) for x in xs]
    return Cat(dim % xs[0].ndim)(*xs)


concatenate = cat


def stack(xs, dim=0):
    xs = [as_tensor(x) for x in xs]
    d = dim % (xs[0].ndim + 1)
    return cat([unsqueeze(x, d) for x in xs], d)


def split(x, split_size_or_sections, dim=0):
    """PyTorch's split: an int is the size of each piece (last may be smaller); a list gives sizes."""
    dim = dim % x.ndim
    n = x.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to dim {dim} of shape {x.shape}")
    out = Split(sizes, dim)(x)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks, dim=0):
    """At most `chunks` pieces of equal size ceil(n / chunks) (the last may be smaller), as PyTorch."""
    n = x.shape[dim]
    return split(x, -(-n // chunks), dim)


def unbind(x, dim=0):
    """The slices x[i] along `dim`, as a tuple."""
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: `pad` lists (left, right) pairs starting from the LAST dim."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} (only 'constant')")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad(tuple(widths), value)(x)


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] for dim=1."""
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(idx.shape, x.shape)) if d != dim % x.ndim):
        raise ShapeError(f"gather: index of shape {idx.shape} does not fit input of shape {x.shape} along "
                         f"dim {dim} (same number of dims, and no larger in the other dims)")
    return Gather(dim % x.ndim, idx.astype(np.int64, copy=False))(x)


def scatter_add_along(g, index, axis, shape):
    """Differentiable `zeros(shape).scatter_add_(axis, index, g)`."""
    return ScatterAddAlong(index, axis, shape)(g)


def one_hot(indices, num_classes=-1, dtype=np.int64):
    """One-hot rows (no gradient); int64 as PyTorch, or pass the logits' dtype."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    out = np.zeros(idx.shape + (n,), dtype=dtype)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor(out)
