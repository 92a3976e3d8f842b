"""A small decoder-only transformer family (GPT-style, pre-LayerNorm) whose size scales with one ``width`` knob.

``width`` is the model dimension; depth stays fixed (``depth`` blocks), heads are ``max(1, width // head_dim)``
(``head_dim`` 16 by default) and the MLP is 4x wide, so parameters grow about as ``12 * depth * width^2``.
Positions are learned embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Block(nn.Module):
    """Causal self-attention and an MLP, each behind a LayerNorm and a residual connection."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class DecoderLM(nn.Module):
    """Next-token logits ``[b, t, vocab]`` for token ids ``[b, t]`` (``t <= max_len``). Learned positions start as
    N(0, ``pos_std``^2) (GPT-2's 0.02 by default; token embeddings start as N(0, 1), PyTorch's default). ``heads``:
    attention heads per block; when null, ``max(1, width // head_dim)``."""

    def __init__(
        self,
        vocab_size: int,
        width: int = 32,
        depth: int = 2,
        max_len: int = 64,
        pos_std: float = 0.02,
        heads: int | None = None,
        head_dim: int = 16,
    ):
        super().__init__()
        if not isinstance(width, int) or width < 2:
            raise ValueError(f"model.width must be an integer >= 2, got {width!r}")
        if heads is None:
            if not isinstance(head_dim, int) or head_dim < 1:
                raise ValueError(f"model.module.net.head_dim must be a positive integer, got {head_dim!r}")
            heads = max(1, width // head_dim)
        if not isinstance(heads, int) or heads < 1:
            raise ValueError(f"model.module.net.heads must be a positive integer or null, got {heads!r}")
        if width % heads:
            raise ValueError(
                f"model.width must be an integer >= 2 divisible by its number of heads, {heads} "
                f"(model.module.net.heads; when null max(1, width // head_dim), head_dim={head_dim}), got {width!r}"
            )
        self.width, self.max_len = width, max_len
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.zeros(max_len, width))
        nn.init.normal_(self.pos, std=pos_std)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        t = ids.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence of {t} tokens is longer than the model's max_len={self.max_len}")
        x = self.tok(ids) + self.pos[:t]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))

    @torch.no_grad()
    def greedy(self, prefix: Tensor, steps: int) -> Tensor:
        """``[b, steps]`` greedily decoded tokens after ``prefix`` ``[b, t]``, the whole batch at once."""
        seq = prefix
        for _ in range(steps):
            nxt = self(seq)[:, -1].argmax(dim=-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
        return seq[:, prefix.shape[1] :]
