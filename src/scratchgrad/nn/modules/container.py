"""Containers: Sequential, ModuleList, ModuleDict (children keyed "0", "1", ... or by name)."""
from __future__ import annotations

from collections import OrderedDict

from ..module import Module
from .activation import ReLU
from .conv import Conv2d


def _index(i: int, n: int, what: str) -> int:
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {what} of length {n}")
    return i % n


class ModuleList(Module):
    """A list of Modules whose parameters the parent sees (a plain Python list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), type(self).__name__))]

    def __setitem__(self, idx: int, module: Module):
        self.add_module(str(_index(idx, len(self), type(self).__name__)), module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        del mods[idx]
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module: Module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        self.extend(mods)


class Sequential(ModuleList):
    """Chain modules: Sequential(a, b, c)(x) == c(b(a(x))). Children are named "0", "1", ...
    or by the keys of an OrderedDict: Sequential(OrderedDict(fc=Linear(2, 3), act=ReLU()))."""

    def __init__(self, *args):
        Module.__init__(self)
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            self.extend(args)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        return self._modules[key]

    def __setitem__(self, idx: int, module: Module):
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def forward(self, x):
        mods = list(self._modules.values())
        i = 0
        while i < len(mods):
            if i + 1 < len(mods) and _conv_then_relu(mods[i], mods[i + 1]):
                x = mods[i].forward(x, relu=True)      # one op: see ops/conv.py, class Conv2d
                i += 2
            else:
                x = mods[i](x)
                i += 1
        return x


def _conv_then_relu(m, nxt):
    """A Conv2d followed by a ReLU, which Sequential runs as one op (same result, faster). Not when a
    hook watches either layer (it would miss the output between them) or a subclass changed them."""
    return (type(nxt) is ReLU and isinstance(m, Conv2d) and type(m).forward is Conv2d.forward
            and not (m._forward_pre_hooks or m._forward_hooks or nxt._forward_pre_hooks or nxt._forward_hooks))


class ModuleDict(Module):
    """A dict of Modules (insertion ordered) whose parameters the parent sees."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module):
        self.add_module(key, module)

    def __delitem__(self, key: str):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self[key] = m
