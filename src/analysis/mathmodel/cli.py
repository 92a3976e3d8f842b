"""Command ``model-figures``: the paper's mathematical model and Monte-Carlo simulator (Fig. 2 A-F, App. A, Fig. 9)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.core.cli import add_command
from src.analysis.core.emergence import summarize_curve
from src.analysis.core.saving import save_figure, save_table
from src.analysis.mathmodel import model as mm
from src.analysis.mathmodel.figures import ModelConfig, appendix_figure, figure2, figure9


def model_curve_summary(cfg: ModelConfig, mc: pd.DataFrame, rouge: pd.DataFrame) -> pd.DataFrame:
    """Emergence score and largest-step share of every simulated curve, oriented so that improvement is positive."""
    rows = []
    mc = mc.assign(n_params=cfg.n_params_for_eps(mc["eps"].to_numpy()))
    for length, g in mc.groupby("length"):
        g = g.sort_values("n_params")
        rows.append(("exact match (sharp)", f"L={length}", *summarize_curve(g["n_params"], g["exact_match"])))
        rows.append(
            (
                "token edit distance (smooth)",
                f"L={length}",
                *summarize_curve(g["n_params"], -g["edit_distance"]),
            )
        )
    grid = cfg.grid()
    probs = mm.choice_distribution(mm.token_prob(grid, cfg.c, cfg.alpha), cfg.n_choices)
    rows.append(
        (
            "multiple choice grade (sharp)",
            f"K={cfg.n_choices}",
            *summarize_curve(grid, mm.multiple_choice_grade(probs)),
        )
    )
    rows.append(
        ("Brier score (smooth)", f"K={cfg.n_choices}", *summarize_curve(grid, -mm.brier_score(probs)))
    )
    for w, g in rouge[rouge["eps"] > 0].groupby("tokens_per_word"):
        rows.append(
            (
                "ROUGE-L-Sum",
                f"{w} tokens/word",
                *summarize_curve(cfg.n_params_for_eps(g["eps"].to_numpy()), g["rouge_lsum"]),
            )
        )
    return pd.DataFrame(
        rows, columns=["metric", "curve", "emergence_score", "largest_step_share", "n_points"]
    )


def length_intervals(cfg: ModelConfig, mc: pd.DataFrame, items: dict, n_boot: int, seed: int) -> pd.DataFrame:
    """95% item-bootstrap intervals of Eq. 1 for the exact-match and edit-distance curves of each L (the
    Monte-Carlo test set resampled; exact match and edit distance share the resampled items, so they pair)."""
    from src.analysis.stats.intervals import interval, item_counts
    from src.analysis.stats.nulls import paired_difference
    from src.analysis.stats.sharpness import emergence_rows

    rng = np.random.default_rng(seed)
    rows = []
    mc = mc.assign(n_params=cfg.n_params_for_eps(mc["eps"].to_numpy()))
    for length, g in mc.groupby("length"):
        g = g.sort_values("n_params")
        em, ed = np.empty((n_boot, len(g))), np.empty((n_boot, len(g)))
        for j, eps in enumerate(g["eps"]):
            a, b = items[(float(eps), int(length))]
            c = item_counts(a.size, n_boot, rng)
            em[:, j], ed[:, j] = c @ a / a.size, -(c @ b) / b.size
        e_em, e_ed = emergence_rows(em), emergence_rows(ed)
        obs_em = emergence_rows(g["exact_match"].to_numpy(float))
        obs_ed = emergence_rows(-g["edit_distance"].to_numpy(float))
        d = paired_difference(e_em, e_ed, obs_em, obs_ed, "improves", "improves")
        for metric, reps in (("exact match (sharp)", e_em), ("token edit distance (smooth)", e_ed)):
            lo, hi = interval(reps)
            rows.append({"metric": metric, "curve": f"L={length}", "E_lo": float(lo), "E_hi": float(hi),
                         "sharp_minus_smooth_E_lo": d["diff_lo"], "sharp_minus_smooth_E_hi": d["diff_hi"],
                         "verdict_E": d["verdict"]})  # fmt: skip
    return pd.DataFrame(rows)


def cmd_model_figures(args: argparse.Namespace) -> int:
    from src.analysis.mathmodel import simulator as sim  # imports torch: only when this command runs

    cfg = ModelConfig(c=args.c, alpha=args.alpha)
    n_items = args.n_items
    rng = np.random.default_rng(args.seed)
    eps_grid = 1.0 - mm.token_prob(cfg.grid(), cfg.c, cfg.alpha)
    items: dict = {}
    mc = sim.simulate_lengths(eps_grid, cfg.lengths, n_items=n_items, seed=args.seed, items=items)
    # the edit distance is torchmetrics' pure-Python Levenshtein: half the items keep L=32 to seconds
    by_length = sim.simulate_lengths(
        [0.01, 0.05, 0.1, 0.2], [1, 2, 4, 8, 16, 32], n_items=max(n_items // 2, 10), seed=args.seed + 1
    )
    res_rows = []
    sizes = (100, 1000, 10000)
    for size in tqdm(sizes, desc="simulate test sets of n items"):
        for npar, eps in zip(cfg.grid(), eps_grid, strict=True):
            res_rows.append(
                (npar, size, sim.measured_exact_match(eps, args.resolution_length, size, 50, rng))
            )
    resolution = pd.DataFrame(res_rows, columns=["n_params", "n_items", "measured"])
    rouge = sim.simulate_rouge(
        np.linspace(0.0, 0.5, 21), (1, 2, 4, 8), n_words=16, n_items=max(n_items // 5, 20), seed=args.seed + 2
    ).assign(n_words=16)

    out = Path(args.out)
    figs = {
        "fig2_model": figure2(cfg, mc),
        "appendixA_simulation": appendix_figure(by_length, resolution, cfg, args.resolution_length),
        "fig9_rouge_lsum": figure9(rouge, cfg),
    }
    for stem, fig in figs.items():
        for path in save_figure(fig, out, stem):
            print(path)
    summary = model_curve_summary(cfg, mc, rouge)
    if args.intervals > 0:
        summary = summary.merge(
            length_intervals(cfg, mc, items, args.intervals, args.seed), on=["metric", "curve"], how="left"
        )
    tables = {"model_simulation": mc, "length_simulation": by_length, "resolution_simulation": resolution,
              "rouge_simulation": rouge, "model_curve_summary": summary}  # fmt: skip
    for stem, table in tables.items():
        print(save_table(table, out / f"{stem}.csv"))
    with pd.option_context("display.width", 140, "display.max_rows", 100):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "model-figures",
        func=cmd_model_figures,
        help="the paper's mathematical model + Monte-Carlo simulator: Fig. 2 A-F, App. A, Fig. 9 (PNG + PDF + CSV)",
        description=(
            "Per-token cross-entropy falling as a power law CE(N) = (N/c)^alpha, scored four ways (accuracy p^L, "
            "token edit distance L(1-p), multiple choice grade, Brier score; Fig. 2 A-F); Monte-Carlo sequences scored "
            "with torchmetrics (ExactMatch, EditDistance, ROUGE-L-Sum) showing geometric vs linear scaling in L, the "
            "1/n resolution limit (App. A) and ROUGE-L-Sum's sharpness (Fig. 9). Writes figures and the simulation "
            "tables to --out and prints each curve's emergence score."
        ),
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--c", type=float, default=1e8, help="power-law scale c in CE(N) = (N/c)^alpha (default 1e8)"
    )
    p.add_argument("--alpha", type=float, default=-0.3, help="power-law exponent alpha < 0 (default -0.3)")
    p.add_argument("--n-items", type=int, default=1000, help="simulated sequences per point (default 1000)")
    p.add_argument("--resolution-length", type=int, default=8, help="target length L of the resolution panel")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation (default 0)")
    p.add_argument("--intervals", type=int, default=500,
                   help="item-bootstrap replicates for 95%% intervals of E of the exact-match / edit-distance "
                        "curves (default 500; 0: none)")  # fmt: skip
