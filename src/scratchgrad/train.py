"""The training loop: epochs of mini-batch SGD with validation, early stopping, checkpoints and resume.

    history = fit(model, optimizer, train_loader, val_loader, epochs=30,
                  checkpoint_dir="runs/exp1", patience=5)
    loss, acc = evaluate(model, test_loader)

One epoch is the loop of chapter 4 written once:

    for x, t in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        optimizer.step()

then a pass over `val_loader` (eval mode, no graph), a scheduler step, and two
checkpoints in `checkpoint_dir`: `model.safetensors` (the best weights so far by
validation loss) and `train_state.safetensors` (everything needed to continue:
model, optimizer, scheduler, history, early-stopping counters and the random
generators). `resume=True` continues from the last completed epoch and finishes
with exactly the weights an uninterrupted run would have. When training ends,
`curves.png` shows the learning curves.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from . import checkpoint
from .autograd.function import no_grad
from .tensor import get_rng, manual_seed

BEST_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"
CURVES_FILE = "curves.png"


def set_seed(seed: int) -> None:
    """Seed scratchgrad's global generator (init, dropout, shuffling of loaders without their own)."""
    manual_seed(seed)


def _default_loss():
    from .nn import CrossEntropyLoss
    return CrossEntropyLoss()


def _n_correct(output, target):
    """Correct predictions for class scores (N, C, ...) and integer targets (N, ...); None otherwise."""
    out, t = output.data, getattr(target, "data", target)
    if out.ndim < 2 or t.dtype.kind not in "iu" or t.shape != out.shape[:1] + out.shape[2:]:
        return None
    return int((out.argmax(axis=1) == t).sum())


def _run_epoch(model, loader, loss_fn, optimizer=None, bar=None, transform=None):
    """One pass over `loader`: (mean loss per sample, accuracy or None). Trains if `optimizer` is given;
    `transform` (e.g. data augmentation) maps each input batch before the model sees it."""
    total_loss, correct, seen = 0.0, 0, 0
    for i, (x, t) in enumerate(loader):
        if transform is not None:
            x = transform(x)
        if optimizer is not None:
            optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, t)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
        n = len(t)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"the loss became {value} at batch {i}: try a smaller learning rate")
        total_loss += value * n
        c = _n_correct(out, t)
        correct = None if c is None or correct is None else correct + c
        seen += n
        if bar is not None:
            bar.update(1)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    if seen == 0:
        raise ValueError("the data loader produced no batches")
    return total_loss / seen, (None if correct is None else correct / seen)


def evaluate(model, loader, loss_fn=None) -> tuple[float, float | None]:
    """(mean loss, accuracy) of `model` over `loader`, in eval mode and without building a graph.

    The model's train/eval mode is restored afterwards. Accuracy is None when the
    outputs are not class scores for integer targets.
    """
    loss_fn = loss_fn or _default_loss()
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return _run_epoch(model, loader, loss_fn)
    finally:
        model.train(was_training)


