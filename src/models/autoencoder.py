"""Shallow nonlinear autoencoder family (paper Sec. 5, Fig. 7): one hidden (bottleneck) layer of ``width`` units.

Flattened 3x32x32 image in [0, 1], centred (minus 0.5) -> Linear -> ReLU (``width`` units) -> Linear -> sigmoid ->
3072 values in [0, 1]. ``width`` = 2 .. 1024 spans about 1.5e4 to 6.3e6 parameters. Without the centring, ReLU
units die early and every width stalls near the mean image (summed squared error ~190 on CIFAR; measured).
"""

from __future__ import annotations

from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


class ShallowAutoencoder(nn.Module):
    """``x [B, C, H, W]`` -> reconstruction of the same shape through a ``width``-unit nonlinear bottleneck."""

    def __init__(
        self, width: int = 64, image_shape: tuple[int, int, int] = (3, 32, 32), activation: str = "relu"
    ):
        super().__init__()
        if width < 1:
            raise ValueError(f"model.width must be a positive integer, got {width}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.width, self.image_shape = width, tuple(image_shape)
        n = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n, width), ACTIVATIONS[activation]())
        self.decoder = nn.Sequential(nn.Linear(width, n), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x - 0.5)).view(x.shape[0], *self.image_shape)
