"""Float64 gradient checks (first and second order) for every primitive op.

`CASES` is the shared op table: test_ops_parity.py runs the same cases against PyTorch.
Each case: a scratchgrad function, the PyTorch function (`T` is the torch module), and one
input generator per differentiable input. Constants (indices, masks) live in the lambdas.
Shapes include broadcasting, and index cases include repeated indices (which must accumulate).
"""
from dataclasses import dataclass, field

import numpy as np
import pytest

import scratchgrad as sg


# ---- input generators: rng -> float64 array --------------------------------------------------
def R(*shape):
    """Standard normal values."""
    return lambda rng: rng.standard_normal(shape)


def P(*shape):
    """Positive values in [0.5, 2] (log, sqrt, division, fractional powers)."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def A(*shape, avoid=(0.0,), gap=0.1):
    """Normal values at least `gap` away from the kinks in `avoid` (relu, abs, clamp, ...)."""
    def make(rng):
        x = rng.standard_normal(shape)
        for k in avoid:
            near = np.abs(x - k) < gap
            x[near] = k + np.where(x[near] >= k, gap, -gap) * (1.0 + rng.uniform(0, 1, near.sum()))
        return x
    return make


def Pair(shape_a, shape_b, gap=0.1):
    """Two inputs that never tie, even after broadcasting (maximum/minimum)."""
    def make(rng):
        while True:
            a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
            if np.abs(a - b).min() > gap:
                return a, b
    return make


@dataclass
class Case:
    name: str
    sg_fn: callable
    torch_fn: callable
    inputs: list
    gradgrad: bool = True
    tags: tuple = field(default_factory=tuple)

    def make(self, rng):
        arrays = []
        for gen in self.inputs:
            out = gen(rng)
            arrays.extend(out if isinstance(out, tuple) else (out,))
        return arrays


def ti(T, a):
    """An index array as a torch tensor."""
    return T.as_tensor(np.asarray(a))


IDX = np.array([0, 2, 0, 0])                      # repeated rows
IDX2 = np.array([[0, 1], [1, 1], [3, 0]])         # 2-D index array, repeats
ROWS, COLS = np.array([0, 1, 0, 2]), np.array([2, 2, 2, 0])  # (0, 2) picked twice
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
ROWMASK = np.array([True, False, True])
COND = np.array([[True], [False], [True]])
GIDX = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])  # gather along dim 1, repeats
def tF(T):
    """torch.nn.functional"""
    return T.nn.functional


CASES = [
    # ---- arithmetic, with broadcasting ----------------------------------------------------------
    Case("add", lambda a, b: a + b, lambda T, a, b: a + b, [R(3, 4), R(3, 4)]),
    Case("add_bcast", lambda a, b: a + b, lambda T, a, b: a + b, [R(2, 1, 4), R(3, 1)]),
    Case("add_scalar", lambda a: a + 2.5, lambda T, a: a + 2.5, [R(3, 4)]),
    Case("radd_scalar", lambda a: 2.5 + a, lambda T, a: 2.5 + a, [R(3)]),
    Case("sub_bcast", lambda a, b: a - b, lambda T, a, b: a - b, [R(3, 4), R(3, 1)]),
    Case("rsub_scalar", lambda a: 2 - a, lambda T, a: 2 - a, [R(3, 4)]),
    Case("mul_bcast", lambda a, b: a * b, lambda T, a, b: a * b, [R(2, 3, 4), R(3, 1)]),
    Case("mul_scalar", lambda a: a * 0.5, lambda T, a: a * 0.5, [R(3, 4)]),
    Case("mul_self", lambda a: a * a, lambda T, a: a * a, [R(3, 4)]),
    Case("div_bcast", lambda a, b: a / b, lambda T, a, b: a / b, [R(3, 4), P(4)]),
    Case("div_scalar", lambda a: a / 3, lambda T, a: a / 3, [R(3, 4)]),
    Case("rdiv_scalar", lambda a: 3 / a, lambda T, a: 3 / a, [P(3, 4)]),
    Case("neg", lambda a: -a, lambda T, a: -a, [R(3, 4)]),
    Case("pow2", lambda a: a ** 2, lambda T, a: a ** 2, [R(3, 4)]),
    Case("pow3", lambda a: a ** 3, lambda T, a: a ** 3, [R(3, 4)]),
    Case("pow_half", lambda a: a ** 0.5, lambda T, a: a ** 0.5, [P(3, 4)]),
    Case("pow_neg", lambda a: a ** -1.5, lambda T, a: a ** -1.5, [P(3, 4)]),
    Case("pow_tensor_bcast", lambda a, b: a ** b, lambda T, a, b: a ** b, [P(3, 4), R(4)]),
    Case("rpow", lambda a: 2 ** a, lambda T, a: 2 ** a, [R(3, 4)]),
    Case("exp", sg.exp, lambda T, a: a.exp(), [R(3, 4)]),
    Case("log", sg.log, lambda T, a: a.log(), [P(3, 4)]),
    Case("sqrt", sg.sqrt, lambda T, a: a.sqrt(), [P(3, 4)]),
    Case("abs", sg.abs, lambda T, a: a.abs(), [A(3, 4)]),
    Case("clamp", lambda a: a.clamp(-0.5, 0.5), lambda T, a: a.clamp(-0.5, 0.5), [A(4, 5, avoid=(-0.5, 0.5))]),
    Case("clamp_min", lambda a: sg.clamp(a, min=0.2), lambda T, a: a.clamp(min=0.2), [A(4, 5, avoid=(0.2,))]),
    Case("clamp_max", lambda a: sg.clamp(a, max=-0.1), lambda T, a: a.clamp(max=-0.1), [A(4, 5, avoid=(-0.1,))]),
    Case("maximum", sg.maximum, lambda T, a, b: T.maximum(a, b), [Pair((3, 4), (3, 4))]),
    Case("maximum_bcast", sg.maximum, lambda T, a, b: T.maximum(a, b), [Pair((3, 4), (4,))]),
    Case("minimum_bcast", sg.minimum, lambda T, a, b: T.minimum(a, b), [Pair((3, 1), (3, 4))]),
    Case("where_bcast", lambda a, b: sg.where(COND, a, b), lambda T, a, b: T.where(ti(T, COND), a, b),
         [R(3, 4), R(4)]),
    Case("where_scalar", lambda a: sg.where(MASK, a, 0.0), lambda T, a: T.where(ti(T, MASK), a, 0.0), [R(3, 4)]),
    # ---- matmul: 2-D, batched, broadcast batch, 1-D on either side ----------------------------------
    Case("matmul", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(3, 4), R(4, 5)]),
    Case("matmul_batched", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(2, 3, 4), R(2, 4, 5)]),
    Case("matmul_3d_2d", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(2, 3, 4), R(4, 5)]),
    Case("matmul_2d_3d", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(3, 4), R(2, 4, 5)]),
    Case("matmul_bcast_batch", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(2, 1, 3, 4), R(5, 4, 2)]),
    Case("matmul_vec_mat", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(4), R(4, 5)]),
    Case("matmul_mat_vec", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(3, 4), R(4)]),
    Case("matmul_vec_vec", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(4), R(4)]),
    Case("matmul_vec_batched", lambda a, b: sg.matmul(a, b), lambda T, a, b: T.matmul(a, b), [R(4), R(2, 4, 3)]),
    Case("matmul_batched_vec", lambda a, b: a @ b, lambda T, a, b: a @ b, [R(2, 3, 4), R(4)]),
    # ---- reductions ---------------------------------------------------------------------------------
    Case("sum_all", lambda a: a.sum(), lambda T, a: a.sum(), [R(3, 4)]),
    Case("sum_dim", lambda a: a.sum(1), lambda T, a: a.sum(1), [R(3, 4)]),
    Case("sum_dims_keepdim", lambda a: a.sum((0, 2), keepdim=True), lambda T, a: a.sum((0, 2), keepdim=True),
         [R(2, 3, 4)]),
    Case("sum_axis_keepdims", lambda a: a.sum(axis=-1, keepdims=True), lambda T, a: a.sum(-1, keepdim=True),
         [R(2, 3, 4)]),
    Case("mean_all", lambda a: a.mean(), lambda T, a: a.mean(), [R(3, 4)]),
    Case("mean_dim", lambda a: sg.mean(a, dim=0), lambda T, a: a.mean(0), [R(3, 4)]),
    Case("mean_axis", lambda a: a.mean(axis=(0, 1), keepdims=True), lambda T, a: a.mean((0, 1), keepdim=True),
         [R(2, 3, 4)]),
    Case("var_all", lambda a: a.var(), lambda T, a: a.var(), [R(3, 4)]),
    Case("var_dim", lambda a: a.var(1), lambda T, a: a.var(1), [R(3, 4)]),
    Case("var_axis_numpy", lambda a: a.var(axis=0), lambda T, a: a.var(0, correction=0), [R(3, 4)]),
    Case("var_biased_keepdim", lambda a: a.var(dim=1, unbiased=False, keepdim=True),
         lambda T, a: a.var(1, unbiased=False, keepdim=True), [R(3, 4)]),
    Case("std_dim", lambda a: a.std(1), lambda T, a: a.std(1), [R(3, 4)]),
    Case("std_all_biased", lambda a: sg.std(a, correction=0), lambda T, a: a.std(correction=0), [R(3, 4)]),
    Case("max_all", lambda a: a.max(), lambda T, a: a.max(), [R(3, 4)]),
    Case("max_dim", lambda a: a.max(1).values, lambda T, a: a.max(1).values, [R(3, 4)]),
    Case("max_dim_keepdim", lambda a: a.max(0, keepdim=True)[0], lambda T, a: a.max(0, keepdim=True)[0], [R(3, 4)]),
    Case("max_axis_numpy", lambda a: a.max(axis=1), lambda T, a: a.amax(1), [R(3, 4)]),
    Case("min_all", lambda a: a.min(), lambda T, a: a.min(), [R(3, 4)]),
    Case("min_dim", lambda a: a.min(dim=-1)[0], lambda T, a: a.min(dim=-1)[0], [R(2, 3, 4)]),
    Case("amax_dims", lambda a: sg.amax(a, (0, 2)), lambda T, a: a.amax((0, 2)), [R(2, 3, 4)]),
    Case("amin_keepdims", lambda a: sg.amin(a, axis=1, keepdims=True), lambda T, a: a.amin(1, keepdim=True),
         [R(2, 3, 4)]),
    Case("logsumexp_dim", lambda a: a.logsumexp(1), lambda T, a: a.logsumexp(1), [R(3, 4)]),
    Case("logsumexp_dims_keepdim", lambda a: sg.logsumexp(a, (0, 1), keepdim=True),
         lambda T, a: a.logsumexp((0, 1), keepdim=True), [R(2, 3, 4)]),
    Case("logsumexp_axis_keepdims", lambda a: sg.logsumexp(a, axis=-1, keepdims=True),
         lambda T, a: a.logsumexp(-1, keepdim=True), [R(2, 3, 4)]),
    Case("logsumexp_all", lambda a: sg.logsumexp(a), lambda T, a: a.logsumexp((0, 1)), [R(3, 4)]),
    # ---- shape ----------------------------------------------------------------------------------------
    Case("reshape", lambda a: a.reshape(4, 3), lambda T, a: a.reshape(4, 3), [R(3, 4)]),
    Case("view_infer", lambda a: a.view(-1, 6), lambda T, a: a.view(-1, 6), [R(2, 3, 4)]),
    Case("transpose", lambda a: a.transpose(0, 2), lambda T, a: a.transpose(0, 2), [R(2, 3, 4)]),
    Case("permute", lambda a: a.permute(2, 0, 1), lambda T, a: a.permute(2, 0, 1), [R(2, 3, 4)]),
    Case("T", lambda a: a.T, lambda T, a: a.T, [R(3, 4)]),
    Case("mT", lambda a: a.mT, lambda T, a: a.mT, [R(2, 3, 4)]),
    Case("expand", lambda a: a.expand(2, 3, 4), lambda T, a: a.expand(2, 3, 4), [R(3, 1)]),
    Case("expand_keep", lambda a: a.expand(-1, 5), lambda T, a: a.expand(-1, 5), [R(3, 1)]),
    Case("squeeze", lambda a: a.squeeze(), lambda T, a: a.squeeze(), [R(3, 1, 4, 1)]),
    Case("squeeze_dim", lambda a: a.squeeze(1), lambda T, a: a.squeeze(1), [R(3, 1, 4, 1)]),
    Case("unsqueeze", lambda a: a.unsqueeze(-1), lambda T, a: a.unsqueeze(-1), [R(3, 4)]),
    Case("flatten", lambda a: a.flatten(), lambda T, a: a.flatten(), [R(2, 3, 4)]),
    Case("flatten_from1", lambda a: sg.flatten(a, 1), lambda T, a: a.flatten(1), [R(2, 3, 4)]),
    # ---- indexing: slices, ints, integer arrays (repeats accumulate), masks ------------------------------
    Case("getitem_slice", lambda a: a[1:3, ::2], lambda T, a: a[1:3, ::2], [R(4, 5)]),
    Case("getitem_int", lambda a: a[1], lambda T, a: a[1], [R(4, 5)]),
    Case("getitem_ellipsis_neg", lambda a: a[..., -1], lambda T, a: a[..., -1], [R(2, 3, 4)]),
    Case("getitem_none", lambda a: a[None, :, 1], lambda T, a: a[None, :, 1], [R(3, 4)]),
    Case("getitem_repeated", lambda a: a[IDX], lambda T, a: a[ti(T, IDX)], [R(3, 4)]),
    Case("getitem_2d_index", lambda a: a[IDX2], lambda T, a: a[ti(T, IDX2)], [R(4, 3)]),
    Case("getitem_pairs_repeated", lambda a: a[ROWS, COLS], lambda T, a: a[ti(T, ROWS), ti(T, COLS)], [R(3, 4)]),
    Case("getitem_tensor_index", lambda a: a[sg.tensor(IDX)], lambda T, a: a[ti(T, IDX)], [R(3, 2)]),
    Case("getitem_cols_repeated", lambda a: a[:, IDX], lambda T, a: a[:, ti(T, IDX)], [R(2, 3, 2)]),
    Case("getitem_neg_index", lambda a: a[np.array([-1, -1, 0])], lambda T, a: a[ti(T, [-1, -1, 0])], [R(3, 2)]),
    Case("getitem_mask", lambda a: a[MASK], lambda T, a: a[ti(T, MASK)], [R(3, 4)]),
    Case("getitem_rowmask", lambda a: a[ROWMASK], lambda T, a: a[ti(T, ROWMASK)], [R(3, 4)]),
    Case("index_put", lambda a, v: sg.index_put(a, np.array([2, 0]), v),
         lambda T, a, v: a.index_put((ti(T, [2, 0]),), v), [R(3, 4), R(2, 4)]),
    Case("index_put_bcast_value", lambda a, v: sg.index_put(a, MASK, v),
         lambda T, a, v: a.index_put((ti(T, MASK),), v), [R(3, 4), R(1)]),
    Case("index_put_slice", lambda a, v: sg.index_put(a, (slice(None), 1), v),
         lambda T, a, v: T.cat([a[:, :1], v[:, None], a[:, 2:]], 1), [R(3, 4), R(3)]),
    Case("index_put_accumulate", lambda a, v: sg.index_put(a, (ROWS, COLS), v, accumulate=True),
         lambda T, a, v: a.index_put((ti(T, ROWS), ti(T, COLS)), v, accumulate=True), [R(3, 4), R(4)]),
    Case("index_put_accumulate_rows", lambda a, v: a.index_put(IDX, v, accumulate=True),
         lambda T, a, v: a.index_put((ti(T, IDX),), v, accumulate=True), [R(3, 2), R(4, 2)]),
    # ---- joining and splitting ---------------------------------------------------------------------------
    Case("cat", lambda a, b: sg.cat([a, b]), lambda T, a, b: T.cat([a, b]), [R(2, 3), R(4, 3)]),
    Case("cat_dim1_three", lambda a, b, c: sg.cat([a, b, c], dim=-1), lambda T, a, b, c: T.cat([a, b, c], -1),
         [R(2, 1), R(2, 3), R(2, 2)]),
    Case("stack", lambda a, b: sg.stack([a, b]), lambda T, a, b: T.stack([a, b]), [R(2, 3), R(2, 3)]),
    Case("stack_last", lambda a, b: sg.stack([a, b], dim=-1), lambda T, a, b: T.stack([a, b], -1),
         [R(2, 3), R(2, 3)]),
    Case("split_int", lambda a: tuple(p * (i + 1) for i, p in enumerate(a.split(2, dim=1))),
         lambda T, a: tuple(p * (i + 1) for i, p in enumerate(a.split(2, dim=1))), [R(3, 5)]),
    Case("split_sizes_unused", lambda a: sg.split(a, [1, 3], 0)[1],
         lambda T, a: T.split(a, [1, 3], 0)[1], [R(4, 2)]),
    Case("chunk", lambda a: tuple(p * (i + 1) for i, p in enumerate(a.chunk(3, -1))),
         lambda T, a: tuple(p * (i + 1) for i, p in enumerate(a.chunk(3, -1))), [R(2, 7)]),
    Case("unbind", lambda a: tuple(p * (i + 1) for i, p in enumerate(a.unbind(1))),
         lambda T, a: tuple(p * (i + 1) for i, p in enumerate(a.unbind(1))), [R(2, 3)]),
    Case("pad_last", lambda a: sg.pad(a, (1, 2)), lambda T, a: tF(T).pad(a, (1, 2)), [R(2, 3)]),
    Case("pad_two_dims_value", lambda a: sg.pad(a, (1, 1, 2, 0), value=0.5),
         lambda T, a: tF(T).pad(a, (1, 1, 2, 0), value=0.5), [R(2, 3, 4)]),
    Case("gather", lambda a: sg.gather(a, 1, GIDX), lambda T, a: T.gather(a, 1, ti(T, GIDX)), [R(3, 4)]),
    Case("gather_dim0", lambda a: a.gather(0, GIDX[:2]), lambda T, a: a.gather(0, ti(T, GIDX[:2])), [R(4, 3)]),
    Case("gather_small_index", lambda a: sg.gather(a, 1, GIDX[:2, :2]),
         lambda T, a: T.gather(a, 1, ti(T, GIDX[:2, :2])), [R(3, 5)]),
    # ---- activations ---------------------------------------------------------------------------------------
    Case("sigmoid", sg.sigmoid, lambda T, a: T.sigmoid(a), [R(3, 4)]),
    Case("tanh", sg.tanh, lambda T, a: T.tanh(a), [R(3, 4)]),
    Case("relu", sg.relu, lambda T, a: T.relu(a), [A(3, 4)]),
    Case("leaky_relu", lambda a: sg.leaky_relu(a, 0.1), lambda T, a: tF(T).leaky_relu(a, 0.1), [A(3, 4)]),
    Case("elu", sg.elu, lambda T, a: tF(T).elu(a), [A(3, 4)]),
    Case("elu_alpha", lambda a: sg.elu(a, alpha=0.5), lambda T, a: tF(T).elu(a, alpha=0.5), [A(3, 4)]),
    Case("gelu", sg.gelu, lambda T, a: tF(T).gelu(a), [R(3, 4)]),
    Case("gelu_tanh", lambda a: sg.gelu(a, approximate="tanh"), lambda T, a: tF(T).gelu(a, approximate="tanh"),
         [R(3, 4)]),
    Case("erf", sg.erf, lambda T, a: T.erf(a), [R(3, 4)]),
    Case("softplus", sg.softplus, lambda T, a: tF(T).softplus(a), [R(3, 4)]),
    Case("softplus_beta_threshold", lambda a: sg.softplus(a, beta=2.0, threshold=1.0),
         lambda T, a: tF(T).softplus(a, beta=2.0, threshold=1.0), [A(3, 4, avoid=(0.5,))]),
    Case("softmax", lambda a: sg.softmax(a, dim=-1), lambda T, a: T.softmax(a, -1), [R(3, 4)]),
    Case("softmax_dim0", lambda a: a.softmax(0), lambda T, a: a.softmax(0), [R(3, 4)]),
    Case("softmax_axis", lambda a: sg.softmax(a, axis=1), lambda T, a: T.softmax(a, 1), [R(2, 3, 4)]),
    Case("log_softmax", lambda a: sg.log_softmax(a, 1), lambda T, a: T.log_softmax(a, 1), [R(3, 4)]),
    Case("log_softmax_3d", lambda a: a.log_softmax(-1), lambda T, a: a.log_softmax(-1), [R(2, 3, 4)]),
    # ---- composites of several ops (shared subexpressions accumulate) ---------------------------------------
    Case("shared_subexpr", lambda a, b: (a * b + a.exp() * b.sum()).tanh() @ a.T,
         lambda T, a, b: (a * b + a.exp() * b.sum()).tanh() @ a.T, [R(3, 4), R(4)]),
]

IDS = [c.name for c in CASES]
assert len(set(IDS)) == len(IDS), "duplicate case names"


def sg_inputs(case, dtype=np.float64, seed=0):
    return [sg.Tensor(a.astype(dtype), requires_grad=True) for a in case.make(np.random.default_rng(seed))]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    assert sg.autograd.gradcheck(case.sg_fn, sg_inputs(case))


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=[c.name for c in CASES if c.gradgrad])
def test_gradgradcheck(case):
    assert sg.autograd.gradgradcheck(case.sg_fn, sg_inputs(case))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_stays_float64(case):
    outs = case.sg_fn(*sg_inputs(case))
    for o in outs if isinstance(outs, tuple) else (outs,):
        assert o.dtype == np.float64, f"{case.name}: float64 in, {o.dtype} out"


def test_dropout_gradcheck():
    """Dropout with a fixed seed is a fixed linear map: check it and its (zero) second derivative."""
    def fn(x):
        sg.manual_seed(3)
        return sg.dropout(x, 0.3)
    x = sg.Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    assert sg.autograd.gradcheck(fn, [x])
    assert sg.autograd.gradgradcheck(lambda x: fn(x) * x, [x])


def test_gradcheck_detects_a_wrong_gradient():
    class WrongSquare(sg.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 3.0  # should be 2x

    x = sg.Tensor(np.random.default_rng(0).standard_normal(5), requires_grad=True)
    with pytest.raises(AssertionError, match="gradcheck"):
        sg.autograd.gradcheck(lambda x: WrongSquare()(x), [x])
    assert not sg.autograd.gradcheck(lambda x: WrongSquare()(x), [x], raise_exception=False)


def test_gradcheck_rejects_float32():
    with pytest.raises(ValueError, match="float64"):
        sg.autograd.gradcheck(sg.exp, [sg.randn(3, requires_grad=True)])


def test_gradcheck_non_contiguous_input():
    x = sg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).T, requires_grad=True)
    assert sg.autograd.gradcheck(lambda x: (x * x).sum(0), [x])


@pytest.mark.parametrize("layout", ["C", "NHWC", "strided", "int"])
def test_relu_rows_of_zeros_equal_np_maximum(layout):
    """ops.activation.relu_array: max(x, 0) in rows against a zero row (NumPy's scalar loop is slow)."""
    from scratchgrad.ops.activation import ZERO_ROW, relu_array
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 7, 2 * ZERO_ROW // 35 + 1)).astype(np.float32)   # not whole rows
    x.reshape(-1)[:4] = [np.nan, -0.0, np.inf, -np.inf]
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "strided":
        x = x[:, :, ::2]
    elif layout == "int":
        x = rng.integers(-5, 5, (70, 90))
    y = relu_array(x)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert y.dtype == x.dtype and (layout == "strided" or y.strides == x.strides)


def test_relu_in_place_on_a_conv_blocks_rows():
    """A conv block's rows (4 x 28 x 28 x 16 numbers: 1024 divides the size) in place, as the fused conv does."""
    from scratchgrad.ops.activation import relu_array
    x = np.random.default_rng(6).standard_normal((4 * 28 * 28, 16)).astype(np.float32)
    expected = np.maximum(x, 0)
    assert relu_array(x, out=x) is x
    np.testing.assert_array_equal(x, expected)
