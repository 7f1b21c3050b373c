"""`summary(model, input_size)`: per layer output shape, parameters, MACs and receptive field.

    >>> import scratchgrad as sg
    >>> from scratchgrad import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    ...                     nn.Linear(8 * 14 * 14, 10))
    >>> s = sg.summary(net, (1, 28, 28))
    >>> s.total_params, s.total_macs        # 8*9+8 + 1568*10+10;  8*28*28*9 + 1568*10
    (15770, 72128)
    >>> [layer.rf for layer in s.layers]    # receptive field along H
    [3, 3, 4, None, None]

One forward pass on zeros (batch `batch_size`, eval mode, no weights change) with hooks on every
leaf module (a module without children) records one row per call of a leaf:

- output shape, parameters (trainable and not; a module called twice counts them once);
- MACs (multiply-accumulates) of convolutions and fully connected layers only, the convention of
  the published figures (ResNet-50 4.1 G, VGG-16 15.5 G, MobileNetV2 0.30 G at 224x224):
      conv             C_out * OH * OW * (C_in / groups) * KH * KW     (= out.size * weight[0].size)
      conv transpose   C_in * H * W * (C_out / groups) * KH * KW       (= in.size * weight[0].size)
      linear           in_features * out_features per row
  Batch norm, pooling, activations and additions are not counted (they add about 1-3%); biases
  neither. FLOPs = 2 * MACs.
- receptive field size, jump and start along H (see receptive_field.py). The RF follows the data:
  the outputs of the leaf layers are tagged and the small graph of the operations between layers
  (additions of a residual block, concatenations, flatten) is walked back to the tagged tensors.
  Where branches meet (ResNet's add, Inception's concat) a unit gets the largest RF of its branches,
  i.e. the main path; a branch without spatial extent (an SE block's global gate) is ignored unless
  every branch is one. Tensors without spatial axes (after flatten or a Linear) and maps pooled to 1x1
  have RF None ("all": every unit sees the whole input).
  Functional ops between layers (F.interpolate, F.max_pool2d in a forward()) are seen only through
  the size change they make: a resize by out/in (a k = s window when it shrinks the map).
"""
from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass

import numpy as np

from ..autograd.function import _grad_mode
from ..tensor import Tensor
from .receptive_field import INPUT, _num, layer_step, resize_step


@dataclass
class LayerInfo:
    """One call of a leaf module."""
    name: str                  # dotted name in the model, e.g. "layer1.0.conv2"
    type: str                  # class name, e.g. "Conv2d"
    input_shape: tuple
    output_shape: tuple
    params: int                # parameters of this module (0 on its second call)
    trainable_params: int
    macs: int                  # multiply-accumulates of this call (conv and linear only)
    rf: float | None           # receptive field size along H, in input pixels (None: all of the input)
    jump: float | None         # input pixels between neighbouring units (product of strides)
    start: float | None        # centre of the first unit's field


# ---- what a layer costs -----------------------------------------------------------------------
def is_conv(module) -> bool:
    """Convolutions (Conv1d/2d, ConvTranspose, deformable conv, ...): a window and a >= 3-D weight."""
    w = getattr(module, "weight", None)
    return hasattr(module, "kernel_size") and isinstance(w, Tensor) and w.ndim >= 3


