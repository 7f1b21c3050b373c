"""Fused recurrent kernels: ONE `Function` runs one layer in one direction over the whole sequence.

A graph of cells records ~15 ops per time step (a thousand nodes for T=64); here the whole
recurrence is one node with a hand-written backpropagation through time (BPTT). Written with
column vectors (a step's states are (H, N), its gates (G, N), G = gates * H):

Forward:
    XW_t = W_ih x_t + b                    for every step at once (one batched GEMM)
    for t in time order:                   (the loop over time is inherent: h_t needs h_{t-1})
        A_t = XW_t + W_hh h_{t-1}          one (G, H) x (H, N) GEMM per step, all gates at once
        h_t (, c_t) = cell(A_t)            elementwise, gates cached for backward
Backward (BPTT, time reversed):
    dh_t = dy_t + (gradient carried back from step t+1)
    dA_t = cell'(dh_t, dc_t)               elementwise, from the cached gates
    dh_{t-1} = W_hh^T dA_t                 one (H, G) x (G, N) GEMM per step
then once, with the steps side by side as T*N columns:
    dW_hh = sum_t dA_t h_{t-1}^T = dA H_prev^T    dW_ih = dA X^T    dX = W_ih^T dA    db = row sums of dA

Variable lengths: `mask` (T, N, 1) bool; where False (padding) the state is carried unchanged
and the output is 0, exactly like PyTorch's packed sequences.

Speed: elementwise work runs in place (`out=`) on contiguous (H, N) slabs (NumPy is several times
slower on column slices of an (N, G) array); the sigmoid is (1 + tanh(a/2)) / 2, one transcendental
(scipy's float32 `expit` is several times slower). The backward is NumPy, so these kernels are
once-differentiable: for create_graph (double backward) build the layers with `fused=False`, which
unrolls the differentiable cells instead.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function, is_grad_enabled

__all__ = ["FusedRNN", "FusedLSTM", "FusedGRU"]


# ---- in-place elementwise helpers ---------------------------------------------------------
def _sigmoid_(a):
    """a <- sigmoid(a) = (1 + tanh(a / 2)) / 2, in place."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _dsigmoid(s, upstream, out):
    """out <- upstream * s * (1 - s)      (s = sigmoid(a): the gradient w.r.t. a)"""
    np.subtract(1.0, s, out=out)
    out *= s
    out *= upstream
    return out


def _dtanh(y, upstream, out):
    """out <- upstream * (1 - y^2)        (y = tanh(a): the gradient w.r.t. a)"""
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    out *= upstream
    return out


def _steps_as_columns(a):
    """(T, R, N) -> (R, T*N): every step's N columns side by side, ready for one GEMM over all steps.
    One transposing copy; rows are padded so that they are not 2^k bytes apart (cache aliasing)."""
    T, R, N = a.shape
    out = np.empty((R, (T + 1) * N), a.dtype)[:, :T * N]
    np.copyto(out.reshape(R, T, N), a.transpose(1, 0, 2))
    return out


