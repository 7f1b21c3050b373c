"""Generative losses and layers: GAN / WGAN(-GP) / f-GAN / feature matching, MMD, spectral norm.

gradcheck (float64) for every loss and layer; plain reference formulas for MMD and the f-divergences;
PyTorch parity for the gradient penalty's second-order gradient and for spectral normalisation."""
import math

import numpy as np
import pytest

import scratchgrad as sg
from conftest import assert_close
from scratchgrad import nn
from scratchgrad.autograd import gradcheck, gradgradcheck
from scratchgrad.generative import gan, mmd
from scratchgrad.generative.spectral_norm import largest_singular_value, remove_spectral_norm, spectral_norm


def t64(*shape, low=None, scale=1.0, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape) * scale
    return sg.tensor(a if low is None else np.abs(a) + low, dtype=np.float64, requires_grad=True)


# ---- GAN losses ------------------------------------------------------------------------------------
def test_gan_losses_values_and_gradcheck():
    r, f = t64(6, seed=1), t64(6, 1, seed=2)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    ref_d = -(np.log(sig(r.data)).mean() + np.log(1 - sig(f.data)).mean())
    assert abs(gan.d_loss(r, f).item() - ref_d) < 1e-12
    smooth = -(0.9 * np.log(sig(r.data)) + 0.1 * np.log(1 - sig(r.data))).mean() - np.log(1 - sig(f.data)).mean()
    assert abs(gan.d_loss(r, f, real_label=0.9).item() - smooth) < 1e-12
    assert abs(gan.g_loss_minimax(f).item() - np.log(1 - sig(f.data)).mean()) < 1e-12
    assert abs(gan.g_loss_nonsaturating(f).item() + np.log(sig(f.data)).mean()) < 1e-12
    assert abs(gan.wgan_critic_loss(r, f).item() - (f.data.mean() - r.data.mean())) < 1e-12
    for fn in (lambda a, b: gan.d_loss(a, b, 0.9), lambda a, b: gan.g_loss_minimax(b) + gan.g_loss_nonsaturating(a),
               gan.wgan_critic_loss):
        assert gradcheck(fn, [r, f])
        assert gradgradcheck(fn, [r, f])
    # feature matching: the real features are a target (detached), the gradient flows to the fakes only
    fm = lambda a, b: gan.feature_matching_loss(a.reshape(3, 2), b.reshape(3, 2))  # noqa: E731
    ref = np.sum((r.data.reshape(3, 2).mean(0) - f.data.reshape(3, 2).mean(0)) ** 2)
    assert abs(fm(r, f).item() - ref) < 1e-12
    assert gradcheck(fm, [r.detach(), f]) and gradgradcheck(fm, [r.detach(), f])


def test_minimax_gradient_vanishes_where_nonsaturating_does_not():
    a = sg.tensor([-8.0], requires_grad=True)   # D(G(z)) = sigmoid(-8): D is sure the sample is fake
    (g_mm,) = sg.autograd.grad(gan.g_loss_minimax(a), a)
    (g_ns,) = sg.autograd.grad(gan.g_loss_nonsaturating(a), a)
    assert abs(g_mm.item()) < 1e-3 and abs(g_ns.item()) > 0.99


