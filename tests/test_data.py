"""Data: DataLoader determinism and coverage, random_split, digits, MNIST/IDX files, mocked downloads."""
import gzip
import hashlib
import io
import shutil
import urllib.error

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.data import (DataLoader, Dataset, Digits, DownloadError, FashionMNIST, MNIST, Subset,
                              TensorDataset, default_collate, digits, random_split)
from scratchgrad.data import download as download_mod
from scratchgrad.data.datasets.mnist import read_idx


def epoch_labels(loader):
    return np.concatenate([yb.data for _, yb in loader])


@pytest.fixture
def ds():
    x = np.arange(103 * 2, dtype=np.float32).reshape(103, 2)
    return TensorDataset(x, np.arange(103))


# ---- DataLoader -------------------------------------------------------------------------------
def test_loader_covers_every_sample_once_per_epoch(ds):
    loader = DataLoader(ds, batch_size=10, shuffle=True, generator=0)
    assert len(loader) == 11
    epochs = [epoch_labels(loader) for _ in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(103))
    assert not np.array_equal(epochs[0], epochs[1])  # a new permutation every epoch
    sizes = [len(yb) for _, yb in loader]
    assert sizes == [10] * 10 + [3]


def test_loader_batches_are_rows_of_the_arrays(ds):
    for xb, yb in DataLoader(ds, batch_size=7, shuffle=True, generator=1):
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.data, ds.arrays[0][yb.data])


def test_drop_last(ds):
    loader = DataLoader(ds, batch_size=10, shuffle=True, drop_last=True, generator=0)
    assert len(loader) == 10
    labels = [yb.data for _, yb in loader]
    assert len(labels) == 10 and all(len(b) == 10 for b in labels)
    assert len(np.unique(np.concatenate(labels))) == 100


def test_no_shuffle_is_in_order(ds):
    np.testing.assert_array_equal(epoch_labels(DataLoader(ds, batch_size=32)), np.arange(103))


def test_seeded_shuffle_is_deterministic(ds):
    a, b = DataLoader(ds, 16, shuffle=True, generator=7), DataLoader(ds, 16, shuffle=True, generator=7)
    for _ in range(2):
        np.testing.assert_array_equal(epoch_labels(a), epoch_labels(b))
    c = DataLoader(ds, 16, shuffle=True, generator=8)
    assert not np.array_equal(epoch_labels(DataLoader(ds, 16, shuffle=True, generator=7)), epoch_labels(c))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(epoch_labels(DataLoader(ds, 16, shuffle=True, generator=g1)),
                                  epoch_labels(DataLoader(ds, 16, shuffle=True, generator=g2)))


def test_default_generator_follows_manual_seed(ds):
    sg.manual_seed(11)
    first = epoch_labels(DataLoader(ds, 16, shuffle=True))
    sg.manual_seed(11)
    np.testing.assert_array_equal(first, epoch_labels(DataLoader(ds, 16, shuffle=True)))


def test_array_datasets_batch_without_per_sample_calls(ds, monkeypatch):
    def boom(self, i):
        raise AssertionError("per-sample __getitem__ called")
    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    assert len(epoch_labels(DataLoader(ds, 10, shuffle=True, generator=0))) == 103
    train, _ = random_split(ds, [0.5, 0.5], generator=0)  # Subset keeps the fast path
    assert len(epoch_labels(DataLoader(train, 10))) == len(train)


class Squares(Dataset):
    """A generic (non-array) dataset: samples come one by one from __getitem__."""

    def __len__(self):
        return 9

    def __getitem__(self, i):
        return {"x": np.full(3, i, np.float32), "y": i * i, "w": 0.5}


def test_generic_dataset_and_collate():
    batches = list(DataLoader(Squares(), batch_size=4))
    assert [len(b["y"]) for b in batches] == [4, 4, 1]
    b = batches[0]
    assert b["x"].shape == (4, 3) and b["x"].dtype == np.float32
    assert b["y"].dtype == np.int64 and b["y"].tolist() == [0, 1, 4, 9]
    assert b["w"].dtype == np.float32
    pairs = default_collate([(sg.ones(2), 1), (sg.zeros(2), 2)])
    assert isinstance(pairs, tuple) and pairs[0].shape == (2, 2) and pairs[1].tolist() == [1, 2]
    custom = DataLoader(Squares(), batch_size=3, collate_fn=lambda samples: [s["y"] for s in samples])
    assert list(custom) == [[0, 1, 4], [9, 16, 25], [36, 49, 64]]


