"""Character-level LSTM language model with truncated BPTT (Karpathy's char-rnn, in scratchgrad).

    vocab = Vocab.from_text(train_text)                       # 65 characters + <pad>
    model = CharLSTM(len(vocab), embed_dim=64, hidden_size=512, num_layers=2)
    history = train_char_lm(model, vocab.encode_array(train_text), vocab.encode_array(val_text),
                            batch_size=64, seq_len=100, lr=2e-3, time_limit=15 * 60)
    evaluate_nats(model, val_ids)                             # mean cross-entropy, nats per character
    sample(model, vocab, prompt="ROMEO:", length=500, temperature=0.8)

Truncated BPTT for a stateful language model (the notes' RNNLM):
    * the training text is cut into `batch_size` contiguous streams (column b = the b-th slice of the
      text), so row t of the next chunk continues row t of this one;
    * each step reads a chunk of `seq_len` characters from every stream, predicts every next character
      (cross-entropy over all N x T positions), backpropagates through those T steps only;
    * the LSTM's final (h, c) of a chunk is the initial state of the next one, *detached*: the forward
      pass sees the whole history, the gradient stops at the chunk boundary;
    * the gradient norm is clipped (nn.utils.clip_grad_norm_) against the rare exploding step.
`CharLSTM(record_grad_norms=True)` keeps ||dL/dh_t|| for every layer and step of the last backward
in `model.lstm.grad_norms` (num_layers, T): how far back the gradient reaches inside a chunk.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import nn
from ..autograd.function import no_grad
from ..nn import functional as F
from ..tensor import Tensor


class CharLSTM(nn.Module):
    """Embedding -> LSTM (num_layers, dropout between layers) -> dropout -> Linear to the vocabulary.

    forward(idx (N, T) int, state=None) -> (logits (N, T, V), state); state = (h, c), each
    (num_layers, N, hidden_size). Runs time-major inside (the fused LSTM's layout)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 512, num_layers: int = 2,
                 dropout: float = 0.0, record_grad_norms: bool = False):
        super().__init__()
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                            record_grad_norms=record_grad_norms)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, state=None):
        idx = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        x = self.embed(Tensor(np.ascontiguousarray(idx.T)))            # (T, N, E)
        y, state = self.lstm(x, state)                                  # (T, N, H)
        logits = self.head(self.drop(y))                                # (T, N, V)
        return logits.transpose(0, 1), state


def detach_state(state):
    """Cut a recurrent state from the graph (the truncation of truncated BPTT)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


# ---- data: contiguous streams ----------------------------------------------------------------------
def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """(L,) ids -> (batch_size, L // batch_size): row b is the b-th contiguous slice of the text."""
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"text of {len(ids)} tokens is too short for {batch_size} streams")
    return np.ascontiguousarray(ids[:n * batch_size].reshape(batch_size, n))


def chunks(streams: np.ndarray, seq_len: int, offset: int = 0):
    """Yield (x, y) (N, T) chunks of consecutive columns; y is x shifted one character ahead."""
    L = streams.shape[1]
    for i in range(offset, L - 1, seq_len):
        T = min(seq_len, L - 1 - i)
        yield streams[:, i:i + T], streams[:, i + 1:i + 1 + T]


