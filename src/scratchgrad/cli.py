"""The `scratchgrad` command line (also `python -m scratchgrad`).

    scratchgrad train                              # MLP on the bundled digits, ~97% in a few seconds
    scratchgrad train --dataset mnist --data-root ../shared/data --epochs 10 --hidden 512,512
    scratchgrad eval runs/mlp-digits-20250101-120000
    scratchgrad lab list
    scratchgrad lab run xor --out runs/xor

Each subcommand is one small `setup(parser)` function decorated with `@command(name, help)`:
it declares its arguments and returns the function that runs it. A new subcommand
(summary, sample, rl, ...) is one more such pair. Heavy imports happen inside the run
functions, so `--help` stays instant.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_COMMANDS: list = []  # (name, help, setup, aliases) in registration order


def command(name: str, help: str, aliases: tuple = ()):
    """Register `setup(parser) -> run(args)` as the subcommand `name` (also callable by its aliases)."""
    def deco(setup):
        _COMMANDS.append((name, help, setup, tuple(aliases)))
        return setup
    return deco


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit code 1."""


# ---- shared pieces: datasets, optimizers, run folders -----------------------------------------
DATASETS = ("digits", "mnist", "fashion-mnist")
OPTIMIZERS = {  # name -> (class in scratchgrad.optim, fixed options, default learning rate)
    "sgd": ("SGD", {}, 0.1),
    "momentum": ("SGD", {"momentum": 0.9}, 0.01),
    "adagrad": ("Adagrad", {}, 0.01),
    "adadelta": ("Adadelta", {"rho": 0.95}, 1.0),    # Zeiler 2012's rho, as Kim 2014 trains TextCNN
    "rmsprop": ("RMSprop", {}, 1e-3),
    "adam": ("Adam", {}, 1e-3),
    "adamw": ("AdamW", {}, 1e-3),
}
DEFAULT_EPOCHS = 30
DEFAULT_CONV_BATCH = 100  # the book's batch size for its convnets (the MLP's default is 32)
# --augment names (see scratchgrad.data.transforms.from_names); kept here so --help stays instant
AUGMENTATIONS = ("flip", "vflip", "crop", "rotate", "scale", "jitter", "noise")

# Model families that train, evaluate and sample their own way. Each module defines MODELS and
# DATASETS (tuples of names), add_train_arguments(parser) and train(args) -> metrics, and optionally
# add_eval_arguments/evaluate(args) and add_sample_arguments/sample(args). `train`, `eval` and
# `sample` dispatch on --model (or the run's config.json); every other model is an image classifier
# from scratchgrad.models trained by `train_run` below.
FAMILIES = {
    "graph": "scratchgrad.graph.cli",
    "generative": "scratchgrad.generative.cli",
    "sequence": "scratchgrad.text.cli",
}


def _families() -> dict:
    import importlib
    return {name: importlib.import_module(path) for name, path in FAMILIES.items()}


def family_of(model: str):
    """The family module that trains `model`, or None for the image classifiers of scratchgrad.models."""
    return next((m for m in _families().values() if model in m.MODELS), None)


def load_datasets(name: str, data_root=None, download: bool = False):
    """(train, test, image_shape (C, H, W), num_classes) for a dataset name of the CLI.

    Samples are images (N, C, H, W): (1, 28, 28) for MNIST and Fashion-MNIST, (1, 8, 8) for digits;
    the MLP flattens them itself (its first layer is nn.Flatten)."""
    from .data import MNIST, Digits, FashionMNIST
    if name == "digits":
        return Digits(train=True), Digits(train=False), (1, 8, 8), 10
    cls = {"mnist": MNIST, "fashion-mnist": FashionMNIST}[name]
    try:
        train = cls(data_root, train=True, download=download)
        test = cls(data_root, train=False, download=download)
    except FileNotFoundError as e:
        raise CLIError(f"{e}\n(on the command line: --data-root DIR or --download)") from None
    return train, test, (1, 28, 28), 10


def input_kwargs(model: str, image_shape, num_classes: int) -> dict:
    """The keyword arguments that fit `model` to the data: in_features for the MLP; in_channels and
    input_size [C, H, W] for the convolutional models of scratchgrad.models (the zoo's convention)."""
    C, H, W = image_shape
    if model == "mlp":
        return {"in_features": C * H * W, "num_classes": num_classes}
    return {"in_channels": C, "num_classes": num_classes, "input_size": [C, H, W]}


