"""Figures of the paper's mathematical model: Fig. 2 A-F, the App. A checks, and Fig. 9 (ROUGE-L-Sum).

Each function takes the model constants and simulation tables (from :mod:`src.analysis.mathmodel.simulator`) and returns a
matplotlib Figure; the analytic curves are lines, the Monte-Carlo results scored with torchmetrics are markers.
Legends carry each curve's emergence score E (paper Eq. 1) on the Monte-Carlo grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.emergence import emergence_score
from src.analysis.core.plotting import colors
from src.analysis.mathmodel import model as mm


@dataclass(frozen=True)
class ModelConfig:
    """Constants of the illustration: CE(N) = (N/c)^alpha over N in [n_min, n_max]."""

    c: float = 1e8
    alpha: float = -0.3
    n_min: float = 1e7
    n_max: float = 1e13
    lengths: tuple[int, ...] = (1, 2, 4, 8, 16)
    n_choices: int = 4
    n_grid: int = 13  # Monte-Carlo grid: two points per decade by default

    def dense(self) -> np.ndarray:
        return np.logspace(np.log10(self.n_min), np.log10(self.n_max), 200)

    def grid(self) -> np.ndarray:
        return np.logspace(np.log10(self.n_min), np.log10(self.n_max), self.n_grid)

    def n_params_for_eps(self, eps: np.ndarray) -> np.ndarray:
        """Inverse of eps(N) = 1 - exp(-(N/c)^alpha): the model size with per-token error ``eps``."""
        return self.c * (-np.log1p(-np.asarray(eps, dtype=float))) ** (1.0 / self.alpha)


def _label(text: str, x: np.ndarray, y: np.ndarray) -> str:
    e = emergence_score(x, y)
    return f"{text} (E={e:.2g})" if not np.isnan(e) else text


def figure2(cfg: ModelConfig, mc: pd.DataFrame) -> Figure:
    """Paper Fig. 2 A-F. ``mc``: :func:`simulator.simulate_lengths` run at eps = 1 - p(N) on ``cfg.grid()``."""
    n, grid = cfg.dense(), cfg.grid()
    ce, p = mm.cross_entropy(n, cfg.c, cfg.alpha), mm.token_prob(n, cfg.c, cfg.alpha)
    p_grid = mm.token_prob(grid, cfg.c, cfg.alpha)
    mc = mc.assign(n_params=cfg.n_params_for_eps(mc["eps"].to_numpy()))
    fig = Figure(figsize=(13, 7.2), layout="constrained")
    ax = fig.subplots(2, 3)
    a, b, c_, d, e, f = ax[0, 0], ax[0, 1], ax[0, 2], ax[1, 0], ax[1, 1], ax[1, 2]

    a.plot(n, ce, color="k")
    a.set_yscale("log")
    a.set_ylabel("per-token cross-entropy (nats)")
    a.set_title(rf"(A) CE(N) = (N/c)$^{{\alpha}}$, c={cfg.c:.0e}, $\alpha$={cfg.alpha}", fontsize=10)
    b.plot(n, p, color="k")
    b.set_ylabel("p(single token correct)")
    b.set_title("(B) per-token probability exp(-CE)", fontsize=10)

    for color, length in zip(colors(len(cfg.lengths)), cfg.lengths, strict=True):
        sim = mc[mc["length"] == length].sort_values("n_params")
        c_.plot(n, mm.sequence_accuracy(p, length), color=color, lw=1.4)
        c_.plot(sim["n_params"], sim["exact_match"], "o", color=color, ms=3.5,
                label=_label(f"L={length}", sim["n_params"].to_numpy(), sim["exact_match"].to_numpy()))  # fmt: skip
        e.plot(n, mm.token_edit_distance(p, length), color=color, lw=1.4)
        e.plot(sim["n_params"], sim["edit_distance"], "o", color=color, ms=3.5,
               label=_label(f"L={length}", sim["n_params"].to_numpy(), -sim["edit_distance"].to_numpy()))  # fmt: skip
    c_.set_ylabel("accuracy (all L tokens right)")
    c_.set_title("(C) nonlinear metric: accuracy = p$^L$", fontsize=10)
    e.set_ylabel("token edit distance (lower is better)")
    e.set_title("(E) linear metric: edit distance = L(1-p)", fontsize=10)

    probs = mm.choice_distribution(p, cfg.n_choices)
    probs_grid = mm.choice_distribution(p_grid, cfg.n_choices)
    mcg_grid = mm.multiple_choice_grade(probs_grid)
    brier_grid = mm.brier_score(probs_grid)
    d.plot(n, mm.multiple_choice_grade(probs), color="C3", label=_label("grade", grid, mcg_grid))
    d.set_ylabel("multiple choice grade")
    d.set_title(f"(D) discontinuous metric ({cfg.n_choices} choices)", fontsize=10)
    f.plot(n, mm.brier_score(probs), color="C3", label=_label("Brier", grid, -brier_grid))
    f.set_ylabel("Brier score (lower is better)")
    f.set_title("(F) continuous metric: Brier score", fontsize=10)

    for axis in ax.flat:
        axis.set_xscale("log")
        axis.set_xlabel("number of parameters N")
        axis.grid(True, alpha=0.3)
    for axis in (c_, d, e, f):
        axis.legend(fontsize=7, frameon=False)
    fig.suptitle(
        "One smooth per-token improvement (A, B) scored four ways (C-F). Lines: closed form; markers: Monte-Carlo "
        f"scored with torchmetrics,\n{int(mc['n_items'].iloc[0])} sequences per point; E: emergence score (Eq. 1) "
        "on the markers' grid",
        fontsize=10,
    )
    return fig


def appendix_figure(
    by_length: pd.DataFrame, resolution: pd.DataFrame, cfg: ModelConfig, resolution_length: int
) -> Figure:
    """App. A checks: (a) exact match decays geometrically in L, (b) edit distance grows about linearly in L,
    (c) a test set of n items reads multiples of 1/n only, so small models read as exactly 0.

    ``by_length``: :func:`simulator.simulate_lengths` over a few eps and many L. ``resolution``: columns
    ``n_params, n_items, measured`` (one Monte-Carlo test set per row).
    """
    fig = Figure(figsize=(13, 3.9), layout="constrained")
    a, b, c = fig.subplots(1, 3)
    eps_values = sorted(by_length["eps"].unique())
    for color, eps in zip(colors(len(eps_values)), eps_values, strict=True):
        sim = by_length[by_length["eps"] == eps].sort_values("length")
        L = sim["length"].to_numpy()
        a.plot(L, sim["theory_exact_match"], color=color, lw=1.2)
        a.plot(L, sim["exact_match"], "o", color=color, ms=4, label=rf"$\epsilon$={eps:g}")
        b.plot(L, sim["theory_edit_distance"], color=color, lw=1.2)
        b.plot(L, sim["edit_distance"], "o", color=color, ms=4, label=rf"$\epsilon$={eps:g}")
    a.set_yscale("log")
    a.set_title(r"(a) exact match vs length: (1-$\epsilon$)$^L$ (geometric)", fontsize=10)
    a.set_ylabel("exact match (log scale)")
    b.set_title(r"(b) token edit distance vs length: L$\epsilon$ (linear)", fontsize=10)
    b.set_ylabel("mean token edit distance")
    a.set_xscale("log", base=2)
    for axis in (a, b):
        axis.set_xlabel("target length L (tokens)")
        axis.legend(fontsize=7, frameon=False)
        axis.grid(True, alpha=0.3)

    n = cfg.dense()
    truth = mm.sequence_accuracy(mm.token_prob(n, cfg.c, cfg.alpha), resolution_length)
    c.plot(n, truth, color="k", lw=1.2, label=f"true accuracy p$^L$, L={resolution_length}")
    sizes = sorted(resolution["n_items"].unique())
    floor = 0.3 / max(sizes)
    for color, size in zip(colors(len(sizes)), sizes, strict=True):
        r = resolution[resolution["n_items"] == size].sort_values("n_params")
        nz = r["measured"] > 0
        c.plot(
            r.loc[nz, "n_params"], r.loc[nz, "measured"], "o", color=color, ms=4, label=f"measured, n={size}"
        )
        c.plot(r.loc[~nz, "n_params"], np.full((~nz).sum(), floor), "v", color=color, ms=5, mfc="none")
        c.axhline(1.0 / size, color=color, ls=":", lw=1)
    c.axhline(floor, color="0.5", lw=0.6)
    c.text(cfg.n_min, floor * 1.15, "reads as exactly 0 (open triangles)", fontsize=7, color="0.3")
    c.set_xscale("log")
    c.set_yscale("log")
    c.set_ylim(floor / 2, 1.5)
    c.set_xlabel("number of parameters N")
    c.set_ylabel("exact match (log scale)")
    c.set_title("(c) resolution: n items resolve\nmultiples of 1/n (dotted)", fontsize=10)
    c.legend(fontsize=7, frameon=False, loc="lower right")
    c.grid(True, alpha=0.3)
    fig.suptitle(
        "Appendix A in simulation (lines: closed form; markers: Monte-Carlo scored with torchmetrics)"
    )
    return fig


def figure9(rouge: pd.DataFrame, cfg: ModelConfig) -> Figure:
    """Paper Fig. 9: ROUGE-L-Sum against the per-token error probability, and against N through the power law.

    ``rouge``: :func:`simulator.simulate_rouge`. One curve per number of model tokens per ROUGE word.
    """
    fig = Figure(figsize=(10, 3.9), layout="constrained")
    a, b = fig.subplots(1, 2)
    ws = sorted(rouge["tokens_per_word"].unique())
    for color, w in zip(colors(len(ws)), ws, strict=True):
        r = rouge[rouge["tokens_per_word"] == w].sort_values("eps")
        eps = r["eps"].to_numpy()
        a.plot(eps, r["word_correct"], color=color, lw=1, ls="--")
        a.plot(eps, r["rouge_lsum"], "o-", color=color, ms=3.5, lw=1.2, label=f"{w} token(s) per word")
        pos = eps > 0
        npar = cfg.n_params_for_eps(eps[pos])
        b.plot(npar, r["rouge_lsum"].to_numpy()[pos], "o-", color=color, ms=3.5, lw=1.2,
               label=_label(f"{w} token(s)/word", npar, r["rouge_lsum"].to_numpy()[pos]))  # fmt: skip
    a.set_xlabel(r"per-token error probability $\epsilon$")
    a.set_ylabel("ROUGE-L-Sum (F-measure)")
    a.set_title(r"(a) ROUGE-L-Sum vs $\epsilon$ (dashed: (1-$\epsilon$)$^{w}$)", fontsize=10)
    b.set_xscale("log")
    b.set_xlabel(r"number of parameters N, via $\epsilon$ = 1 - exp(-(N/c)$^\alpha$)")
    b.set_ylabel("ROUGE-L-Sum (F-measure)")
    b.set_title("(b) the same scores against model size", fontsize=10)
    for axis in (a, b):
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7, frameon=False)
    n_words = "" if "n_words" not in rouge else f", {int(rouge['n_words'].iloc[0])} words"
    fig.suptitle(
        f"ROUGE-L-Sum of simulated outputs ({int(rouge['n_items'].iloc[0])} texts per point{n_words}; "
        "torchmetrics' union-LCS score)",
        fontsize=10,
    )
    return fig
