"""`Parameter`: a Tensor that a Module registers as learnable.

    self.w = nn.Parameter(sg.randn(3, 4))   # appears in module.parameters()
"""
from __future__ import annotations

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor, _to_array


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True that `Module.__setattr__` registers.

    `Parameter(t)` shares t's array (no copy), as in PyTorch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = np.empty(0, dtype=DEFAULT_DTYPE)
        elif isinstance(data, (Tensor, np.ndarray)):
            arr = data.data if isinstance(data, Tensor) else data
        else:
            arr = _to_array(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
