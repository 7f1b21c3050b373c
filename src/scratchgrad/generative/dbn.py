"""Deep belief network: greedy layer-wise RBM pre-training, then supervised fine-tuning (Hinton et al., 2006).

A deep sigmoid network trained from a random start learns slowly: the gradient shrinks as it goes
down through saturating layers. Pre-training gives each layer weights that already model its
input: RBM 1 learns p(x), RBM 2 learns the distribution of RBM 1's hidden probabilities, ...;
their weights and hidden biases then initialise Linear -> Sigmoid layers, a Linear classifier goes
on top, and backprop fine-tunes everything.

    dbn = DBN([784, 500, 500])
    dbn.pretrain(x_train, epochs=5)
    net = dbn.to_mlp(num_classes=10)            # nn.Sequential(Linear, Sigmoid, Linear, Sigmoid, Linear)
"""
from __future__ import annotations

import time

import numpy as np

from .. import nn
from ..tensor import Tensor
from .rbm import RBM, train_rbm


class DBN:
    """A stack of RBMs with layer sizes [n_visible, h1, h2, ...]."""

    def __init__(self, sizes, init_std: float = 0.01):
        self.sizes = list(sizes)
        self.rbms = [RBM(a, b, init_std) for a, b in zip(self.sizes[:-1], self.sizes[1:])]

    def pretrain(self, x: np.ndarray, epochs: int = 5, batch_size: int = 100, lr: float = 0.05, k: int = 1,
                 rng: np.random.Generator | None = None, verbose: bool = False) -> list[list[dict]]:
        """Train RBM 1 on x (grey levels, binarised on the fly), RBM l+1 on RBM l's hidden probabilities."""
        rng = rng or np.random.default_rng(0)
        histories, data = [], x
        for i, rbm in enumerate(self.rbms):
            start = time.perf_counter()
            histories.append(train_rbm(rbm, data, epochs, batch_size, lr, k, rng=rng))
            data = rbm.h_given_v(data).astype(np.float32)
            if verbose:
                print(f"RBM {i + 1} ({rbm.n_visible}-{rbm.n_hidden}): reconstruction error "
                      f"{histories[-1][-1]['recon_error']:.2f} ({time.perf_counter() - start:.1f} s)", flush=True)
        return histories

    def to_mlp(self, num_classes: int = 10) -> nn.Sequential:
        """Linear(W_l, c_l) -> Sigmoid per RBM, then a fresh Linear(sizes[-1], num_classes)."""
        layers = []
        for rbm in self.rbms:
            lin = nn.Linear(rbm.n_visible, rbm.n_hidden)
            lin.weight.data[...] = rbm.weight.data
            lin.bias.data[...] = rbm.h_bias.data
            layers += [lin, nn.Sigmoid()]
        layers.append(nn.Linear(self.sizes[-1], num_classes))
        return nn.Sequential(*layers)


def random_init_mlp(sizes, num_classes: int = 10) -> nn.Sequential:
    """The same architecture as DBN(sizes).to_mlp() with PyTorch's default random init."""
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Sigmoid()]
    layers.append(nn.Linear(sizes[-1], num_classes))
    return nn.Sequential(*layers)


def fine_tune(model, x, y, x_test, y_test, epochs: int = 5, batch_size: int = 100, lr: float = 0.1,
              momentum: float = 0.9, rng: np.random.Generator | None = None) -> list[dict]:
    """Supervised training with SGD + momentum and softmax cross-entropy; test accuracy after every epoch."""
    from .. import optim
    from ..labs._common import accuracy
    from .common import minibatches
    rng = rng or np.random.default_rng(0)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    hist = [{"epoch": 0, "train_loss": None, "test_accuracy": accuracy(model, x_test, y_test)}]
    for epoch in range(1, epochs + 1):
        model.train()
        total, n = 0.0, 0
        for idx in minibatches(len(x), batch_size, rng):
            loss = loss_fn(model(Tensor(x[idx])), Tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + float(loss.item()), n + 1
        hist.append({"epoch": epoch, "train_loss": total / n, "test_accuracy": accuracy(model, x_test, y_test)})
    return hist


def compare_pretraining(x, y, x_test, y_test, hidden=(500, 500), pretrain_epochs: int = 5, finetune_epochs: int = 5,
                        n_labeled=None, lr: float = 0.1, seed: int = 0, verbose: bool = False) -> dict:
    """Fine-tune a DBN-initialised MLP and the same MLP from random init: same data, optimiser and seed.

    The DBN is pre-trained once on all of x (no labels); fine-tuning uses the first n labelled samples
    for each n in `n_labeled` (None: all). Returns the test-accuracy curves per n and the timings."""
    import scratchgrad as sg
    sizes = [x.shape[1], *hidden]
    sg.manual_seed(seed)
    start = time.perf_counter()
    dbn = DBN(sizes)
    dbn.pretrain(x, epochs=pretrain_epochs, rng=np.random.default_rng(seed), verbose=verbose)
    result = {"sizes": sizes, "pretrain_epochs": pretrain_epochs, "finetune_epochs": finetune_epochs,
              "pretrain_time_s": round(time.perf_counter() - start, 2), "runs": {}}
    for n in (n_labeled if isinstance(n_labeled, (list, tuple)) else [n_labeled]):
        xl, yl = (x, y) if n is None else (x[:n], y[:n])
        curves = {}
        for name in ("pretrained", "random_init"):
            sg.manual_seed(seed + 1)     # the same top layer init and the same batches for both
            model = dbn.to_mlp(10) if name == "pretrained" else random_init_mlp(sizes, 10)
            t = time.perf_counter()
            curves[name] = fine_tune(model, xl, yl, x_test, y_test, finetune_epochs, lr=lr,
                                     rng=np.random.default_rng(seed + 1))
            curves[name][-1]["time_s"] = round(time.perf_counter() - t, 2)
            if verbose:
                print(f"n={len(xl)} {name}: test accuracy per epoch",
                      [round(h["test_accuracy"], 4) for h in curves[name]], flush=True)
        result["runs"][str(len(xl))] = {"curves": curves,
                                        "final_accuracy": {k: v[-1]["test_accuracy"] for k, v in curves.items()}}
    return result


def plot_comparison(result: dict, path) -> None:
    """Test accuracy per fine-tuning epoch, pretrained vs random init, one panel per labelled-set size."""
    from ..labs._common import figure, save_figure
    runs = result["runs"]
    fig, axes = figure(1, len(runs), size=(4.2, 3.3))
    for ax, (n, run) in zip(axes[0], runs.items()):
        for name, style in (("pretrained", "o-"), ("random_init", "s--")):
            c = run["curves"][name]
            ax.plot([h["epoch"] for h in c], [h["test_accuracy"] for h in c], style, label=name.replace("_", " "))
        ax.set_title(f"{'-'.join(map(str, result['sizes']))}-10 sigmoid MLP, {n} labels", fontsize=9)
        ax.set_xlabel("fine-tuning epoch")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=8)
    from pathlib import Path
    save_figure(fig, Path(path).parent, Path(path).name)
