"""Fetch a data file from its canonical mirrors, verify its checksum, write it atomically.

    path = download_file("t10k-labels-idx1-ubyte.gz", dest_dir,
                         urls=["https://mirror-a/...", "https://mirror-b/..."],
                         checksum=("sha256", "f7ae60f9..."))

Mirrors are tried in order. A file is written to `dest_dir` only once its digest
matches (temporary file in the same folder, then `os.replace`), so a broken or
interrupted download never leaves a half-written file behind.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path

CHUNK = 1 << 20
TIMEOUT_S = 60


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected checksum."""


def file_digest(path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch_to(url: str, dest_dir: Path, algorithm: str) -> tuple[str, str]:
    """Stream `url` into a temporary file in `dest_dir`; return (temp path, hex digest)."""
    h = hashlib.new(algorithm)
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, h.hexdigest()


def download_file(filename: str, dest_dir, urls, checksum: tuple[str, str]) -> Path:
    """Download `filename` into `dest_dir` from the first mirror that serves it intact.

    checksum: (algorithm, hex digest), e.g. ("sha256", "...") or ("md5", "...").
    Raises DownloadError naming the file, every URL tried and what went wrong,
    and how to place the file by hand.
    """
    algorithm, expected = checksum
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename
    failures = []
    for url in urls:
        try:
            tmp, digest = _fetch_to(url, dest_dir, algorithm)
        except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append(f"  {url}: {getattr(e, 'reason', e)}")
            continue
        if digest != expected.lower():
            os.unlink(tmp)
            failures.append(f"  {url}: {algorithm} checksum mismatch (expected {expected}, got {digest})")
            continue
        from ..checkpoint import _umask
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, target)
        return target
    raise DownloadError(
        f"could not download {filename}. Tried:\n" + "\n".join(failures) +
        f"\nTo install it by hand, download {filename} from one of the URLs above (any copy whose "
        f"{algorithm} is {expected}) and put it in {dest_dir}")
