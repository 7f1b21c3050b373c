"""Labs of the recurrent-network notes (RNN 梯度消失原因, BPTT 推导, LSTM), measured.

    from scratchgrad.labs import run_lab
    run_lab("vanishing-gradient", out="runs/lab-vanishing-gradient")
    run_lab("long-dependency", quick=True)       # the adding problem, a few seconds
    run_lab("bptt")                               # the notes' dU, dW, dV against autograd

Each lab is an object with CLAIM and run(out, quick=False, seed=0) -> dict (numbers, "figures",
"checks"), the convention of scratchgrad.labs (which seeds, limits BLAS to one thread and writes
results.json).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

import scratchgrad as sg

from .. import nn
from ..labs._common import figure, save_figure
from ..nn import functional as F

ADDING_BASELINE = 1 / 6      # Var(u1 + u2) for u1, u2 ~ U(0, 1): the MSE of always answering 1


def _outdir(out) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _orthogonal(H: int, gain: float, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return (gain * q * np.sign(np.diag(r))).astype(np.float32)


def _recurrent(cell: str, input_size: int, H: int, rng, gain: float | None = None, forget_bias: float = 0.0):
    """nn.RNN (tanh) or nn.LSTM with PyTorch's init, optionally W_hh = gain * orthogonal, forget-gate bias added."""
    m = (nn.RNN if cell == "rnn" else nn.LSTM)(input_size, H)
    if gain is not None:
        m.weight_hh_l0.data[:] = _orthogonal(H, gain, rng)
    if forget_bias:
        m.bias_ih_l0.data[H:2 * H] += forget_bias          # gates i, f, g, o: rows H..2H are f
    return m


# ---- vanishing-gradient --------------------------------------------------------------------------------
VANISHING_CLAIM = ("backpropagated through 100 steps, a tanh RNN's gradient ||dL/dh_t|| vanishes (PyTorch init: "
                   "below 1e-8 of its start) or explodes (recurrent gain 2: above 1e3 x); an LSTM's cell path "
                   "multiplies it only by the forget gates, so with open gates (bias +3) more than 1% survives; "
                   "clipping the gradient norm turns an exploding RNN's diverging SGD run (NaN) into a stable one")


def gradient_profile(m, x, r) -> np.ndarray:
    """||dL/dh_t|| for t = 1..T of L = <h_T, r> summed over the batch (the fused kernel records it)."""
    m.record_grad_norms = True
    y, _ = m(x)
    (y[-1] * r).sum().backward()
    return np.asarray(m.grad_norms[0], np.float64)


def adding_batch(n: int, T: int, rng):
    """The adding problem: x (T, n, 2) = (values U(0,1), markers: one 1 in each half); y (n, 1) = marked sum."""
    x = np.zeros((T, n, 2), np.float32)
    x[:, :, 0] = rng.random((T, n))
    cols = np.arange(n)
    first, second = rng.integers(0, T // 2, n), rng.integers(T // 2, T, n)
    x[first, cols, 1] = 1.0
    x[second, cols, 1] = 1.0
    y = x[first, cols, 0] + x[second, cols, 0]
    return x, y[:, None]


class LastStepRegressor(nn.Module):
    """A recurrent layer read out by a Linear at the last step: x (T, N, I) -> (N, 1)."""

    def __init__(self, rnn, hidden_size: int):
        super().__init__()
        self.rnn, self.out = rnn, nn.Linear(hidden_size, 1)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y[-1])


def _train_adding(model, T: int, steps: int, optimizer, rng, clip: float | None, batch: int = 50) -> dict:
    """Train on fresh adding-problem batches; returns per-step losses and gradient norms."""
    losses, norms = [], []
    for _ in range(steps):
        x, y = adding_batch(batch, T, rng)
        loss = F.mse_loss(model(sg.tensor(x)), sg.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip or float("inf")).data))
        optimizer.step()
        losses.append(float(loss.data))
    return {"loss": np.asarray(losses), "grad_norm": np.asarray(norms)}