class Trainer:
    """Holds what a training run needs and its progress; `fit` runs the epochs.

    loss_fn:        default CrossEntropyLoss
    scheduler:      stepped once per epoch (ReduceLROnPlateau gets the monitored loss)
    patience:       stop after this many epochs without a lower validation loss (None: never)
    min_delta:      how much lower the loss must be to count as an improvement
    checkpoint_dir: where model.safetensors (best), train_state.safetensors (last) and, at the end,
                    curves.png (learning curves, if `curves`) go
    transform:      applied to each training input batch (data augmentation, scratchgrad.data.transforms);
                    validation and test batches are left as they are
    restore_best:   load the best weights into the model when training ends
    progress:       tqdm bar over the batches (shown only on a terminal)
    verbose:        print one summary line per epoch
    """

    def __init__(self, model, optimizer, loss_fn=None, scheduler=None, patience: int | None = None,
                 min_delta: float = 0.0, checkpoint_dir=None, restore_best: bool = False, curves: bool = True,
                 progress: bool = True, verbose: bool = True, transform=None):
        self.model, self.optimizer, self.scheduler, self.transform = model, optimizer, scheduler, transform
        self.loss_fn = loss_fn or _default_loss()
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.curves, self.progress, self.verbose = curves, progress, verbose
        self.history: list[dict] = []
        self.best = {"loss": math.inf, "epoch": None, "weights": None}
        self.bad_epochs = 0
        self.stopped_early = False

    # ---- the loop ------------------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs: int = 10, resume: bool = False) -> list[dict]:
        """Train until `epochs` epochs are done (counting resumed ones) or early stopping; return the history."""
        loaders = {"train_loader": train_loader, "val_loader": val_loader}
        if resume:
            self._resume(loaders)
        while len(self.history) < epochs and not self.stopped_early:
            epoch = len(self.history) + 1
            start = time.perf_counter()
            self.model.train()
            with self._bar(len(train_loader), f"epoch {epoch}/{epochs}") as bar:
                train_loss, train_acc = _run_epoch(self.model, train_loader, self.loss_fn, self.optimizer, bar,
                                                   self.transform)
            val_loss, val_acc = evaluate(self.model, val_loader, self.loss_fn) if val_loader is not None \
                else (None, None)
            record = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
                      "val_accuracy": val_acc, "lr": self.optimizer.param_groups[0]["lr"]}
            monitored = train_loss if val_loss is None else val_loss
            self._step_scheduler(monitored)
            self._track_best(monitored, epoch)
            record["time_s"] = time.perf_counter() - start
            self.history.append(record)
            self._save_state(loaders)
            if self.verbose:
                self._log(record, epochs)
        if self.restore_best and self.best["weights"] is not None:
            self.model.load_state_dict(self.best["weights"])
        if self.checkpoint_dir is not None and self.curves and self.history:
            from .plot import plot_history
            plot_history(self.history, self.checkpoint_dir / CURVES_FILE)
        return self.history

    def _step_scheduler(self, monitored: float) -> None:
        if self.scheduler is None:
            return
        from .optim.lr_scheduler import ReduceLROnPlateau
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(monitored)
        else:
            self.scheduler.step()

    def _track_best(self, loss: float, epoch: int) -> None:
        """Keep the best weights (in memory and in model.safetensors); count epochs without progress."""
        if loss < self.best["loss"] - self.min_delta:
            weights = {k: np.array(v) for k, v in self.model.state_dict().items()}
            self.best = {"loss": loss, "epoch": epoch, "weights": weights}
            self.bad_epochs = 0
            if self.checkpoint_dir is not None:
                checkpoint.save(self.checkpoint_dir / BEST_FILE, weights, {"epoch": epoch, "loss": loss})
        else:
            self.bad_epochs += 1
            self.stopped_early = self.patience is not None and self.bad_epochs >= self.patience

    # ---- checkpoints ---------------------------------------------------------------------------
    def _rngs(self, loaders: dict) -> dict:
        """Every generator the run draws from: the global one and loaders' own ones."""
        gens = {"global": get_rng()}
        gens.update({name: ld.generator for name, ld in loaders.items() if getattr(ld, "generator", None) is not None})
        return gens

    def state_dict(self, loaders: dict) -> dict:
        return {"model": self.model.state_dict(), "optim": self.optimizer.state_dict(),
                "sched": None if self.scheduler is None else self.scheduler.state_dict(),
                "history": self.history, "best": self.best, "bad_epochs": self.bad_epochs,
                "stopped_early": self.stopped_early,
                "rng": {name: checkpoint.rng_state(g) for name, g in self._rngs(loaders).items()}}

    def _save_state(self, loaders: dict) -> None:
        if self.checkpoint_dir is not None:
            checkpoint.save_state(self.checkpoint_dir / STATE_FILE, self.state_dict(loaders))

    def _resume(self, loaders: dict) -> None:
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / STATE_FILE
        if path is None or not path.exists():
            if self.verbose:
                print(f"no {STATE_FILE} in {self.checkpoint_dir}: starting from scratch")
            return
        state = checkpoint.load_state(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optim"])
        if self.scheduler is not None and state["sched"] is not None:
            self.scheduler.load_state_dict(state["sched"])
        self.history, self.best = state["history"], state["best"]
        self.bad_epochs, self.stopped_early = state["bad_epochs"], state["stopped_early"]
        gens = self._rngs(loaders)
        for name, saved in state["rng"].items():
            if name in gens:
                checkpoint.set_rng_state(gens[name], saved)
        if self.verbose:
            print(f"resumed from {path} after epoch {len(self.history)}")

    # ---- output --------------------------------------------------------------------------------
    def _bar(self, total: int, desc: str):
        from tqdm.auto import tqdm
        show = self.progress and sys.stderr.isatty()
        return tqdm(total=total, desc=desc, leave=False, disable=not show, dynamic_ncols=True)

    @staticmethod
    def _log(r: dict, epochs: int) -> None:
        def fmt(loss, acc):
            return f"loss {loss:.4f}" + ("" if acc is None else f" acc {acc:.2%}")
        line = f"epoch {r['epoch']:>{len(str(epochs))}}/{epochs}  train {fmt(r['train_loss'], r['train_accuracy'])}"
        if r["val_loss"] is not None:
            line += f"  val {fmt(r['val_loss'], r['val_accuracy'])}"
        print(line + f"  lr {r['lr']:.2g}  {r['time_s']:.2f}s", flush=True)


def fit(model, optimizer, train_loader, val_loader=None, epochs: int = 10, loss_fn=None, scheduler=None,
        patience: int | None = None, checkpoint_dir=None, resume: bool = False, restore_best: bool = False,
        curves: bool = True, progress: bool = True, verbose: bool = True) -> list[dict]:
    """Train `model` (see `Trainer` for the options) and return the per-epoch history.

    Each history entry: epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, time_s.
    """
    trainer = Trainer(model, optimizer, loss_fn, scheduler, patience=patience, checkpoint_dir=checkpoint_dir,
                      restore_best=restore_best, curves=curves, progress=progress, verbose=verbose)
    return trainer.fit(train_loader, val_loader, epochs=epochs, resume=resume)
