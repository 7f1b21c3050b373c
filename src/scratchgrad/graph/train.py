"""Full-batch node classification as the papers train it, and multi-seed runs.

    g = load_planetoid("cora", root, normalize_features=True)
    result = fit_node_classifier("gcn", g, seed=0)          # the GCN paper's settings
    summary = run_seeds("gat", g, seeds=range(10))          # mean and std of the test accuracy

Each step is the whole graph: one forward pass, the loss on the training nodes only, backward,
Adam. The papers' two early-stopping rules are both here:

* "window" (Kipf & Welling's code): stop at epoch t > w when the validation loss (plus the L2
  penalty, which their loss includes) exceeds the mean of the previous w such losses; test with
  the weights of the last epoch.
* "patience" (Velickovic et al.'s code): keep training while the validation accuracy or loss
  improves on its best within `patience` epochs; test with the weights saved at the last epoch
  that improved both.
"""
from __future__ import annotations

import time

import numpy as np

from .. import optim
from ..autograd.function import no_grad
from ..nn import functional as F
from ..tensor import Tensor, manual_seed
from .models import build_model

# The settings of each paper (Cora/Citeseer): model options, then training options.
PAPER_SETTINGS = {
    "gcn": {"model": {"hidden_channels": 16, "dropout": 0.5},
            "train": {"lr": 0.01, "weight_decay": 5e-4, "decay": "first", "epochs": 200,
                      "stopping": "window", "patience": 10}},
    "cheb": {"model": {"hidden_channels": 16, "dropout": 0.5, "K": 3},
             "train": {"lr": 0.01, "weight_decay": 5e-4, "decay": "first", "epochs": 200,
                       "stopping": "window", "patience": 10}},
    "gat": {"model": {"hidden_channels": 8, "heads": 8, "out_heads": 1, "dropout": 0.6},
            "train": {"lr": 0.005, "weight_decay": 5e-4, "decay": "all", "epochs": 100_000,
                      "stopping": "patience", "patience": 100}},
    # GraphSAGE's paper has no Cora run: its sampling (fanouts 25, 10) with GCN-like optimisation;
    # the sampled validation loss is noisy, so the patience rule (20 epochs) stops it
    "sage": {"model": {"hidden_channels": 64, "aggr": "mean", "dropout": 0.5},
             "train": {"lr": 0.01, "weight_decay": 5e-4, "decay": "all", "epochs": 200,
                       "stopping": "patience", "patience": 20, "fanouts": [25, 10], "batch_size": 64}},
}


def param_groups(model, weight_decay: float, decay: str = "all"):
    """Adam parameter groups: L2 on every parameter ("all") or on the first layer only ("first",
    as Kipf & Welling's code does); "none" for no decay."""
    if decay == "none" or weight_decay == 0:
        return [{"params": list(model.parameters()), "weight_decay": 0.0}]
    if decay == "all":
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    first = {id(p) for p in model.first_layer_parameters()}
    return [{"params": [p for p in model.parameters() if id(p) in first], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in first], "weight_decay": 0.0}]


def evaluate(model, graph, x=None, fanouts=None) -> dict:
    """Loss and accuracy on the train/val/test masks, in eval mode (no dropout, no graph).
    With `fanouts`, every node sees a sampled neighbourhood, as GraphSAGE evaluates."""
    x = graph.x if x is None else x
    model.eval()
    with no_grad():
        if fanouts:
            input_nodes, blocks = _sampler(graph, fanouts).sample(np.arange(graph.num_nodes))
            logits = model(x[input_nodes], blocks)
        else:
            logits = model(x, graph)
    out = {}
    for split in ("train", "val", "test"):
        mask = getattr(graph, f"{split}_mask")
        if mask is None or not mask.any():
            continue
        idx = np.nonzero(mask)[0]
        out[f"{split}_loss"] = float(F.cross_entropy(logits[idx], Tensor(graph.y[idx])).item())
        out[f"{split}_accuracy"] = float((logits.data[idx].argmax(axis=1) == graph.y[idx]).mean())
    return out


class _Stopper:
    """The two early-stopping rules; `update` returns (stop?, save the weights now?)."""

    def __init__(self, rule: str | None, patience: int):
        self.rule, self.patience = rule, patience
        self.val_losses, self.best_acc, self.best_loss, self.bad = [], -np.inf, np.inf, 0

    def update(self, epoch: int, val_loss: float, val_acc: float) -> tuple[bool, bool]:
        self.val_losses.append(val_loss)
        if self.rule == "window":    # Kipf: epoch > w and loss > mean of the previous w losses
            w = self.patience       # (Kipf's 0-based `epoch > w`: more than w + 1 losses seen)
            stop = len(self.val_losses) > w + 1 and val_loss > np.mean(self.val_losses[-(w + 1):-1])
            return stop, False
        if self.rule == "patience":  # Velickovic: reset the counter when acc or loss improves
            if val_acc >= self.best_acc or val_loss <= self.best_loss:
                save = val_acc >= self.best_acc and val_loss <= self.best_loss
                self.best_acc, self.best_loss = max(val_acc, self.best_acc), min(val_loss, self.best_loss)
                self.bad = 0
                return False, save
            self.bad += 1
            return self.bad >= self.patience, False
        return False, False