def make_optimizer(name: str, params, lr: float | None = None, weight_decay: float | None = None):
    """An optimizer from its CLI name; lr defaults per rule (SGD 0.1, Adam 1e-3, ...)."""
    from . import optim
    cls_name, fixed, default_lr = OPTIMIZERS[name]
    kwargs = dict(fixed, lr=default_lr if lr is None else lr)
    if weight_decay is not None:
        kwargs["weight_decay"] = weight_decay
    return getattr(optim, cls_name)(params, **kwargs)


def make_scheduler(name: str, optimizer, steps: int):
    """An LR schedule over `steps` (epochs, or a GAN's generator steps): none, cosine (to 0), step (x0.1 every third)."""
    from .optim import lr_scheduler
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(steps // 3, 1), gamma=0.1)
    return None


def parse_augment(text: str) -> list[str]:
    """"flip,crop" -> ["flip", "crop"]; names from AUGMENTATIONS (scratchgrad.data.transforms.from_names)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown augmentation {', '.join(unknown)}; choose from "
                                         f"{', '.join(AUGMENTATIONS)}")
    return names


def parse_sizes(text: str) -> list[int]:
    """"100,100" -> [100, 100]; "" or "none" -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes like 100,100, got {text!r}")
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise CLIError(f"{path} not found: is {path.parent} a run folder written by `scratchgrad train`?")
    return json.loads(path.read_text())


def _write_json(path: Path, obj) -> None:
    from .checkpoint import atomic_write_bytes
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def _latest_run(model: str, dataset: str) -> Path:
    runs = sorted(Path("runs").glob(f"{model}-{dataset}-*"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise CLIError(f"--resume: no runs/{model}-{dataset}-* folder to resume; pass --out RUN_DIR")
    return runs[-1]


def build_model(config: dict, image_shape=None):
    """The model of a run config; with image_shape (C, H, W), also check that it takes such images
    (one forward pass of 2 samples), so that a model too deep for 8x8 digits fails with a clear message."""
    from .models import get_model
    try:
        model = get_model(config["model"], **config["model_kwargs"])
    except (ValueError, TypeError) as e:
        raise CLIError(f"cannot build --model {config['model']} with {config['model_kwargs']}: {e}") from None
    if image_shape is not None:
        _check_fits(model, config, image_shape)
    return model


def _check_fits(model, config: dict, image_shape) -> None:
    import numpy as np

    from .autograd.function import no_grad
    from .tensor import Tensor
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(np.zeros((2, *image_shape), np.float32)))
    except (ValueError, IndexError) as e:
        raise CLIError(f"--model {config['model']} does not fit {config['dataset']} images "
                       f"{'x'.join(map(str, image_shape))}: {e}") from None
    finally:
        model.train(was_training)
    if out.shape != (2, config["model_kwargs"]["num_classes"]):
        raise CLIError(f"--model {config['model']} maps {config['dataset']} images to {out.shape[1:]}, "
                       "not to class scores")


def make_augment(names, image_size: int):
    """A per-batch augmentation (scratchgrad.data.transforms) from CLI names, or None for no names."""
    if not names:
        return None
    from .data import transforms
    try:
        return transforms.from_names(names, image_size)
    except ValueError as e:
        raise CLIError(str(e)) from None


# ---- train ------------------------------------------------------------------------------------
def train_run(config: dict, out: Path, resume: bool = False, progress: bool = True, verbose: bool = True) -> dict:
    """Train as `config` says, write the run folder `out`, return metrics (also in metrics.json)."""
    from .data import DataLoader, random_split
    from .train import Trainer, evaluate, set_seed

    start = time.perf_counter()
    train_set, test_set, image_shape, num_classes = load_datasets(config["dataset"], config["data_root"],
                                                                  config["download"])
    config["model_kwargs"].update(input_kwargs(config["model"], image_shape, num_classes))
    augment = make_augment(config.get("augment"), image_shape[1])
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "config.json", config)

    set_seed(config["seed"])
    val_set = None
    if config["val_fraction"] > 0:
        val_fraction = config["val_fraction"]
        train_set, val_set = random_split(train_set, [1 - val_fraction, val_fraction], generator=config["seed"])
    bs = config["batch_size"]
    train_loader = DataLoader(train_set, batch_size=bs, shuffle=True, generator=config["seed"])
    val_loader = DataLoader(val_set, batch_size=max(bs, 512)) if val_set is not None else None
    model = build_model(config, image_shape)
    optimizer = make_optimizer(config["optimizer"], model.parameters(), config["lr"], config["weight_decay"])
    if verbose:
        n_params = sum(p.numel() for p in model.parameters())
        sizes = f"{len(train_set)} train / {len(val_set) if val_set else 0} val / {len(test_set)} test"
        print(f"training {config['model']} ({n_params:,} parameters) on {config['dataset']} ({sizes}) for "
              f"{config['epochs']} epochs with {config['optimizer']} lr {optimizer.param_groups[0]['lr']:g}"
              f"{', augment ' + '+'.join(config['augment']) if augment else ''} -> {out}", flush=True)

    scheduler = make_scheduler(config.get("lr_schedule", "none"), optimizer, config["epochs"])
    trainer = Trainer(model, optimizer, scheduler=scheduler, patience=config["patience"], checkpoint_dir=out,
                      restore_best=True, transform=augment,
                      progress=progress, verbose=verbose)
    history = trainer.fit(train_loader, val_loader, epochs=config["epochs"], resume=resume)
    test_loss, test_acc = evaluate(model, DataLoader(test_set, batch_size=max(bs, 512)), trainer.loss_fn)
    metrics = {"test_accuracy": test_acc, "test_loss": test_loss, "epochs": len(history),
               "best_epoch": trainer.best["epoch"], "stopped_early": trainer.stopped_early,
               "wall_time_s": round(time.perf_counter() - start, 3),
               "train_time_s": round(sum(h["time_s"] for h in history), 3), "history": history}
    _write_json(out / "metrics.json", metrics)
    if verbose:
        print(f"test accuracy {test_acc:.2%}  test loss {test_loss:.4f}  (best epoch {trainer.best['epoch']}, "
              f"{metrics['wall_time_s']:.1f} s)  wrote {out}", flush=True)
    return metrics


@command("train", "train a model on a dataset and write a run folder (metrics, curves, weights, config)")
def _train_args(p):
    families = _families()
    family_models = "; ".join(f"{name}: {', '.join(m.MODELS)}" for name, m in families.items())
    p.add_argument("--model", default="mlp", help=f"model name: an image classifier from scratchgrad.models "
                                                  f"(default: %(default)s) or {family_models}")
    datasets = list(dict.fromkeys(DATASETS + sum((m.DATASETS for m in families.values()), ())))
    p.add_argument("--dataset", default=None, choices=datasets, metavar="DATASET",
                   help="digits is bundled (no download); mnist/fashion-mnist read IDX files; the model "
                        f"families have their own ({', '.join(datasets)}) (default: digits, or the family's first)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"number of epochs (default: {DEFAULT_EPOCHS}; with --resume: the saved run's)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: 32, or the model's)")
    p.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS),
                   help="update rule; momentum is SGD with momentum 0.9 (default: %(default)s)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: per optimizer: " +
                        ", ".join(f"{k} {v[2]:g}" for k, v in OPTIMIZERS.items()) + ")")
    p.add_argument("--lr-schedule", default="none", choices=["none", "cosine", "step"],
                   help="learning-rate schedule over the epochs (GANs: the generator steps) (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (decoupled for adamw) (default: the optimizer's, 0 except adamw 0.01)")
    p.add_argument("--hidden", type=parse_sizes, default=None,
                   help="hidden layer sizes of the MLP, comma-separated, e.g. 512,512 (default: 100)")
    p.add_argument("--activation", default="relu", help="MLP activation: relu, tanh, sigmoid, gelu, elu, "
                                                        "leaky_relu (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout probability (default: MLP 0, other models their paper's)")
    p.add_argument("--batchnorm", action="store_true", help="BatchNorm1d after each hidden Linear")
    p.add_argument("--augment", type=parse_augment, default=None, metavar="NAMES",
                   help="per-batch augmentation of the training images, comma-separated, applied in this "
                        "order: " + ", ".join(AUGMENTATIONS) + " (default: none)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="part of the training set held out for validation, early stopping and the best "
                        "checkpoint; 0 = none (default: %(default)s)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a lower validation loss (default: no early stop)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for initialisation, dropout, shuffling and the validation split (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default: runs/<model>-<dataset>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (default: the newest runs/<model>-<dataset>-*) from its last "
                        "completed epoch, with its saved settings")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder with the MNIST/Fashion-MNIST IDX files (default: $SCRATCHGRAD_DATA or "
                        "~/.cache/scratchgrad)")
    p.add_argument("--download", action="store_true", help="download missing MNIST/Fashion-MNIST files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (epoch lines are still printed)")
    for name, module in families.items():
        module.add_train_arguments(p.add_argument_group(f"{name} models"))
    return cmd_train


