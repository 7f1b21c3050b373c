"""Built-in datasets: `digits` (bundled, offline), `MNIST`, `FashionMNIST` (IDX files)."""
from .digits import Digits, digits
from .mnist import MNIST, FashionMNIST, default_root, read_idx

__all__ = ["Digits", "FashionMNIST", "MNIST", "default_root", "digits", "read_idx"]
