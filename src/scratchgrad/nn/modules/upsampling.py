"""Upsampling and shuffles: Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, ChannelShuffle,
PixelShuffle, PixelUnshuffle."""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class _Rearrange(Module):
    """A layer that calls `fn(x, <its one setting>)`; the setting is stored under the name `arg`."""
    fn = arg = None

    def __init__(self, value: int):
        super().__init__()
        setattr(self, self.arg, value)

    def forward(self, x):
        return type(self).fn(x, getattr(self, self.arg))

    def extra_repr(self):
        return f"{self.arg}={getattr(self, self.arg)}"


class ChannelShuffle(_Rearrange):
    """ShuffleNet's channel shuffle of (N, C, *) input into `groups` groups: see F.channel_shuffle."""
    fn, arg = staticmethod(F.channel_shuffle), "groups"


class PixelShuffle(_Rearrange):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) with r = upscale_factor: see F.pixel_shuffle."""
    fn, arg = staticmethod(F.pixel_shuffle), "upscale_factor"


class PixelUnshuffle(_Rearrange):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) with r = downscale_factor: see F.pixel_unshuffle."""
    fn, arg = staticmethod(F.pixel_unshuffle), "downscale_factor"


class Upsample(Module):
    """Resize (N, C, *spatial) input to `size` or by `scale_factor`: see F.interpolate for the modes."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample(size, scale_factor, mode='nearest') for (N, C, H, W) input."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(size, scale_factor, mode='bilinear', align_corners=True) (as PyTorch: corners aligned)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
