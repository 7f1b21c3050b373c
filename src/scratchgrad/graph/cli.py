"""`scratchgrad train --model gcn|cheb|gat|sage --dataset cora|citeseer|pubmed|karate` (wired by scratchgrad.cli).

    metrics = train_graph_cli(args)     # args: an argparse.Namespace (see below)

Reads from `args` (each may be missing or None: the paper's setting is used then):
    model, dataset, epochs, lr, weight_decay, patience, seed, out, data_root,
    dropout (0 or None = the paper's), hidden_channels, heads, K, aggr, embedding ("pca" or "tsne"),
    no_progress (True: no per-epoch lines)
`add_graph_arguments(parser)` adds the graph-only options (--hidden-channels, --heads, --K, --aggr,
--embedding). The run folder gets metrics.json, config.json, model.safetensors (safetensors via
scratchgrad.checkpoint), embeddings.png (the learned node embeddings in 2-D, coloured by class) and
embedding_over_training.png (PCA snapshots of the embeddings as training goes on).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

GRAPH_MODELS = ("gcn", "cheb", "gat", "sage")
GRAPH_DATASETS = ("cora", "citeseer", "pubmed", "karate")


def add_graph_arguments(parser) -> None:
    """The options only graph models have (argparse)."""
    parser.add_argument("--hidden-channels", type=int, default=None, help="graph models: hidden width "
                        "(default: the paper's: gcn/cheb 16, gat 8 per head, sage 64)")
    parser.add_argument("--heads", type=int, default=None, help="gat: attention heads of layer 1 (default 8)")
    parser.add_argument("--K", type=int, default=None, help="cheb: Chebyshev terms K (degree K-1; default 3)")
    parser.add_argument("--aggr", default=None, choices=["mean", "max", "lstm"],
                        help="sage: neighbourhood aggregator (default mean)")
    parser.add_argument("--embedding", default=None, choices=["pca", "tsne"],
                        help="graph models: 2-D projection of the embedding figure (default: tsne, about "
                             "30 s on Cora; pca for karate)")


def _option(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def _settings(args, graph_name: str) -> tuple[dict, dict]:
    """The paper's model and training settings, overridden by what `args` sets."""
    from .train import PAPER_SETTINGS
    name = args.model
    model_kw = dict(PAPER_SETTINGS[name]["model"])
    train_kw = dict(PAPER_SETTINGS[name]["train"])
    for key in ("hidden_channels", "heads", "K", "aggr"):   # only the options this model has
        if getattr(args, key, None) is not None and key in model_kw:
            model_kw[key] = getattr(args, key)
    if getattr(args, "dropout", None):                     # 0.0 is the MLP CLI's default: keep the paper's
        model_kw["dropout"] = args.dropout
    for key in ("epochs", "lr", "weight_decay", "patience"):
        if getattr(args, key, None) is not None:
            train_kw[key] = getattr(args, key)
    if graph_name == "karate":                           # 2 labels, no validation set: a fixed schedule
        train_kw.update(stopping=None, epochs=_option(args, "epochs", 200), fanouts=None)
        model_kw["dropout"] = model_kw["dropout"] if getattr(args, "dropout", None) else 0.0
    return model_kw, train_kw


