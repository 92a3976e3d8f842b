"""Reconstruction_c (paper Eq. 2): the share of images whose squared reconstruction error is below a threshold c.

Scale of the norm, used everywhere in this project: pixels in [0, 1], the squared error *summed* over all values of
an image (3 x 32 x 32 = 3072 for CIFAR), so ``c`` is in the same units as the per-image ``sq_err`` the autoencoder
logs and saves (a per-pixel MSE of m is a summed error of 3072 m). torchmetrics has no thresholded-error metric,
hence this one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric


def check_thresholds(cs: Sequence[float]) -> tuple[float, ...]:
    """The c grid as floats; one clear error for an empty grid or a value that is not a positive finite number."""
    try:
        cs = tuple(float(c) for c in cs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the Reconstruction_c grid must be a list of positive numbers, got {cs!r}") from err
    if not cs:
        raise ValueError(
            "the Reconstruction_c grid is empty: give at least one threshold c > 0 (model.recon_cs)"
        )
    bad = [c for c in cs if not (math.isfinite(c) and c > 0)]
    if bad:
        raise ValueError(f"Reconstruction_c thresholds must be positive and finite, got {bad} in {list(cs)}")
    return cs


def format_threshold(c: float) -> str:
    """How a threshold appears in a log key: ``recon_c=40``, ``recon_c=2.5``."""
    return f"{c:g}"


def squared_errors(x: Tensor, x_hat: Tensor) -> Tensor:
    """Per-image squared error ``||x - x_hat||^2`` summed over every dimension but the first: ``[n]``."""
    if x.shape != x_hat.shape:
        raise ValueError(f"images {tuple(x.shape)} and reconstructions {tuple(x_hat.shape)} must match")
    return (x - x_hat).pow(2).flatten(1).sum(dim=1)


def reconstruction_threshold(sq_err: Tensor, cs: Sequence[float]) -> dict[float, Tensor]:
    """Reconstruction_c for each c from per-image squared errors ``[n]`` (functional twin of the class)."""
    cs = check_thresholds(cs)
    sq_err = sq_err.flatten().double()
    if sq_err.numel() == 0:
        return {c: torch.tensor(float("nan"), dtype=torch.float64) for c in cs}
    return {c: (sq_err < c).double().mean() for c in cs}


class ReconstructionThreshold(Metric):
    """Reconstruction_c for a grid of thresholds at once.

    ``update(x, x_hat)`` with images and reconstructions of the same shape (first axis = image), or
    ``update(sq_err=...)`` with per-image errors. State: one count per threshold and the image count, summed
    across processes. ``compute()`` returns ``{c: share of images with sq_err < c}``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, cs: Sequence[float] = (5, 10, 20, 40, 80), **kwargs):
        super().__init__(**kwargs)
        self.cs = check_thresholds(cs)
        self.add_state("n_below", default=torch.zeros(len(self.cs), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(
        self, x: Tensor | None = None, x_hat: Tensor | None = None, sq_err: Tensor | None = None
    ) -> None:
        if sq_err is None:
            if x is None or x_hat is None:
                raise ValueError(
                    "pass images and reconstructions (x, x_hat) or per-image errors (sq_err=...)"
                )
            sq_err = squared_errors(x, x_hat)
        sq_err = sq_err.flatten()
        thresholds = torch.tensor(self.cs, dtype=sq_err.dtype, device=sq_err.device)
        self.n_below += (sq_err[:, None] < thresholds[None, :]).sum(dim=0)
        self.n_total += sq_err.numel()

    def compute(self) -> dict[float, Tensor]:
        if int(self.n_total) == 0:
            return {c: torch.tensor(float("nan"), dtype=torch.float64) for c in self.cs}
        shares = self.n_below.double() / self.n_total.double()
        return {c: shares[i] for i, c in enumerate(self.cs)}
