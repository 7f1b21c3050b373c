"""Training convolutional image classifiers from the command line: images in, --augment, eval, --resume.

The quick tests use a tiny conv net registered here (and the zoo's models if present) on the bundled
8x8 digits; the MNIST targets of the book's convnets are `slow` (run with -m slow).
"""
import json

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import checkpoint, cli, nn
from scratchgrad.cli import evaluate_run, main
from scratchgrad.models import _BUILDERS, list_models, register_model
from scratchgrad.train import Trainer


def tiny_convnet(in_channels=1, num_classes=10, input_size=(1, 8, 8), dropout=0.0):
    """conv 3x3 (8) - ReLU - max-pool 2 - linear: a few thousand weights, trains on digits in a second."""
    s = input_size[-1] // 2
    layers = [nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(8 * s * s, num_classes))


def no_pool_for_small_images(in_channels=1, num_classes=10, input_size=(1, 8, 8)):
    """Needs at least 32x32 inputs: the 8x8 digits do not fit (five 2x2 poolings)."""
    layers = [nn.Conv2d(in_channels, 4, 3, padding=1)] + [nn.MaxPool2d(2) for _ in range(5)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * max(input_size[-1] // 32, 1) ** 2, num_classes))


@pytest.fixture(scope="module", autouse=True)
def test_models():
    register_model("tiny-convnet")(tiny_convnet)
    register_model("too-deep-for-digits")(no_pool_for_small_images)
    yield
    _BUILDERS.pop("tiny-convnet", None)
    _BUILDERS.pop("too-deep-for-digits", None)


def run_main(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


COMMON = ["--model", "tiny-convnet", "--dataset", "digits", "--no-progress", "--seed", "3"]


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn") / "run"
    assert main(["train", *COMMON, "--epochs", "3", "--lr", "0.01", "--out", str(out)]) == 0
    return out


def test_a_conv_model_trains_on_images(conv_run):
    config = json.loads((conv_run / "config.json").read_text())
    assert config["model_kwargs"] == {"in_channels": 1, "num_classes": 10, "input_size": [1, 8, 8]}
    assert config["batch_size"] == cli.DEFAULT_CONV_BATCH and config["augment"] == []
    metrics = json.loads((conv_run / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.8


def test_eval_rebuilds_a_conv_run(conv_run, capsys):
    metrics = json.loads((conv_run / "metrics.json").read_text())
    code, out, _ = run_main(["eval", conv_run], capsys)
    assert code == 0 and f"test accuracy {metrics['test_accuracy']:.2%}" in out
    assert evaluate_run(conv_run)["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)


def test_datasets_come_as_images():
    train, test, shape, classes = cli.load_datasets("digits")
    assert train.data.shape[1:] == shape == (1, 8, 8) and classes == 10
    assert cli.input_kwargs("mlp", shape, 10) == {"in_features": 64, "num_classes": 10}
    assert cli.input_kwargs("lenet5", (1, 28, 28), 10) == {"in_channels": 1, "num_classes": 10,
                                                              "input_size": [1, 28, 28]}


def test_resume_with_augmentation_equals_an_uninterrupted_run(tmp_path, capsys):
    """The augmentation draws from the global generator, which the checkpoint saves: resuming is exact."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    args = [*COMMON, "--augment", "crop,rotate,noise", "--dropout", "0.2", "--batch-size", "64"]
    assert main(["train", *args, "--epochs", "3", "--out", str(straight)]) == 0
    assert main(["train", *args, "--epochs", "2", "--out", str(split)]) == 0
    code, out, _ = run_main(["train", "--resume", "--epochs", "3", "--out", split, "--no-progress",
                             "--model", "tiny-convnet", "--dataset", "digits"], capsys)
    assert code == 0 and "resumed" in out
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (straight, split))
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert json.loads((split / "config.json").read_text())["augment"] == ["crop", "rotate", "noise"]
    wa, _ = checkpoint.load(straight / "model.safetensors")
    wb, _ = checkpoint.load(split / "model.safetensors")
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


def test_augment_changes_training_but_not_evaluation(tmp_path):
    plain, aug = tmp_path / "plain", tmp_path / "aug"
    assert main(["train", *COMMON, "--epochs", "1", "--out", str(plain)]) == 0
    assert main(["train", *COMMON, "--epochs", "1", "--out", str(aug), "--augment", "flip,jitter"]) == 0
    a, b = (json.loads((d / "metrics.json").read_text())["history"][0] for d in (plain, aug))
    assert a["train_loss"] != b["train_loss"]


def test_trainer_transform_sees_training_batches_only():
    x = sg.Tensor(np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32))
    y = sg.Tensor(np.arange(40) % 10)
    from scratchgrad.data import DataLoader, TensorDataset
    seen = []

    def transform(batch):
        seen.append(batch.shape[0])
        return batch
    model = tiny_convnet()
    trainer = Trainer(model, sg.optim.SGD(model.parameters(), lr=0.1), transform=transform, progress=False,
                      verbose=False)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16), DataLoader(TensorDataset(x, y), batch_size=40),
                epochs=2)
    assert seen == [16, 16, 8] * 2


def test_clear_errors_for_models_and_augmentations(tmp_path, capsys):
    code, _, err = run_main(["train", "--model", "too-deep-for-digits", "--dataset", "digits", "--no-progress",
                             "--epochs", "1", "--out", tmp_path / "a"], capsys)
    assert code == 1 and "does not fit digits images 1x8x8" in err
    code, _, err = run_main(["train", "--model", "tiny-convnet", "--hidden", "10", "--epochs", "1",
                             "--no-progress", "--out", tmp_path / "b"], capsys)
    assert code == 1 and "--hidden" in err and "MLP" in err
    with pytest.raises(SystemExit):
        main(["train", "--augment", "flip,blur"])
    assert "unknown augmentation blur" in capsys.readouterr().err


def test_help_lists_the_augmentations(capsys):
    from scratchgrad.data import transforms
    assert len(transforms.from_names(cli.AUGMENTATIONS, 28).transforms) == len(cli.AUGMENTATIONS)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--augment" in out and all(name in out for name in cli.AUGMENTATIONS)


ZOO = [m for m in ("lenet5", "simple-convnet", "deep-convnet", "resnet20", "plain20") if m in list_models()]


@pytest.mark.parametrize("model", ZOO)
def test_zoo_models_fit_mnist_images(model):
    """Each small zoo model builds for 1x28x28 MNIST and maps a batch to 10 class scores."""
    config = {"model": model, "dataset": "mnist", "model_kwargs": cli.input_kwargs(model, (1, 28, 28), 10)}
    cli.build_model(config, (1, 28, 28))


# ---- the targets (slow: minutes to hours) ------------------------------------------------------
TARGETS = {"simple-convnet": (["--epochs", "15"], 0.988), "deep-convnet": (["--epochs", "20"], 0.993)}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(TARGETS))
def test_mnist_targets(model, data_root, tmp_path):
    if model not in list_models():
        pytest.skip(f"{model} is not in the model zoo")
    extra, target = TARGETS[model]
    out = tmp_path / model
    assert main(["train", "--model", model, "--dataset", "mnist", "--data-root", str(data_root), *extra,
                 "--batch-size", "100", "--optimizer", "adam", "--lr", "1e-3", "--lr-schedule", "cosine",
                 "--val-fraction", "0", "--no-progress", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] >= target


# ---- labs (quick runs: the claim must already hold) ----------------------------------------------
@pytest.fixture
def mnist_env(monkeypatch):
    from conftest import shared_data_root
    root = shared_data_root()
    if (root / "mnist").exists():
        monkeypatch.setenv("SCRATCHGRAD_DATA", str(root))


def test_filters_lab(tmp_path, mnist_env):
    from scratchgrad.labs import run_lab
    r = run_lab("filters", out=tmp_path, quick=True)
    assert r["claim_holds"], r["checks"]
    assert (tmp_path / "filters.png").stat().st_size > 5000
    saved = np.load(tmp_path / "filters.npz")
    assert saved["before"].shape == saved["after"].shape == (30, 5, 5)
    assert r["after"]["autocorrelation_mean"] > r["before"]["autocorrelation_mean"]


def test_filter_statistics_on_known_filters():
    from scratchgrad.labs.cnn_training import low_frequency_energy, spatial_autocorrelation
    yy, xx = np.mgrid[-2:3, -2:3]
    blob = np.exp(-(yy ** 2 + xx ** 2) / 2.0)[None]
    edge = np.tanh(xx.astype(float))[None]
    checker = ((yy + xx) % 2 * 2 - 1.0)[None]
    noise = np.random.default_rng(0).standard_normal((2000, 5, 5))
    assert spatial_autocorrelation(blob)[0] > 0.3 and spatial_autocorrelation(edge)[0] > 0.5
    assert spatial_autocorrelation(checker)[0] == pytest.approx(-1.0)
    assert abs(spatial_autocorrelation(noise).mean()) < 0.08   # mean removal biases it slightly below 0
    assert low_frequency_energy(edge)[0] > 0.8 and low_frequency_energy(checker)[0] < 0.05
    assert low_frequency_energy(noise).mean() == pytest.approx(8 / 24, abs=0.02)


def test_degradation_lab(tmp_path, mnist_env):
    from scratchgrad.labs import list_labs, run_lab
    assert {"filters", "degradation"} <= {name for name, _ in list_labs()}
    r = run_lab("degradation", out=tmp_path, quick=True)
    assert r["claim_holds"], r["checks"]
    assert r["degradation_ratio"]["plain"] > r["degradation_ratio"]["residual"]
    assert (tmp_path / "degradation.png").stat().st_size > 5000
