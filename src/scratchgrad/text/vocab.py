"""Vocabulary: tokens <-> integer ids, for characters or words.

    >>> v = Vocab.from_text("hello")            # character level, pad only
    >>> v.itos
    ['<pad>', 'e', 'h', 'l', 'o']
    >>> v.encode("hole")
    [2, 4, 3, 1]
    >>> v.decode([2, 1, 3, 3, 4])
    'hello'
    >>> w = Vocab.from_tokens([["a", "cat"], ["a", "dog"]], unk=True, bos=True, eos=True)
    >>> w.itos[:4], w.encode(["a", "cow"]), w.decode(w.encode(["a", "dog"]))
    (['<pad>', '<unk>', '<bos>', '<eos>'], [4, 1], 'a dog')

Special tokens come first, in the order pad (always id 0), unk, bos, eos; then the ordinary tokens,
sorted by decreasing frequency, ties alphabetically (``order="freq"``), or plainly sorted
(``order="sorted"``, the char-RNN convention: vocab 65 for Tiny Shakespeare plus the pad).
``state_dict()`` is a JSON-able dict, saved next to a model in a run folder.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class Vocab:
    """A token <-> id table.

    level: "char" (tokens are characters; decode joins with "") or "word" (decode joins with " ").
    Encoding a token missing from the table maps it to ``<unk>`` if the vocabulary has one, else raises.
    """

    def __init__(self, tokens: Sequence[str], level: str = "char", pad: bool = True,
                 unk: bool = False, bos: bool = False, eos: bool = False):
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        self.level = level
        specials = [s for s, on in ((PAD, pad), (UNK, unk), (BOS, bos), (EOS, eos)) if on]
        self.specials = specials
        self.itos: list[str] = specials + [t for t in tokens if t not in specials]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate tokens in the vocabulary")

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_tokens(cls, sequences: Iterable[Iterable[str]], level: str = "word", min_freq: int = 1,
                    max_size: int | None = None, order: str = "freq", **specials) -> "Vocab":
        """Build from token sequences (e.g. sentences split into words, or strings of characters).

        min_freq drops rarer tokens; max_size caps the ordinary tokens (specials not counted).
        """
        counts = Counter()
        for seq in sequences:
            counts.update(seq)
        kept = [t for t, c in counts.items() if c >= min_freq]
        if order == "freq":
            kept.sort(key=lambda t: (-counts[t], t))
        elif order == "sorted":
            kept.sort()
        else:
            raise ValueError(f"order must be 'freq' or 'sorted', got {order!r}")
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept, level=level, **specials)

    @classmethod
    def from_text(cls, text: str, level: str = "char", order: str = "sorted", **specials) -> "Vocab":
        """Build from one string: its characters (level="char") or whitespace-split words."""
        seq = text if level == "char" else text.split()
        return cls.from_tokens([seq], level=level, order=order, **specials)

    # ---- lookup ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)}, specials={self.specials})"

    pad_index = property(lambda self: self.stoi.get(PAD), doc="id of <pad> (0), None if absent")
    unk_index = property(lambda self: self.stoi.get(UNK), doc="id of <unk>, None if absent")
    bos_index = property(lambda self: self.stoi.get(BOS), doc="id of <bos>, None if absent")
    eos_index = property(lambda self: self.stoi.get(EOS), doc="id of <eos>, None if absent")

    def __getitem__(self, token: str) -> int:
        idx = self.stoi.get(token, self.unk_index)
        if idx is None:
            raise KeyError(f"token {token!r} is not in the vocabulary (and it has no <unk>)")
        return idx

    def encode(self, tokens: str | Iterable[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Tokens -> ids. A str is split into characters (char level) or words (word level)."""
        if isinstance(tokens, str):
            tokens = tokens if self.level == "char" else tokens.split()
        ids = [self[t] for t in tokens]
        if add_bos:
            ids.insert(0, self.stoi[BOS])
        if add_eos:
            ids.append(self.stoi[EOS])
        return ids

    def encode_array(self, text: str) -> np.ndarray:
        """A long string -> int64 array of ids, vectorised (for a whole corpus of characters)."""
        if self.level != "char":
            return np.asarray(self.encode(text), dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        uniq, inverse = np.unique(codes, return_inverse=True)
        table = np.asarray([self[chr(c)] for c in uniq], dtype=np.int64)
        return table[inverse]

    def decode(self, ids: Iterable[int], skip_specials: bool = True) -> str:
        """Ids -> string; special tokens are dropped unless skip_specials=False."""
        ids = np.asarray(ids).reshape(-1).tolist()
        toks = [self.itos[i] for i in ids]
        if skip_specials:
            toks = [t for t in toks if t not in self.specials]
        return ("" if self.level == "char" else " ").join(toks)

    # ---- persistence -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A JSON-able description: {"level", "specials", "tokens" (ordinary tokens in id order)}."""
        return {"level": self.level, "specials": list(self.specials),
                "tokens": self.itos[len(self.specials):]}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Vocab":
        sp = set(state.get("specials", [PAD]))
        return cls(state["tokens"], level=state.get("level", "char"),
                   pad=PAD in sp, unk=UNK in sp, bos=BOS in sp, eos=EOS in sp)

    def save(self, path) -> None:
        import json
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.state_dict(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path) -> "Vocab":
        import json
        with open(path, encoding="utf-8") as f:
            return cls.from_state_dict(json.load(f))
