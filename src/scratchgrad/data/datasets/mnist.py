"""MNIST and Fashion-MNIST from the standard IDX files (gzipped or raw).

    train = MNIST(root="../shared/data", train=True)    # data (60000, 1, 28, 28) float32 in [0, 1]
    test = FashionMNIST(train=False, download=True)     # fetched once, checksum verified

Where the files are looked for, in order: `root` (or `$SCRATCHGRAD_DATA`, or
~/.cache/scratchgrad), then `root/mnist/` (`root/fashion-mnist/`), then torchvision's
`root/MNIST/raw/` (`root/FashionMNIST/raw/`). `download=True` writes into `root/mnist/`.

IDX format (big-endian): 2 zero bytes, a type byte (0x08 = uint8), a byte with the
number of dimensions, one int32 per dimension, then the values row-major.
"""
from __future__ import annotations

import gzip
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dataset import ArrayDataset
from ..download import download_file

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def default_root() -> Path:
    """$SCRATCHGRAD_DATA if set, else ~/.cache/scratchgrad."""
    env = os.environ.get("SCRATCHGRAD_DATA")
    return Path(env) if env else Path.home() / ".cache" / "scratchgrad"


def read_idx(path) -> np.ndarray:
    """Parse one IDX file (.gz or raw) into an array of its stored shape and type."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ValueError(f"{path} cannot be decompressed ({e}): delete it and download it again") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    body = 4 + 4 * ndim
    if len(raw) - body != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape} but the file holds {len(raw) - body} bytes of data "
                         "(truncated download?)")
    return np.frombuffer(raw, dtype, offset=body).reshape(shape).astype(dtype.newbyteorder("="))


@lru_cache(maxsize=8)
def _read_cached(path: str, mtime: float, size: int) -> np.ndarray:
    arr = read_idx(path)
    arr.setflags(write=False)
    return arr


class _IDXDataset(ArrayDataset):
    """Shared loader of the four-file MNIST layout; subclasses give names, mirrors and checksums."""

    folder = ""               # sub-folder of root, e.g. "mnist"
    torchvision_folder = ""   # torchvision's layout root/<name>/raw
    mirrors: tuple = ()
    files: dict = {}          # filename -> (algorithm, hex digest)
    classes: tuple = ()

    def __init__(self, root=None, train: bool = True, download: bool = False, flatten: bool = False,
                 normalize: bool = True):
        self.root = Path(root) if root is not None else default_root()
        self.train = train
        prefix = "train" if train else "t10k"
        images = self._load(f"{prefix}-images-idx3-ubyte", download)
        labels = self._load(f"{prefix}-labels-idx1-ubyte", download)
        data = images.reshape(len(images), -1) if flatten else images[:, None]
        # normalize: float32 in [0, 1]; otherwise the raw uint8 values 0..255
        self.data = data.astype(np.float32) / 255.0 if normalize else data
        self.targets = labels.astype(np.int64)
        super().__init__(self.data, self.targets)

    def _candidates(self, name: str) -> list[Path]:
        dirs = [self.root, self.root / self.folder, self.root / self.torchvision_folder / "raw"]
        return [d / f for d in dirs for f in (name + ".gz", name)]

    def _load(self, name: str, download: bool) -> np.ndarray:
        found = next((p for p in self._candidates(name) if p.is_file()), None)
        if found is None and download:
            gz = name + ".gz"
            found = download_file(gz, self.root / self.folder, [m + gz for m in self.mirrors], self.files[gz])
        if found is None:
            tried = "\n".join(f"  {p}" for p in self._candidates(name))
            raise FileNotFoundError(
                f"{type(self).__name__}: {name}(.gz) not found. Looked in:\n{tried}\n"
                f"Pass download=True to fetch it (checksum-verified), or set root= / the SCRATCHGRAD_DATA "
                f"environment variable to the folder that holds the IDX files.")
        stat = found.stat()
        return _read_cached(str(found), stat.st_mtime, stat.st_size)

    def __repr__(self):
        return f"{type(self).__name__}({'train' if self.train else 'test'}, n={len(self)}, root={self.root})"


class MNIST(_IDXDataset):
    """MNIST handwritten digits: 60,000 train / 10,000 test, `data` (N, 1, 28, 28), `targets` int64.

    flatten=True gives `data` of shape (N, 784); normalize=False keeps uint8 0..255.
    """

    folder = "mnist"
    torchvision_folder = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
    files = {  # SHA-256 of the canonical files (see shared/data/MANIFEST.md; MD5s match LeCun's)
        "train-images-idx3-ubyte.gz": ("sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": ("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": ("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": ("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }
    classes = tuple(str(d) for d in range(10))


class FashionMNIST(_IDXDataset):
    """Zalando's Fashion-MNIST: same layout as MNIST, 10 clothing classes."""

    folder = "fashion-mnist"
    torchvision_folder = "FashionMNIST"
    # Zalando's bucket (the README's links) and the copy in their GitHub repository
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
    files = {  # MD5s as published in github.com/zalandoresearch/fashion-mnist README (no SHA-256 is published)
        "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
    }
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
