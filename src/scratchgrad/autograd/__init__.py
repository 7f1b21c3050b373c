"""Autograd: the Function protocol, the backward engine, `grad`, gradient checks and DOT graphs."""
from .function import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .functional import grad
from .gradcheck import gradcheck, gradgradcheck
from .dot import to_dot

__all__ = ["Function", "enable_grad", "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad",
           "set_grad_enabled", "to_dot"]
