"""Command ``model-figures``: the paper's mathematical model and Monte-Carlo simulator (Fig. 2 A-F, App. A, Fig. 9)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.core.cli import add_command
from src.analysis.core.emergence import summarize_curve
from src.analysis.core.saving import output_path, save_figure, save_table
from src.analysis.mathmodel import model as mm
from src.analysis.mathmodel.figures import ModelConfig, appendix_figure, figure2, figure9
from src.analysis.stats.intervals import interval, item_counts


def choice_curve_label(cfg: ModelConfig, n_items: int) -> str:
    return f"K={cfg.n_choices}, {n_items} simulated items"


def model_curve_summary(
    cfg: ModelConfig, mc: pd.DataFrame, rouge: pd.DataFrame, choices: tuple | None = None
) -> pd.DataFrame:
    """Emergence score and largest-step share of every simulated curve, oriented so that improvement is positive.

    ``choices``: per-item (grade, Brier) arrays ``[n_sizes, n_items]`` on ``cfg.grid()``
    (:func:`src.analysis.mathmodel.simulator.simulate_choices`), summarised beside the analytic curves."""
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
    if choices is not None:
        mcg, brier = choices
        label = choice_curve_label(cfg, mcg.shape[1])
        rows.append(("multiple choice grade (sharp)", label, *summarize_curve(grid, mcg.mean(axis=1))))
        rows.append(("Brier score (smooth)", label, *summarize_curve(grid, -brier.mean(axis=1))))
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


INTERVAL_RULE = (
    "rule: E_lo/E_hi = 95% item-bootstrap percentile interval of Eq. 1 (the simulated test set resampled, {B} "
    "replicates); curves oriented so that improvement is positive (edit distance and Brier negated: lower is "
    "better); paired verdict on the same resampled items: 'sharp above smooth' when the interval of "
    "E(sharp) - E(smooth) lies above 0, 'smooth above sharp' below, 'no difference' when it straddles 0, "
    "'worsens: <metric>' when the 95% interval of a metric's oriented change (last minus first size) lies below 0"
)


def paired_item_curves(per_size: list[tuple[np.ndarray, ...]], n_boot: int, rng: np.random.Generator):
    """Item-bootstrap replicate curves ``[n_boot, n_sizes]`` of the item mean of each metric; ``per_size[j]``
    holds size j's per-item arrays, one per metric, of the same items: they share the resampling counts (paired).
    One matrix product per size and metric, no loop over replicates or items."""
    n_metrics = len(per_size[0])
    out = [np.empty((n_boot, len(per_size))) for _ in range(n_metrics)]
    for j, arrays in enumerate(per_size):
        n = arrays[0].size
        c = item_counts(n, n_boot, rng)
        for k, v in enumerate(arrays):
            out[k][:, j] = c @ np.asarray(v, dtype=float) / n
    return out


def choice_intervals(
    cfg: ModelConfig, mcg: np.ndarray, brier: np.ndarray, n_boot: int, seed: int
) -> pd.DataFrame:
    """95% item-bootstrap intervals of Eq. 1 for the simulated grade and Brier curves (``[n_sizes, n_items]``
    per-item values on ``cfg.grid()``), with the paired, direction-aware verdict grade vs Brier (Brier negated:
    lower is better)."""
    from src.analysis.stats.nulls import orientation_status, paired_difference
    from src.analysis.stats.sharpness import emergence_rows

    rng = np.random.default_rng(seed)
    r_mcg, r_brier = paired_item_curves([(a, -b) for a, b in zip(mcg, brier, strict=True)], n_boot, rng)
    y_mcg, y_brier = mcg.mean(axis=1), -brier.mean(axis=1)
    e_mcg, e_brier = emergence_rows(r_mcg), emergence_rows(r_brier)
    d = paired_difference(e_mcg, e_brier, emergence_rows(y_mcg), emergence_rows(y_brier),
                          orientation_status(r_mcg, y_mcg), orientation_status(r_brier, y_brier))  # fmt: skip
    rows = []
    for metric, reps in (("multiple choice grade (sharp)", e_mcg), ("Brier score (smooth)", e_brier)):
        lo, hi = interval(reps)
        rows.append({"metric": metric, "curve": choice_curve_label(cfg, mcg.shape[1]), "E_lo": float(lo),
                     "E_hi": float(hi), "sharp_minus_smooth_E_lo": d["diff_lo"],
                     "sharp_minus_smooth_E_hi": d["diff_hi"], "verdict_E": d["verdict"]})  # fmt: skip
    return pd.DataFrame(rows)


def rouge_intervals(
    cfg: ModelConfig, rouge: pd.DataFrame, items: dict, n_boot: int, seed: int
) -> pd.DataFrame:
    """95% item-bootstrap intervals of Eq. 1 of the ROUGE-L-Sum curve of each tokens-per-word setting (the
    points with eps > 0, as in :func:`model_curve_summary`; per-item scores from ``simulate_rouge(items=...)``)."""
    from src.analysis.stats.sharpness import emergence_rows

    rng = np.random.default_rng(seed)
    rows = []
    for w, g in rouge[rouge["eps"] > 0].groupby("tokens_per_word"):
        g = g.assign(n_params=cfg.n_params_for_eps(g["eps"].to_numpy())).sort_values("n_params")
        (reps,) = paired_item_curves([(items[(float(e), int(w))],) for e in g["eps"]], n_boot, rng)
        lo, hi = interval(emergence_rows(reps))
        rows.append(
            {"metric": "ROUGE-L-Sum", "curve": f"{w} tokens/word", "E_lo": float(lo), "E_hi": float(hi)}
        )
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
    rouge_items: dict = {}
    rouge = sim.simulate_rouge(np.linspace(0.0, 0.5, 21), (1, 2, 4, 8), n_words=16,
                               n_items=max(n_items // 5, 20), seed=args.seed + 2, items=rouge_items
                               ).assign(n_words=16)  # fmt: skip
    q_grid = mm.token_prob(cfg.grid(), cfg.c, cfg.alpha)
    choices = sim.simulate_choices(q_grid, cfg.n_choices, n_items, args.choice_concentration, args.seed + 3)

    out = Path(args.out)
    figs = {
        "fig2_model": figure2(cfg, mc),
        "appendixA_simulation": appendix_figure(by_length, resolution, cfg, args.resolution_length),
        "fig9_rouge_lsum": figure9(rouge, cfg),
    }
    for stem, fig in figs.items():
        for path in save_figure(fig, out, stem):
            print(path)
    summary = model_curve_summary(cfg, mc, rouge, choices)
    if args.intervals > 0:
        b = args.intervals
        ci = pd.concat([length_intervals(cfg, mc, items, b, args.seed), choice_intervals(cfg, *choices, b, args.seed),
                        rouge_intervals(cfg, rouge, rouge_items, b, args.seed)], ignore_index=True)  # fmt: skip
        summary = summary.merge(ci, on=["metric", "curve"], how="left")
    tables = {"model_simulation": mc, "length_simulation": by_length, "resolution_simulation": resolution,
              "rouge_simulation": rouge, "model_curve_summary": summary}  # fmt: skip
    for stem, table in tables.items():
        print(save_table(table, output_path(out, f"{stem}", ".csv")))
    with pd.option_context("display.width", 140, "display.max_rows", 100):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.intervals > 0:
        print(INTERVAL_RULE.format(B=args.intervals))
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
    p.add_argument("--n-resamples", "--intervals", dest="intervals", type=int, default=500,
                   help="item-bootstrap replicates for 95%% intervals of E of the exact-match / edit-distance "
                        "curves, the simulated multiple-choice grade / Brier curves and the ROUGE-L-Sum curves "
                        "(default 500; 0: none)")  # fmt: skip
    p.add_argument("--choice-concentration", type=float, default=20.0,
                   help="Dirichlet concentration of the simulated per-item choice distributions around the model's "
                        "(default 20; larger: closer to the analytic step)")  # fmt: skip
