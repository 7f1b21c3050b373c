"""Generative models and how to judge them (the notes' 第四章 生成模型 and 第五章 生成对抗网络).

    from scratchgrad.generative import VAE, GANTrainer, MLPGenerator, MLPDiscriminator
    vae = VAE(784, hidden=(400,), latent_dim=20)                 # Bernoulli decoder, analytic KL
    loss, parts = vae.loss(x_binary)                             # -ELBO in nats per image
    log_px = vae.log_likelihood(x_test, k=1000)                  # importance-sampled log p(x)

Where things live:
    rbm.py            RBM (energy, free energy, Gibbs), CD-k / PCD training, AIS and exact log Z
    dbn.py            greedy layer-wise pre-training, fine-tuning vs random init
    autoencoder.py    Autoencoder, DenoisingAutoencoder, the shared epoch loop
    vae.py            VAE / conditional VAE / beta-VAE, importance-sampled likelihood, latent figures
    vaegan.py         VAE-GAN (discriminator features as the reconstruction metric)
    mmd.py            MMD^2 with a mixture of Gaussian kernels, GMMN
    made.py           MADE: masked autoencoder with an exact likelihood
    gan.py            GAN / non-saturating / WGAN / WGAN-GP / f-GAN losses, feature matching,
                      label smoothing, conditional MLP G and D, GANTrainer (any Modules as G and D)
    spectral_norm.py  spectral normalisation as a layer wrapper (torch.nn.utils.spectral_norm)
    metrics.py        MNIST-IS and MNIST-FID with a cached scratchgrad classifier
    labs.py           gan-vanishing-gradient, mode-collapse, vae-vs-ae, rbm-cd
    cli.py            train / sample / evaluate for the command line
"""
from .autoencoder import Autoencoder, DenoisingAutoencoder, train_epochs
from .dbn import DBN
from .gan import (F_DIVERGENCES, GANTrainer, MLPDiscriminator, MLPGenerator, d_loss, feature_matching_loss,
                  fgan_d_loss, fgan_g_loss, g_loss_minimax, g_loss_nonsaturating, gradient_penalty,
                  wgan_critic_loss, wgan_generator_loss)
from .made import MADE, MaskedLinear
from .mmd import GMMN, mmd2
from .rbm import RBM, ais_log_partition, exact_log_partition, train_rbm
from .spectral_norm import remove_spectral_norm, spectral_norm
from .vae import VAE, gaussian_kl, reparameterize
from .vaegan import VAEGAN, VAEGANTrainer

__all__ = ["Autoencoder", "DBN", "DenoisingAutoencoder", "F_DIVERGENCES", "GANTrainer", "GMMN", "MADE",
           "MLPDiscriminator", "MLPGenerator", "MaskedLinear", "RBM", "VAE", "VAEGAN", "VAEGANTrainer",
           "ais_log_partition", "d_loss", "exact_log_partition", "feature_matching_loss", "fgan_d_loss",
           "fgan_g_loss", "g_loss_minimax", "g_loss_nonsaturating", "gaussian_kl", "gradient_penalty", "mmd2",
           "remove_spectral_norm", "reparameterize", "spectral_norm", "train_epochs", "train_rbm",
           "wgan_critic_loss", "wgan_generator_loss"]