def vanishing_gradient(out, quick: bool = False, seed: int = 0) -> dict:
    out = _outdir(out)
    rng = np.random.default_rng(seed)
    T, N, I, H = 100, 16, 8, 64
    x = sg.tensor(rng.standard_normal((T, N, I)).astype(np.float32))
    r = sg.tensor(rng.standard_normal((N, H)).astype(np.float32))
    with np.errstate(over="ignore", invalid="ignore"):
        curves = {"tanh RNN (PyTorch init)": gradient_profile(_recurrent("rnn", I, H, rng), x, r),
                  "tanh RNN, gain 2": gradient_profile(_recurrent("rnn", I, H, rng, gain=2.0), x, r),
                  "LSTM (PyTorch init)": gradient_profile(_recurrent("lstm", I, H, rng), x, r),
                  "LSTM, forget bias +3": gradient_profile(_recurrent("lstm", I, H, rng, forget_bias=3.0), x, r)}
        ratio = {k: float(v[0] / v[-1]) for k, v in curves.items()}           # ||dL/dh_1|| / ||dL/dh_T||
        gains = [0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0] if not quick else [0.5, 1.0, 2.0]
        gain_ratio = [float(np.divide(*gradient_profile(_recurrent("rnn", I, H, rng, gain=g), x, r)[[0, -1]]))
                      for g in gains]
        biases = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] if not quick else [0.0, 3.0]
        bias_ratio = [float(np.divide(*gradient_profile(_recurrent("lstm", I, H, rng, forget_bias=b), x, r)[[0, -1]]))
                      for b in biases]
    # exploding gradients in training: tanh RNN with gain 1.5 on the adding problem (T=50), SGD lr 0.1
    steps = 40 if quick else 100
    runs = {}
    for clip in (None, 1.0):          # (the unclipped run overflows to inf and NaN: that is the point)
        sg.manual_seed(seed)
        data_rng, init_rng = np.random.default_rng(seed + 1), np.random.default_rng(seed + 2)
        model = LastStepRegressor(_recurrent("rnn", 2, 32, init_rng, gain=1.5), 32)
        with np.errstate(over="ignore", invalid="ignore"):
            runs["clip 1.0" if clip else "no clipping"] = _train_adding(
                model, 50, steps, sg.optim.SGD(model.parameters(), lr=0.1), data_rng, clip, batch=32)
    unclipped, clipped = runs["no clipping"]["loss"], runs["clip 1.0"]["loss"]

    fig, ax = figure(1, 3, size=(4.4, 3.4))
    for name, g in curves.items():
        ax[0, 0].semilogy(np.arange(1, T + 1), np.where(g > 0, g, np.nan), label=name)
    ax[0, 0].set(xlabel="time step t", ylabel="||dL/dh_t||  (L at t = 100)", title="gradient reaching step t")
    ax[0, 0].legend(fontsize=7)
    ax[0, 1].semilogy(gains, np.maximum(gain_ratio, 1e-38), "o-", label="tanh RNN: W_hh = gain x orthogonal")
    ax[0, 1].semilogy(biases, np.maximum(bias_ratio, 1e-38), "s-", label="LSTM: forget-gate bias")
    ax[0, 1].axhline(1.0, color="0.6", lw=0.8)
    ax[0, 1].set(xlabel="gain / forget bias", ylabel="||dL/dh_1|| / ||dL/dh_100||", title="vanish or explode")
    ax[0, 1].legend(fontsize=7)
    for name, run in runs.items():
        ax[0, 2].semilogy(np.arange(1, steps + 1), np.where(np.isfinite(run["loss"]), run["loss"], np.nan), label=name)
    ax[0, 2].set(xlabel="SGD step", ylabel="MSE (NaN not drawn)", title="exploding RNN (gain 1.5): clipping")
    ax[0, 2].legend(fontsize=7)
    figures = [save_figure(fig, out, "vanishing_gradient.png")]

    last = clipped[-10:]
    checks = {"tanh_rnn_gradient_vanishes": ratio["tanh RNN (PyTorch init)"] < 1e-8,
              "tanh_rnn_gain2_gradient_explodes": ratio["tanh RNN, gain 2"] > 1e3,
              "lstm_open_forget_gate_keeps_gradient": 1e-2 < ratio["LSTM, forget bias +3"] < 1e2,
              "unclipped_sgd_diverges": bool(not np.isfinite(unclipped).all() or unclipped[-1] > 1e3),
              "clipped_sgd_stays_finite": bool(np.isfinite(clipped).all() and last.mean() < 1.0)}
    return {"T": T, "ratio_first_over_last": ratio, "rnn_gains": gains, "rnn_gain_ratio": gain_ratio,
            "lstm_forget_biases": biases, "lstm_bias_ratio": bias_ratio,
            "curves": {k: v.tolist() for k, v in curves.items()},
            "unclipped_loss": unclipped.tolist(), "clipped_loss": clipped.tolist(),
            "unclipped_max_grad_norm": float(np.nanmax(runs["no clipping"]["grad_norm"])),
            "figures": figures, "checks": checks}


# ---- long-dependency -----------------------------------------------------------------------------------
LONG_CLAIM = ("on the adding problem (sum the two marked numbers of a sequence) a plain tanh RNN stays at the "
              "trivial baseline MSE 1/6 = 0.167 at T = 100 (quick: T = 30), while an LSTM solves it (MSE < 0.02)")


