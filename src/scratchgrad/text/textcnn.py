"""TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification"), CNN-rand.

    model = TextCNN(vocab_size=len(vocab))           # embedding 300, windows 3/4/5 x 100 maps, dropout 0.5
    logits = model(ids)                              # ids (N, T) int, padded with 0 -> (N, 2)
    result = cross_validate(tokens, labels, folds=10)    # Kim's protocol on MR: mean and std accuracy

The network, for a sentence of T words:
    x = embedding(words)                     (N, T, D)   random init U(-0.25, 0.25), trained ("rand")
    c_k = relu(conv1d_k(x))                  (N, 100, T - k + 1) for windows k = 3, 4, 5
    z = [max_t c_3, max_t c_4, max_t c_5]    (N, 300)    max-over-time pooling: one feature per map
    logits = W dropout(z) + b                (N, 2)
and after every update the rows of W are rescaled to l2 norm <= 3 (the max-norm constraint).
relu and max commute (relu is increasing), so the code pools first and applies relu to (N, 300)
values only.

Training follows Kim's code (CNN_sentence/conv_net_sentence.py): mini-batches of 50, each sentence
padded with k_max - 1 pad tokens on both sides; 10% of the training folds is held out as a dev set
and the epoch with the best dev accuracy is the one scored on the test fold. The update rule is Adam
(8 epochs) by default, Kim's Adadelta (rho 0.95, eps 1e-6; ~20 epochs) on request. To save time,
a batch is padded only to its own longest sentence, and batches are drawn from buckets of similar
length (shuffled), not from one fixed 64-word width.
"""
from __future__ import annotations

import time

import numpy as np

from .. import nn
from ..autograd.function import no_grad
from ..nn import functional as F
from ..ops import cat
from ..tensor import Tensor