def cmd_train(args) -> dict:
    family = family_of(args.model)
    if family is not None:
        if args.resume:
            raise CLIError(f"--resume is for the image classifiers; a {args.model} run starts afresh")
        if args.dataset is None:
            args.dataset = family.DATASETS[0]
        if args.dataset not in family.DATASETS:
            raise CLIError(f"--model {args.model} trains on {', '.join(family.DATASETS)}, not {args.dataset}")
        return family.train(args)
    args.dataset = args.dataset or "digits"
    if args.dataset not in DATASETS:
        raise CLIError(f"--model {args.model} trains on {', '.join(DATASETS)}, not {args.dataset}")
    if args.resume:
        out = args.out or _latest_run(args.model, args.dataset)
        config = _read_json(out / "config.json")
        config["epochs"] = args.epochs or config["epochs"]
        if args.data_root is not None:
            config["data_root"] = str(args.data_root)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = args.out or Path("runs") / f"{args.model}-{args.dataset}-{stamp}"
        if (out / "train_state.safetensors").exists():
            raise CLIError(f"{out} already holds a run: pass --resume to continue it, or another --out")
        if not 0 <= args.val_fraction < 1:
            raise CLIError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
        if args.model == "mlp":
            model_kwargs = {"hidden": [100] if args.hidden is None else args.hidden, "activation": args.activation,
                            "dropout": args.dropout or 0.0, "batchnorm": args.batchnorm}
        else:  # a zoo model: its paper's settings, unless --dropout is given
            if args.hidden is not None or args.batchnorm or args.activation != "relu":
                raise CLIError(f"--hidden, --activation and --batchnorm shape the MLP; --model {args.model} "
                               "has its own architecture")
            model_kwargs = {} if args.dropout is None else {"dropout": args.dropout}
        config = {"model": args.model, "model_kwargs": model_kwargs, "dataset": args.dataset,
                  "data_root": None if args.data_root is None else str(args.data_root), "download": args.download,
                  "epochs": args.epochs or DEFAULT_EPOCHS,
                  "batch_size": args.batch_size or (32 if args.model == "mlp" else DEFAULT_CONV_BATCH),
                  "augment": args.augment or [],
                  "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
                  "lr_schedule": args.lr_schedule, "val_fraction": args.val_fraction, "patience": args.patience,
                  "seed": args.seed}
    return train_run(config, Path(out), resume=args.resume, progress=not args.no_progress)


