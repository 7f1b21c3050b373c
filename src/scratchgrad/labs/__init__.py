"""Labs: each claim of the book's chapters 2-6 as a reproducible experiment.

    from scratchgrad.labs import list_labs, run_lab
    list_labs()                         # [(name, claim), ...]
    r = run_lab("xor", out="runs/xor")  # writes results.json and a PNG figure, returns the numbers
    r["claim_holds"]

Each lab is a module with `CLAIM` (one line) and `run(out, quick, seed) -> dict`: the numbers, the
figure file names, and `checks` (named booleans, all of which must hold for the claim).
`quick=True` is a reduced run that still shows the claim in a few seconds (used by the tests).
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

import scratchgrad as sg

from ._common import to_jsonable, write_json

_LABS = {  # lab name -> module in this package
    "xor": "xor",
    "gradient-check": "gradient_check",
    "init-activations": "init_activations",
    "optimizers": "optimizers",
    "batchnorm": "batchnorm",
    "overfitting": "overfitting",
    "hyperparameter-search": "hyperparameter_search",
}


_OTHER_LABS = {  # labs that live beside their subject: lab name -> module holding a LABS dict
    "cliff-walking": "scratchgrad.rl.labs",
    "mc-vs-td": "scratchgrad.rl.labs",
    "policy-vs-value-iteration": "scratchgrad.rl.labs",
    "graph-fourier": "scratchgrad.graph",
    "gan-vanishing-gradient": "scratchgrad.generative.labs",
    "mode-collapse": "scratchgrad.generative.labs",
    "vae-vs-ae": "scratchgrad.generative.labs",
    "rbm-cd": "scratchgrad.generative.labs",
    "attention": "scratchgrad.text.seq2seq_lab",
    "vanishing-gradient": "scratchgrad.text.labs",
    "long-dependency": "scratchgrad.text.labs",
    "bptt": "scratchgrad.text.labs",
    "conv-arithmetic": "scratchgrad.analysis.labs",
    "bottleneck": "scratchgrad.analysis.labs",
    "layer-time": "scratchgrad.analysis.labs",
    "filters": "scratchgrad.labs.cnn_training",
    "degradation": "scratchgrad.labs.cnn_training",
}


def _module(name: str):
    """The object with `CLAIM` and `run(out, quick, seed)` for lab `name`."""
    if name in _LABS:
        return importlib.import_module(f".{_LABS[name]}", __name__)
    if name in _OTHER_LABS:
        module = importlib.import_module(_OTHER_LABS[name])
        return module.LABS[name] if hasattr(module, "LABS") else importlib.import_module(f"{_OTHER_LABS[name]}.lab")
    raise ValueError(f"unknown lab {name!r}; available labs: {', '.join([*_LABS, *_OTHER_LABS])}")


def list_labs() -> list[tuple[str, str]]:
    """(name, one-line claim) of every lab, in the book's order."""
    return [(name, _module(name).CLAIM) for name in [*_LABS, *_OTHER_LABS]]


def run_lab(name: str, out: str | Path | None = None, quick: bool = False, seed: int = 0) -> dict:
    """Run lab `name`, write `results.json` and its figure(s) into `out` (default runs/lab-NAME).

    Returns the results dict: `lab`, `claim`, `claim_holds`, `checks`, `figures`, the numbers,
    `quick`, `seed` and `wall_time_s`. Re-seeds scratchgrad's global generator (`sg.manual_seed(seed)`),
    so the same seed gives the same numbers.
    """
    module = _module(name)
    out = Path(out) if out is not None else Path("runs") / f"lab-{name}"
    out.mkdir(parents=True, exist_ok=True)
    sg.manual_seed(seed)
    start = time.perf_counter()
    # the labs' GEMMs are tiny (~128x784x100): one BLAS thread cannot be oversubscribed (with two threads
    # on a busy 2-core machine such a GEMM took 18.8 ms instead of 1.3 ms)
    with threadpool_limits(limits=1, user_api="blas"):
        numbers = module.run(out, quick=quick, seed=seed)
    checks = numbers.pop("checks")
    results = {"lab": name, "claim": module.CLAIM, "claim_holds": bool(all(checks.values())), "checks": checks,
               "quick": quick, "seed": seed, "wall_time_s": round(time.perf_counter() - start, 3), **numbers}
    results = to_jsonable(results)
    write_json(out / "results.json", results)
    return results


__all__ = ["list_labs", "run_lab"]