def layer_macs(module, x: Tensor | None, out: Tensor | None) -> int:
    """Multiply-accumulates of one call of a leaf module (0 for all but conv and linear layers)."""
    if out is None:
        return 0
    if is_conv(module):
        per_unit = math.prod(module.weight.shape[1:])  # (C_in/g)*KH*KW, or (C_out/g)*KH*KW if transposed
        transposed = getattr(module, "_transposed", False)
        return int((x.data.size if transposed else out.data.size) * per_unit)
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return int(out.data.size // module.out_features * module.in_features * module.out_features)
    return 0


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """The notes' l_o = floor((l_i + 2p - k) / s) + 1, with dilation: k -> d(k-1)+1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_params(c_in: int, c_out: int, k: int | tuple, groups: int = 1, bias: bool = True) -> int:
    """The notes' c_i * c_o * k_w * k_h, divided by the groups, plus c_o biases."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return c_in // groups * c_out * kh * kw + (c_out if bias else 0)


def conv_macs(c_in: int, c_out: int, out_hw: tuple, k: int | tuple, groups: int = 1) -> int:
    """C_out * OH * OW * (C_in / groups) * KH * KW multiply-accumulates for one image."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return c_out * out_hw[0] * out_hw[1] * (c_in // groups) * kh * kw


# ---- the table --------------------------------------------------------------------------------
def _fmt_int(n) -> str:
    return f"{n:,}" if n else "--"


def human(n: float) -> str:
    """12_345_678 -> '12.35 M' (K, M, G)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def leaf_modules(model) -> list:
    """(dotted name, module) of every module without children, in registration order."""
    return [(name or type(m).__name__, m) for name, m in model.named_modules() if not m._modules]


class Summary:
    """What `summary` measured: `layers` (LayerInfo per call of a leaf) and the totals."""

    def __init__(self, model_name: str, input_size: list, batch_size: int, layers: list, total_params: int,
                 trainable_params: int, rf_note: str = ""):
        self.model_name, self.input_size, self.batch_size = model_name, input_size, batch_size
        self.layers, self.total_params, self.trainable_params = layers, total_params, trainable_params
        self.rf_note = rf_note

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    def to_dict(self) -> dict:
        return {"model": self.model_name, "input_size": self.input_size, "batch_size": self.batch_size,
                "layers": [asdict(layer) for layer in self.layers], "total_params": self.total_params,
                "trainable_params": self.trainable_params, "non_trainable_params": self.non_trainable_params,
                "total_macs": self.total_macs, "total_flops": self.total_flops, "rf_note": self.rf_note}

    def __str__(self):
        head = ("Layer (type)", "Output shape", "Param #", "MACs", "RF", "Jump", "Start")
        rows = [(f"{layer.name} ({layer.type})", str(list(layer.output_shape)), _fmt_int(layer.params),
                 _fmt_int(layer.macs), *("all" if v is None else str(_num(v))
                                         for v in (layer.rf, layer.jump, layer.start)))
                for layer in self.layers]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        rule = "=" * len(line(head))
        macs = self.total_macs
        shapes = ", ".join(str(tuple(s)) for s in self.input_size)
        out = [f"{self.model_name}: input {shapes}, batch {self.batch_size}", rule, line(head), rule,
               *map(line, rows), rule,
               f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
               f"Non-trainable params: {self.non_trainable_params:,}",
               f"Total MACs: {macs:,} ({human(macs)}; FLOPs = 2 x MACs = {human(2 * macs)})",
               "MACs: convolutions and linear layers only. RF/Jump/Start: along H, in input pixels."]
        if self.rf_note:
            out.append(self.rf_note)
        return "\n".join(out + [rule])

    __repr__ = __str__


# ---- the forward pass with hooks --------------------------------------------------------------
def _tensors(obj) -> list:
    """The float Tensors in a module's input or output (a Tensor, or a tuple/list of them)."""
    items = obj if isinstance(obj, (tuple, list)) else (obj,)
    return [t for t in items if isinstance(t, Tensor) and t.data.dtype.kind == "f"]


def _pooled_to_one(x: Tensor, out: Tensor) -> bool:
    """Global pooling: a map with spatial extent became 1x1 (its units see the whole input)."""
    return x.ndim >= 3 and out.ndim == x.ndim and max(x.shape[2:]) > 1 and max(out.shape[2:]) == 1


class _Recorder:
    """Forward hooks on every leaf module that fill `layers` (see the module docstring).

    Each leaf's own forward runs without a graph (pre-hook: grad off; hook: grad back on); its float
    outputs are then marked `requires_grad` so that the operations between leaves record a (small)
    graph, which `_rf_of` walks back to the nearest marked tensors.
    """

    def __init__(self, model, track_graph: bool = True):
        self.model, self.track_graph = model, track_graph
        self.layers, self.seen_params = [], set()
        self.marked = {}         # id(tensor) -> (weakref to it, its RF or None)
        self.last = INPUT        # without graph tracking: the RF along the order of execution
        self.handles, self.grad_modes = [], []
        self.names = {}

    def __enter__(self):
        for name, m in leaf_modules(self.model):
            self.names[id(m)] = name
            self.handles.append(m.register_forward_pre_hook(self.pre))
            self.handles.append(m.register_forward_hook(self.post))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return False

    def pre(self, module, args):
        self.grad_modes.append(_grad_mode.enabled)
        _grad_mode.enabled = False

    def _rf_of(self, x: Tensor | None):
        """The RF of tensor x: from the nearest marked tensors it was computed from."""
        if not self.track_graph:
            return self.last
        found, stack, seen = [], [x] if x is not None else [], set()
        while stack:
            t = stack.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            entry = self.marked.get(id(t))
            if entry is not None and entry[0]() is t:
                rf = entry[1]
                if rf is not None and t.ndim >= 3 and x.ndim >= 3 and t.shape[2] != x.shape[2]:
                    # a functional resize or pooling in between: global pooling, or a resize by out/in
                    rf = None if _pooled_to_one(t, x) else resize_step(rf, x.shape[2] / t.shape[2])
                found.append(rf)
            elif t.creator is not None and t.creator.inputs is not None:
                stack.extend(t.creator.inputs)
        if not found:
            return INPUT
        spatial = [rf for rf in found if rf is not None]
        return max(spatial, key=lambda rf: rf.size) if spatial else None

    def post(self, module, args, output):
        _grad_mode.enabled = self.grad_modes.pop()
        xs, outs = _tensors(args), _tensors(output)
        x, out = (xs[0] if xs else None), (outs[0] if outs else None)
        rf = self._rf_of(x)
        if out is None or out.ndim < 3 or (x is not None and _pooled_to_one(x, out)):
            rf = None
        elif rf is not None and x is not None and x.ndim >= 3:
            rf = layer_step(module, rf, x.shape[2], out.shape[2])
        if self.track_graph:
            for t in outs:
                t.requires_grad_(True)
                self.marked[id(t)] = (weakref.ref(t), rf)
        elif rf is not None:
            self.last = rf
        own = [p for p in module.parameters() if id(p) not in self.seen_params]
        self.seen_params.update(id(p) for p in own)
        self.layers.append(LayerInfo(
            self.names[id(module)], type(module).__name__, tuple(x.shape) if x is not None else (),
            tuple(out.shape) if out is not None else (), sum(p.numel() for p in own),
            sum(p.numel() for p in own if p.requires_grad), layer_macs(module, x, out),
            *((rf.size, rf.jump, rf.start) if rf is not None else (None, None, None))))


def _run(model, xs, track_graph: bool) -> list:
    modes = [(m, m.training) for m in model.modules()]
    grad_mode = _grad_mode.enabled
    model.eval()
    try:
        _grad_mode.enabled = True
        with _Recorder(model, track_graph) as rec:
            model(*xs)
        return rec.layers
    finally:
        _grad_mode.enabled = grad_mode
        for m, mode in modes:
            m.__dict__["training"] = mode


def summary(model, input_size, batch_size: int = 1, dtypes=None) -> Summary:
    """Run `model` once on zeros of shape (batch_size, *input_size) and tabulate its leaf layers.

    input_size: the shape of one sample without the batch axis, e.g. (3, 224, 224), or a list of
    such shapes for a model taking several inputs (then `dtypes` is one dtype per input; default
    float32). The model is left as it was (train/eval modes restored, no statistics updated).
    `print(summary(...))` shows the table; `.to_dict()` gives plain data.
    """
    sizes = [tuple(input_size)] if all(isinstance(n, (int, np.integer)) for n in input_size) \
        else [tuple(s) for s in input_size]
    dtypes = list(dtypes) if dtypes is not None else [np.float32] * len(sizes)
    xs = [Tensor(np.zeros((batch_size, *s), dtype=dt)) for s, dt in zip(sizes, dtypes)]
    note = "Receptive field: the largest over merging branches (the main path)."
    try:
        layers = _run(model, xs, track_graph=True)
    except RuntimeError:  # the forward modifies a tensor in place, which a graph cannot record
        layers = _run(model, [Tensor(x.data) for x in xs], track_graph=False)
        note = "Receptive field: along the order in which the layers ran (the forward works in place)."
    params = list(model.parameters())
    return Summary(type(model).__name__, [list(s) for s in sizes], batch_size, layers,
                   sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad), note)
