"""LeNet-5 family: every channel count and hidden size scales with one ``width`` knob.

``width`` is the number of first-layer channels; the other layers keep LeNet-5's ratios 6 : 16 : 120 : 84, so
``width=6`` is LeCun et al.'s LeNet-5 (61,706 parameters) and ``width=1..32`` spans 2.1e3 to 1.7e6 parameters.
Fractional widths shrink the dense layers below that while the convolutions keep one channel each
(``width=0.1``: 127 parameters, ``0.25``: 256, ``0.5``: 469), so one knob spans 10^2 to 10^6 parameters.
"""

from __future__ import annotations

from torch import Tensor, nn


def lenet_sizes(width: float) -> tuple[int, int, int, int]:
    """(conv1 channels, conv2 channels, fc1 units, fc2 units) for a given width: each LeNet-5 size scaled by
    width / 6 and rounded, at least 1."""
    if not width > 0:
        raise ValueError(f"model.width must be a positive number, got {width}")
    return tuple(max(1, round(size * width / 6)) for size in (6, 16, 120, 84))


class LeNet(nn.Module):
    """LeNet-5 for 28x28 single-channel images (conv 5x5 pad 2, pool, conv 5x5, pool, three dense layers)."""

    def __init__(self, width: float = 6, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        c1, c2, h1, h2 = lenet_sizes(width)
        self.width = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 5 * 5, h1),
            nn.ReLU(inplace=True),
            nn.Linear(h1, h2),
            nn.ReLU(inplace=True),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