# ---- eval -------------------------------------------------------------------------------------
def evaluate_run(run_dir, data_root=None, batch_size: int = 512) -> dict:
    """Rebuild the model of a run folder, load model.safetensors, and measure it on the test set."""
    from .checkpoint import load
    from .data import DataLoader
    from .train import evaluate
    run_dir = Path(run_dir)
    config = _read_json(run_dir / "config.json")
    weights_path = run_dir / "model.safetensors"
    if not weights_path.is_file():
        raise CLIError(f"{weights_path} not found: the run has not finished an epoch yet")
    root = data_root if data_root is not None else config.get("data_root")
    _, test_set, _, _ = load_datasets(config["dataset"], root, config.get("download", False))
    model = build_model(config)
    weights, meta = load(weights_path)
    model.load_state_dict(weights)
    loss, acc = evaluate(model, DataLoader(test_set, batch_size=batch_size))
    return {"test_accuracy": acc, "test_loss": loss, "epoch": meta.get("epoch"), "run_dir": str(run_dir)}


@command("eval", "evaluate a run folder's best weights on its test set (generative runs: likelihoods, "
                 "MNIST-IS/FID)", aliases=("evaluate",))
def _eval_args(p):
    p.add_argument("run_dir", type=Path, help="a folder written by `scratchgrad train`")
    p.add_argument("--data-root", type=Path, default=None, help="override the run's MNIST data folder")
    p.add_argument("--batch-size", type=int, default=512, help="evaluation batch size (default: %(default)s)")
    for name, module in _families().items():
        if hasattr(module, "add_eval_arguments"):
            module.add_eval_arguments(p.add_argument_group(f"{name} runs"))
    return cmd_eval


def _run_family(run_dir: Path, action: str):
    """The family module of a run folder (None: an image classifier); errors if it cannot `action`."""
    model = _read_json(Path(run_dir) / "config.json").get("model", "")
    family = family_of(model)
    if family is not None and not hasattr(family, action):
        raise CLIError(f"`scratchgrad {action}` does not apply to a {model} run")
    return family