@pytest.mark.parametrize("name", sorted(gan.F_DIVERGENCES))
def test_f_divergence_matches_reference_formula(name):
    """sup_T E_P T - E_Q f*(T) = D_f(P || Q), attained at T* = f'(p/q): check value and the bound."""
    div = gan.F_DIVERGENCES[name]
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    u = p / q
    reference = {  # D_f written out directly
        "kl": np.sum(p * np.log(p / q)),
        "reverse-kl": np.sum(q * np.log(q / p)),
        "js": np.sum(p * np.log(2 * p / (p + q))) + np.sum(q * np.log(2 * q / (p + q))),   # = 2 JS
        "pearson": np.sum((p - q) ** 2 / q),
        "hellinger": np.sum((np.sqrt(p) - np.sqrt(q)) ** 2),
    }[name]
    assert abs(div.divergence(p, q) - reference) < 1e-12
    # T* = f'(u), and V* = activation^-1(T*) (the inverses written out)
    t_star = {"kl": 1 + np.log(u), "reverse-kl": -1 / u, "js": np.log(2 * u / (1 + u)), "pearson": 2 * (u - 1),
              "hellinger": 1 - 1 / np.sqrt(u)}[name]
    v_star = {"kl": lambda t: t, "reverse-kl": lambda t: -np.log(-t),
              "js": lambda t: -np.log(np.exp(math.log(2) - t) - 1), "pearson": lambda t: t,
              "hellinger": lambda t: -np.log(1 - t)}[name](t_star)
    assert np.isfinite(v_star).all()
    v = sg.tensor(v_star, dtype=np.float64)
    assert_close(div.activation(v), t_star, atol=1e-10, what="activation")
    assert_close(div.conjugate_of_activation(v), div.conjugate(t_star), atol=1e-10, what="f*(g(v))")
    bound = np.sum(p * div.activation(v).data) - np.sum(q * div.conjugate_of_activation(v).data)
    assert abs(bound - reference) < 1e-9
    # the objective as the loss computes it (expectations as weighted means) and a worse critic
    w = sg.tensor(v_star + rng.standard_normal(7) * 0.3, dtype=np.float64)
    worse = np.sum(p * div.activation(w).data) - np.sum(q * div.conjugate_of_activation(w).data)
    assert worse < reference
    # gradcheck of both f-GAN losses
    r, f = t64(5, scale=0.5, seed=3), t64(5, scale=0.5, seed=4)
    assert gradcheck(lambda a, b: gan.fgan_d_loss(a, b, div) + gan.fgan_g_loss(b, div), [r, f])
    assert gradcheck(lambda b: gan.fgan_g_loss(b, name, saturating=True), [f])