def test_loader_rejects_bad_arguments(ds):
    with pytest.raises(ValueError):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError):
        DataLoader(ds, shuffle=True, generator="seed")


# ---- random_split -----------------------------------------------------------------------------
def test_random_split_lengths_and_disjointness(ds):
    parts = random_split(ds, [50, 30, 23], generator=0)
    assert [len(p) for p in parts] == [50, 30, 23]
    idx = np.concatenate([p.indices for p in parts])
    assert sorted(idx) == list(range(103))
    again = random_split(ds, [50, 30, 23], generator=0)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again))
    x, y = parts[1][4]
    assert int(y.item()) == parts[1].indices[4]


def test_random_split_fractions_match_torch(ds, torch):
    for fracs in ([0.9, 0.1], [0.3, 0.3, 0.4], [1 / 3] * 3):
        ours = [len(p) for p in random_split(ds, fracs, generator=0)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(103), fracs)]
        assert ours == theirs


def test_random_split_errors(ds):
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [50, 50])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.6])


def test_subset_of_generic_dataset():
    sub = Subset(Squares(), [8, 2])
    assert sub[0]["y"] == 64
    assert list(DataLoader(sub, batch_size=2))[0]["y"].tolist() == [64, 4]


# ---- digits -----------------------------------------------------------------------------------
def test_digits_fixed_split():
    train, test = digits()
    assert (len(train), len(test)) == (1437, 360)
    assert train.data.shape == (1437, 1, 8, 8) and train.data.dtype == np.float32
    assert train.targets.dtype == np.int64
    assert 0.0 <= train.data.min() and train.data.max() == 1.0
    assert np.bincount(test.targets).tolist() == [36] * 10
    flat = Digits(train=False, flatten=True)
    assert flat.data.shape == (360, 64)
    np.testing.assert_array_equal(flat.data.reshape(-1, 1, 8, 8), test.data)
    assert len(train) + len(test) == 1797
    assert np.bincount(train.targets).sum() == 1437
    np.testing.assert_array_equal(Digits(train=False).targets, test.targets)  # the split never changes


def test_digits_read_directly_equal_sklearns_loader():
    import importlib
    from sklearn.datasets import load_digits
    pixels, labels = importlib.import_module("scratchgrad.data.datasets.digits")._read_bundled()
    ref = load_digits()
    np.testing.assert_array_equal(pixels, ref.data)
    np.testing.assert_array_equal(labels, ref.target)


# ---- MNIST from IDX files ---------------------------------------------------------------------
MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz"]


def test_mnist_matches_manifest(data_root):
    train = MNIST(data_root, train=True)
    assert train.data.shape == (60000, 1, 28, 28) and train.data.dtype == np.float32
    assert train.targets.dtype == np.int64
    assert train.targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(train.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert train.data.min() == 0.0 and train.data.max() == 1.0
    assert abs(train.data.mean(dtype=np.float64) * 255 - 33.3184) < 1e-3
    test = MNIST(data_root, train=False, flatten=True)
    assert test.data.shape == (10000, 784)
    assert test.targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    raw = MNIST(data_root, train=False, normalize=False)
    assert raw.data.dtype == np.uint8 and abs(raw.data.mean() - 33.7912) < 1e-3
    xb, yb = next(iter(DataLoader(test, batch_size=64, shuffle=True, generator=0)))
    assert xb.shape == (64, 784) and yb.shape == (64,)


def test_mnist_file_layouts_and_env(data_root, tmp_path, monkeypatch):
    # files directly in root, decompressed (raw IDX), found through $SCRATCHGRAD_DATA
    for name in MNIST_FILES[2:]:
        with gzip.open(data_root / "mnist" / name) as src:
            (tmp_path / name[:-3]).write_bytes(src.read())
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(tmp_path))
    test = MNIST(train=False)
    assert test.targets[:3].tolist() == [7, 2, 1] and len(test) == 10000


