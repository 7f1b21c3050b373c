"""Command-line entry points for the generative models (the main CLI wires them in):

    scratchgrad train --model vae|cvae|beta-vae|ae|dae|made|gmmn|rbm|gan|wgan|wgan-gp|cgan|dcgan|vaegan --dataset mnist
    scratchgrad train --model wgan-gp --arch conv --channels 32 --time-limit 40 --score-samples 2000
    scratchgrad sample RUN_DIR --n 64 --out grid.png
    scratchgrad eval RUN_DIR                           # -ELBO and importance-sampled NLL / exact NLL / AIS,
                                                       # MNIST-IS and MNIST-FID next to the real-data floor

`train_generative(args)`, `sample(args)` and `evaluate_generative(args)` read what they need from an
argparse namespace with getattr (missing options take the per-model defaults below), so the main
`train` parser can be reused. As a model family of the main CLI (see scratchgrad/cli.py) the module
defines MODELS, DATASETS, add_train_arguments, train, add_eval_arguments, evaluate, add_sample_arguments
and sample.
A run folder holds config.json, metrics.json, model.safetensors (PyTorch-style keys; GANs:
"generator.*" and "discriminator.*"), samples.png and curves.png.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

VAE_MODELS = ("vae", "cvae", "beta-vae")
GAN_MODELS = ("gan", "wgan", "wgan-gp", "cgan", "dcgan")
GENERATIVE_MODELS = VAE_MODELS + ("ae", "dae", "made", "gmmn", "rbm", "vaegan") + GAN_MODELS
# per model: epochs, batch size, learning rate, hidden sizes, latent size (None: not used)
DEFAULTS = {
    "vae": dict(epochs=50, batch_size=100, lr=1e-3, hidden=[400], latent_dim=20),
    "cvae": dict(epochs=30, batch_size=100, lr=1e-3, hidden=[400], latent_dim=20),
    "beta-vae": dict(epochs=30, batch_size=100, lr=1e-3, hidden=[400], latent_dim=10, beta=4.0),
    "ae": dict(epochs=20, batch_size=100, lr=1e-3, hidden=[400], latent_dim=20),
    "dae": dict(epochs=20, batch_size=100, lr=1e-3, hidden=[400], latent_dim=20),
    "made": dict(epochs=30, batch_size=100, lr=1e-3, hidden=[500], latent_dim=None),
    "gmmn": dict(epochs=20, batch_size=500, lr=1e-3, hidden=[64, 256, 256, 1024], latent_dim=10),
    "rbm": dict(epochs=10, batch_size=100, lr=0.05, hidden=[500], latent_dim=None, pcd_epochs=10),
    "vaegan": dict(epochs=10, batch_size=64, lr=3e-4, hidden=[400], latent_dim=20),
    "gan": dict(epochs=10, batch_size=64, lr=2e-4, hidden=[256, 512], latent_dim=64),
    "cgan": dict(epochs=10, batch_size=64, lr=2e-4, hidden=[256, 512], latent_dim=64),
    "wgan": dict(epochs=10, batch_size=64, lr=5e-5, hidden=[256, 512], latent_dim=64),
    "wgan-gp": dict(epochs=10, batch_size=64, lr=1e-4, hidden=[256, 512], latent_dim=64),
    "dcgan": dict(epochs=5, batch_size=64, lr=2e-4, hidden=[256, 512], latent_dim=100),
}
GAN_LOSS = {"gan": "ns", "cgan": "ns", "wgan": "wgan", "wgan-gp": "wgan-gp", "dcgan": "ns"}
# GAN architectures (--arch): "mlp" (gan.MLPGenerator / MLPDiscriminator) or "conv" (dcgan.py);
# the conv nets replace the MLP defaults with these (channels: G 2c -> c, D c -> 2c)
ARCHS = ("conv", "mlp")
DEFAULT_ARCH = {"dcgan": "conv", "wgan-gp": "conv"}
# measured (2026-12-07, one core each): dcgan 20 epochs with a 0.999 weight average -> MNIST-IS 9.02, FID 13.4
# (33 min); 10 epochs 8.81; without the average, 5 epochs 6.58 (3-epoch classifier scale). wgan-gp 20 epochs:
# 8.12 / FID 55.8 at the paper's lr 1e-4, 8.72 / 21.0 at 3e-4 (35 min); 40 epochs at 3e-4 8.96 / 10.1 (77 min);
# 60 epochs 9.15 / 6.7 (~100 min); n_critic 2 (20 epochs) 8.61 / 32.8; a cosine learning-rate decay did not
# help (benchmarks/RESULTS.md).
CONV_DEFAULTS = {"dcgan": dict(latent_dim=100, channels=32, epochs=20, ema=0.999),
                 "wgan-gp": dict(latent_dim=128, channels=32, epochs=60, ema=0.999, lr=3e-4)}
CONV_DEFAULT = dict(latent_dim=100, channels=32)


def _error(msg: str):
    from ..cli import CLIError
    return CLIError(msg)


def _write_json(path: Path, obj) -> None:
    from ..checkpoint import atomic_write_bytes
    from ..labs._common import to_jsonable
    atomic_write_bytes(path, (json.dumps(to_jsonable(obj), indent=2) + "\n").encode())


def add_generative_arguments(p) -> None:
    """Options only the generative models use (all default to None = the model's default)."""
    p.add_argument("--latent-dim", type=int, default=None, help="latent code size (VAE, AE, GAN, GMMN)")
    p.add_argument("--beta", type=float, default=None, help="KL weight of beta-vae (default 4)")
    p.add_argument("--iterations", type=int, default=None, help="GAN generator iterations (default: from --epochs)")
    p.add_argument("--n-critic", type=int, default=None, help="critic steps per generator step (GANs)")
    p.add_argument("--pcd-epochs", type=int, default=None, help="rbm: persistent-CD epochs after the CD-1 ones")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: small GEMMs, shared cores)")
    p.add_argument("--n-train", type=int, default=None, help="use only the first N training images (quick runs)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="stop training after this many minutes (epoch-trained models and GANs)")
    p.add_argument("--arch", choices=ARCHS, default=None,
                   help="GANs: conv (DCGAN-style nets) or mlp (default: conv for dcgan and wgan-gp, else mlp)")
    p.add_argument("--channels", type=int, default=None, help="conv GANs: base channel width c (default 32)")
    p.add_argument("--ema", type=float, default=None,
                   help="GANs: sample from an exponential moving average of G's weights with this decay, e.g. "
                        "0.999 (default: 0.999 for the conv dcgan and wgan-gp, else 0 = off)")
    p.add_argument("--score-samples", type=int, default=None,
                   help="GANs: MNIST-IS/FID of this many samples at every progress report (default 0: off)")


def add_sample_arguments(p) -> None:
    """`scratchgrad sample` options of generative runs (run_dir, --out, --seed are the main CLI's)."""
    p.add_argument("--n", type=int, default=64, help="generative: number of samples in the grid (default: %(default)s)")


def add_eval_arguments(p) -> None:
    """`scratchgrad eval` options of generative runs (run_dir, --data-root are the main CLI's)."""
    p.add_argument("--k", type=int, default=1000, help="VAE: importance samples per image (default: %(default)s)")
    p.add_argument("--n-eval", type=int, default=None, help="VAE: test images for the importance-sampled NLL "
                                                             "(default: all 10,000)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="generative: samples for MNIST-IS/FID (default 10,000; MADE, RBM 1,000; the real-data "
                        "floor uses as many)")
    p.add_argument("--n-betas", type=int, default=None,
                   help="RBM: AIS with this many uniform temperatures (default: the 14,500-step schedule of "
                        "Salakhutdinov & Murray 2008)")
    p.add_argument("--skip-is-fid", action="store_true", help="generative: likelihoods only (no MNIST-IS/FID)")


# ---- building models from a config -----------------------------------------------------------------------
def build(config: dict):
    """The model (or, for GANs, a (G, D) pair inside a small Module) described by config.json."""
    from .. import nn
    m, h, L = config["model"], config["hidden"], config["latent_dim"]
    if m in VAE_MODELS:
        from .vae import VAE
        return VAE(784, h, L, num_classes=10 if m == "cvae" else 0, beta=config.get("beta") or 1.0)
    if m in ("ae", "dae"):
        from .autoencoder import Autoencoder, DenoisingAutoencoder
        return (Autoencoder if m == "ae" else DenoisingAutoencoder)(784, h, L)
    if m == "made":
        from .made import MADE
        return MADE(784, h)
    if m == "gmmn":
        from .mmd import GMMN
        return GMMN(L, h, rng=np.random.default_rng(config["seed"]))
    if m == "rbm":
        from .rbm import RBM
        return RBM(784, h[0])
    if m == "vaegan":
        from .vaegan import VAEGAN
        return VAEGAN(784, h, L)
    pair = nn.Module()
    if config.get("arch", "mlp") == "conv":   # runs from before --arch existed are MLPs
        from .dcgan import DCGANDiscriminator, DCGANGenerator
        pair.generator = DCGANGenerator(L, config["channels"])
        norm = "batch" if GAN_LOSS[m] == "ns" else "none"     # no batch norm in a Wasserstein critic
        pair.discriminator = DCGANDiscriminator(config["channels"], norm)
    else:
        from .gan import MLPDiscriminator, MLPGenerator
        nc = 10 if m == "cgan" else 0
        pair.generator = MLPGenerator(L, h, 784, "tanh", num_classes=nc)
        pair.discriminator = MLPDiscriminator(784, tuple(reversed(h)), num_classes=nc)   # the mirror of G
    if config.get("ema"):   # the averaged generator that samples (keys "generator_ema.*")
        import copy
        pair.generator_ema = copy.deepcopy(pair.generator)
    return pair


def load_run(run_dir):
    """(config, model with the run's weights, eval mode) from a run folder."""
    from ..checkpoint import load
    run_dir = Path(run_dir)
    cfg_path, w_path = run_dir / "config.json", run_dir / "model.safetensors"
    if not cfg_path.is_file() or not w_path.is_file():
        raise _error(f"{run_dir} is not a finished generative run (needs config.json and model.safetensors)")
    config = json.loads(cfg_path.read_text())
    if config.get("model") not in GENERATIVE_MODELS:
        raise _error(f"{run_dir}: model {config.get('model')!r} is not a generative model")
    model = build(config)
    own = model.state_dict()
    # safetensors stores 0-d arrays (BatchNorm's num_batches_tracked) as shape (1,): restore the model's shapes
    weights = {k: v.reshape(own[k].shape) if k in own and v.size == own[k].size else v
               for k, v in load(w_path)[0].items()}
    model.load_state_dict(weights)
    return config, model.eval()


def generate(config: dict, model, n: int, seed: int = 0) -> np.ndarray:
    """n samples as (n, 784) pixel values in [0, 1] (class-conditional models cycle through the digits)."""
    import scratchgrad as sg
    m, rng = config["model"], np.random.default_rng(seed)
    labels = np.arange(n) % 10
    with sg.no_grad():
        if m in VAE_MODELS:
            return model.sample(n, labels if m == "cvae" else None, rng=rng)
        if m in ("ae", "dae"):   # an AE has no prior: decode N(0, I) codes anyway (see lab vae-vs-ae)
            z = rng.standard_normal((n, model.latent_dim), dtype=np.float32)
            return expit(model.decode(sg.tensor(z)).data)
        if m == "made":
            return model.sample(n, rng=rng, probabilities=True)
        if m == "rbm":   # chains start from noise with the training images' pixel means
            from .common import mnist_arrays
            x, _ = mnist_arrays(True, config.get("data_root"), config.get("n_train"))
            return model.sample(n, steps=1000, rng=rng, marginals=x.mean(0))
        if m == "gmmn":
            return model.sample(n)
        if m == "vaegan":
            return model.sample(n, rng=rng)
        G = getattr(model, "generator_ema", model.generator)
        z = sg.tensor(rng.standard_normal((n, G.latent_dim), dtype=np.float32))
        x = G(z, labels) if m == "cgan" else G(z)
        return (x.data.reshape(n, -1) + 1) / 2


# ---- train ----------------------------------------------------------------------------------------------
def _config_from_args(args) -> dict:
    m = args.model
    if m not in GENERATIVE_MODELS:
        raise _error(f"unknown generative model {m!r}; choose from {', '.join(GENERATIVE_MODELS)}")
    if getattr(args, "dataset", "mnist") not in ("mnist", None):
        raise _error(f"--model {m} trains on --dataset mnist only (got {args.dataset})")
    d = DEFAULTS[m]

    def pick(name, default):
        value = getattr(args, name, None)
        return default if value is None else value
    hidden = getattr(args, "hidden", None)
    if hidden in (None, [100]):       # the main parser's MLP default: use the model's own sizes
        hidden = d["hidden"]
    gan = {}
    if m in GAN_MODELS:
        arch = pick("arch", DEFAULT_ARCH.get(m, "mlp"))
        if arch == "conv" and m == "cgan":
            raise _error("--arch conv: the conv GANs are unconditional (cgan is an MLP)")
        if arch == "mlp" and m == "dcgan":
            raise _error("--model dcgan is convolutional (an MLP GAN is --model gan)")
        conv = CONV_DEFAULTS.get(m, CONV_DEFAULT) if arch == "conv" else {}
        d = {**d, **conv}
        gan = {"arch": arch, "channels": pick("channels", conv.get("channels")),
               "ema": pick("ema", conv.get("ema", 0.0)), "score_samples": pick("score_samples", 0),
               "lr_schedule": pick("lr_schedule", "none")}
    return {"model": m, "dataset": "mnist", "data_root": None if getattr(args, "data_root", None) is None
            else str(args.data_root), "epochs": pick("epochs", d["epochs"]),
            "batch_size": d["batch_size"] if getattr(args, "batch_size", None) in (None, 32) else args.batch_size,
            "lr": pick("lr", d["lr"]), "hidden": list(hidden), "latent_dim": pick("latent_dim", d["latent_dim"]),
            "beta": pick("beta", d.get("beta")), "iterations": getattr(args, "iterations", None),
            "n_critic": getattr(args, "n_critic", None), "pcd_epochs": pick("pcd_epochs", d.get("pcd_epochs", 0)),
            "seed": pick("seed", 0), "threads": pick("threads", 1), "n_train": getattr(args, "n_train", None),
            "time_limit_min": getattr(args, "time_limit", None), **gan}


def train_generative(args) -> dict:
    """Train a generative model on MNIST; write the run folder; return metrics (also in metrics.json)."""
    import scratchgrad as sg
    from ..checkpoint import save
    from .common import blas_threads, mnist_arrays, save_grid
    config = _config_from_args(args)
    out = Path(getattr(args, "out", None) or Path("runs") / f"{config['model']}-mnist-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "config.json", config)
    verbose = not getattr(args, "quiet", False)
    start = time.perf_counter()
    try:
        x, y = mnist_arrays(True, config["data_root"], config["n_train"])
        xt, yt = mnist_arrays(False, config["data_root"])
    except FileNotFoundError as e:
        raise _error(f"{e}\n(on the command line: --data-root DIR)") from None
    sg.manual_seed(config["seed"])
    model = build(config)
    if verbose:
        n_params = sum(p.numel() for p in model.parameters())
        print(f"training {config['model']} ({n_params:,} parameters) on MNIST -> {out}", flush=True)
    with blas_threads(config["threads"]):
        metrics = _TRAINERS[_family(config["model"])](model, config, x, y, xt, yt, out, verbose)
        model.eval()
        save(out / "model.safetensors", model.state_dict(), {"model": config["model"]})
        save_grid(generate(config, model, 64, config["seed"]), out / "samples.png", nrow=8)
        metrics["figures"] = ["samples.png", "curves.png"] + _latent_figures(config, model, xt, yt, out)
    metrics["wall_time_s"] = round(time.perf_counter() - start, 2)
    _plot_curves(metrics.get("history", []), out / "curves.png", config["model"])
    _write_json(out / "metrics.json", metrics)
    if verbose:
        shown = {k: v for k, v in metrics.items() if k != "history" and not isinstance(v, (list, dict))}
        print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()), flush=True)
    return metrics


def _latent_figures(config, model, xt, yt, out: Path) -> list[str]:
    """VAE family: interpolations between test digits, the 2-D manifold (latent_dim 2), latent traversals
    (beta-vae), one row per digit (cvae)."""
    from .common import save_grid
    from .vae import interpolate, latent_manifold, latent_traversal
    m, names = config["model"], []
    if m not in VAE_MODELS:
        return names
    if m == "cvae":
        z = np.random.default_rng(0).standard_normal((10, model.latent_dim), dtype=np.float32)
        imgs = np.concatenate([model.decode_latent(z, np.full(10, d)) for d in range(10)])
        save_grid(imgs, out / "digits_by_label.png", nrow=10)
        return ["digits_by_label.png"]
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    first = [int(np.flatnonzero(yt == d)[0]) for d in range(10)]
    save_grid(np.concatenate([interpolate(model, xt[first[a]], xt[first[b]], 10) for a, b in pairs]),
              out / "interpolation.png", nrow=10)
    names.append("interpolation.png")
    if model.latent_dim == 2:
        save_grid(latent_manifold(model, 20), out / "manifold.png", nrow=20)
        names.append("manifold.png")
    if m == "beta-vae":
        dims = list(range(min(model.latent_dim, 10)))
        save_grid(latent_traversal(model, xt[first[3]], np.linspace(-3, 3, 9), dims), out / "traversal.png", nrow=9)
        names.append("traversal.png")
    return names


def _family(m: str) -> str:
    return "gan" if m in GAN_MODELS else "rbm" if m == "rbm" else "vaegan" if m == "vaegan" else "epochs"


def _train_epochs(model, config, x, y, xt, yt, out, verbose) -> dict:
    """VAE family, AE/DAE, MADE, GMMN: epochs of mini-batch Adam; test metric after every epoch."""
    from ..checkpoint import save
    from ..tensor import Tensor
    from .autoencoder import train_epochs
    from .common import binarize
    m = config["model"]
    xtb = binarize(xt[:2000], np.random.default_rng(123))    # a fixed binarisation of the test images
    cond = m == "cvae"

    def evaluate():
        save(out / "model.safetensors", model.state_dict(), {"model": m, "epoch": "last"})   # a checkpoint per epoch
        if m in VAE_MODELS:
            return {f"test_{k}": v for k, v in model.evaluate(xtb, yt[:2000] if cond else None).items()}
        if m == "made":
            return {"test_nll": model.evaluate(xtb)["nll"]}
        if m in ("ae", "dae"):
            return {"test_rec": float(model.loss(Tensor(xtb))[0].item())}
        return {}
    history = train_epochs(model, x, y if cond else None, epochs=config["epochs"], batch_size=config["batch_size"],
                           lr=config["lr"], rng=np.random.default_rng(config["seed"]),
                           dynamic_binarization=m != "gmmn", evaluate=evaluate, verbose=verbose,
                           time_limit_s=None if config["time_limit_min"] is None else 60 * config["time_limit_min"])
    last = {k: v for k, v in history[-1].items() if k.startswith("test_")}
    return {"epochs": len(history), **last, "train_time_s": round(sum(h["time_s"] for h in history), 2),
            "history": history}


def _train_rbm(model, config, x, y, xt, yt, out, verbose) -> dict:
    """CD-1 for `epochs`, then persistent CD for `pcd_epochs` (learning rate / 5)."""
    from .rbm import train_rbm
    rng = np.random.default_rng(config["seed"])
    history = train_rbm(model, x, config["epochs"], config["batch_size"], config["lr"], k=1, rng=rng, verbose=verbose)
    if config["pcd_epochs"]:
        train_rbm(model, x, config["pcd_epochs"], config["batch_size"], config["lr"] / 5, k=1, persistent=True,
                  rng=rng, verbose=verbose, history=history)
    return {"epochs": len(history), "recon_error": history[-1]["recon_error"], "history": history}


def _train_vaegan(model, config, x, y, xt, yt, out, verbose) -> dict:
    from .vaegan import VAEGANTrainer
    tr = VAEGANTrainer(model, lr=config["lr"], rng=np.random.default_rng(config["seed"]))
    history = []
    for epoch in range(config["epochs"]):
        t = time.perf_counter()
        h = tr.fit(x, 1, config["batch_size"])
        history.append({"epoch": epoch + 1, **{k: float(np.mean(v)) for k, v in h.items()},
                        "time_s": round(time.perf_counter() - t, 2)})
        if verbose:
            print(history[-1], flush=True)
    return {"epochs": len(history), "history": history}


def _train_gan(model, config, x, y, xt, yt, out, verbose) -> dict:
    """GANTrainer on images scaled to [-1, 1]. Every 10% of the iterations: a progress record, a sample
    grid, a checkpoint and (score_samples > 0) MNIST-IS/FID of that many samples."""
    from ..checkpoint import save
    from .common import save_grid
    from .gan import GANTrainer
    m = config["model"]
    rng = np.random.default_rng(config["seed"])
    tr = GANTrainer(model.generator, model.discriminator, loss=GAN_LOSS[m], lr=config["lr"],
                    n_critic=config["n_critic"], num_classes=10 if m == "cgan" else 0, rng=rng,
                    ema=config.get("ema") or 0.0, G_ema=getattr(model, "generator_ema", None))
    bs = config["batch_size"]
    iterations = config["iterations"] or config["epochs"] * len(x) // (bs * tr.n_critic)
    x_scaled = x * 2 - 1
    if config.get("arch") == "conv":
        x_scaled = x_scaled.reshape(-1, 1, 28, 28)

    def sample_real(n):
        idx = rng.integers(0, len(x), n)
        return x_scaled[idx], y[idx]

    every = max(1, iterations // 10)
    history, log, scorer, start = {}, [], None, time.perf_counter()

    def callback(it, trainer):
        nonlocal scorer
        rec = {"iteration": it, **{k: float(np.mean(v[-every:])) for k, v in history.items()},
               "time_s": round(time.perf_counter() - start, 1)}
        if tr.ema:
            tr.recalibrate_batch_norm()
        model.eval()   # samples from G with its running batch-norm statistics, as after training
        save(out / "model.safetensors", model.state_dict(), {"model": m, "iteration": str(it)})
        save_grid(generate(config, model, 64, 0), out / "samples.png", nrow=8)
        if config.get("score_samples"):
            from .metrics import MNISTScorer
            scorer = scorer or MNISTScorer(data_root=config["data_root"])
            scores = scorer.score(generate(config, model, config["score_samples"], 1))
            rec.update(mnist_is=scores["mnist_is"], mnist_fid=scores["mnist_fid"])
        model.train()
        log.append(rec)
        if verbose:
            print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()), flush=True)
    limit = None if config["time_limit_min"] is None else 60 * config["time_limit_min"]
    from ..cli import make_scheduler   # --lr-schedule, over the generator steps, for both players
    schedulers = [s for s in (make_scheduler(config.get("lr_schedule", "none"), opt, iterations)
                              for opt in (tr.opt_g, tr.opt_d)) if s is not None]
    tr.fit(sample_real, iterations, bs, callback=callback, every=every, history=history, time_limit_s=limit,
           schedulers=schedulers)
    if tr.ema:
        tr.recalibrate_batch_norm()
    return {"iterations": tr.iteration, "planned_iterations": iterations, "n_critic": tr.n_critic,
            "train_time_s": round(time.perf_counter() - start, 2), "history": log}


