"""Data: datasets, mini-batch loading and the built-in datasets (PyTorch's `torch.utils.data` names).

    from scratchgrad.data import DataLoader, TensorDataset, random_split, digits, MNIST
    train, test = digits()
    train, val = random_split(train, [0.9, 0.1], generator=0)
    for xb, yb in DataLoader(train, batch_size=32, shuffle=True, generator=0):
        ...
"""
from .dataloader import DataLoader
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from .datasets import MNIST, Digits, FashionMNIST, digits
from .download import DownloadError, download_file

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Digits", "DownloadError", "FashionMNIST", "MNIST", "Subset",
           "TensorDataset", "default_collate", "digits", "download_file", "random_split"]
