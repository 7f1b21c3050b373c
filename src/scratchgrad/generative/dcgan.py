"""Convolutional GANs for small images: the DCGAN generator and discriminator (Radford et al., 2016),
and the same discriminator without batch norm as the WGAN-GP critic (Gulrajani et al., 2017).

DCGAN's rules, as the notes list them: no pooling (strided convolutions down, transposed
convolutions up), batch norm in G and D, ReLU in G with tanh at the output, LeakyReLU(0.2) in D,
weights drawn from N(0, 0.02). Channels double at every halving of the size, as in the paper.
For a 28 x 28 MNIST digit (c = channels; t = 4, the size after three halvings, rounded up):

    G   z (N, latent)                   "project and reshape"
        ConvTranspose2d(latent, 4c, 4)        -> (N, 4c, 4, 4)     BatchNorm2d, ReLU
        ConvTranspose2d(4c, 2c, 3, 2, 1)      -> (N, 2c, 7, 7)     BatchNorm2d, ReLU
        ConvTranspose2d(2c, c, 4, 2, 1)       -> (N, c, 14, 14)    BatchNorm2d, ReLU
        ConvTranspose2d(c, 1, 4, 2, 1)        -> (N, 1, 28, 28)    tanh: pixels in [-1, 1]

    D   x (N, 1, 28, 28) or (N, 784)
        Conv2d(1, c, 4, 2, 1)                 -> (N, c, 14, 14)    LeakyReLU(0.2)
        Conv2d(c, 2c, 4, 2, 1)                -> (N, 2c, 7, 7)     [norm], LeakyReLU(0.2)
        Conv2d(2c, 4c, 3, 2, 1)               -> (N, 4c, 4, 4)     [norm], LeakyReLU(0.2)   = features
        Conv2d(4c, 1, 4)                      -> (N,) scores (logits, or critic values)

The 4 x 4 stage matters: with only two stride-2 layers, D's verdict is a linear function of
features of 10 x 10 patches, which judges strokes but hardly the shape of the whole digit.
(Sizes that are multiples of 8 use kernel 4 at the 4 x 4 stage as well: 32 -> 16 -> 8 -> 4.)

The gradient penalty normalises each sample's gradient on its own, which batch norm would mix
across the batch: so the WGAN-GP critic uses norm="layer" (LayerNorm over (C, H, W)) or none.
Every layer here supports double backward, which WGAN-GP's penalty needs.

G's first layer is a transposed convolution of a 1 x 1 input, i.e. the matrix product
z @ W.reshape(latent, 4c*t*t), and computed as such (the general stride-1 kernel would pad the
1 x 1 input to (2t-1) x (2t-1) and multiply t*t times as many zeros as numbers).
"""
from __future__ import annotations

from .. import nn
from ..nn import init

NORMS = ("batch", "layer", "none")


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN's initialisation, in place (PyTorch's DCGAN example): conv and transposed-conv weights
    ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), all biases 0. Returns module."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            init.normal_(m.weight, 1.0, 0.02)
            init.zeros_(m.bias)
    return module


def _sizes(image_size: int) -> tuple[int, int, int]:
    """(s, t, k): the size after two halvings, after three (rounded up), and the kernel between them."""
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 layers), got {image_size}")
    s = image_size // 4
    return s, (s + 1) // 2, 4 - s % 2     # 7 -> 4 with kernel 3, 8 -> 4 with kernel 4 (stride 2, padding 1)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, image_channels, image_size, image_size) in [-1, 1] (tanh)."""

    def __init__(self, latent_dim: int = 100, channels: int = 64, image_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.latent_dim, c = latent_dim, channels
        _, t, k = _sizes(image_size)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * c, t, bias=False), nn.BatchNorm2d(4 * c), nn.ReLU(),
            nn.ConvTranspose2d(4 * c, 2 * c, k, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, image_channels, 4, 2, 1), nn.Tanh())
        dcgan_init_(self)

    def forward(self, z):
        project = self.net[0]   # ConvTranspose2d(latent, 4c, t) on a 1 x 1 input: one matrix product
        n, (_, c4, t, _) = z.shape[0], project.weight.shape
        h = (z.reshape(n, self.latent_dim) @ project.weight.reshape(self.latent_dim, -1)).reshape(n, c4, t, t)
        return self.net[1:](h)


class DCGANDiscriminator(nn.Module):
    """images (N, C, H, W) or flat (N, C*H*W) -> (N,) scores; `features(x)` (N, 4c*t*t) is the last
    hidden layer (for feature matching).

    norm: "batch" (DCGAN), "layer" or "none" (the WGAN-GP critic: no batch norm);
    spectral=True wraps every convolution in spectral normalisation."""

    def __init__(self, channels: int = 64, norm: str = "batch", image_channels: int = 1, image_size: int = 28,
                 spectral: bool = False):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        c, (s, t, k) = channels, _sizes(image_size)
        self.image_shape = (image_channels, image_size, image_size)

        def normalize(shape):
            return {"batch": lambda: nn.BatchNorm2d(shape[0]), "layer": lambda: nn.LayerNorm(shape),
                    "none": nn.Identity}[norm]()
        bias = norm == "none"
        self.body = nn.Sequential(
            nn.Conv2d(image_channels, c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=bias), normalize((2 * c, s, s)), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, k, 2, 1, bias=bias), normalize((4 * c, t, t)), nn.LeakyReLU(0.2))
        self.head = nn.Conv2d(4 * c, 1, t)
        dcgan_init_(self)
        if spectral:
            from .spectral_norm import spectral_norm
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    spectral_norm(m)

    def _hidden(self, x):
        return self.body(x.reshape(x.shape[0], *self.image_shape))

    def features(self, x):
        h = self._hidden(x)
        return h.reshape(h.shape[0], -1)

    def forward(self, x):
        return self.head(self._hidden(x)).reshape(-1)
