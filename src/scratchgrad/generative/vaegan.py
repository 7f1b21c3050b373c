"""VAE-GAN (Larsen et al., 2016): a discriminator's features replace the pixel-wise reconstruction term.

A VAE's Bernoulli/Gaussian reconstruction term compares pixels one by one, so its samples are
blurry. VAE-GAN measures reconstruction in the feature space of a GAN discriminator instead:

    L_prior = KL(q(z|x) || p(z))
    L_llike = 1/2 || Dis_l(x) - Dis_l(x~) ||^2          (x~ = Dec(z), z ~ q(z|x); Dis_l: a hidden layer)
    L_GAN   = log Dis(x) + log(1 - Dis(x~)) + log(1 - Dis(Dec(z_p))),   z_p ~ p(z)

    encoder        minimises L_prior + L_llike
    decoder        minimises gamma L_llike - L_GAN     (non-saturating: -log Dis(x~) - log Dis(Dec(z_p)))
    discriminator  maximises L_GAN
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import grad, no_grad
from ..ops import sigmoid
from ..tensor import Tensor
from .gan import MLPDiscriminator, d_loss, g_loss_nonsaturating
from .vae import VAE, gaussian_kl, reparameterize


class VAEGAN(nn.Module):
    """An MLP VAE (decoder outputs pixel probabilities) and an MLP discriminator with `features`."""

    def __init__(self, in_features: int = 784, hidden=(400,), latent_dim: int = 20, disc_hidden=(512, 256),
                 gamma: float = 1.0, pixel_weight: float = 0.0):
        super().__init__()
        self.vae = VAE(in_features, hidden, latent_dim)
        self.disc = MLPDiscriminator(in_features, disc_hidden)
        self.gamma, self.pixel_weight, self.latent_dim = gamma, pixel_weight, latent_dim

    def encoder_parameters(self):
        return list(self.vae.encoder.parameters()) + list(self.vae.fc_mu.parameters()) + \
            list(self.vae.fc_logvar.parameters())

    def decoder_parameters(self):
        return list(self.vae.decoder.parameters())

    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities (N, D)."""
        return sigmoid(self.vae.decode(z))

    @no_grad()
    def sample(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = rng or np.random.default_rng(0)
        return self.decode(Tensor(rng.standard_normal((n, self.latent_dim), dtype=np.float32))).data


class VAEGANTrainer:
    """Three Adam optimisers (encoder, decoder, discriminator), one update of each per batch."""

    def __init__(self, model: VAEGAN, lr: float = 3e-4, betas=(0.5, 0.999), rng: np.random.Generator | None = None):
        from .. import optim
        self.model = model
        self.rng = rng or np.random.default_rng(0)
        self.enc_params, self.dec_params = model.encoder_parameters(), model.decoder_parameters()
        self.opt_enc = optim.Adam(self.enc_params, lr=lr, betas=betas)
        self.opt_dec = optim.Adam(self.dec_params, lr=lr, betas=betas)
        self.opt_dis = optim.Adam(model.disc.parameters(), lr=lr, betas=betas)

    def step(self, x: Tensor) -> dict:
        m, D = self.model, self.model.disc
        n = x.shape[0]
        z_p = Tensor(self.rng.standard_normal((n, m.latent_dim), dtype=np.float32))
        # encoder and decoder: one forward, two losses, each optimiser gets the gradient of its own loss
        mu, logvar = m.vae.encode(x)
        x_rec = m.decode(reparameterize(mu, logvar, self.rng))
        x_p = m.decode(z_p)
        D.requires_grad_(False)
        try:
            f_real, f_rec = D.features(x).detach(), D.features(x_rec)
            llike = 0.5 * ((f_real - f_rec) ** 2).sum(1).mean()
            prior = gaussian_kl(mu, logvar).mean()
            gan_g = g_loss_nonsaturating(D(x_rec)) + g_loss_nonsaturating(D(x_p))
            enc_loss = prior + llike
            dec_loss = m.gamma * llike + gan_g
            if m.pixel_weight:
                pix = ((x - x_rec) ** 2).sum(1).mean()
                enc_loss, dec_loss = enc_loss + m.pixel_weight * pix, dec_loss + m.pixel_weight * pix
            g_enc = grad(enc_loss, self.enc_params, retain_graph=True)
            g_dec = grad(dec_loss, self.dec_params, allow_unused=True)
        finally:
            D.requires_grad_(True)
        for params, grads, opt in ((self.enc_params, g_enc, self.opt_enc), (self.dec_params, g_dec, self.opt_dec)):
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
        # discriminator: real vs reconstructions and prior samples (constants here)
        fakes = Tensor(np.concatenate([x_rec.data, x_p.data]))
        dis = d_loss(D(x), D(fakes))
        self.opt_dis.zero_grad()
        dis.backward()
        self.opt_dis.step()
        return {"prior": float(prior.item()), "llike": float(llike.item()), "gan_g": float(gan_g.item()),
                "d_loss": float(dis.item())}

    def fit(self, x: np.ndarray, epochs: int = 1, batch_size: int = 64, history: dict | None = None) -> dict:
        """Epochs over grey images x in [0, 1] (not binarised: D would tell 0/1 pixels from probabilities)."""
        from .common import minibatches
        history = history if history is not None else {}
        self.model.train()
        for _ in range(epochs):
            for idx in minibatches(len(x), batch_size, self.rng):
                for k, v in self.step(Tensor(x[idx])).items():
                    history.setdefault(k, []).append(v)
        self.model.eval()
        return history
