"""Spectral normalisation (Miyato et al., 2018) as a layer wrapper, like `torch.nn.utils.spectral_norm`.

    D = nn.Sequential(spectral_norm(nn.Linear(784, 512)), nn.LeakyReLU(0.2), spectral_norm(nn.Linear(512, 1)))

The layer's weight W is divided by its largest singular value sigma(W), so every layer is (about)
1-Lipschitz and so is the discriminator: the Lipschitz constraint of the Wasserstein critic, without
clipping or a gradient penalty.

sigma is estimated by power iteration on the (out, in) matrix W (other weights are reshaped to
(W.shape[dim], -1)), one step per training forward pass, with u and v kept between steps:

    v <- W^T u / ||W^T u||,    u <- W v / ||W v||,    sigma = u^T W v,    W_SN = W / sigma

u and v are constants for autograd (no gradient flows through the iteration), so
d sigma / dW = u v^T. Names as in PyTorch: the learned parameter is `weight_orig`, the buffers
`weight_u` (out,) and `weight_v` (in,); `weight` itself is recomputed before every forward.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, get_rng


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    """x / max(||x||, eps)   (torch.nn.functional.normalize of a vector)."""
    return x / max(float(np.linalg.norm(x)), eps)


class SpectralNorm:
    """The forward pre-hook that recomputes `module.<name>` = <name>_orig / sigma."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def weight_matrix(self, weight):
        """The weight as a matrix (weight.shape[dim], -1) (an ndarray or a Tensor)."""
        if self.dim != 0:
            order = (self.dim,) + tuple(d for d in range(weight.ndim) if d != self.dim)
            weight = weight.permute(*order) if isinstance(weight, Tensor) else weight.transpose(order)
        return weight.reshape(weight.shape[0], -1)

    def power_iteration(self, module) -> None:
        """n_power_iterations steps on the stored u, v (in place, no graph)."""
        W = self.weight_matrix(getattr(module, self.name + "_orig").data)
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        for _ in range(self.n_power_iterations):
            v.data[...] = _normalize(W.T @ u.data, self.eps)
            u.data[...] = _normalize(W @ v.data, self.eps)
        u._version += 1
        v._version += 1

    def compute_weight(self, module, do_power_iteration: bool) -> Tensor:
        """W / sigma with sigma = u^T W v (differentiable in W; u and v are constants)."""
        if do_power_iteration:
            self.power_iteration(module)
        weight = getattr(module, self.name + "_orig")
        u = Tensor(getattr(module, self.name + "_u").data.copy())   # copies: later iterations must not
        v = Tensor(getattr(module, self.name + "_v").data.copy())   # change what this graph saved
        sigma = (u * (self.weight_matrix(weight) @ v)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    def remove(self, module) -> None:
        from ..autograd.function import no_grad
        from ..nn.parameter import Parameter
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        module.__dict__.pop(self.name, None)
        for suffix in ("_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.data))


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None):
    """Wrap `module` so that `module.<name>` is spectrally normalised before every forward; returns module.

    dim: the output axis of the weight (default 0; 1 for ConvTranspose layers, whose weight is
    (in, out, kh, kw)). u and v start as normalised N(0, 1) draws from scratchgrad's generator."""
    if any(isinstance(h, SpectralNorm) and h.name == name for h in module._forward_pre_hooks.values()):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        dim = 1 if "ConvTranspose" in type(module).__name__ else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    weight = module._parameters[name]
    h, w = fn.weight_matrix(weight.data).shape
    dtype = weight.dtype
    u = _normalize(get_rng().standard_normal(h).astype(dtype), eps)
    v = _normalize(get_rng().standard_normal(w).astype(dtype), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)          # the same Parameter object (optimizers keep it)
    object.__setattr__(module, name, Tensor(weight.data))        # a plain attribute, recomputed by the hook
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo `spectral_norm`: `name` becomes a plain Parameter again holding W / sigma."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")


def largest_singular_value(weight) -> float:
    """sigma_max of a weight (as a (shape[0], -1) matrix), exactly, by SVD (for checks and figures)."""
    W = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    return float(np.linalg.svd(W.reshape(W.shape[0], -1), compute_uv=False)[0])