def _mlp_pair(torch, sizes, dtype=np.float64):
    ours = nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.LeakyReLU(0.2), nn.Linear(sizes[1], sizes[2]), nn.Tanh(),
                         nn.Linear(sizes[2], 1)).to(dtype)
    theirs = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.LeakyReLU(0.2),
                                 torch.nn.Linear(sizes[1], sizes[2]), torch.nn.Tanh(), torch.nn.Linear(sizes[2], 1))
    theirs = theirs.double() if dtype == np.float64 else theirs
    with torch.no_grad():
        for (_, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
            b.copy_(torch.tensor(a.data))
    return ours, theirs


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_gradient_penalty_second_order_matches_torch(torch, dtype, tol):
    ours, theirs = _mlp_pair(torch, (6, 8, 5), dtype)
    rng = np.random.default_rng(0)
    real = sg.tensor(rng.standard_normal((4, 6)), dtype=dtype)
    fake = sg.tensor(rng.standard_normal((4, 6)), dtype=dtype)
    gp = gan.gradient_penalty(ours, real, fake, rng=np.random.default_rng(5))
    gp.backward()
    e = np.random.default_rng(5).random((4, 1), dtype=np.float32).astype(dtype)
    x_hat = torch.tensor(e * real.data + (1 - e) * fake.data, requires_grad=True)
    (g,) = torch.autograd.grad(theirs(x_hat).sum(), x_hat, create_graph=True)
    gp_t = ((g.reshape(4, -1).pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
    gp_t.backward()
    assert_close(gp, gp_t, atol=tol, rtol=tol, what="penalty")
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        if b.grad is None:   # the last bias: the input gradient does not depend on it
            assert a.grad is None, name
            continue
        assert_close(a.grad, b.grad, atol=tol, rtol=tol * 10, what=f"d penalty / d {name}")


def test_gradient_penalty_gradcheck():
    """The penalty as a function of the critic's weights (the second-order path) vs finite differences."""
    real = sg.tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype=np.float64)
    fake = sg.tensor(np.random.default_rng(2).standard_normal((3, 4)), dtype=np.float64)
    W1, b1, W2 = t64(5, 4, seed=3), t64(5, seed=4), t64(1, 5, seed=5)

    def penalty(W1, b1, W2):
        D = lambda x: nn.functional.linear(sg.tanh(nn.functional.linear(x, W1, b1)), W2)  # noqa: E731
        return gan.gradient_penalty(D, real, fake, rng=np.random.default_rng(0))
    assert gradcheck(penalty, [W1, b1, W2])


def test_clip_weights_and_trainer_smoke():
    sg.manual_seed(0)
    G = gan.MLPGenerator(latent_dim=4, hidden=(8,), out_features=2, out_activation=None)
    D = gan.MLPDiscriminator(2, hidden=(8,))
    gan.clip_weights_(D, 0.01)
    assert max(np.abs(p.data).max() for p in D.parameters()) <= 0.01
    rng = np.random.default_rng(0)
    sample = lambda n: (rng.standard_normal((n, 2)).astype(np.float32), None)  # noqa: E731
    for loss in gan.GAN_LOSSES:
        tr = gan.GANTrainer(G, D, loss=loss, n_critic=2, label_smoothing=0.1 if loss == "ns" else 0.0)
        hist = tr.fit(sample, iterations=2, batch_size=8)
        assert all(np.isfinite(v).all() for v in hist.values()), loss
        if loss == "wgan":
            assert max(np.abs(p.data).max() for p in D.parameters()) <= 0.01 + 1e-7
    tr = gan.GANTrainer(G, D, loss="ns", feature_matching=True)
    assert np.isfinite(tr.fit(sample, 2, 8)["g_loss"]).all()
    assert tr.generate(5).shape == (5, 2)


def test_lr_schedule_steps_both_players_once_per_round():
    """--lr-schedule for GANs: the schedulers of both optimizers step after every generator step."""
    from scratchgrad.cli import make_scheduler
    sg.manual_seed(0)
    G = gan.MLPGenerator(latent_dim=4, hidden=(8,), out_features=2, out_activation=None)
    D = gan.MLPDiscriminator(2, hidden=(8,))
    rng = np.random.default_rng(0)
    tr = gan.GANTrainer(G, D, loss="wgan-gp", lr=1e-3, n_critic=3)
    schedulers = [make_scheduler("cosine", opt, 4) for opt in (tr.opt_g, tr.opt_d)]
    seen = []
    tr.fit(lambda n: (rng.standard_normal((n, 2)).astype(np.float32), None), 4, 8, schedulers=schedulers,
           every=1, callback=lambda it, t: seen.append(t.opt_d.param_groups[0]["lr"]))
    expected = [1e-3 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(1, 5)]
    np.testing.assert_allclose(seen, expected, atol=1e-12)
    assert tr.opt_g.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_conditional_gan_shapes():
    sg.manual_seed(0)
    G = gan.MLPGenerator(latent_dim=4, hidden=(8,), out_features=6, num_classes=3)
    D = gan.MLPDiscriminator(6, hidden=(8,), num_classes=3, spectral=True)
    y = np.array([0, 1, 2, 1])
    x = G(sg.randn(4, 4), y)
    assert x.shape == (4, 6) and D(x, y).shape == (4,)
    with pytest.raises(ValueError, match="conditional"):
        G(sg.randn(4, 4))
    rng = np.random.default_rng(0)
    tr = gan.GANTrainer(G, D, loss="wgan-gp", num_classes=3, n_critic=1)
    h = tr.fit(lambda n: (rng.random((n, 6), dtype=np.float32), rng.integers(0, 3, n)), 2, 4)
    assert np.isfinite(h["gradient_penalty"]).all()


# ---- MMD ------------------------------------------------------------------------------------------
def _mmd2_reference(x, y, sigmas, unbiased=False):
    """The notes' formula with plain loops over pairs."""
    k = lambda a, b: sum(math.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in sigmas)  # noqa: E731
    n, m = len(x), len(y)
    if unbiased:
        kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    else:
        kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n)) / n ** 2
        kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m)) / m ** 2
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return kxx + kyy - 2 * kxy