def long_dependency(out, quick: bool = False, seed: int = 0) -> dict:
    """Quick: T = 30, 500 steps, hidden 16, batch 32, Adam 2e-2 (the same contrast, ~3 s); full: T = 100,
    2000 steps, hidden 64, batch 50, Adam 1e-2."""
    out = _outdir(out)
    T, steps, H, batch, lr = (30, 500, 16, 32, 2e-2) if quick else (100, 2000, 64, 50, 1e-2)
    test_x, test_y = adding_batch(1000, T, np.random.default_rng(seed + 10_000))
    results, curves = {}, {}
    for cell in ("rnn", "lstm"):
        sg.manual_seed(seed)
        model = LastStepRegressor(_recurrent(cell, 2, H, np.random.default_rng(seed)), H)
        run = _train_adding(model, T, steps, sg.optim.Adam(model.parameters(), lr=lr), np.random.default_rng(seed),
                            clip=1.0, batch=batch)
        with sg.no_grad():
            test_mse = float(F.mse_loss(model(sg.tensor(test_x)), sg.tensor(test_y)).data)
        name = "tanh RNN" if cell == "rnn" else "LSTM"
        results[name] = test_mse
        curves[name] = run["loss"]
    fig, ax = figure(1, 1, size=(5.5, 3.8))
    k = 25
    for name, loss in curves.items():
        ax[0, 0].plot(np.arange(k, steps + 1), np.convolve(loss, np.ones(k) / k, "valid"), label=f"{name} "
                      f"(test MSE {results[name]:.2g})")
    ax[0, 0].axhline(ADDING_BASELINE, color="0.5", ls="--", lw=1, label="baseline: always 1 (1/6)")
    ax[0, 0].set(xlabel=f"Adam step (batch {batch})", ylabel="training MSE (moving average)", ylim=(0, 0.3),
                 title=f"adding problem, T = {T}")
    ax[0, 0].legend(fontsize=8)
    figures = [save_figure(fig, out, "long_dependency.png")]
    checks = {"rnn_stays_at_baseline": results["tanh RNN"] > 0.8 * ADDING_BASELINE,
              "lstm_solves_it": results["LSTM"] < 0.02}
    return {"T": T, "steps": steps, "hidden_size": H, "batch_size": batch, "lr": lr, "baseline_mse": ADDING_BASELINE,
            "test_mse": results, "figures": figures, "checks": checks}


# ---- bptt ------------------------------------------------------------------------------------------------
BPTT_CLAIM = ("the notes' hand-derived BPTT gradients of a vanilla RNN (s_t = tanh(U x_t + W s_{t-1}), "
              "o_t = softmax(V s_t)) - dV = sum_t (p_t - y_t) s_t^T, dU and dW as double sums over the steps k <= t "
              "each loss reaches back to - equal autograd's and the fused nn.RNN's to float64 precision")


def bptt_by_hand(U, W, V, x, y, s0):
    """The notes' BPTT in plain NumPy, both ways. x (T, I) inputs, y (T,) classes, s0 (H,).

    forward:   s*_t = U x_t + W s_{t-1},  s_t = tanh(s*_t),  o*_t = V s_t,  L = sum_t CE(softmax(o*_t), y_t)
    output:    e_t = dL_t/do*_t = p_t - onehot(y_t),        dV = sum_t e_t s_t^T
    into s*:   dL_t/ds*_t = tanh'(s*_t) (V^T e_t);  dL_t/ds*_{k-1} = tanh'(s*_{k-1}) (W^T dL_t/ds*_k), k <= t
    weights:   dU = sum_t sum_{k<=t} dL_t/ds*_k x_k^T,  dW = sum_t sum_{k<=t} dL_t/ds*_k s_{k-1}^T
    Returns (loss, {"double_sum": (dU, dW, dV), "one_sweep": (dU, dW, dV)}, delta_norms (T, T)):
    one_sweep folds the double sum into one backward pass, d_k = tanh'(s*_k) (V^T e_k + W^T d_{k+1}).
    """
    T = len(x)
    s = [s0]
    for t in range(T):
        s.append(np.tanh(U @ x[t] + W @ s[-1]))
    S = np.stack(s[1:])                                       # (T, H): s_1 .. s_T
    Z = S @ V.T
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    loss = float(-np.log(P[np.arange(T), y]).sum())
    E = P.copy()
    E[np.arange(T), y] -= 1.0                                 # e_t
    dtanh = 1.0 - S ** 2                                      # tanh'(s*_t) = 1 - s_t^2
    dV = E.T @ S
    dU, dW = np.zeros_like(U), np.zeros_like(W)
    delta_norms = np.zeros((T, T))                            # ||dL_t/ds*_k||, row t, column k
    for t in range(T):                                        # the notes' double sum
        d = dtanh[t] * (V.T @ E[t])
        for k in range(t, -1, -1):
            delta_norms[t, k] = np.linalg.norm(d)
            dU += np.outer(d, x[k])
            dW += np.outer(d, s[k])                           # s[k] = s_{k-1} of step k (s[0] = s0)
            d = dtanh[k - 1] * (W.T @ d) if k else None
    sweep = [np.zeros_like(U), np.zeros_like(W)]
    carry = np.zeros(len(s0))
    for k in range(T - 1, -1, -1):                            # one backward sweep
        d = dtanh[k] * (V.T @ E[k] + carry)
        sweep[0] += np.outer(d, x[k])
        sweep[1] += np.outer(d, s[k])
        carry = W.T @ d
    return loss, {"double_sum": (dU, dW, dV), "one_sweep": (sweep[0], sweep[1], dV)}, delta_norms


