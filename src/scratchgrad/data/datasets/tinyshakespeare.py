"""Tiny Shakespeare (Karpathy's char-rnn corpus): 1,115,394 characters, 65 distinct.

    text = load_tinyshakespeare(root="../shared/data")             # the whole corpus as one str
    train, val = tinyshakespeare_split(root="../shared/data")      # first 90% / last 10% of the characters

Where the file is looked for: `root/input.txt`, then `root/tinyshakespeare/input.txt`, with
`root` defaulting to $SCRATCHGRAD_DATA or ~/.cache/scratchgrad. `download=True` fetches it from the
canonical URL into `root/tinyshakespeare/` and checks its SHA-256.
"""
from __future__ import annotations

from pathlib import Path

from ..download import download_file
from .mnist import default_root

FILENAME = "input.txt"
FOLDER = "tinyshakespeare"
URLS = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",)
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TRAIN_FRACTION = 0.9


def tinyshakespeare_path(root=None, download: bool = False) -> Path:
    """The path of input.txt under `root`; downloads it when missing and download=True."""
    root = Path(root) if root is not None else default_root()
    for candidate in (root / FILENAME, root / FOLDER / FILENAME):
        if candidate.is_file():
            return candidate
    if download:
        return download_file(FILENAME, root / FOLDER, URLS, ("sha256", SHA256))
    raise FileNotFoundError(
        f"Tiny Shakespeare not found: looked for {root / FILENAME} and {root / FOLDER / FILENAME}. "
        f"Pass root= (CLI: --data-root DIR, e.g. ../shared/data), set $SCRATCHGRAD_DATA, or download it "
        f"(download=True / --download) from {URLS[0]}")


def load_tinyshakespeare(root=None, download: bool = False) -> str:
    """The whole corpus as one string."""
    return tinyshakespeare_path(root, download).read_text(encoding="utf-8")


def tinyshakespeare_split(root=None, download: bool = False, train_fraction: float = TRAIN_FRACTION):
    """(train_text, val_text): the first 90% of the characters and the last 10% (the char-rnn split)."""
    text = load_tinyshakespeare(root, download)
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]
