"""Shared test helpers. PyTorch is the oracle for parity tests (never imported by the library)."""
import scratchgrad as sg  # before NumPy, so that its OpenBLAS thread timeout counts (scratchgrad/_process.py)
import numpy as np
import pytest


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(autouse=True)
def _seed():
    sg.manual_seed(0)
    np.random.seed(0)
    yield


def to_torch(torch, x, requires_grad=None):
    """A torch tensor with the same data as a scratchgrad tensor or array."""
    arr = x.data if isinstance(x, sg.Tensor) else np.asarray(x)
    rg = (x.requires_grad if isinstance(x, sg.Tensor) else False) if requires_grad is None else requires_grad
    return torch.tensor(arr.copy(), requires_grad=rg)


def assert_close(a, b, atol=1e-5, rtol=1e-5, what=""):
    """Compare scratchgrad/torch/NumPy values elementwise."""
    def arr(v):
        if isinstance(v, sg.Tensor):
            return v.data
        if hasattr(v, "detach"):
            return v.detach().cpu().numpy()
        return np.asarray(v)
    a, b = arr(a), arr(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def shared_data_root():
    """../shared/data beside the checkout (CI and dev machines), or $SCRATCHGRAD_DATA."""
    import os
    from pathlib import Path
    env = os.environ.get("SCRATCHGRAD_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_root():
    root = shared_data_root()
    if not (root / "mnist").exists():
        pytest.skip(f"shared data not found at {root}")
    return root
