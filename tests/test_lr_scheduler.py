"""LR schedulers against torch.optim.lr_scheduler: the lr sequence over 30 epochs is the same."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import optim
from scratchgrad.optim import lr_scheduler as sched

LRS = [0.1, 0.05]
EPOCHS = 30

CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),  # past T_max it goes back up
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1.0 / (e + 1), lambda e: min(1.0, (e + 1) / 5)])),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _optimizers(torch, lrs=LRS):
    ours = optim.SGD([{"params": [sg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs])
    return ours, theirs


def _lr_sequence(opt, scheduler, epochs=EPOCHS, metrics=None):
    seq = [scheduler.get_last_lr()]
    for epoch in range(epochs):
        opt.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[epoch])
        seq.append(list(scheduler.get_last_lr()))
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(seq)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_torch(torch, name, kw):
    ours, theirs = _optimizers(torch)
    got = _lr_sequence(ours, getattr(sched, name)(ours, **kw))
    want = _lr_sequence(theirs, getattr(torch.optim.lr_scheduler, name)(theirs, **kw))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


# a validation loss: improves, plateaus (tiny wiggles), improves again, plateaus
METRIC = np.concatenate([np.linspace(1.0, 0.5, 6), 0.5 + 1e-5 * np.sin(np.arange(10)),
                         np.linspace(0.5, 0.3, 4), 0.3 + 0.01 * np.cos(np.arange(10))])

PLATEAU = [
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(patience=0, factor=0.5, threshold=0.05, threshold_mode="abs", min_lr=[0.02, 0.001]),
    dict(mode="max", patience=2, factor=0.3),  # fed -METRIC: an accuracy
    dict(mode="max", patience=1, threshold=0.1, threshold_mode="abs", min_lr=0.004),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_matches_torch(torch, kw):
    metric = -METRIC if kw.get("mode") == "max" else METRIC
    ours, theirs = _optimizers(torch)
    s, ts = sched.ReduceLROnPlateau(ours, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kw)
    got, want = _lr_sequence(ours, s, metrics=metric), _lr_sequence(theirs, ts, metrics=metric)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert len(np.unique(got[:, 0])) > 1  # the schedule did cut the lr
    assert (s.best, s.num_bad_epochs, s.cooldown_counter) == (ts.best, ts.num_bad_epochs, ts.cooldown_counter)


def test_warmup_then_cosine_chain(torch):
    """Schedulers compose (each multiplies the current lr): LinearLR warm-up + cosine decay, stepped together."""
    ours, theirs = _optimizers(torch)
    a = [sched.LinearLR(ours, start_factor=0.1, total_iters=5), sched.CosineAnnealingLR(ours, T_max=EPOCHS)]
    b = [torch.optim.lr_scheduler.LinearLR(theirs, start_factor=0.1, total_iters=5),
         torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=EPOCHS)]
    for _ in range(EPOCHS):
        ours.step(), theirs.step()
        for s, ts in zip(a, b):
            s.step(), ts.step()
        np.testing.assert_allclose([g["lr"] for g in ours.param_groups],
                                   [g["lr"] for g in theirs.param_groups], rtol=1e-12)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip(name, kw):
    def make_opt():
        return optim.SGD([{"params": [sg.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS])
    opt = make_opt()
    s = getattr(sched, name)(opt, **kw)
    for _ in range(10):
        opt.step(), s.step()
    saved_opt, saved = opt.state_dict(), s.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 10
    opt2 = make_opt()
    s2 = getattr(sched, name)(opt2, **kw)
    opt2.load_state_dict(saved_opt)
    s2.load_state_dict(saved)
    for _ in range(15):
        opt.step(), s.step()
        opt2.step(), s2.step()
        assert s2.get_last_lr() == s.get_last_lr()


def test_plateau_state_dict_round_trip():
    opt = optim.SGD([sg.zeros(2, requires_grad=True)], lr=0.1)
    s = sched.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in METRIC[:12]:
        s.step(m)
    opt2 = optim.SGD([sg.zeros(2, requires_grad=True)], lr=0.1)
    s2 = sched.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(s.state_dict())
    for m in METRIC[12:]:
        s.step(m), s2.step(m)
        assert s2.get_last_lr() == s.get_last_lr()


def test_resume_with_last_epoch_needs_initial_lr():
    opt = optim.SGD([sg.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, step_size=3, last_epoch=5)


def test_errors():
    opt = optim.SGD([sg.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError):
        sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError):
        sched.LinearLR(opt, start_factor=0)
    with pytest.raises(TypeError):
        sched.StepLR(object(), step_size=1)