def test_missing_files_error_is_helpful(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        MNIST(tmp_path, train=False)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte" in msg and str(tmp_path / "mnist") in msg
    assert "download=True" in msg and "SCRATCHGRAD_DATA" in msg


def test_truncated_idx_file(tmp_path):
    (tmp_path / "x-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (100).to_bytes(4, "big") + bytes(50))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "x-idx1-ubyte")
    (tmp_path / "y").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "y")
    good = gzip.compress(b"\x00\x00\x08\x01" + (100).to_bytes(4, "big") + bytes(100))
    np.testing.assert_array_equal(_write_and_read(tmp_path / "ok.gz", good), np.zeros(100, np.uint8))
    with pytest.raises(ValueError, match="cannot be decompressed"):
        _write_and_read(tmp_path / "cut.gz", good[:-12])


def _write_and_read(path, data):
    path.write_bytes(data)
    return read_idx(path)


# ---- downloads (urlopen mocked: no network in tests) ------------------------------------------
class FakeWeb:
    """Stands in for urllib.request.urlopen: URL -> bytes, or an exception for unreachable hosts."""

    def __init__(self, pages=None, offline_hosts=()):
        self.pages, self.offline_hosts, self.requested = pages or {}, offline_hosts, []

    def __call__(self, url, timeout=None):
        self.requested.append(url)
        if any(h in url for h in self.offline_hosts):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        name = url.rsplit("/", 1)[-1]
        if name not in self.pages:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(self.pages[name])


def test_download_verifies_sha256_and_falls_back_to_next_mirror(data_root, tmp_path, monkeypatch):
    pages = {n: (data_root / "mnist" / n).read_bytes() for n in MNIST_FILES[2:]}
    web = FakeWeb(pages, offline_hosts=("ossci-datasets",))
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", web)
    test = MNIST(tmp_path, train=False, download=True)
    assert test.targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == MNIST_FILES[2:]  # no temp files left
    assert web.requested[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert web.requested[1].startswith("https://storage.googleapis.com/cvdf-datasets/mnist/")
    digest = hashlib.sha256((tmp_path / "mnist" / MNIST_FILES[3]).read_bytes()).hexdigest()
    assert digest == MNIST.files[MNIST_FILES[3]][1]
    n = len(web.requested)
    MNIST(tmp_path, train=False, download=True)  # already there: no second download
    assert len(web.requested) == n


def test_download_checksum_mismatch(tmp_path, monkeypatch):
    web = FakeWeb({n: b"not the real file" for n in MNIST_FILES})
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", web)
    with pytest.raises(DownloadError, match="checksum mismatch") as e:
        MNIST(tmp_path, train=False, download=True)
    assert "t10k-images-idx3-ubyte.gz" in str(e.value)
    assert list((tmp_path / "mnist").iterdir()) == []  # nothing half-written stays behind


def test_download_offline_error_names_file_urls_and_manual_fix(tmp_path, monkeypatch):
    web = FakeWeb(offline_hosts=("http",))
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", web)
    with pytest.raises(DownloadError) as e:
        FashionMNIST(tmp_path, train=True, download=True)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "name resolution" in msg
    for mirror in FashionMNIST.mirrors:
        assert mirror + "train-images-idx3-ubyte.gz" in msg
    assert "by hand" in msg and str(tmp_path / "fashion-mnist") in msg
    assert list((tmp_path / "fashion-mnist").iterdir()) == []


def test_download_md5_checksums(tmp_path, monkeypatch):
    payload = b"fashion!"
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", FakeWeb({"f.gz": payload}))
    path = download_mod.download_file("f.gz", tmp_path, ["https://a/f.gz"], ("md5", hashlib.md5(payload).hexdigest()))
    assert path.read_bytes() == payload


def test_copy_of_shared_files_in_torchvision_layout(data_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES[2:]:
        shutil.copy(data_root / "mnist" / name, raw / name)
    assert len(MNIST(tmp_path, train=False)) == 10000