def lm_loss(logits, targets) -> Tensor:
    """Mean cross-entropy over all positions: logits (N, T, V), targets (N, T) int."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), Tensor(np.ascontiguousarray(targets).reshape(-1)))


# ---- evaluation -------------------------------------------------------------------------------------
def evaluate_nats(model, ids: np.ndarray, streams: int = 32, seq_len: int = 256, burn_in: int = 200,
                  limit: int | None = None) -> float:
    """Mean cross-entropy (nats per character) of predicting ids[t] from ids[:t], t = 1 .. L-1.

    Stateful: the text is split into `streams` segments read in parallel, chunk by chunk with the
    state carried; each segment first reads the `burn_in` characters before it (not scored), so
    almost every prediction sees as much context as in one sequential pass. limit: first ids only."""
    ids = np.asarray(ids[:limit] if limit else ids)
    L = len(ids)
    bounds = np.linspace(1, L, min(streams, L - 1) + 1).astype(np.int64)     # scored targets [s_b, e_b)
    starts = np.maximum(bounds[:-1] - 1 - burn_in, 0)                       # first input of each stream
    lengths = bounds[1:] - 1 - starts                                        # inputs per stream
    width = int(lengths.max())
    x = np.zeros((len(starts), width + 1), np.int64)
    scored = np.zeros((len(starts), width), bool)
    for b, (s, n) in enumerate(zip(starts, lengths)):
        x[b, :n + 1] = ids[s:s + n + 1]
        scored[b, bounds[b] - 1 - s:n] = True
    was_training = model.training
    model.eval()
    total, state = 0.0, None
    with no_grad():
        for i, (xs, ys) in zip(range(0, width, seq_len), chunks(x, seq_len)):
            logits, state = model(xs, state)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(ys.reshape(-1)), reduction="none").data
            total += float(nll[scored[:, i:i + seq_len].reshape(-1)].sum(dtype=np.float64))
    model.train(was_training)
    return total / int(scored.sum())


# ---- training ---------------------------------------------------------------------------------------
def cosine_lr(lr: float, progress: float, final_ratio: float = 0.1, warmup: float = 0.0) -> float:
    """lr at `progress` in [0, 1]: linear warm-up (from 1% of lr), then a cosine down to final_ratio * lr."""
    if warmup and progress < warmup:
        return lr * max(progress / warmup, 0.01)
    p = min(max((progress - warmup) / (1 - warmup), 0.0), 1.0)
    return lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def train_char_lm(model, train_ids, val_ids, *, batch_size: int = 64, seq_len: int = 100, lr: float = 2e-3,
                  clip: float = 5.0, epochs: float | None = None, time_limit: float | None = None,
                  weight_decay: float = 0.0, lr_final_ratio: float = 0.1, warmup: float = 0.02,
                  eval_every: float = 60.0, eval_chars: int | None = 20000, seed: int = 0, log=print,
                  optimizer=None, record_grad_norms: bool = True) -> dict:
    """Train `model` by truncated BPTT with Adam and a cosine learning rate; return the history.

    Stops after `epochs` passes over the training text or `time_limit` seconds of training
    (evaluation time not counted), whichever comes first; the cosine runs over that budget.
    Every `eval_every` seconds the loss on the first `eval_chars` validation characters is logged.
    record_grad_norms: keep ||dL/dh_t|| of the last full chunk's backward (per layer and step t of the chunk:
    every step has its own loss, so it shows how much gradient from later steps adds up going back).
    Returns {"steps", "epochs", "train_time_s", "tokens", "history": [rows], "grad_norms": (layers, T)}."""
    from ..optim import Adam
    if epochs is None and time_limit is None:
        raise ValueError("give epochs or time_limit (seconds)")
    rng = np.random.default_rng(seed)
    streams = batchify(np.asarray(train_ids), batch_size)
    steps_per_epoch = math.ceil((streams.shape[1] - 1) / seq_len)
    total_steps = None if epochs is None else max(1, int(epochs * steps_per_epoch))
    opt = optimizer or Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    params = [p for group in opt.param_groups for p in group["params"]]
    history, grad_norms = [], None
    step = tokens = 0
    train_time, last_eval, loss_sum, loss_n = 0.0, 0.0, 0.0, 0
    epoch, done = 0, False
    model.train()
    model.lstm.record_grad_norms = record_grad_norms

    def progress():
        by_steps = step / total_steps if total_steps else 0.0
        by_time = train_time / time_limit if time_limit else 0.0
        return max(by_steps, by_time)

    def log_row(final=False):
        nonlocal loss_sum, loss_n, last_eval
        val = evaluate_nats(model, val_ids, limit=None if final else eval_chars)
        row = {"step": step, "epoch": round(step / steps_per_epoch, 3), "time_s": round(train_time, 1),
               "train_loss": loss_sum / max(loss_n, 1), "val_loss": val, "lr": opt.param_groups[0]["lr"],
               "val_chars": len(val_ids) if final else min(len(val_ids), eval_chars or len(val_ids))}
        history.append(row)
        loss_sum = loss_n = 0
        last_eval = train_time
        if log:
            log(f"step {step:6d}  epoch {row['epoch']:6.2f}  {train_time:7.1f} s  train {row['train_loss']:.4f}  "
                f"val{'' if final else '~'} {val:.4f}  lr {row['lr']:.2e}")

    while not done:
        state = None
        offset = int(rng.integers(seq_len)) if epoch else 0     # vary the chunk boundaries epoch to epoch
        for x, y in chunks(streams, seq_len, offset):
            t0 = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = cosine_lr(lr, progress(), lr_final_ratio, warmup)
            logits, state = model(x, detach_state(state))
            loss = lm_loss(logits, y)
            opt.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            step += 1
            tokens += y.size
            loss_sum += float(loss.data)
            loss_n += 1
            train_time += time.perf_counter() - t0
            if x.shape[1] == seq_len:        # keep the profile of the last full-length chunk
                grad_norms = model.lstm.grad_norms
            if (time_limit and train_time >= time_limit) or (total_steps and step >= total_steps):
                done = True
                break
            if eval_every and train_time - last_eval >= eval_every:
                log_row()
        epoch += 1
    log_row(final=True)
    return {"steps": step, "epochs": round(step / steps_per_epoch, 3), "train_time_s": round(train_time, 1),
            "tokens": tokens, "tokens_per_s": round(tokens / max(train_time, 1e-9), 1), "history": history,
            "grad_norms": None if grad_norms is None else np.asarray(grad_norms).tolist()}


# ---- sampling ---------------------------------------------------------------------------------------
def sample(model, vocab, prompt: str = "\n", length: int = 500, temperature: float = 1.0, seed: int = 0,
           top_k: int | None = None) -> str:
    """prompt + `length` characters drawn one at a time from softmax(logits / temperature).

    temperature < 1 sharpens the distribution (safer, more repetitive), > 1 flattens it;
    temperature 0 is greedy (argmax). The prompt is read through the model first (its state carried)."""
    if not prompt:
        raise ValueError("sampling needs a non-empty prompt (e.g. '\\n')")
    rng = np.random.default_rng(seed)
    ids = vocab.encode(prompt)
    banned = [i for i in (vocab.pad_index, vocab.unk_index, vocab.bos_index, vocab.eos_index) if i is not None]
    model.eval()
    out = []
    with no_grad():
        logits, state = model(np.asarray([ids]))
        for _ in range(length):
            z = logits.data[0, -1].astype(np.float64)
            z[banned] = -np.inf
            if temperature <= 0:
                nxt = int(np.argmax(z))
            else:
                z = z / temperature
                if top_k:
                    z[np.argsort(z)[:-top_k]] = -np.inf
                p = np.exp(z - z.max())
                nxt = int(rng.choice(len(p), p=p / p.sum()))
            out.append(nxt)
            logits, state = model(np.asarray([[nxt]]), state)
    return prompt + vocab.decode(out)