@pytest.mark.parametrize("unbiased", [False, True])
def test_mmd2_matches_reference_and_gradcheck(unbiased):
    x, y = t64(5, 3, seed=1), t64(4, 3, seed=2)
    sigmas = (0.5, 1.0, 4.0)
    val = mmd.mmd2(x, y, sigmas, unbiased=unbiased)
    assert abs(val.item() - _mmd2_reference(x.data, y.data, sigmas, unbiased)) < 1e-12
    assert gradcheck(lambda a, b: mmd.mmd2(a, b, sigmas, unbiased), [x, y])
    same = mmd.mmd2(x, x, sigmas)
    assert abs(same.item()) < 1e-12
    assert mmd.mmd2(sg.tensor(x.data), sg.tensor(x.data + 3.0), sigmas).item() > 0.5


def test_gmmn_loss_decreases():
    sg.manual_seed(0)
    g = mmd.GMMN(latent_dim=2, hidden=(16,), out_features=2, bandwidths=(0.5, 1.0), rng=np.random.default_rng(0))
    data = np.random.default_rng(1).standard_normal((64, 2)).astype(np.float32) * 0.1 + 0.7
    opt = sg.optim.Adam(g.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss, _ = g.loss(sg.tensor(data))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


# ---- spectral normalisation -------------------------------------------------------------------------
def test_spectral_norm_matches_torch(torch):
    sg.manual_seed(0)
    ours = spectral_norm(nn.Linear(7, 5), n_power_iterations=2)
    theirs = torch.nn.utils.spectral_norm(torch.nn.Linear(7, 5), n_power_iterations=2)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    with torch.no_grad():
        for k, v in ours.state_dict().items():   # same weights and the same u, v starting vectors
            theirs.state_dict()[k].copy_(torch.tensor(v))
    x = np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32)
    for _ in range(4):   # several training steps: u, v follow the same power iteration
        y, yt = ours(sg.tensor(x)), theirs(torch.tensor(x))
        assert_close(y, yt, what="forward")
        assert_close(ours.weight_u, theirs.weight_u, what="u")
        assert_close(ours.weight_v, theirs.weight_v, what="v")
        assert_close(ours.weight, theirs.weight, what="W / sigma")
        (y * y).sum().backward()
        (yt * yt).sum().backward()
        assert_close(ours.weight_orig.grad, theirs.weight_orig.grad, what="d/dW_orig")
        with sg.no_grad(), torch.no_grad():
            ours.weight_orig.data -= 0.1 * ours.weight_orig.grad.data
            theirs.weight_orig -= 0.1 * theirs.weight_orig.grad
        ours.zero_grad()
        theirs.zero_grad()
    ours.eval()
    theirs.eval()   # eval: no power iteration, the stored u, v are used
    assert_close(ours(sg.tensor(x)), theirs(torch.tensor(x)), what="eval forward")


def test_spectral_norm_converges_to_sigma_max_and_gradcheck():
    sg.manual_seed(0)
    lin = spectral_norm(nn.Linear(6, 4))
    W = lin.weight_orig.data.copy()
    for _ in range(50):
        lin(sg.randn(2, 6))
    assert abs(largest_singular_value(lin.weight) - 1.0) < 1e-4
    assert abs(largest_singular_value(W) - largest_singular_value(lin.weight_orig)) < 1e-6
    lin.double().eval()
    x = t64(3, 6, seed=1)
    w0 = lin.weight_orig

    def f(a, w):
        lin._parameters["weight_orig"] = w
        return lin(a)
    assert gradcheck(f, [x, sg.tensor(w0.data, dtype=np.float64, requires_grad=True)])
    assert gradgradcheck(f, [x, sg.tensor(w0.data, dtype=np.float64, requires_grad=True)])
    lin._parameters["weight_orig"] = w0
    remove_spectral_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError):
        remove_spectral_norm(lin)