def _l2_penalty(opt) -> float:
    """sum over groups of weight_decay / 2 * ||p||^2: the L2 term whose gradient Adam's weight_decay adds."""
    return sum(g["weight_decay"] / 2 * float(np.sum(p.data.astype(np.float64) ** 2))
               for g in opt.param_groups if g["weight_decay"] for p in g["params"])


def _sampler(graph, fanouts):
    from .sampling import NeighborSampler
    return graph.cached(("sampler", tuple(fanouts)), lambda: NeighborSampler(graph, fanouts))


def _minibatch_epoch(model, opt, graph, x, train_idx, fanouts, batch_size) -> Tensor:
    """One epoch of GraphSAGE's mini-batch training: shuffled batches of training nodes, each on
    its sampled computation graph (`NeighborSampler`). Returns the last batch's loss."""
    from ..tensor import get_rng
    sampler = _sampler(graph, fanouts)
    perm = get_rng().permutation(train_idx)
    for i in range(0, perm.size, batch_size):
        batch = perm[i:i + batch_size]
        input_nodes, blocks = sampler.sample(batch)
        loss = F.cross_entropy(model(x[input_nodes], blocks), Tensor(graph.y[batch]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss


def train_node_classifier(model, graph, lr: float = 0.01, weight_decay: float = 5e-4, decay: str = "all",
                          epochs: int = 200, stopping: str | None = "window", patience: int = 10,
                          fanouts=None, batch_size: int = 64, x=None, callback=None, verbose: bool = False) -> dict:
    """Train `model` on graph.train_mask with Adam; returns the final metrics and history.

    Full-batch (one step per epoch on the whole graph), or, with `fanouts` (e.g. [25, 10]),
    mini-batches of `batch_size` training nodes on neighbour-sampled blocks (GraphSAGE).
    stopping: "window", "patience" or None (see the module docstring). `callback(epoch, model, row)`
    runs after every epoch with that epoch's history row (e.g. to record embeddings for a figure)."""
    x = graph.x if x is None else x
    opt = optim.Adam(param_groups(model, weight_decay, decay), lr=lr)
    train_idx = np.nonzero(graph.train_mask)[0]
    target = Tensor(graph.y[train_idx])
    stopper, saved, history = _Stopper(stopping, patience), None, []
    start, epoch = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        model.train()
        if fanouts:
            loss = _minibatch_epoch(model, opt, graph, x, train_idx, fanouts, batch_size)
        else:
            loss = F.cross_entropy(model(x, graph)[train_idx], target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        metrics = evaluate(model, graph, x, fanouts)
        history.append({"epoch": epoch, "loss": float(loss.item()), **metrics})
        if callback is not None:
            callback(epoch, model, history[-1])
        if verbose:
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  val loss {metrics.get('val_loss', np.nan):.4f}  "
                  f"val acc {metrics.get('val_accuracy', np.nan):.4f}", flush=True)
        if stopping is not None and "val_loss" in metrics:
            monitored = metrics["val_loss"] + (_l2_penalty(opt) if stopping == "window" else 0.0)
            stop, save = stopper.update(epoch, monitored, metrics["val_accuracy"])
            if save:
                saved = (epoch, {k: v.copy() for k, v in model.state_dict().items()})
            if stop:
                break
    train_time = time.perf_counter() - start
    best_epoch = epoch
    if saved is not None:  # the "patience" rule tests the saved weights
        best_epoch = saved[0]
        model.load_state_dict(saved[1])
    final = evaluate(model, graph, x, fanouts)
    return {**final, "epochs": epoch, "best_epoch": best_epoch, "train_time_s": train_time,
            "epoch_time_ms": 1000 * train_time / max(epoch, 1), "history": history}


def fit_node_classifier(name: str, graph, seed: int = 0, model_options: dict | None = None,
                        train_options: dict | None = None, verbose: bool = False):
    """Build model `name` with its paper's settings (overridden by the options), seed, train. -> (model, result)."""
    settings = PAPER_SETTINGS[name]
    model_kw = {**settings["model"], **(model_options or {})}
    train_kw = {**settings["train"], **(train_options or {})}
    manual_seed(seed)
    model = build_model(name, graph.num_features, graph.num_classes, **model_kw)
    result = train_node_classifier(model, graph, verbose=verbose, **train_kw)
    result.update(model=name, seed=seed, model_options=model_kw, train_options=train_kw)
    return model, result


def run_seeds(name: str, graph, seeds=range(10), model_options: dict | None = None,
              train_options: dict | None = None, log=None) -> dict:
    """Train once per seed; the test accuracies with their mean and (population) std."""
    runs = []
    for seed in seeds:
        _, r = fit_node_classifier(name, graph, seed, model_options, train_options)
        r.pop("history")
        runs.append(r)
        if log is not None:
            log(f"{name} {graph.name} seed {seed}: test accuracy {r['test_accuracy']:.4f} "
                f"({r['epochs']} epochs, {r['epoch_time_ms']:.1f} ms/epoch)")
    acc = np.array([r["test_accuracy"] for r in runs])
    return {"model": name, "dataset": graph.name, "seeds": list(seeds), "test_accuracy": acc.tolist(),
            "mean": float(acc.mean()), "std": float(acc.std()), "runs": runs}


__all__ = ["PAPER_SETTINGS", "evaluate", "fit_node_classifier", "param_groups", "run_seeds",
           "train_node_classifier"]