class FusedRecurrence(Function):
    """The time loop, masks, gradient norms and weight gradients; subclasses write one step.

    inputs:  x (T, N, I), initial states h0 [, c0] (N, H), W_ih (G, I), W_hh (G, H), b_ih (G,), b_hh (G,)
             [, weight_peephole (rows, H)]
    outputs: y (T, N, H), final states h_n [, c_n] (N, H)

    Layout: inside, arrays are feature-major: a step's state is (H, N) and its gates (G, N), so
    every gate block is a contiguous (H, N) slab (NumPy's elementwise ops run several times faster
    on contiguous arrays than on column slices of an (N, G) array) and W_hh @ h_{t-1} is one GEMM.
    The outputs are transposed views of the cached states (no copy).

    Subclasses implement `_step(t, prev)`: write step t's new states into self.new[j][t], and
    `_step_back(t, prev, dnew)`: write dL/dA_t into self.dA[t] and return the gradients w.r.t. prev.
    """
    n_states = 1
    # Not flagged once_differentiable: backward raises its own error, which names the way out.
    once_differentiable = False

    def __init__(self, mask=None, reverse=False, grad_norms=None):
        self.mask = None if mask is None else mask.transpose(0, 2, 1)    # (T, N, 1) -> (T, 1, N)
        self.reverse, self.grad_norms = reverse, grad_norms

    def _order(self, T):
        return range(T - 1, -1, -1) if self.reverse else range(T)

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, x, *args):
        k = self.n_states
        states0, (W_ih, W_hh, b_ih, b_hh), self.extra = args[:k], args[k:k + 4], args[k + 4:]
        T, N, _ = x.shape
        G, H = W_hh.shape
        self.W_ih, self.W_hh = W_ih, W_hh
        self.xt = np.ascontiguousarray(x.transpose(0, 2, 1))     # (T, I, N): x_t as columns
        self.XW = np.matmul(W_ih, self.xt)                       # (T, G, N): W_ih x_t of every step
        self._add_input_bias(b_ih[:, None], b_hh[:, None])
        # S[j][t + reverse] is state j before step t: S[j] = [s_0, s_1, ..., s_T] in processing order
        rev, mask = int(self.reverse), self.mask
        self.S = [np.empty((T + 1, H, N), x.dtype) for _ in range(k)]
        for s, s0 in zip(self.S, states0):
            s[T if rev else 0] = s0.T
        if mask is None:   # the new states ARE the carried states: write them in place
            self.new = [s[:T] if rev else s[1:] for s in self.S]
        else:              # the new states pass into S only where the mask is True
            self.new = [np.empty((T, H, N), x.dtype) for _ in range(k)]
        self.buf, self.tmp = np.empty((G, N), x.dtype), np.empty((H, N), x.dtype)
        self._allocate(T, H, N, x.dtype)
        for t in self._order(T):
            p, q = t + rev, t + 1 - rev
            self._step(t, [s[p] for s in self.S])
            if mask is not None:
                for s, new in zip(self.S, self.new):
                    np.copyto(s[q], s[p])
                    np.copyto(s[q], new[t], where=mask[t])
        y = self.new[0] if mask is None else self.new[0] * mask
        return (y.transpose(0, 2, 1),) + tuple(s[0 if rev else T].T for s in self.S)

    def _add_input_bias(self, b_ih, b_hh):
        self.XW += b_ih + b_hh           # both biases add to the pre-activation (not in the GRU)

    def _allocate(self, T, H, N, dtype):
        pass

    # ---- backward (BPTT) --------------------------------------------------------------------
    def backward(self, gy, *g_states):
        if is_grad_enabled():
            raise RuntimeError(
                f"{self.name}: the fused recurrent kernel has a hand-written NumPy backward and is not twice "
                "differentiable. For create_graph=True (double backward) build the layer with fused=False "
                "(it then unrolls the differentiable cells, as RNNCell/LSTMCell/GRUCell).")
        T, H, N = self.new[0].shape
        dtype = self.XW.dtype
        rev, mask, norms = int(self.reverse), self.mask, self.grad_norms
        need, k = self.needs_input_grad, self.n_states + 1      # inputs: x, states, W_ih, W_hh, b_ih, b_hh
        dy = None if gy is None else np.ascontiguousarray(gy.data.transpose(0, 2, 1))    # (T, H, N)
        # carry[j] = dL/d(state j after the current step); starts as the gradient of h_n (, c_n)
        carry = [np.zeros((H, N), dtype) if g is None else np.array(g.data.T, dtype, order="C") for g in g_states]
        dnew = [np.empty((H, N), dtype) for _ in carry]
        self.W_hhT = np.ascontiguousarray(self.W_hh.T)              # for dh_{t-1} = W_hh^T dA_t
        self.dA = np.empty_like(self.XW)                            # dL/dA_t of every step, (T, G, N)
        self._allocate_backward()
        for t in reversed(self._order(T)):
            p = t + rev
            for j in range(len(carry)):       # the gradient reaching the new states of step t
                if j == 0 and dy is not None:
                    np.add(carry[0], dy[t], out=dnew[0])
                else:
                    np.copyto(dnew[j], carry[j])
                if mask is not None:
                    dnew[j] *= mask[t]
            if norms is not None:
                flat = dnew[0].reshape(-1)
                norms[t] = np.sqrt(float(flat @ flat))
            dprev = self._step_back(t, [s[p] for s in self.S], dnew)    # fills self.dA[t]
            for j in range(len(carry)):       # padded columns keep their carry (their state was copied)
                if mask is None:
                    carry[j] = dprev[j]
                else:
                    np.copyto(carry[j], dprev[j], where=mask[t])
        # the weights are shared by all steps: their gradients sum over t, one GEMM each
        dA = _steps_as_columns(self.dA)                             # (G, T*N)
        dHW = dA if self._hidden_grad() is self.dA else _steps_as_columns(self._hidden_grad())
        gx = (dA.T @ self.W_ih).reshape(T, N, -1) if need[0] else None        # dx_t = W_ih^T dA_t
        gW_ih = dA @ self.xt.transpose(0, 2, 1).reshape(T * N, -1) if need[k] else None    # sum_t dA_t x_t^T
        gW_hh = None
        if need[k + 1]:                                                        # sum_t dHW_t h_{t-1}^T
            h_prev = (self.S[0][1:] if rev else self.S[0][:T]).transpose(0, 2, 1)
            gW_hh = dHW @ np.ascontiguousarray(h_prev).reshape(T * N, H)
        gb_ih = self.dA.sum(0).sum(1) if need[k + 2] or need[k + 3] else None    # sum_t dA_t 1
        gb_hh = None
        if need[k + 3]:     # the same sum unless the hidden side has its own gradient (GRU)
            gb_hh = gb_ih.copy() if self._hidden_grad() is self.dA else self._hidden_grad().sum(0).sum(1)
        gb_ih = gb_ih if need[k + 2] else None
        return (gx, *[c.T for c in carry], gW_ih, gW_hh, gb_ih, gb_hh) + self._extra_grads()

    def _allocate_backward(self):
        pass

    def _hidden_grad(self):
        """dL/d(W_hh h_{t-1} + b_hh), (T, G, N): the pre-activation's gradient, except in the GRU."""
        return self.dA

    def _extra_grads(self):
        return ()