def project_2d(h: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, d) embeddings -> (N, 2): PCA (an SVD) or t-SNE (sklearn.manifold.TSNE, after PCA to <= 50 dims)."""
    h = h - h.mean(axis=0)
    if h.shape[1] <= 2:
        return np.pad(h, ((0, 0), (0, 2 - h.shape[1])))
    _, _, vt = np.linalg.svd(h, full_matrices=False)
    if method == "pca":
        return h @ vt[:2].T
    from sklearn.manifold import TSNE
    reduced = h @ vt[:50].T
    return TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(h) - 1) / 3)).fit_transform(reduced)


def _embed(model, graph):
    from ..autograd.function import no_grad
    model.eval()
    with no_grad():
        return model.embed(graph.x, graph).data


def _scatter(ax, xy, y, title):
    known = y >= 0
    ax.scatter(xy[~known, 0], xy[~known, 1], c="0.8", s=6)
    ax.scatter(xy[known, 0], xy[known, 1], c=y[known], cmap="tab10", vmin=0, vmax=9, s=6 if len(y) > 100 else 40,
               edgecolors="none" if len(y) > 100 else "k")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])


def embedding_figures(out: Path, graph, final: np.ndarray, snapshots: list, method: str, seed: int, title: str):
    """embeddings.png (final embeddings in 2-D) and embedding_over_training.png (PCA snapshots)."""
    from ..labs._common import figure, save_figure
    fig, ax = figure(1, 1, size=(5.5, 5.0))
    label = "t-SNE" if method == "tsne" else "PCA"
    _scatter(ax[0, 0], project_2d(final, method, seed), graph.y, f"{title}: hidden layer ({label})")
    files = [save_figure(fig, out, "embeddings.png")]
    fig, axes = figure(1, len(snapshots), size=(3.2, 3.2))
    for ax, (epoch, h) in zip(axes[0], snapshots):
        _scatter(ax, project_2d(h, "pca"), graph.y, f"epoch {epoch}")
    fig.suptitle(f"{title}: node embeddings during training (PCA, coloured by class)")
    files.append(save_figure(fig, out, "embedding_over_training.png"))
    return files


def train_graph_cli(args) -> dict:
    """Train a graph model as the CLI asks; write the run folder; return the metrics (also in metrics.json)."""
    from .. import checkpoint
    from ..tensor import manual_seed
    from .datasets import load_dataset
    from .models import build_model
    from .train import train_node_classifier

    if args.model not in GRAPH_MODELS:
        raise ValueError(f"unknown graph model {args.model!r}; choose from {', '.join(GRAPH_MODELS)}")
    start = time.perf_counter()
    name = args.dataset.lower()
    graph = load_dataset(name, getattr(args, "data_root", None), normalize_features=True)
    seed = int(_option(args, "seed", 0))
    model_kw, train_kw = _settings(args, name)
    out = Path(_option(args, "out", Path("runs") / f"{args.model}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"))
    out.mkdir(parents=True, exist_ok=True)
    method = _option(args, "embedding", "pca" if name == "karate" else "tsne")
    config = {"model": args.model, "dataset": name, "seed": seed, "model_kwargs": model_kw,
              "train_kwargs": train_kw, "data_root": None if getattr(args, "data_root", None) is None
              else str(args.data_root), "normalize_features": True, "embedding": method}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    manual_seed(seed)
    model = build_model(args.model, graph.num_features, graph.num_classes, **model_kw)
    verbose = not getattr(args, "no_progress", False)
    print(f"training {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters) on {graph} -> {out}",
          flush=True)
    snapshots = [(0, _embed(model, graph))]
    every = 10 if train_kw.get("stopping") else max(1, train_kw["epochs"] // 20)

    def callback(epoch, m, row):
        if epoch in (5, 20, 50):
            snapshots.append((epoch, _embed(m, graph)))
        if verbose and epoch % every == 0:
            print(f"epoch {epoch:4d}  " + "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"),
                  flush=True)

    result = train_node_classifier(model, graph, callback=callback, **train_kw)
    final = _embed(model, graph)
    if snapshots[-1][0] != result["epochs"]:
        snapshots.append((result["epochs"], final))
    figures = embedding_figures(out, graph, final, snapshots[:5], method, seed, f"{args.model} on {name}")
    checkpoint.save(out / "model.safetensors", model.state_dict(),
                    {"epoch": result["best_epoch"], "model": args.model, "dataset": name})
    metrics = {"test_accuracy": result.get("test_accuracy"), "test_loss": result.get("test_loss"),
               "val_accuracy": result.get("val_accuracy"), "train_accuracy": result.get("train_accuracy"),
               "epochs": result["epochs"], "best_epoch": result["best_epoch"],
               "epoch_time_ms": round(result["epoch_time_ms"], 3), "train_time_s": round(result["train_time_s"], 3),
               "wall_time_s": round(time.perf_counter() - start, 3), "figures": figures,
               "history": result["history"]}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"test accuracy {metrics['test_accuracy']:.2%}  ({metrics['epochs']} epochs, "
          f"{metrics['epoch_time_ms']:.1f} ms/epoch, {metrics['wall_time_s']:.1f} s)  wrote {out}", flush=True)
    return metrics


def evaluate_graph_run(args) -> dict:
    """`scratchgrad eval RUN_DIR` of a graph run: rebuild the model, load its best weights, measure the splits."""
    from .. import checkpoint
    from .datasets import load_dataset
    from .models import build_model
    from .train import evaluate as evaluate_splits

    run_dir = Path(args.run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    root = getattr(args, "data_root", None) or config.get("data_root")
    graph = load_dataset(config["dataset"], root, normalize_features=config.get("normalize_features", True))
    model = build_model(config["model"], graph.num_features, graph.num_classes, **config["model_kwargs"])
    weights, meta = checkpoint.load(run_dir / "model.safetensors")
    model.load_state_dict(weights)
    result = evaluate_splits(model, graph, fanouts=config["train_kwargs"].get("fanouts"))
    result.update(epoch=meta.get("epoch"), run_dir=str(run_dir))
    print(f"test accuracy {result['test_accuracy']:.2%}  (weights of epoch {result['epoch']}, {run_dir})")
    return result


# ---- the model-family protocol of scratchgrad.cli ------------------------------------------------------
MODELS, DATASETS = GRAPH_MODELS, GRAPH_DATASETS
add_train_arguments, train, evaluate = add_graph_arguments, train_graph_cli, evaluate_graph_run