def _autograd_grads(U, W, V, x, y, s0, fused: bool):
    """The same loss through scratchgrad: nn.RNN (fused kernel) or its unrolled cells, float64, no biases."""
    rnn = nn.RNN(x.shape[1], len(s0), bias=False, fused=fused).to(np.float64)
    head = nn.Linear(len(s0), V.shape[0], bias=False).to(np.float64)
    rnn.weight_ih_l0.data[:], rnn.weight_hh_l0.data[:], head.weight.data[:] = U, W, V
    out, _ = rnn(sg.tensor(x, dtype=np.float64), sg.tensor(s0[None], dtype=np.float64))
    loss = F.cross_entropy(head(out), sg.tensor(y), reduction="sum")
    loss.backward()
    return float(loss.data), (rnn.weight_ih_l0.grad.data, rnn.weight_hh_l0.grad.data, head.weight.grad.data)


def bptt(out, quick: bool = False, seed: int = 0) -> dict:
    out = _outdir(out)
    rng = np.random.default_rng(seed)
    T, I, H, C = (8, 3, 5, 4) if quick else (25, 6, 16, 10)
    U, V = rng.standard_normal((H, I)) * 0.5, rng.standard_normal((C, H)) * 0.5
    W = rng.standard_normal((H, H)) * (0.8 / np.sqrt(H))          # spectral radius about 0.8
    x, y, s0 = rng.standard_normal((T, I)), rng.integers(0, C, T), rng.standard_normal(H) * 0.1
    loss, hand, delta_norms = bptt_by_hand(U, W, V, x, y, s0)
    reference = {"autograd (unrolled cells)": _autograd_grads(U, W, V, x, y, s0, fused=False),
                 "fused nn.RNN": _autograd_grads(U, W, V, x, y, s0, fused=True)}
    errors = {}
    for way, grads in hand.items():
        for ref_name, (ref_loss, ref_grads) in reference.items():
            for name, g, r in zip("UWV", grads, ref_grads):
                errors[f"d{name} {way} vs {ref_name}"] = float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-300))
    loss_error = max(abs(loss - ref_loss) / abs(ref_loss) for ref_loss, _ in reference.values())

    fig, ax = figure(1, 2, size=(4.6, 3.8), wspace=0.6)
    img = ax[0, 0].imshow(np.log10(np.where(delta_norms > 0, delta_norms, np.nan)), origin="lower", cmap="viridis")
    ax[0, 0].set(xlabel="step k (where the gradient arrives)", ylabel="loss L_t", title="log10 ||dL_t / ds*_k||")
    fig.colorbar(img, ax=ax[0, 0], fraction=0.046)
    lags = np.arange(T)
    by_lag = [np.mean([delta_norms[t, t - lag] for t in range(lag, T)]) for lag in lags]
    ax[0, 1].semilogy(lags, by_lag, "o-", ms=3)
    ax[0, 1].set(xlabel="t - k (steps back)", ylabel="mean ||dL_t / ds*_k||", title="each loss reaches back, fading")
    figures = [save_figure(fig, out, "bptt.png")]
    worst = {way: max(v for k, v in errors.items() if way in k) for way in hand}
    checks = {"loss_matches": loss_error < 1e-12, "double_sum_matches_autograd": worst["double_sum"] < 1e-10,
              "one_sweep_matches_autograd": worst["one_sweep"] < 1e-10}
    return {"T": T, "input_size": I, "hidden_size": H, "classes": C, "loss": loss, "relative_errors": errors,
            "figures": figures, "checks": checks}


LABS = {
    "vanishing-gradient": SimpleNamespace(CLAIM=VANISHING_CLAIM, run=vanishing_gradient),
    "long-dependency": SimpleNamespace(CLAIM=LONG_CLAIM, run=long_dependency),
    "bptt": SimpleNamespace(CLAIM=BPTT_CLAIM, run=bptt),
}