class FusedRNN(FusedRecurrence):
    """Elman RNN:  h_t = act(A_t),  A_t = XW_t + W_hh h_{t-1}
    backward:      dA_t = dh_t act'(A_t)   (tanh' = 1 - h_t^2, relu' = [h_t > 0])"""

    def __init__(self, nonlinearity="tanh", **kw):
        super().__init__(**kw)
        self.nonlinearity = nonlinearity

    def _step(self, t, prev):
        a = self.XW[t]
        a += np.matmul(self.W_hh, prev[0], out=self.buf)      # A_t = XW_t + W_hh h_{t-1}
        if self.nonlinearity == "tanh":
            np.tanh(a, out=self.new[0][t])
        else:
            np.maximum(a, 0.0, out=self.new[0][t])

    def _step_back(self, t, prev, dnew):
        h, da = self.new[0][t], self.dA[t]
        if self.nonlinearity == "tanh":
            _dtanh(h, dnew[0], da)
        else:
            np.multiply(dnew[0], h > 0, out=da)
        return [self.W_hhT @ da]


class FusedLSTM(FusedRecurrence):
    """LSTM (gates i, f, g, o), optionally with peephole weights P and coupled gates (f = 1 - i).

    forward:   i, f, o = sigmoid(A_i [+ P_i c_{t-1}], A_f [+ P_f c_{t-1}], A_o [+ P_o c_t])   g = tanh(A_g)
               c_t = f c_{t-1} + i g        h_t = o tanh(c_t)
    backward:  dA_o = dh tanh(c_t) o (1 - o)
               dc_t = dc + dh o (1 - tanh^2 c_t) [+ dA_o P_o]
               dA_g = dc_t i (1 - g^2)    dA_i = dc_t g i (1 - i)    dA_f = dc_t c_{t-1} f (1 - f)
               dc_{t-1} = dc_t f [+ dA_i P_i + dA_f P_f]
    coupled:   f = 1 - i, so c_t = c_{t-1} + i (g - c_{t-1}) and dA_i uses (g - c_{t-1}) for g.
    """
    n_states = 2

    def __init__(self, peephole=False, coupled=False, **kw):
        super().__init__(**kw)
        self.peephole, self.coupled = peephole, coupled

    def _allocate(self, T, H, N, dtype):
        self.tanh_c = np.empty((T, H, N), dtype)
        self.gate = {name: slice(j * H, (j + 1) * H) for j, name in enumerate("igo" if self.coupled else "ifgo")}
        self.P = self.extra[0][:, :, None] if self.peephole else None    # (rows, H, 1)

    def _step(self, t, prev):
        h_prev, c_prev = prev
        tmp, gate, P = self.tmp, self.gate, self.P
        a = self.XW[t]
        a += np.matmul(self.W_hh, h_prev, out=self.buf)      # A_t = XW_t + W_hh h_{t-1}
        if P is not None:                                    # i and f look at c_{t-1}
            a[gate["i"]] += np.multiply(P[0], c_prev, out=tmp)
            if not self.coupled:
                a[gate["f"]] += np.multiply(P[1], c_prev, out=tmp)
        _sigmoid_(a[:gate["g"].start])                       # i (and f): the blocks before g
        i, g, o = a[gate["i"]], np.tanh(a[gate["g"]], out=a[gate["g"]]), a[gate["o"]]
        c = self.new[1][t]
        if self.coupled:                                     # c = c_prev + i (g - c_prev)
            np.subtract(g, c_prev, out=c)
            c *= i
            c += c_prev
        else:                                                # c = f c_prev + i g
            np.multiply(a[gate["f"]], c_prev, out=c)
            c += np.multiply(i, g, out=tmp)
        if P is not None:                                    # o looks at c_t
            o += np.multiply(P[-1], c, out=tmp)
        _sigmoid_(o)
        np.multiply(o, np.tanh(c, out=self.tanh_c[t]), out=self.new[0][t])

    def _step_back(self, t, prev, dnew):
        dh, dc = dnew                                        # dc = dL/dc_t from step t+1 (updated in place)
        c_prev = prev[1]
        a, da, tc, tmp, gate, P = self.XW[t], self.dA[t], self.tanh_c[t], self.tmp, self.gate, self.P
        i, g, o = a[gate["i"]], a[gate["g"]], a[gate["o"]]
        _dsigmoid(o, np.multiply(dh, tc, out=tmp), da[gate["o"]])          # h = o tanh(c)
        _dtanh(tc, dh, tmp)
        tmp *= o
        dc += tmp
        if P is not None:
            dc += np.multiply(da[gate["o"]], P[-1], out=tmp)
        _dtanh(g, np.multiply(dc, i, out=tmp), da[gate["g"]])              # c = ... + i g
        up_i = np.subtract(g, c_prev, out=tmp) if self.coupled else g
        _dsigmoid(i, np.multiply(dc, up_i, out=tmp), da[gate["i"]])
        dc_prev = np.empty_like(dc)
        if self.coupled:                                                    # c = (1 - i) c_prev + i g
            np.subtract(1.0, i, out=dc_prev)
            dc_prev *= dc
        else:                                                               # c = f c_prev + i g
            f = a[gate["f"]]
            _dsigmoid(f, np.multiply(dc, c_prev, out=tmp), da[gate["f"]])
            np.multiply(dc, f, out=dc_prev)
        if P is not None:
            dc_prev += np.multiply(da[gate["i"]], P[0], out=tmp)
            if not self.coupled:
                dc_prev += np.multiply(da[gate["f"]], P[1], out=tmp)
        return [self.W_hhT @ da, dc_prev]

    def _extra_grads(self):
        if not self.peephole:
            return ()
        if not self.needs_input_grad[-1]:
            return (None,)
        T = self.dA.shape[0]
        c_prev = self.S[1][1:] if self.reverse else self.S[1][:T]          # (T, H, N)
        rows = [("i", c_prev)] + ([] if self.coupled else [("f", c_prev)]) + [("o", self.new[1])]
        return (np.stack([np.einsum("thn,thn->h", self.dA[:, self.gate[name]], c, optimize=True)
                          for name, c in rows]),)