def cmd_eval(args) -> dict:
    family = _run_family(args.run_dir, "evaluate")
    if family is not None:
        return family.evaluate(args)
    result = evaluate_run(args.run_dir, args.data_root, args.batch_size)
    print(f"test accuracy {result['test_accuracy']:.2%}  test loss {result['test_loss']:.4f}  "
          f"(weights of epoch {result['epoch']}, {args.run_dir})")
    return result


# ---- sample ------------------------------------------------------------------------------------
@command("sample", "draw samples from a trained generative model or language model run folder")
def _sample_args(p):
    p.add_argument("run_dir", type=Path, help="a folder written by `scratchgrad train`")
    p.add_argument("--out", type=Path, default=None, help="output file (default: inside RUN_DIR)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    for name, module in _families().items():
        if hasattr(module, "add_sample_arguments"):
            module.add_sample_arguments(p.add_argument_group(f"{name} runs"))
    return cmd_sample


def cmd_sample(args):
    family = _run_family(args.run_dir, "sample")
    if family is None:
        raise CLIError(f"{args.run_dir} holds a classifier: `scratchgrad sample` needs a generative or language "
                       "model run")
    return family.sample(args)


# ---- labs -------------------------------------------------------------------------------------
@command("lab", "the book's experiments (chapters 2-6): `lab list`, `lab run NAME` (figure + results.json)")
def _lab_args(p):
    sub = p.add_subparsers(dest="lab_command", metavar="{list,run}", required=True)
    sub.add_parser("list", help="list the labs and the claim each one checks",
                   description="list the labs and the claim each one checks")
    r = sub.add_parser("run", help="run one lab", description="run one lab: writes results.json and its figure(s)")
    r.add_argument("name", help="lab name (see `scratchgrad lab list`)")
    r.add_argument("--out", type=Path, default=None, help="output folder (default: runs/lab-NAME)")
    r.add_argument("--quick", action="store_true", help="a reduced run that still shows the claim (seconds)")
    r.add_argument("--seed", type=int, default=None, help="random seed (default: the lab's)")
    return cmd_lab


def cmd_lab(args):
    from .labs import list_labs, run_lab
    if args.lab_command == "list":
        labs = list_labs()
        width = max(len(name) for name, _ in labs)
        for name, claim in labs:
            print(f"{name:<{width}}  {claim}")
        return labs
    names = [name for name, _ in list_labs()]
    if args.name not in names:
        raise CLIError(f"unknown lab {args.name!r}; available: {', '.join(names)}")
    kwargs = {} if args.seed is None else {"seed": args.seed}
    result = run_lab(args.name, out=args.out, quick=args.quick, **kwargs)
    out = args.out or Path("runs") / f"lab-{args.name}"
    print(f"{args.name}: {result.get('claim', '')}")
    if "claim_holds" in result:
        print(f"claim holds: {'yes' if result['claim_holds'] else 'NO'}")
    for name, ok in (result.get("checks") or {}).items():
        print(f"  [{'x' if ok else ' '}] {name}")
    print(f"wrote {out}/results.json" + "".join(f", {f}" for f in result.get("figures", [])))
    if result.get("claim_holds") is False:
        raise CLIError(f"lab {args.name}: the claim did not hold (see {out}/results.json)")
    return result


# ---- subcommands that live beside their subject -------------------------------------------------
from .rl.cli import RL_HELP, setup_rl_parser  # noqa: E402 - light import (gymnasium loads on use)

command("rl", RL_HELP)(setup_rl_parser)
from .analysis.cli import SUMMARY_HELP, setup_summary_parser  # noqa: E402
command("summary", SUMMARY_HELP)(setup_summary_parser)


# ---- entry point ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchgrad",
        description="scratchgrad: deep learning from scratch on NumPy. Train and evaluate models, run the "
                    "book's labs.",
        epilog="Run `scratchgrad COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help, setup, aliases in _COMMANDS:
        p = sub.add_parser(name, help=help, description=help, aliases=list(aliases))
        p.set_defaults(run=setup(p))
    return parser


def main(argv=None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the subcommand, return the exit code."""
    from .checkpoint import CheckpointError
    from .data.download import DownloadError
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CLIError, CheckpointError, DownloadError, FileNotFoundError) as e:
        print(f"scratchgrad {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nscratchgrad {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
