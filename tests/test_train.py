"""The fit loop: seeded determinism, resume == uninterrupted, early stopping, evaluate, checkpoints, figures."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import checkpoint, nn
from scratchgrad.data import DataLoader, TensorDataset
from scratchgrad.models import MLP, get_model, list_models
from scratchgrad.plot import plot_history
from scratchgrad.train import BEST_FILE, STATE_FILE, Trainer, evaluate, fit, set_seed


def blobs(n=240, d=8, k=3, seed=0, noise_labels=False):
    """Three Gaussian clusters (float32 features, int64 labels); `seed` draws new samples of the same clusters."""
    centers = np.random.default_rng(1234).normal(0, 2, (k, d))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    if noise_labels:
        y = rng.integers(0, k, n)
    return TensorDataset(x, y.astype(np.int64))


def setup(seed=0, loader_generator="own", dropout=0.2):
    """Fresh model, optimizer, scheduler and loaders, as a new process would build them."""
    set_seed(seed)
    model = MLP(8, 3, hidden=(16, 16), dropout=dropout, batchnorm=True)
    opt = sg.optim.Adam(model.parameters(), lr=0.01)
    sched = sg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)
    gen = seed if loader_generator == "own" else None
    train = DataLoader(blobs(), batch_size=32, shuffle=True, generator=gen)
    val = DataLoader(blobs(seed=1), batch_size=64)
    return model, opt, sched, train, val


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def losses(history):
    return [(h["train_loss"], h["val_loss"], h["lr"]) for h in history]


def test_seeded_runs_are_identical():
    runs = []
    for _ in range(2):
        model, opt, sched, train, val = setup(seed=3)
        hist = fit(model, opt, train, val, epochs=3, scheduler=sched, progress=False, verbose=False)
        runs.append((weights(model), losses(hist)))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    model, opt, sched, train, val = setup(seed=4)
    fit(model, opt, train, val, epochs=1, progress=False, verbose=False)
    assert not np.array_equal(weights(model)["1.weight"], runs[0][0]["1.weight"])


@pytest.mark.parametrize("loader_generator", ["own", "global"])
def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path, loader_generator):
    model, opt, sched, train, val = setup(loader_generator=loader_generator)
    full = fit(model, opt, train, val, epochs=4, scheduler=sched, checkpoint_dir=tmp_path / "a",
               progress=False, verbose=False)
    expected = weights(model)

    model, opt, sched, train, val = setup(loader_generator=loader_generator)
    fit(model, opt, train, val, epochs=2, scheduler=sched, checkpoint_dir=tmp_path / "b", progress=False,
        verbose=False)
    sg.randn(100)  # the "killed" process drew more random numbers; resume must not depend on that
    # a new process: fresh objects (even a different seed), then resume to 4 epochs
    model, opt, sched, train, val = setup(seed=99, loader_generator=loader_generator)
    resumed = fit(model, opt, train, val, epochs=4, scheduler=sched, checkpoint_dir=tmp_path / "b", resume=True,
                  progress=False, verbose=False)
    assert_same_weights(weights(model), expected)
    assert losses(resumed) == losses(full) and len(resumed) == 4
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.8 ** 4)
    best_a, meta_a = checkpoint.load(tmp_path / "a" / BEST_FILE)
    best_b, meta_b = checkpoint.load(tmp_path / "b" / BEST_FILE)
    assert_same_weights(best_a, best_b)
    assert meta_a == meta_b


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, capsys):
    model, opt, sched, train, val = setup()
    hist = fit(model, opt, train, val, epochs=1, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert len(hist) == 1 and "starting from scratch" in capsys.readouterr().out
    assert (tmp_path / STATE_FILE).exists() and (tmp_path / BEST_FILE).exists()
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_early_stopping_and_best_checkpoint(tmp_path):
    set_seed(0)
    model = MLP(8, 3, hidden=(64,))
    opt = sg.optim.Adam(model.parameters(), lr=0.05)
    train = DataLoader(blobs(n=60, noise_labels=True), batch_size=10, shuffle=True, generator=0)
    val = DataLoader(blobs(n=60, seed=1, noise_labels=True), batch_size=60)  # random labels: val loss rises
    trainer = Trainer(model, opt, patience=2, checkpoint_dir=tmp_path, restore_best=True, progress=False,
                      verbose=False)
    hist = trainer.fit(train, val, epochs=50)
    assert trainer.stopped_early and len(hist) < 50
    val_losses = [h["val_loss"] for h in hist]
    best = int(np.argmin(val_losses)) + 1
    assert trainer.best["epoch"] == best and len(hist) == best + 2
    saved, meta = checkpoint.load(tmp_path / BEST_FILE)
    assert meta["epoch"] == best
    assert_same_weights(weights(model), saved)  # restore_best loaded the best weights
    again = Trainer(model, opt, patience=2, checkpoint_dir=tmp_path, progress=False, verbose=False)
    assert len(again.fit(train, val, epochs=50, resume=True)) == len(hist)  # a stopped run stays stopped


def test_evaluate_matches_manual_cross_entropy_and_restores_mode():
    set_seed(0)
    model = MLP(8, 3, hidden=(5,), dropout=0.5)
    ds = blobs(n=50)
    model.train()
    loss, acc = evaluate(model, DataLoader(ds, batch_size=16))
    assert model.training
    model.eval()
    with sg.no_grad():
        logits = model(sg.tensor(ds.arrays[0])).data.astype(np.float64)
    y = ds.arrays[1]
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(50), y].mean(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).mean())
    model.train()
    mse_loss, mse_acc = evaluate(model, DataLoader(TensorDataset(ds.arrays[0], ds.arrays[0][:, :3]), 16),
                                 nn.MSELoss())
    assert mse_acc is None and mse_loss > 0


def test_training_learns_and_history_is_complete(capsys):
    model, opt, sched, train, val = setup(dropout=0.0)
    hist = fit(model, opt, train, val, epochs=5, progress=True, verbose=True)
    out = capsys.readouterr().out
    assert out.count("epoch") == 5 and "val loss" in out
    assert set(hist[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "time_s"}
    assert hist[-1]["train_accuracy"] > 0.9 and hist[-1]["val_accuracy"] > 0.9
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_non_finite_loss_is_reported():
    model, opt, _, train, _ = setup()
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        fit(model, opt, train, epochs=1, loss_fn=lambda out, t: (out * float("nan")).sum(), progress=False,
            verbose=False)


def test_learning_curve_png(tmp_path):
    hist = [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5 + e / 20, "val_loss": 1.2 / e,
             "val_accuracy": None} for e in range(1, 6)]
    path = plot_history(hist, tmp_path / "sub" / "curves.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_registry():
    assert "mlp" in list_models()
    set_seed(0)
    m = get_model("mlp", in_features=64, num_classes=10, hidden=[32, 16], activation="tanh", dropout=0.1,
                  batchnorm=True)
    assert list(m.state_dict())[:3] == ["1.weight", "1.bias", "2.weight"]
    assert m(sg.randn(4, 1, 8, 8)).shape == (4, 10)
    assert isinstance(m, nn.Sequential) and "Tanh" in repr(m) and "Dropout" in repr(m)
    with pytest.raises(ValueError, match="unknown model"):
        get_model("nope")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(4, 2, activation="swish")
