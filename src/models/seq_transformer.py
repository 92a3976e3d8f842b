"""Causal transformer family on Omniglot sequences (paper Sec. 5, Fig. 8, after Chan et al. 2022).

A sequence of L (image, label) pairs becomes 2L tokens ``[img_1, lab_1, img_2, lab_2, ...]``: images embedded by a
small conv net, labels by an embedding table, plus learned positions. A decoder-only (causally masked) transformer
reads them and predicts each image's label at that image's token. Everything scales with ``width`` = d_model:
heads = max(1, width // 8) (head size 8, one head below width 16), MLP = 4 x width, conv channels =
max(4, width // 2). Depth is fixed (``depth=2`` blocks) so the sweep varies one knob, as the paper's width sweeps do.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def transformer_sizes(width: int) -> dict[str, int]:
    """Heads, MLP size and conv channels that go with a given d_model."""
    if width < 1:
        raise ValueError(f"model.width must be a positive integer, got {width}")
    return {"heads": max(1, width // 8), "mlp": 4 * width, "channels": max(4, width // 2)}


class ConvEmbedder(nn.Module):
    """``[N, 1, 28, 28]`` -> ``[N, d]``: three stride-2 3x3 convolutions (28 -> 14 -> 7 -> 4) and a linear map."""

    def __init__(self, d: int, channels: int, image_size: int = 28):
        super().__init__()
        c = channels
        self.convs = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        side = image_size
        for _ in range(3):
            side = (side + 1) // 2
        self.proj = nn.Linear(c * side * side, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.convs(x))


class OmniglotTransformer(nn.Module):
    """``images [B, L, 1, H, W]``, ``labels [B, L]`` -> logits ``[B, L, num_classes]`` for each image's label.

    The label token of pair i is only visible to later positions (causal mask), so predicting label i never sees it.
    """

    def __init__(
        self, width: int = 32, num_classes: int = 100, depth: int = 2, max_len: int = 5, image_size: int = 28
    ):
        super().__init__()
        sizes = transformer_sizes(width)
        if depth < 1:
            raise ValueError(f"model depth must be a positive integer, got {depth}")
        self.width, self.max_len, self.num_classes = width, max_len, num_classes
        self.embed_image = ConvEmbedder(width, sizes["channels"], image_size)
        self.embed_label = nn.Embedding(num_classes, width)
        self.pos = nn.Parameter(torch.zeros(2 * max_len, width))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width,
            sizes["heads"],
            sizes["mlp"],
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        b, n = labels.shape
        if n > self.max_len:
            raise ValueError(f"sequence of {n} pairs, but the model was built for at most {self.max_len}")
        img = self.embed_image(images.reshape(b * n, *images.shape[2:])).view(b, n, -1)
        lab = self.embed_label(labels)
        tokens = torch.stack((img, lab), dim=2).reshape(b, 2 * n, -1) + self.pos[: 2 * n]
        mask = nn.Transformer.generate_square_subsequent_mask(2 * n, device=tokens.device, dtype=tokens.dtype)
        hidden = self.blocks(tokens, mask=mask, is_causal=True)
        return self.head(self.norm(hidden[:, 0::2]))  # read out at the image tokens