_TRAINERS = {"epochs": _train_epochs, "rbm": _train_rbm, "vaegan": _train_vaegan, "gan": _train_gan}


def _plot_curves(history: list, path: Path, title: str) -> None:
    if not history:
        return
    from ..plot import figure, savefig
    xs_key = "epoch" if "epoch" in history[0] else "iteration"
    keys = [k for k in history[0] if k not in (xs_key, "time_s", "k", "persistent") and
            all(isinstance(h.get(k), (int, float)) for h in history)]
    fig, ax = figure(1, 1, figsize=(6, 4))
    for k in keys:
        ax.plot([h[xs_key] for h in history], [h[k] for h in history], "o-", ms=3, label=k)
    ax.set_xlabel(xs_key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    savefig(fig, path)


# ---- sample and evaluate ----------------------------------------------------------------------------------
def sample(args) -> Path:
    """`scratchgrad sample RUN_DIR --n 64 --out grid.png`: a grid of the run's samples."""
    from .common import save_grid
    config, model = load_run(args.run_dir)
    n = getattr(args, "n", None) or 64
    out = Path(getattr(args, "out", None) or Path(args.run_dir) / "samples.png")
    path = save_grid(generate(config, model, n, getattr(args, "seed", None) or 0), out, nrow=int(np.ceil(n ** 0.5)))
    print(f"wrote {n} samples of {config['model']} to {path}")
    return path


def evaluate_generative(args) -> dict:
    """`scratchgrad eval RUN_DIR`: likelihoods where the model has one, then MNIST-IS/FID (with the floor).

    Options read from args: data_root, k (importance samples, default 1000), n_eval (test images for
    the importance-sampled NLL, default all 10,000), n_samples (for IS/FID, default 10,000), skip_is_fid."""
    from .common import binarize, blas_threads, mnist_arrays
    config, model = load_run(args.run_dir)
    root = getattr(args, "data_root", None) or config.get("data_root")
    xt, yt = mnist_arrays(False, root)
    xtb = binarize(xt, np.random.default_rng(123))     # the fixed test binarisation used during training
    m, result = config["model"], {"model": config["model"], "run_dir": str(args.run_dir)}
    start = time.perf_counter()
    with blas_threads(config.get("threads", 1)):
        if m in VAE_MODELS:
            y = yt if m == "cvae" else None
            result.update({f"test_{k}": v for k, v in model.evaluate(xtb, y).items()})
            k, n = getattr(args, "k", None) or 1000, getattr(args, "n_eval", None) or len(xtb)
            ll = model.log_likelihood(xtb[:n], None if y is None else y[:n], k=k)
            result.update({"test_nll_is": float(-ll.mean()), "test_nll_is_stderr": float(ll.std() / np.sqrt(n)),
                           "is_samples_k": k, "is_images": n})
        elif m == "made":
            result["test_nll_exact"] = model.evaluate(xtb)["nll"]
        elif m == "rbm":
            from .rbm import ais_log_partition, base_rate_biases, log_likelihood, sm08_betas
            x, _ = mnist_arrays(True, root)
            n_betas = getattr(args, "n_betas", None)
            ais = ais_log_partition(model, n_runs=100, n_betas=n_betas or 0, base_v_bias=base_rate_biases(x),
                                    betas=None if n_betas else sm08_betas())
            result.update({"log_z_ais": ais["log_z"], "log_z_bounds": [ais["log_z_low"], ais["log_z_high"]],
                           "ais_runs": ais["n_runs"], "ais_betas": ais["n_betas"],
                           "test_log_likelihood_ais": log_likelihood(model, xtb, ais["log_z"]),
                           "test_recon_error": float(((xtb - model.reconstruct(xtb)) ** 2).sum(1).mean())})
        elif m in ("ae", "dae"):
            import scratchgrad as sg
            result["test_rec"] = float(model.loss(sg.tensor(xtb))[0].item())
        if not getattr(args, "skip_is_fid", False):
            from .metrics import MNISTScorer
            scorer = MNISTScorer(data_root=root, verbose=True)
            n = getattr(args, "n_samples", None) or (1000 if m in ("made", "rbm") else 10000)  # slow samplers
            result.update(scorer.score(generate(config, model, n, 1)))
            floor = scorer.real_data_floor(n)
            result.update({"real_data_floor_mnist_is": floor["mnist_is"],
                           "real_data_floor_mnist_fid": floor["mnist_fid"],
                           "classifier_test_accuracy": scorer.info.get("test_accuracy")})
    result["eval_time_s"] = round(time.perf_counter() - start, 2)
    _write_json(Path(args.run_dir) / "evaluation.json", result)
    print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
                    if not isinstance(v, list)))
    return result


# ---- the model-family protocol of scratchgrad.cli --------------------------------------------------------
MODELS, DATASETS = GENERATIVE_MODELS, ("mnist",)
add_train_arguments, train, evaluate = add_generative_arguments, train_generative, evaluate_generative