def test_float32_stays_float32():
    sg.manual_seed(0)
    x = sg.randn(6, 4)
    r, f = sg.randn(6), sg.randn(6)
    D = gan.MLPDiscriminator(4, hidden=(8,), spectral=True)
    values = [gan.d_loss(r, f, 0.9), gan.g_loss_minimax(f), gan.g_loss_nonsaturating(f), gan.wgan_critic_loss(r, f),
              gan.gradient_penalty(D, x, sg.randn(6, 4)), gan.feature_matching_loss(x, x * 2.0), mmd.mmd2(x, x * 0.5),
              mmd.mmd2(x, x + 1.0, unbiased=True), D(x), D.body[0].weight]
    values += [gan.fgan_d_loss(r, f, k) + gan.fgan_g_loss(f, k) for k in gan.F_DIVERGENCES]
    for v in values:
        assert v.dtype == np.float32, v


@pytest.mark.parametrize("loss", ["wgan-gp", "ns"])
def test_gan_trainer_step_matches_torch(torch, loss):
    """One critic step and one generator step of GANTrainer == the same step written in torch."""
    sg.manual_seed(0)
    G = gan.MLPGenerator(latent_dim=3, hidden=(8, 8), out_features=2, out_activation=None, batchnorm=False)
    D = gan.MLPDiscriminator(2, hidden=(8, 8))
    tG = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                             torch.nn.Linear(8, 2))
    tD = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 8),
                             torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for ours, theirs in ((G, tG), (D, tD)):
            for a, b in zip(ours.parameters(), theirs.parameters()):
                b.copy_(torch.tensor(a.data))
    tr = gan.GANTrainer(G, D, loss=loss, lr=1e-2, n_critic=1, rng=np.random.default_rng(7))
    real = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)
    tr.d_step(sg.tensor(real))
    tr.g_step(sg.tensor(real))
    # the same random draws, in the same order: z (critic step), e (penalty), z (generator step)
    rng = np.random.default_rng(7)
    z1 = torch.tensor(rng.standard_normal((16, 3), dtype=np.float32))
    e = torch.tensor(rng.random((16, 1), dtype=np.float32)) if loss == "wgan-gp" else None
    z2 = torch.tensor(rng.standard_normal((16, 3), dtype=np.float32))
    betas = (0.5, 0.9) if loss == "wgan-gp" else (0.5, 0.999)
    od, og = torch.optim.Adam(tD.parameters(), 1e-2, betas), torch.optim.Adam(tG.parameters(), 1e-2, betas)
    x = torch.tensor(real)
    fake = tG(z1).detach()
    if loss == "wgan-gp":
        xh = (e * x + (1 - e) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(tD(xh).sum(), xh, create_graph=True)
        ld = tD(fake).mean() - tD(x).mean() + 10 * ((g.pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
    else:
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        ld = bce(tD(x).reshape(-1), torch.ones(16)) + bce(tD(fake).reshape(-1), torch.zeros(16))
    od.zero_grad()
    ld.backward()
    od.step()
    s = tD(tG(z2)).reshape(-1)
    lg = -s.mean() if loss == "wgan-gp" else torch.nn.functional.softplus(-s).mean()
    og.zero_grad()
    lg.backward()
    og.step()
    for ours, theirs, what in ((G, tG, "G"), (D, tD, "D")):
        for (n, a), b in zip(ours.named_parameters(), theirs.parameters()):
            assert_close(a, b, atol=1e-5, what=f"{what}.{n} after one step")
