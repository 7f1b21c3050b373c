"""Generative models: VAE (ELBO pieces by hand and vs torch, importance sampling vs quadrature), AE/DAE,
RBM (free energy by enumeration, CD gradient, AIS vs exact log Z), DBN, MADE (exact, normalised,
autoregressive), VAE-GAN, and the MNIST-IS/FID formulas."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

import scratchgrad as sg
from conftest import assert_close, to_torch
from scratchgrad.autograd import gradcheck, gradgradcheck
from scratchgrad.generative import metrics
from scratchgrad.generative.autoencoder import Autoencoder, DenoisingAutoencoder, train_epochs
from scratchgrad.generative.dbn import DBN, random_init_mlp
from scratchgrad.generative.made import MADE, MaskedLinear
from scratchgrad.generative.rbm import RBM, ais_log_partition, exact_log_partition, train_rbm
from scratchgrad.generative.vae import VAE, gaussian_kl, latent_manifold, latent_traversal
from scratchgrad.generative.vaegan import VAEGAN, VAEGANTrainer


def f64(a, grad=False):
    return sg.tensor(np.asarray(a), dtype=np.float64, requires_grad=grad)


# ---- VAE ---------------------------------------------------------------------------------------------
def _numpy_mlp(model_seq, x):
    """Forward of Sequential(Linear, ReLU, ..., Linear) by hand."""
    h = x
    for m in model_seq:
        h = h @ m.weight.data.T + m.bias.data if hasattr(m, "weight") else np.maximum(h, 0)
    return h


def test_vae_elbo_pieces_by_hand_and_vs_torch(torch):
    sg.manual_seed(0)
    vae = VAE(in_features=6, hidden=(5,), latent_dim=3).double()
    rng = np.random.default_rng(1)
    x = (rng.random((4, 6)) < 0.5).astype(np.float64)
    sg.manual_seed(7)
    rec, kl = vae.elbo_terms(f64(x))
    # by hand, with the same eps (the global generator re-seeded: default_rng(7))
    eps = np.random.default_rng(7).standard_normal((4, 3), dtype=np.float32).astype(np.float64)
    h = _numpy_mlp(vae.encoder, x)
    mu, logvar = _numpy_mlp([vae.fc_mu], h), _numpy_mlp([vae.fc_logvar], h)
    z = mu + np.exp(0.5 * logvar) * eps
    logits = _numpy_mlp(vae.decoder, z)
    p = 1 / (1 + np.exp(-logits))
    rec_hand = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1)
    kl_hand = -0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)).sum(1)
    assert_close(rec, rec_hand, atol=1e-10, what="reconstruction")
    assert_close(kl, kl_hand, atol=1e-10, what="KL")
    # gradients of the loss vs the same computation in torch
    sg.manual_seed(7)
    loss, parts = vae.loss(f64(x))
    assert abs(parts["neg_elbo"] - (rec_hand + kl_hand).mean()) < 1e-10
    loss.backward()
    params = {n: to_torch(torch, p.data, requires_grad=True) for n, p in vae.named_parameters()}
    lin = lambda h, n: h @ params[n + ".weight"].T + params[n + ".bias"]  # noqa: E731
    xt = torch.tensor(x)
    ht = torch.relu(lin(xt, "encoder.0"))
    mut, lvt = lin(ht, "fc_mu"), lin(ht, "fc_logvar")
    zt = mut + torch.exp(0.5 * lvt) * torch.tensor(eps)
    lt = lin(torch.relu(lin(zt, "decoder.0")), "decoder.2")
    rect = torch.nn.functional.binary_cross_entropy_with_logits(lt, xt, reduction="none").sum(1)
    klt = torch.distributions.kl_divergence(torch.distributions.Normal(mut, torch.exp(0.5 * lvt)),
                                            torch.distributions.Normal(0.0, 1.0)).sum(1)
    (rect + klt).mean().backward()
    for n, p in vae.named_parameters():
        assert_close(p.grad, params[n].grad, atol=1e-10, what=n)


def test_gaussian_kl_and_vae_loss_gradcheck():
    mu, logvar = f64(np.random.default_rng(0).standard_normal((3, 2)), True), f64(
        np.random.default_rng(1).standard_normal((3, 2)) * 0.5, True)
    assert gradcheck(gaussian_kl, [mu, logvar]) and gradgradcheck(gaussian_kl, [mu, logvar])
    sg.manual_seed(0)
    vae = VAE(4, hidden=(3,), latent_dim=2, decoder="gaussian", num_classes=2, beta=2.0).double()
    x = f64(np.random.default_rng(2).random((3, 4)), True)
    y = np.array([0, 1, 1])

    def loss(x):
        sg.manual_seed(3)   # the same eps in every evaluation
        return vae.loss(x, y)[0]
    assert gradcheck(loss, [x])


def test_gaussian_decoder_log_likelihood_vs_scipy():
    vae = VAE(5, hidden=(4,), latent_dim=2, decoder="gaussian").double()
    vae.log_sigma.data[...] = -1.3
    x, mean = np.random.default_rng(0).random((3, 5)), np.random.default_rng(1).random((3, 5))
    ref = stats.norm.logpdf(x, mean, math.exp(-1.3)).sum(1)
    assert_close(vae.log_px_given_z(f64(mean), f64(x)), ref, atol=1e-10)
    assert_close(vae._log_px_numpy(mean, x), ref, atol=1e-10)


def test_importance_sampled_log_likelihood_vs_quadrature():
    """latent_dim 1: log p(x) = log integral p(x|z) N(z) dz by quadrature; IS with k = 4000 must agree."""
    sg.manual_seed(0)
    vae = VAE(5, hidden=(4,), latent_dim=1)
    x = (np.random.default_rng(0).random((3, 5)) < 0.5).astype(np.float32)
    z = np.linspace(-8, 8, 4001, dtype=np.float32)[:, None]
    logits = vae.decode(sg.tensor(z)).data.astype(np.float64)
    log_pxz = (x[:, None] * logits - np.logaddexp(0, logits)[None]).sum(2)          # (3, 4001)
    exact = np.log(np.trapezoid(np.exp(log_pxz) * stats.norm.pdf(z[:, 0]), z[:, 0], axis=1))
    ll = vae.log_likelihood(x, k=4000, samples_per_pass=1000)
    assert np.abs(ll - exact).max() < 0.05
    elbo = -vae.evaluate(x)["neg_elbo"]
    assert elbo <= ll.mean() + 0.05          # the bound
    assert vae.log_likelihood(x, k=1).shape == (3,)


def test_cvae_sampling_and_figures():
    sg.manual_seed(0)
    cvae = VAE(784, hidden=(16,), latent_dim=2, num_classes=10)
    s = cvae.sample(6, y=np.arange(6))
    assert s.shape == (6, 784) and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1
    with pytest.raises(ValueError, match="labels"):
        cvae.sample(2)
    assert latent_manifold(cvae, n=4, y=3).shape == (16, 784)
    vae = VAE(784, hidden=(16,), latent_dim=3)
    assert latent_traversal(vae, np.zeros(784, np.float32), values=np.linspace(-2, 2, 5)).shape == (15, 784)


# ---- autoencoders --------------------------------------------------------------------------------------
def test_autoencoder_and_dae_learn():
    sg.manual_seed(0)
    rng = np.random.default_rng(0)
    protos = (rng.random((4, 20)) < 0.5).astype(np.float32)
    x = protos[rng.integers(0, 4, 256)]
    for model in (Autoencoder(20, hidden=(16,), latent_dim=2), DenoisingAutoencoder(20, hidden=(16,), latent_dim=2)):
        before = model.loss(sg.tensor(x))[0].item()
        hist = train_epochs(model, x, epochs=20, batch_size=32, lr=1e-2, dynamic_binarization=False)
        assert hist[-1]["train_rec"] < 0.3 * before
        assert np.abs(model.reconstruct(x[:4]) - x[:4]).max() < 0.5
    dae = DenoisingAutoencoder(20, noise="mask", noise_level=0.5)
    c = dae.corrupt(sg.tensor(np.ones((100, 20), np.float32))).data
    assert 0.4 < c.mean() < 0.6
    with pytest.raises(ValueError):
        DenoisingAutoencoder(noise="salt")


# ---- RBM ------------------------------------------------------------------------------------------------
def _small_rbm(nv=5, nh=3, scale=1.0, seed=0):
    sg.manual_seed(seed)
    rbm = RBM(nv, nh)
    rng = np.random.default_rng(seed)
    rbm.weight.data[...] = rng.standard_normal((nh, nv)) * scale
    rbm.v_bias.data[...] = rng.standard_normal(nv) * 0.5
    rbm.h_bias.data[...] = rng.standard_normal(nh) * 0.5
    return rbm


def test_rbm_free_energy_by_enumeration_and_gradcheck():
    rbm = _small_rbm().double()
    v = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 1, 1]], np.float64)
    hs = np.array(list(itertools.product([0, 1], repeat=3)), np.float64)
    E = np.stack([rbm.energy(f64(np.repeat(vi[None], len(hs), 0)), f64(hs)).data for vi in v])
    assert_close(rbm.free_energy(f64(v)), -np.log(np.exp(-E).sum(1)), atol=1e-10, what="F = -log sum_h e^-E")
    assert_close(rbm.free_energy_numpy(v), rbm.free_energy(f64(v)), atol=1e-10)
    W, b, c = rbm.weight.data, rbm.v_bias.data, rbm.h_bias.data
    h = hs[:2]
    assert_close(rbm.energy(f64(v), f64(h)), -(v @ b) - (h @ c) - ((h @ W) * v).sum(1), atol=1e-12)
    assert gradcheck(lambda v: rbm.free_energy(v), [f64(v + 0.1, True)])
    assert gradcheck(lambda v, h: rbm.energy(v, h), [f64(v, True), f64(h, True)])
    # exact log Z by enumerating v AND h vs enumerating h only
    vs = np.array(list(itertools.product([0, 1], repeat=5)), np.float64)
    assert abs(exact_log_partition(rbm) - np.log(np.exp(-rbm.free_energy_numpy(vs)).sum())) < 1e-10


def test_rbm_cd_gradient_is_the_textbook_formula(torch):
    """d/dW [mean F(v0) - mean F(vk)] = -<h v>_data + <h v>_model with h = p(h|v)."""
    rbm = _small_rbm(6, 4)
    rng = np.random.default_rng(0)
    v0 = (rng.random((8, 6)) < 0.5).astype(np.float32)
    vk = (rng.random((8, 6)) < 0.5).astype(np.float32)
    (rbm.free_energy(sg.tensor(v0)).mean() - rbm.free_energy(sg.tensor(vk)).mean()).backward()
    h0, hk = rbm.h_given_v(v0), rbm.h_given_v(vk)
    assert_close(rbm.weight.grad, -(h0.T @ v0 - hk.T @ vk) / 8, atol=1e-6)
    assert_close(rbm.v_bias.grad, -(v0 - vk).mean(0), atol=1e-6)
    assert_close(rbm.h_bias.grad, -(h0 - hk).mean(0), atol=1e-6)
    # parity with the same free energy in torch
    Wt, bt, ct = (to_torch(torch, p.data, True) for p in (rbm.weight, rbm.v_bias, rbm.h_bias))
    Ft = lambda v: -(v @ bt) - torch.nn.functional.softplus(v @ Wt.T + ct).sum(1)  # noqa: E731
    (Ft(torch.tensor(v0)).mean() - Ft(torch.tensor(vk)).mean()).backward()
    for p, t in zip((rbm.weight, rbm.v_bias, rbm.h_bias), (Wt, bt, ct)):
        assert_close(p.grad, t.grad, atol=1e-6)


def test_ais_matches_exact_log_partition():
    rbm = _small_rbm(30, 10, scale=0.7, seed=3)
    exact = exact_log_partition(rbm)
    est = ais_log_partition(rbm, n_runs=100, n_betas=2000, rng=np.random.default_rng(0))
    assert abs(est["log_z"] - exact) < 0.1
    assert est["log_z_low"] - 0.1 <= exact <= est["log_z_high"] + 0.1
    est2 = ais_log_partition(rbm, n_runs=50, betas=np.linspace(0, 1, 1501) ** 0.5, rng=np.random.default_rng(1))
    assert abs(est2["log_z"] - exact) < 0.2 and est2["n_betas"] == 1500


def test_cd_and_pcd_training_lower_reconstruction_error():
    rng = np.random.default_rng(0)
    protos = (rng.random((3, 25)) < 0.5).astype(np.float32)
    x = np.clip(protos[rng.integers(0, 3, 300)] * 0.95 + 0.02, 0, 1)
    for persistent in (False, True):
        sg.manual_seed(0)
        rbm = RBM(25, 8)
        h = train_rbm(rbm, x, epochs=8, batch_size=20, lr=0.1, persistent=persistent, rng=np.random.default_rng(1))
        assert h[-1]["recon_error"] < 0.5 * h[0]["recon_error"] or h[-1]["recon_error"] < 1.0
        assert rbm.chains.shape == (20, 25) if persistent else True
    assert rbm.sample(4, steps=10).shape == (4, 25)


def test_dbn_to_mlp_copies_pretrained_weights():
    rng = np.random.default_rng(0)
    x = rng.random((60, 12)).astype(np.float32)
    sg.manual_seed(0)
    dbn = DBN([12, 8, 6])
    hist = dbn.pretrain(x, epochs=1, batch_size=20)
    assert len(hist) == 2 and len(hist[1]) == 1
    net = dbn.to_mlp(num_classes=3)
    assert_close(net[0].weight, dbn.rbms[0].weight)
    assert_close(net[2].bias, dbn.rbms[1].h_bias)
    # the MLP's first hidden layer computes exactly the RBM's p(h | v)
    with sg.no_grad():
        assert_close(net[1](net[0](sg.tensor(x))), dbn.rbms[0].h_given_v(x), atol=1e-6)
    assert net(sg.tensor(x)).shape == (60, 3)
    assert [type(m).__name__ for m in random_init_mlp([12, 8, 6], 3)] == [type(m).__name__ for m in net]


# ---- MADE ---------------------------------------------------------------------------------------------
def test_made_is_autoregressive_and_normalised():
    sg.manual_seed(0)
    order = np.random.default_rng(0).permutation(6)
    made = MADE(6, hidden=(12, 10), order=order, seed=1).double()
    x = f64(np.random.default_rng(1).random((1, 6)), True)
    out = made(x)
    for d in range(6):   # output d depends exactly on the inputs before d in the order
        (g,) = sg.autograd.grad(out[0, d], x, retain_graph=True, allow_unused=True)
        g = np.zeros(6) if g is None else g.data[0]
        before = order[:list(order).index(d)]
        assert np.all(g[[i for i in range(6) if i not in before]] == 0)
    xs = f64(np.array(list(itertools.product([0, 1], repeat=6))))
    total = np.exp(-made.nll(xs).data).sum()
    assert abs(total - 1.0) < 1e-10     # an exact, normalised likelihood
    assert made.sample(3).shape == (3, 6)


def test_masked_linear_gradcheck_and_parity(torch):
    sg.manual_seed(0)
    lin = MaskedLinear(5, 4).double()
    lin.set_mask((np.random.default_rng(0).random((4, 5)) < 0.5))
    x = f64(np.random.default_rng(1).standard_normal((3, 5)), True)
    assert gradcheck(lambda x, w: sg.nn.functional.linear(x, w * lin.mask, lin.bias), [x, f64(lin.weight.data, True)])
    y = lin(x)
    y.sum().backward()
    assert np.all(lin.weight.grad.data[lin.mask.data == 0] == 0)
    Wt, bt = to_torch(torch, lin.weight.data, True), to_torch(torch, lin.bias.data, True)
    yt = torch.nn.functional.linear(to_torch(torch, x.data), Wt * torch.tensor(lin.mask.data), bt)
    yt.sum().backward()
    assert_close(y, yt, atol=1e-12)
    assert_close(lin.weight.grad, Wt.grad, atol=1e-12)
    assert list(lin.state_dict()) == ["weight", "bias", "mask"]


# ---- VAE-GAN ---------------------------------------------------------------------------------------------
def test_vaegan_step_updates_all_three_networks():
    sg.manual_seed(0)
    m = VAEGAN(12, hidden=(8,), latent_dim=2, disc_hidden=(8, 6), pixel_weight=0.1)
    tr = VAEGANTrainer(m)
    before = {n: p.data.copy() for n, p in m.named_parameters()}
    stats_ = tr.step(sg.tensor(np.random.default_rng(0).random((5, 12), dtype=np.float32)))
    assert all(np.isfinite(v) for v in stats_.values())
    changed = {n for n, p in m.named_parameters() if not np.array_equal(p.data, before[n])}
    assert any(n.startswith("vae.encoder") for n in changed) and any(n.startswith("vae.decoder") for n in changed)
    assert any(n.startswith("disc.") for n in changed)
    assert m.sample(3).shape == (3, 12)


# ---- MNIST-IS / FID ------------------------------------------------------------------------------------
def test_inception_score_and_fid_formulas():
    confident = np.eye(10)[np.arange(1000) % 10] * 0.999 + 0.0001
    assert abs(metrics.inception_score(confident, splits=1)[0] - 10) < 0.1
    assert abs(metrics.inception_score(np.full((100, 10), 0.1))[0] - 1.0) < 1e-9
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(4), rng.standard_normal(4)
    s1, s2 = rng.random(4) + 0.5, rng.random(4) + 0.5
    closed = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))  # diagonal Gaussians
    assert abs(metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) - closed) < 1e-9
    f = rng.standard_normal((500, 3))
    assert abs(metrics.fid(f, f)) < 1e-6
    assert metrics.fid(f, f + 1.0) == pytest.approx(3.0, abs=1e-6)


def test_classifier_is_cached(tmp_path, data_root):
    model, info = metrics.get_classifier(tmp_path, data_root, hidden=(32, 16), epochs=4, n_train=3000)
    assert (tmp_path / metrics.CLASSIFIER_FILE).is_file() and info["test_accuracy"] > 0.7
    again, info2 = metrics.get_classifier(tmp_path, data_root)
    assert info2["test_accuracy"] == info["test_accuracy"]
    for (n, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        assert np.array_equal(a.data, b.data), n
    scorer = metrics.MNISTScorer(again, data_root)
    floor = scorer.real_data_floor(n=2000)
    noise = scorer.score(np.random.default_rng(0).random((2000, 784), dtype=np.float32))
    assert floor["mnist_fid"] < noise["mnist_fid"] and floor["mnist_is"] > noise["mnist_is"]


def test_models_keep_float32():
    sg.manual_seed(0)
    x = sg.tensor((np.random.default_rng(0).random((4, 784)) < 0.3).astype(np.float32))
    vae = VAE(784, hidden=(16,), latent_dim=3, decoder="gaussian")
    outs = [vae.loss(x)[0], *vae.elbo_terms(x), RBM(784, 8).free_energy(x), MADE(784, hidden=(16,)).nll(x),
            Autoencoder(784, hidden=(16,), latent_dim=3).loss(x)[0]]
    assert all(o.dtype == np.float32 for o in outs)
    assert vae.sample(2).dtype == np.float32


# ---- long trainings (pytest -m slow) ----------------------------------------------------------------------
@pytest.mark.slow
def test_vae_and_made_learn_mnist(data_root):
    from scratchgrad.generative.common import binarize, blas_threads, mnist_arrays
    x, _ = mnist_arrays(True, data_root)
    xt, _ = mnist_arrays(False, data_root, n=2000)
    xtb = binarize(xt, np.random.default_rng(1))
    with blas_threads(1):
        sg.manual_seed(0)
        vae = VAE(784, hidden=(400,), latent_dim=20)
        train_epochs(vae, x, epochs=3, batch_size=100, lr=1e-3)
        elbo = vae.evaluate(xtb)["neg_elbo"]
        nll = -vae.log_likelihood(xtb[:200], k=200).mean()
        assert elbo < 112 and nll < elbo
        made = MADE(784, hidden=(500,))
        train_epochs(made, x, epochs=2, batch_size=100, lr=1e-3)
        assert made.evaluate(xtb)["nll"] < 125     # 120.1 after 2 epochs here (103 after 10)
