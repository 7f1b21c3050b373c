"""MR: Pang & Lee's movie-review sentence polarity data (v1.0), as used by Kim (2014).

    sentences, labels = load_mr(root="../shared/data")     # 10,662 raw lines; labels 1 = positive, 0 = negative
    tokens = [clean_str(s).split() for s in sentences]      # Kim's tokenisation

Two files, one sentence per line, Latin-1 (Windows-1252) encoded: rt-polarity.pos (5331 lines)
and rt-polarity.neg (5331 lines). There is no official split: papers report 10-fold
cross-validation. Positive sentences come first, as in Kim's process_data.py.

Where the files are looked for: `root/`, `root/mr-polarity/`, `root/rt-polaritydata/` (the
Cornell tarball's folder), with `root` defaulting to $SCRATCHGRAD_DATA or ~/.cache/scratchgrad.
`download=True` fetches them into `root/mr-polarity/` and checks their SHA-256: first the copies
in Kim's CNN_sentence repository (pinned commit), then the files inside Cornell's canonical
rt-polaritydata.tar.gz (each member checked against the same SHA-256).
"""
from __future__ import annotations

import re
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ..download import DownloadError, download_file, file_digest
from .mnist import default_root

FOLDER = "mr-polarity"
FILES = {  # file -> SHA-256 (shared/data/MANIFEST.md)
    "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
    "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
}
MIRROR = "https://raw.githubusercontent.com/yoonkim/CNN_sentence/23e0e1f7355705bb083043fda05c031b15acb38c/"
TARBALL = "http://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
ENCODING = "latin-1"


def clean_str(text: str) -> str:
    """Kim's tokenisation (CNN_sentence/process_data.py): keep letters, digits and ( ) , ! ? ' `,
    split clitics ('s 've n't 're 'd 'll) and punctuation into their own tokens, lowercase.

    >>> clean_str("It's not a great film, isn't it?")
    "it 's not a great film , is n't it ?"
    """
    text = re.sub(r"[^A-Za-z0-9(),!?'`]", " ", text)
    text = re.sub(r"('s|'ve|n't|'re|'d|'ll)", r" \1", text)
    text = re.sub(r"([,!?()])", r" \1 ", text)
    return re.sub(r"\s{2,}", " ", text).strip().lower()


def _candidates(root: Path, name: str) -> list[Path]:
    return [root / name, root / FOLDER / name, root / "rt-polaritydata" / name]


def _from_tarball(dest: Path, url: str = TARBALL) -> None:
    """Fetch Cornell's tarball and extract the two files, each checked against its SHA-256."""
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / "rt-polaritydata.tar.gz"
        urllib.request.urlretrieve(url, archive)
        with tarfile.open(archive) as tar:
            for name, sha in FILES.items():
                member = tar.getmember(f"rt-polaritydata/{name}")
                part = Path(tmp) / name
                part.write_bytes(tar.extractfile(member).read())
                if file_digest(part) != sha:
                    raise DownloadError(f"{url}: {name} has the wrong SHA-256 (expected {sha})")
                part.replace(dest / name)


def mr_paths(root=None, download: bool = False) -> dict[str, Path]:
    """{"pos": path, "neg": path}; downloads missing files when download=True."""
    root = Path(root) if root is not None else default_root()
    found = {name: next((p for p in _candidates(root, name) if p.is_file()), None) for name in FILES}
    if None in found.values() and download:
        dest = root / FOLDER
        try:
            for name, sha in FILES.items():
                found[name] = found[name] or download_file(name, dest, [MIRROR + name], ("sha256", sha))
        except DownloadError as first:
            try:
                _from_tarball(dest)
            except (OSError, tarfile.TarError, KeyError, DownloadError) as second:
                raise DownloadError(f"{first}\nand the canonical tarball failed too: {second}") from None
            found = {name: dest / name for name in FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        looked = "\n".join(f"  {p}" for p in _candidates(root, missing[0]))
        raise FileNotFoundError(
            f"MR (rt-polarity) not found: no {missing[0]} in\n{looked}\nPass root= (CLI: --data-root DIR, e.g. "
            f"../shared/data), set $SCRATCHGRAD_DATA, or download it (download=True / --download; source "
            f"{TARBALL}).")
    return {"pos": found["rt-polarity.pos"], "neg": found["rt-polarity.neg"]}


def load_mr(root=None, download: bool = False) -> tuple[list[str], np.ndarray]:
    """(sentences, labels): the raw lines (positive first, then negative) and int64 labels (1 = pos)."""
    paths = mr_paths(root, download)
    sentences = []
    for kind in ("pos", "neg"):
        # split on "\n" only: str.splitlines() would also break at byte 0x85 (Latin-1 NEL, used as "...")
        lines = paths[kind].read_text(encoding=ENCODING).split("\n")
        sentences.append([line.strip() for line in lines if line.strip()])
    labels = np.concatenate([np.ones(len(sentences[0]), np.int64), np.zeros(len(sentences[1]), np.int64)])
    return sentences[0] + sentences[1], labels