class FusedGRU(FusedRecurrence):
    """GRU (gates r, z, n; PyTorch's form, r gates the hidden projection HW_n = W_hn h + b_hn):

    forward:   r, z = sigmoid(XW_{r,z} + HW_{r,z})    n = tanh(XW_n + r HW_n)    h_t = n + z (h_{t-1} - n)
    backward:  dA_n = dh (1 - z) (1 - n^2)            dA_z = dh (h_{t-1} - n) z (1 - z)
               dA_r = dA_n HW_n r (1 - r)             dHW = (dA_r, dA_z, dA_n r)
               dh_{t-1} = W_hh^T dHW + dh z
    The input and hidden sides differ in the n block, so dW_hh and db_hh use dHW."""

    def _add_input_bias(self, b_ih, b_hh):
        self.XW += b_ih
        self.b_hh = b_hh

    def _allocate(self, T, H, N, dtype):
        self.HW = np.empty((T, 3 * H, N), dtype)              # W_hh h_{t-1} + b_hh, kept for dA_r

    def _step(self, t, prev):
        h = prev[0]
        H = h.shape[0]
        a, hw, tmp = self.XW[t], self.HW[t], self.tmp
        np.matmul(self.W_hh, h, out=hw)
        hw += self.b_hh
        a[:2 * H] += hw[:2 * H]
        _sigmoid_(a[:2 * H])                                  # r, z
        r, z, n = a[:H], a[H:2 * H], a[2 * H:]
        n += np.multiply(r, hw[2 * H:], out=tmp)
        np.tanh(n, out=n)
        h_new = self.new[0][t]
        np.subtract(h, n, out=h_new)
        h_new *= z
        h_new += n

    def _allocate_backward(self):
        self.dHW = np.empty_like(self.dA)

    def _hidden_grad(self):
        return self.dHW

    def _step_back(self, t, prev, dnew):
        dh, h_prev = dnew[0], prev[0]
        H = dh.shape[0]
        a, da, dhw, tmp = self.XW[t], self.dA[t], self.dHW[t], self.tmp
        r, z, n = a[:H], a[H:2 * H], a[2 * H:]
        np.subtract(1.0, z, out=tmp)
        tmp *= dh
        _dtanh(n, tmp, da[2 * H:])                                           # dn = dh (1 - z)
        np.subtract(h_prev, n, out=tmp)
        tmp *= dh
        _dsigmoid(z, tmp, da[H:2 * H])                                       # dz = dh (h_prev - n)
        _dsigmoid(r, np.multiply(da[2 * H:], self.HW[t, 2 * H:], out=tmp), da[:H])   # dr = dA_n HW_n
        dhw[:2 * H] = da[:2 * H]
        np.multiply(da[2 * H:], r, out=dhw[2 * H:])
        dh_prev = self.W_hhT @ dhw
        dh_prev += np.multiply(dh, z, out=tmp)
        return [dh_prev]
