"""The toy seq2seq tasks of "Deep Learning from Scratch 2" (ch. 7-8): addition.txt and date.txt.

    data = load_seq2seq_toy("addition", root="../shared/data")
    data.x_train.shape, data.t_train.shape        # (45000, 7), (45000, 5)  int64 character ids
    data.vocab.decode(data.t_train[0])            # '_71  ': the answer behind the start symbol '_'

File format (one example per line, fixed width): the question padded with spaces, '_', the answer
padded with spaces, e.g. `16+75  _91  `. As the book's `dataset/sequence.py`: each line is split at
its first '_', which stays in front of the answer as the decoder's start symbol; the character
vocabulary is numbered in order of first appearance (no <pad>: the spaces are ordinary characters);
the examples are shuffled with `np.random.seed(1984); np.random.shuffle(indices)` and the last 10%
are the held-out test split (45,000 / 5,000). Loading is vectorised (one np.unique over the bytes).

Files are looked for as `root/NAME.txt`, then `root/dlfs2-seq2seq/NAME.txt` (root: $SCRATCHGRAD_DATA
or ~/.cache/scratchgrad by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...text.vocab import Vocab
from .mnist import default_root

FOLDER = "dlfs2-seq2seq"
NAMES = ("addition", "date")
BOOK_SEED = 1984          # the seed of the book's load_data
START = "_"               # the separator, kept as the decoder's start symbol


@dataclass
class Seq2seqToy:
    """Questions x (N, Tx) and answers t (N, 1 + Ty) (t[:, 0] is the start symbol) as int64 ids."""
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    vocab: Vocab
    name: str

    @property
    def start_id(self) -> int:
        return self.vocab[START]

    def decode(self, ids: np.ndarray) -> list[str]:
        return decode_rows(self.vocab, ids)

    def encode(self, texts, width: int) -> np.ndarray:
        return encode_rows(self.vocab, texts, width)


def decode_rows(vocab: Vocab, ids: np.ndarray) -> list[str]:
    """(N, T) ids -> N strings (the padding spaces kept, as in the file)."""
    table = np.asarray(vocab.itos, dtype=object)
    return ["".join(row) for row in table[np.asarray(ids)]]


def encode_rows(vocab: Vocab, texts, width: int) -> np.ndarray:
    """Strings -> (N, width) ids, each padded with spaces (or cut) to `width` as in the file."""
    return np.asarray([vocab.encode(s.ljust(width)[:width]) for s in texts], dtype=np.int64)


def seq2seq_toy_path(name: str, root=None) -> Path:
    """The path of NAME.txt under `root` (or `root/dlfs2-seq2seq/`)."""
    if name not in NAMES:
        raise ValueError(f"unknown toy seq2seq dataset {name!r}; choose from {', '.join(NAMES)}")
    root = Path(root) if root is not None else default_root()
    for candidate in (root / f"{name}.txt", root / FOLDER / f"{name}.txt"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name}.txt not found in {root} or {root / FOLDER} (the files of "
                            "github.com/oreilly-japan/deep-learning-from-scratch-2/tree/master/dataset)")


def _read_fixed_width(path: Path) -> tuple[np.ndarray, int]:
    """(lines as a (N, width) uint8 array without the newlines, column of the '_')."""
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    width = int(np.argmax(raw == ord("\n"))) + 1
    if width == 1 or len(raw) % width:
        raise ValueError(f"{path}: expected lines of one fixed width, as the book's files")
    lines = raw.reshape(-1, width)
    split = int(np.argmax(lines[0] == ord(START)))
    if not ((lines[:, -1] == ord("\n")).all() and (lines[:, split] == ord(START)).all()):
        raise ValueError(f"{path}: expected every line to be `question_answer` of fixed widths")
    return lines[:, :-1], split


def load_seq2seq_toy(name: str = "addition", root=None, seed: int | None = BOOK_SEED,
                     test_fraction: float = 0.1) -> Seq2seqToy:
    """The book's `sequence.load_data(NAME.txt, seed)`: the same vocabulary, shuffle and 90/10 split."""
    lines, split = _read_fixed_width(seq2seq_toy_path(name, root))
    codes, first, inverse = np.unique(lines.reshape(-1), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")                   # ids in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ids = rank[inverse].reshape(lines.shape).astype(np.int64)
    vocab = Vocab([chr(c) for c in codes[order]], level="char", pad=False)
    indices = np.arange(len(ids))
    if seed is not None:
        np.random.RandomState(seed).shuffle(indices)          # == np.random.seed(seed); np.random.shuffle
    ids = ids[indices]
    x, t = ids[:, :split], ids[:, split:]
    split_at = len(ids) - int(len(ids) * test_fraction)        # the book: len(x) - len(x) // 10
    return Seq2seqToy(x[:split_at], t[:split_at], x[split_at:], t[split_at:], vocab, name)