class TextCNN(nn.Module):
    """forward(ids (N, T) int) -> logits (N, num_classes). ids are padded with `padding_idx` (0);
    T must be >= max(kernel_sizes) (use `pad_batch`, which also adds Kim's border padding)."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, num_classes: int = 2,
                 kernel_sizes=(3, 4, 5), num_filters: int = 100, dropout: float = 0.5, padding_idx: int = 0,
                 embed_init: float = 0.25):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, num_classes=num_classes,
                           kernel_sizes=list(kernel_sizes), num_filters=num_filters, dropout=dropout,
                           padding_idx=padding_idx, embed_init=embed_init)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        nn.init.uniform_(self.embedding.weight, -embed_init, embed_init)   # Kim's random word vectors
        self.embedding.weight.data[padding_idx] = 0
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, num_filters, k) for k in kernel_sizes])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(kernel_sizes), num_classes)

    def features(self, ids, embed=None) -> Tensor:
        """The penultimate layer z (N, num_filters * len(kernel_sizes)): max-over-time conv features.
        embed: the lookup to use instead of self.embedding (SparseRows.lookup in training)."""
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if ids.shape[1] < max(self.config["kernel_sizes"]):
            raise ValueError(f"TextCNN: sequences of length {ids.shape[1]} are shorter than the widest window "
                             f"{max(self.config['kernel_sizes'])}: pad them (pad_batch)")
        x = (embed or self.embedding)(ids).transpose(1, 2)   # (N, D, T): channels-last in memory, conv's layout
        return F.relu(cat([conv(x).amax(-1) for conv in self.convs], dim=1))

    def forward(self, ids, embed=None) -> Tensor:
        return self.fc(self.dropout(self.features(ids, embed)))

    @no_grad()
    def max_norm_(self, max_norm: float = 3.0) -> None:
        """Rescale each row of fc.weight (one class's weight vector) to l2 norm <= max_norm, in place."""
        W = self.fc.weight.data
        norms = np.sqrt((W * W).sum(axis=1, keepdims=True))
        W *= np.minimum(1.0, max_norm / np.maximum(norms, 1e-12)).astype(W.dtype)


# ---- data: sentences as padded id matrices ------------------------------------------------------
def encode(token_lists, vocab) -> tuple[np.ndarray, np.ndarray]:
    """(ids (N, max_len) int64 right-padded with vocab.pad_index, lengths (N,)).
    Words missing from the vocabulary map to <unk> (the vocabulary must have one)."""
    lengths = np.array([len(t) for t in token_lists], dtype=np.int64)
    ids = np.full((len(token_lists), max(int(lengths.max()), 1)), vocab.pad_index, dtype=np.int64)
    ids[np.arange(ids.shape[1]) < lengths[:, None]] = [vocab[w] for t in token_lists for w in t]
    return ids, lengths


def pad_batch(ids: np.ndarray, lengths: np.ndarray, rows: np.ndarray, border: int, pad_index: int = 0):
    """The sentences `rows` cut to their longest one, with `border` pad tokens on each side (Kim pads
    k_max - 1: every word is then seen by every position of every window). -> (len(rows), T) int64."""
    width = max(int(lengths[rows].max()), 1)
    return np.pad(ids[rows, :width], ((0, 0), (border, border)), constant_values=pad_index)


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng, bucket: int = 20):
    """Shuffled index batches of similar-length sentences: shuffle, sort each run of bucket * batch_size
    by length, cut into batches, shuffle the batch order. Less padding, still random batches."""
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), bucket * batch_size):
        chunk = order[start:start + bucket * batch_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def predict(model, ids, lengths, border: int, batch_size: int = 500) -> np.ndarray:
    """Predicted classes (N,) in eval mode (dropout off), batches sorted by length."""
    was_training = model.training
    model.eval()
    order = np.argsort(lengths, kind="stable")
    pred = np.empty(len(lengths), dtype=np.int64)
    with no_grad():
        for i in range(0, len(order), batch_size):
            rows = order[i:i + batch_size]
            pred[rows] = model(pad_batch(ids, lengths, rows, border)).data.argmax(1)
    model.train(was_training)
    return pred


def accuracy(model, ids, lengths, labels, border: int) -> float:
    return float((predict(model, ids, lengths, border) == labels).mean()) if len(labels) else float("nan")


# ---- training -------------------------------------------------------------------------------------
class SparseRows:
    """Update an nn.Embedding by reading and writing only the rows a batch uses.

    `rule` is an Adadelta or Adam optimizer built on [embedding.weight]; its update formula
    (`_update`) runs on the gathered rows and their gathered state. A dense update swept all
    V x D = 18.8k x 300 numbers several times per step (300 ms here); a batch of 50 sentences
    uses about 1000 rows.

    Adadelta: exactly the dense result. Its step sqrt(u + eps) / sqrt(v + eps) * g is zero where g
    is, so an unused row does not move; only its running averages decay (v <- rho v, u <- rho u).
    The n decays a row missed are applied in one go, times rho^n, when it is next used.
    Adam: the "lazy" Adam of torch.optim.SparseAdam (the moments of unused rows neither decay nor
    move the row; bias corrections use the global step). Not the dense result: Adam's momentum
    would keep moving unused rows.

        sparse = SparseRows(model.embedding, optim.Adadelta([model.embedding.weight], rho=0.95))
        loss = loss_fn(model(ids, embed=sparse.lookup), y); loss.backward(); sparse.step()
    """

    def __init__(self, embedding, rule):
        from ..optim import Adadelta, Adam
        if not isinstance(rule, (Adadelta, Adam)):
            raise TypeError(f"SparseRows supports Adadelta and Adam, not {type(rule).__name__}")
        group = rule.param_groups[0]
        if group.get("weight_decay") or group.get("amsgrad"):
            raise ValueError("SparseRows: weight decay (it moves unused rows) and amsgrad are not supported")
        self.embedding, self.rule, self.exact = embedding, rule, isinstance(rule, Adadelta)
        self.state = rule._init_state(embedding.weight.data, group)        # full (V, D) buffers
        self.last_step = np.zeros(embedding.num_embeddings, dtype=np.int64)
        self.t, self.rows, self.used = 0, None, None

    def lookup(self, ids) -> Tensor:
        """embedding(ids), read through a leaf copy of the used rows (which collects the gradient)."""
        self.used, inverse = np.unique(ids, return_inverse=True)
        self.rows = Tensor(self.embedding.weight.data[self.used], requires_grad=True)
        pad = self.embedding.padding_idx
        pad_row = int(np.searchsorted(self.used, pad)) if pad is not None and pad in self.used else None
        return F.embedding(inverse.reshape(np.shape(ids)), self.rows, pad_row)

    @no_grad()
    def step(self) -> None:
        if self.rows is None or self.rows.grad is None:
            return
        self.t += 1
        group, used, W = self.rule.param_groups[0], self.used, self.embedding.weight.data
        rows = {k: v[used] for k, v in self.state.items() if isinstance(v, np.ndarray)}
        if self.exact:                      # Adadelta: the decays of the steps each row missed
            missed = (self.t - 1 - self.last_step[used]).astype(np.float64)
            decay = (group["rho"] ** missed).astype(W.dtype)[:, None]
            for v in rows.values():
                v *= decay
        p = W[used]
        self.rule._update(p, self.rows.grad.data, {**rows, "step": self.t}, group)
        W[used] = p
        for k, v in rows.items():
            self.state[k][used] = v
        self.last_step[used] = self.t
        self.rows = None


def make_optimizer(name: str, params, lr: float | None = None, weight_decay: float = 0.0):
    """adadelta (Kim: lr 1, rho 0.95, eps 1e-6), adam (lr 1e-3) or sgd (lr 0.1)."""
    from .. import optim
    if name == "adadelta":
        return optim.Adadelta(params, lr=1.0 if lr is None else lr, rho=0.95, eps=1e-6, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=1e-3 if lr is None else lr, weight_decay=weight_decay)
    if name == "sgd":
        return optim.SGD(params, lr=0.1 if lr is None else lr, weight_decay=weight_decay)
    raise ValueError(f"TextCNN optimizer must be adadelta, adam or sgd, got {name!r}")


def train_textcnn(model, train, dev=None, *, epochs: int = 8, batch_size: int = 50, optimizer: str = "adam",
                  lr: float | None = None, weight_decay: float = 0.0, max_norm: float | None = 3.0,
                  seed: int = 0, sparse_embedding: bool = True, log=None) -> dict:
    """Train on `train` = (ids, lengths, labels); keep the parameters of the epoch with the best accuracy
    on `dev` (the same triple; without it, the last epoch's). Returns {"history", "best_epoch", ...}.
    sparse_embedding: update only the embedding rows each batch uses (SparseRows: for Adadelta the same
    result as the dense update, for Adam torch's SparseAdam), several times cheaper per step."""
    border = max(model.config["kernel_sizes"]) - 1
    sparse = None
    if sparse_embedding and optimizer in ("adadelta", "adam") and not weight_decay:
        sparse = SparseRows(model.embedding, make_optimizer(optimizer, [model.embedding.weight], lr))
        params = [p for name, p in model.named_parameters() if name != "embedding.weight"]
    else:
        params = list(model.parameters())
    opt = make_optimizer(optimizer, params, lr, weight_decay)
    rng = np.random.default_rng(seed)
    ids, lengths, labels = train
    history, best, best_state = [], (-1.0, 0), None
    model.train()
    for epoch in range(1, epochs + 1):
        t0, loss_sum, correct = time.perf_counter(), 0.0, 0
        for rows in bucketed_batches(lengths, batch_size, rng):
            logits = model(pad_batch(ids, lengths, rows, border), embed=sparse and sparse.lookup)
            y = labels[rows]
            loss = F.cross_entropy(logits, Tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sparse:
                sparse.step()
            if max_norm:
                model.max_norm_(max_norm)
            loss_sum += float(loss.data) * len(rows)
            correct += int((logits.data.argmax(1) == y).sum())
        row = {"epoch": epoch, "train_loss": loss_sum / len(labels), "train_acc": correct / len(labels),
               "time_s": round(time.perf_counter() - t0, 2)}
        if dev is not None:
            row["dev_acc"] = accuracy(model, *dev, border)
        history.append(row)
        score = row.get("dev_acc", epoch)
        if score > best[0]:
            best = (score, epoch)
            best_state = {k: v.copy() for k, v in model.state_dict().items()}
        if log:
            log(f"  epoch {epoch:2d}  loss {row['train_loss']:.4f}  train {row['train_acc']:.4f}"
                + (f"  dev {row['dev_acc']:.4f}" if dev is not None else "") + f"  {row['time_s']:.1f} s")
    model.load_state_dict(best_state)
    return {"history": history, "best_epoch": best[1], "train_time_s": round(sum(r["time_s"] for r in history), 2)}


# ---- 10-fold cross-validation ---------------------------------------------------------------------
def kfold_assignments(n: int, folds: int = 10, seed: int = 0) -> np.ndarray:
    """fold id (0 .. folds-1) of each of n samples: a seeded permutation cut into near-equal parts."""
    fold = np.empty(n, dtype=np.int64)
    for k, part in enumerate(np.array_split(np.random.default_rng(seed).permutation(n), folds)):
        fold[part] = k
    return fold


def build_vocab(token_lists):
    """Word vocabulary (<pad> = 0, <unk> = 1, then words by frequency) of the given sentences."""
    from .vocab import Vocab
    return Vocab.from_tokens(token_lists, level="word", unk=True)


def split_fold(token_lists, labels, fold_of: np.ndarray, k: int, dev_fraction: float = 0.1, seed: int = 0,
               vocab_from: str = "train"):
    """(vocab, train, dev, test) for test fold k; each split is (ids, lengths, labels).

    The dev set is a seeded dev_fraction of the training folds (Kim: 10%). vocab_from="train" builds the
    vocabulary from the training folds (dev included) only, so test-only words are <unk>; "all" builds
    it from every sentence, as Kim's process_data.py does (their vectors then stay at their random init)."""
    test_idx = np.flatnonzero(fold_of == k)
    rest = np.random.default_rng(seed + 1000 + k).permutation(np.flatnonzero(fold_of != k))
    n_dev = int(round(len(rest) * dev_fraction))
    dev_idx, train_idx = rest[:n_dev], rest[n_dev:]
    vocab = build_vocab(token_lists if vocab_from == "all" else [token_lists[i] for i in rest])
    ids, lengths = encode(token_lists, vocab)
    part = lambda idx: (ids[idx], lengths[idx], labels[idx])  # noqa: E731
    return vocab, part(train_idx), (part(dev_idx) if n_dev else None), part(test_idx), test_idx


def cross_validate(token_lists, labels, *, folds: int = 10, seed: int = 0, only_folds=None,
                   dev_fraction: float = 0.1, vocab_from: str = "train", model_kw: dict | None = None,
                   train_kw: dict | None = None, log=print) -> dict:
    """Kim's protocol: for each test fold, train a fresh TextCNN on the other folds (minus a dev set),
    score the best-dev epoch on the test fold. Returns per-fold accuracies, their mean and std, the
    times, and the last fold's model, vocab and test indices (for saving)."""
    from ..tensor import manual_seed
    labels = np.asarray(labels, dtype=np.int64)
    fold_of = kfold_assignments(len(labels), folds, seed)
    results, model = [], None
    for k in (range(folds) if only_folds is None else only_folds):
        t0 = time.perf_counter()
        vocab, train, dev, test, test_idx = split_fold(token_lists, labels, fold_of, k, dev_fraction, seed,
                                                       vocab_from)
        manual_seed(seed * 100 + k)
        model = TextCNN(len(vocab), padding_idx=vocab.pad_index, **(model_kw or {}))
        fit = train_textcnn(model, train, dev, seed=seed * 100 + k, log=log, **(train_kw or {}))
        acc = accuracy(model, *test, max(model.config["kernel_sizes"]) - 1)
        results.append({"fold": k, "test_acc": acc, "best_epoch": fit["best_epoch"], "vocab_size": len(vocab),
                        "n_train": len(train[2]), "n_dev": 0 if dev is None else len(dev[2]), "n_test": len(test[2]),
                        "train_time_s": fit["train_time_s"], "fold_time_s": round(time.perf_counter() - t0, 2),
                        "history": fit["history"]})
        if log:
            log(f"fold {k}: test accuracy {acc:.4f} (best dev epoch {fit['best_epoch']}, "
                f"{results[-1]['fold_time_s']:.0f} s)")
    accs = np.array([r["test_acc"] for r in results])
    return {"folds": results, "mean_acc": float(accs.mean()), "std_acc": float(accs.std()),
            "model": model, "vocab": vocab, "test_idx": test_idx}


def fold_summary(result: dict) -> str:
    accs = [r["test_acc"] for r in result["folds"]]
    return (f"{len(accs)}-fold accuracy {100 * result['mean_acc']:.2f}% +- {100 * result['std_acc']:.2f} "
            f"(min {100 * min(accs):.2f}, max {100 * max(accs):.2f})")
