"""Primitive ops (functional form) and the Tensor methods and operators built on them."""
from __future__ import annotations

from ..tensor import Tensor
from .activation import (dropout, elu, erf, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax,
                         softplus, tanh)
from .arithmetic import (ShapeError, abs, add, cast, clamp, clone, div, exp, log, matmul, maximum, minimum,
                         mul, neg, pow, sqrt, sub, where)
from .reduce import (amax, amin, argmax, argmin, broadcast_to, expand, logsumexp, max, mean, min, std, sum,
                     sum_to, var)
from .shape import (cat, chunk, concatenate, flatten, gather, getitem, index_put, one_hot, pad, permute,
                    reshape, scatter_add_along, split, squeeze, stack, transpose, unbind, unsqueeze)
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .im2col import col2im, im2col
from .pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d,
                      max_pool2d, max_unpool2d)
from .resample import channel_shuffle, interpolate, pixel_shuffle, pixel_unshuffle
from .pooling_variants import (adaptive_avgmax_pool2d, avgmax_pool2d, bilinear_pool2d, median_pool2d, netvlad,
                               spatial_pyramid_pool2d, stochastic_pool2d)
from .deform_conv import deform_conv2d

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("Tensor", "annotations")]


def _rev(fn):
    return lambda self, other: fn(other, self)


def _install_tensor_methods():
    T = Tensor
    T.__add__, T.__radd__ = add, _rev(add)
    T.__sub__, T.__rsub__ = sub, _rev(sub)
    T.__mul__, T.__rmul__ = mul, _rev(mul)
    T.__truediv__, T.__rtruediv__ = div, _rev(div)
    T.__pow__, T.__rpow__ = pow, _rev(pow)
    T.__matmul__, T.__rmatmul__ = matmul, _rev(matmul)
    T.__neg__ = neg
    T.__pos__ = lambda self: self
    T.__abs__ = abs
    T.__getitem__ = getitem
    # comparisons give boolean tensors (no gradient), as in PyTorch
    for name, op in [("__lt__", "less"), ("__le__", "less_equal"), ("__gt__", "greater"),
                     ("__ge__", "greater_equal"), ("__eq__", "equal"), ("__ne__", "not_equal")]:
        setattr(T, name, (lambda f: lambda self, o: Tensor(f(self.data, o.data if isinstance(o, Tensor) else o)))(
            getattr(__import__("numpy"), op)))
    for fn in (add, sub, mul, div, neg, exp, log, sqrt, abs, clamp, sum, mean, var, std, max, min, amax, amin,
               argmax, argmin, logsumexp, expand, sum_to, reshape, permute, transpose, squeeze, unsqueeze,
               flatten, gather, index_put, sigmoid, tanh, relu, softmax, log_softmax, maximum, minimum, split,
               chunk, unbind):
        setattr(T, fn.__name__, fn)
    T.view = reshape
    T.broadcast_to = expand
    T.clip = clamp
    T.pow = pow
    T.matmul = matmul
    T.t = lambda self: transpose(self, 0, 1) if self.ndim == 2 else self
    T.contiguous = lambda self: self
    T.mT = property(lambda self: transpose(self, -1, -2))
    T.expand_as = lambda self, other: expand(self, other.shape)
    T.view_as = lambda self, other: reshape(self, other.shape)
    T.__hash__ = lambda self: id(self)


_install_tensor_methods()
