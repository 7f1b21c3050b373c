"""Lab `attention`: the fixed-vector bottleneck of seq2seq, and how attention removes it.

    from scratchgrad.labs import run_lab
    r = run_lab("attention", quick=True)      # seconds; the full run takes minutes

The task is copying a random string of digits (lengths 1..L_max in one padded batch, with source
lengths, masks and an end-of-sequence symbol). The plain seq2seq must squeeze the whole string into
the encoder's last state h (the fixed vector of the notes); the attention model can look back at every
encoder state while it writes. Same embedding, LSTM size, data, optimiser and number of steps for both;
accuracy is measured per source length on fresh strings with greedy decoding.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

PAD, START, EOS, DIGITS = 0, 1, 2, 10           # ids 3..12 are the digits
CLAIM = ("seq2seq with attention keeps copying long inputs correctly while the plain encoder-decoder, "
         "whose decoder sees only the encoder's final fixed-size vector, degrades as the input grows longer")


def copy_task(rng: np.random.Generator, n: int, min_len: int, max_len: int):
    """n random digit strings: (src (n, max_len) padded with PAD, tgt (n, max_len + 2) = START src EOS PAD...,
    lengths (n,))."""
    lengths = rng.integers(min_len, max_len + 1, n)
    src = rng.integers(3, 3 + DIGITS, (n, max_len))
    src[np.arange(max_len)[None, :] >= lengths[:, None]] = PAD
    tgt = np.full((n, max_len + 2), PAD)
    tgt[:, 0] = START
    tgt[:, 1:max_len + 1] = src
    tgt[np.arange(n), lengths + 1] = EOS
    return src, tgt, lengths


def accuracy_by_length(model, rng, max_len: int, n_per_length: int):
    """Per source length 1..max_len: (per-character accuracy, exact match incl. EOS, alignment), greedy.

    alignment: how often the output step j attends most to source position j (attention models)."""
    rows = []
    for L in range(1, max_len + 1):
        src, _, lengths = copy_task(rng, n_per_length, L, L)
        tokens, weights = model.greedy(src, START, max_len + 1, src_lengths=lengths)
        right = tokens[:, :L] == src[:, :L]
        exact = right.all(1) & (tokens[:, L] == EOS)
        aligned = np.nan if weights is None else float((weights[:, :L].argmax(-1) == np.arange(L)).mean())
        rows.append((float(right.mean()), float(exact.mean()), aligned))
    return np.array(rows)


def _figures(out: Path, lengths, results: dict, example, max_train: int) -> list[str]:
    from matplotlib.ticker import MaxNLocator

    from ..labs._common import figure, save_figure
    fig, axes = figure(1, 2, size=(5.2, 3.8))
    for label, rows in results.items():
        axes[0, 0].plot(lengths, 100 * rows[:, 0], "-o", ms=3, label=label)
        axes[0, 1].plot(lengths, 100 * rows[:, 1], "-o", ms=3, label=label)
    for ax, name in zip(axes[0], ("characters copied correctly (%)", "whole strings correct (%)")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("source length (digits)")
        ax.set_ylabel(name)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"copy task, trained on lengths 1..{max_train}: fixed vector vs attention")
    files = [save_figure(fig, out, "accuracy_vs_length.png")]
    src, tokens, weights = example
    fig, ax = figure(1, 1, size=(5.5, 5.0))
    ax = ax[0, 0]
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(src)), [str(d - 3) for d in src], fontsize=7)
    ax.set_yticks(range(len(tokens)), [str(d - 3) if d >= 3 else "<eos>" for d in tokens], fontsize=7)
    ax.set_xlabel("source digit")
    ax.set_ylabel("output digit")
    ax.set_title("attention weights while copying (a diagonal: output j reads source j)", fontsize=9)
    files.append(save_figure(fig, out, "attention_copy.png"))
    return files


def run(out, quick: bool = False, seed: int = 0) -> dict:
    from .. import optim
    from ..tensor import manual_seed
    from .seq2seq import build_seq2seq
    from .seq2seq_task import fit_seq2seq
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    max_len, hidden, steps, batch = (8, 32, 150, 64) if quick else (20, 64, 2000, 64)
    src, tgt, lengths = copy_task(np.random.default_rng(seed), steps * batch, 1, max_len)
    results, histories = {}, {}
    for label, kind in (("seq2seq (fixed vector)", "seq2seq"), ("seq2seq + attention", "seq2seq-attn")):
        manual_seed(seed)
        model = build_seq2seq(kind, 3 + DIGITS, 16, hidden, padding_idx=PAD, init="torch")
        opt = optim.Adam(model.parameters(), lr=0.01 if quick else 0.005)
        histories[label] = fit_seq2seq(model, src, tgt, 1, batch, opt, clip=5.0, seed=seed, lengths=lengths,
                                       ignore_index=PAD)
        results[label] = accuracy_by_length(model, np.random.default_rng(seed + 1), max_len, 100 if quick else 300)
    x, _, n = copy_task(np.random.default_rng(seed + 2), 1, max_len, max_len)
    tokens, weights = model.greedy(x, START, max_len + 1, src_lengths=n)
    example = (x[0], tokens[0], weights[0])
    plain, attn = results["seq2seq (fixed vector)"], results["seq2seq + attention"]
    long = slice(max_len - max_len // 3, max_len)                  # the longest third of the lengths
    short = slice(0, max(max_len // 4, 1))                          # the shortest quarter
    numbers = {
        "max_len": max_len, "hidden_size": hidden, "train_steps": steps, "batch_size": batch,
        "lengths": list(range(1, max_len + 1)),
        "char_accuracy": {k: np.round(v[:, 0], 4).tolist() for k, v in results.items()},
        "exact_match": {k: np.round(v[:, 1], 4).tolist() for k, v in results.items()},
        "attention_alignment": np.round(attn[:, 2], 4).tolist(),
        "long_char_accuracy": {k: round(float(v[long, 0].mean()), 4) for k, v in results.items()},
        "final_train_loss": {k: round(h[-1]["train_loss"], 4) for k, h in histories.items()},
    }
    numbers["checks"] = {
        "both_copy_short_strings": bool(plain[short, 0].mean() > 0.8 and attn[short, 0].mean() > 0.8),
        "fixed_vector_degrades_with_length": bool(plain[long, 0].mean() < plain[short, 0].mean() - 0.3),
        "attention_holds_up": bool(attn[long, 0].mean() > 0.85),
        "attention_beats_fixed_vector_on_long_inputs": bool(attn[long, 0].mean() > plain[long, 0].mean() + 0.3),
        "attention_is_diagonal": bool(np.nanmean(attn[:, 2]) > 0.8),
    }
    numbers["figures"] = _figures(out, numbers["lengths"], results, example, max_len)
    return numbers


LABS = {"attention": SimpleNamespace(CLAIM=CLAIM, run=run)}
