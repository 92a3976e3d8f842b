"""Commands for BIG-Bench and any evaluation table across model families: Figs. 5 and 6, multiple comparisons.

    python -m src.analysis bigbench-table <BIG-bench checkout> --out scores.csv
    python -m src.analysis bigbench-fig5a   [inputs] --out DIR
    python -m src.analysis bigbench-fig5bc  --out DIR
    python -m src.analysis bigbench-fig6    [inputs] --out DIR
    python -m src.analysis bigbench-null    [inputs] --out DIR
    python -m src.analysis bigbench-all     [inputs] --out DIR

Inputs: the official results tree (--bigbench-results), any evidence table (--table, with --column mappings), or by
default the open-model stand-in tables under $DATA_DIR/llm/standins. Each figure is written as PNG and PDF next
to the CSV it is drawn from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from src.analysis.core.inputs import add_declaration_args, add_ingest_args
from src.analysis.core.saving import out_file, output_path, safe_name, save_figure, save_table
from src.results.errors import InputError

DEFAULT_OUT = "outputs/meta_analysis"
WEI = "llm/wei2022_bigbench_emergence_annotations.csv"
METADATA = "llm/bigbench_meta/bigbench_task_metadata.csv"
DEFAULT_BRIER = "brier_score_target_prob_renormalized"


def load_evidence_inputs(args: argparse.Namespace) -> pd.DataFrame:
    """The evidence the command works on: BIG-Bench's results tree, given tables or sweep dirs (ingested with the
    table flags), or by default the open-model stand-in tables. Each source is checked on its own, so two sources
    may hold the same (family, model, task, metric)."""
    from src.analysis.core.inputs import load_evidence, select_metrics
    from src.analysis.families import bigbench, score_tables

    parts = []
    if args.bigbench_results:
        tidy = bigbench.read_results_tree(args.bigbench_results, params=args.params)
        parts.append(bigbench.to_evidence(tidy, shots=args.shots))
    inputs = [*args.inputs, *(args.table or [])]
    if inputs:
        ev = load_evidence([Path(p) for p in inputs], args)
        # a table's rows are labelled by its file name (the Fig. 5A columns), a sweep's by its label
        ev["source"] = ev["source"].map(lambda s: Path(s).name.split(".")[0] if s.endswith(_SUFFIXES) else s)
        parts.append(ev)
    if not parts:
        parts.append(select_metrics(score_tables.read_standins(args.data_dir), args.metric))
    return pd.concat(parts, ignore_index=True)


_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".gz")


def load_inputs(args: argparse.Namespace, metrics: list[str] | None = None) -> pd.DataFrame:
    """The inputs' evidence with one value per model (replicates averaged:
    :func:`src.analysis.core.evidence.mean_over_replicates`; a row without a source is labelled ``table``);
    ``metrics``: keep only these. The direction of every metric kept must be known (one error lists those to
    declare)."""
    from src.analysis.core.evidence import mean_over_replicates
    from src.analysis.core.metrics import require_known

    ev = load_evidence_inputs(args)
    if metrics is not None:
        absent = [m for m in metrics if m not in set(ev["metric"])]
        if absent:
            raise InputError(
                f"metric(s) {absent} are not in the inputs (they have {sorted(ev['metric'].unique())[:20]})",
                fix="name metrics of the inputs (--mcg-metric, --brier-metric)",
            )
        ev = ev[ev["metric"].isin(metrics)]
    require_known(ev["metric"].unique(), direction=True, sharpness=False)
    ev = mean_over_replicates(ev)
    return ev.assign(source=ev["source"].replace("", "table"))


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    return save_figure(fig, out_dir, name, dpi=160)


def _csv(df: pd.DataFrame, out_dir: Path, name: str) -> Path:
    return save_table(df, output_path(out_dir, f"{name}", ".csv"))


def _out_dir(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _scores(args: argparse.Namespace, ev: pd.DataFrame) -> pd.DataFrame:
    from src.analysis.families.meta_analysis import triplet_scores

    return triplet_scores(
        ev,
        threshold=args.threshold,
        min_sizes=args.min_sizes,
        ties=args.ties,
    )


def run_table(args: argparse.Namespace) -> int:
    from src.analysis.families import bigbench

    tidy = bigbench.read_results_tree(args.root, params=args.params)
    out = out_file(args.out, "bigbench_scores.csv")
    save_table(tidy, out)
    print(f"{len(tidy)} rows from {tidy.file.nunique()} score files, {tidy.task.nunique()} tasks, "
          f"{tidy.family.nunique()} families -> {out}")  # fmt: skip
    return 0


def run_fig5a(args: argparse.Namespace) -> int:
    from src.analysis.families.figures import fig5a
    from src.analysis.families.meta_analysis import metric_summary

    out = _out_dir(args)
    scores = _scores(args, load_inputs(args))
    summary = metric_summary(scores)
    _csv(scores, out, "fig5a_triplet_scores")
    _csv(summary, out, "fig5a_metric_summary")
    _save(fig5a(scores, args.threshold), out, "fig5a_emergence_by_metric")
    print(f"Fig. 5A: {len(scores)} triplets with >= {args.min_sizes} sizes; threshold {args.threshold:g}")
    print(summary.to_string(index=False))
    return 0


def run_fig5bc(args: argparse.Namespace) -> int:
    from src.analysis.families.figures import fig5bc
    from src.analysis.families.meta_analysis import share_under, wei_metric_summary, wei_metric_table
    from src.analysis.families.score_tables import data_path

    out = _out_dir(args)
    from src.analysis.core.ingest import read_any

    ann = read_any(args.annotations or data_path(WEI, args.data_dir))
    meta = read_any(args.metadata or data_path(METADATA, args.data_dir))
    table = wei_metric_table(ann, meta)
    summary = wei_metric_summary(table)
    share_all, share_known = share_under(table), share_under(table, known_only=True)
    _csv(table, out, "fig5bc_wei_task_metric")
    _csv(summary, out, "fig5bc_metric_summary")
    _save(fig5bc(summary, share_all, share_known), out, "fig5bc_wei_emergence_by_metric")
    n = int(table.emergent.sum())
    print(f"Fig. 5B/C: {n} emergent (task, preferred metric, family) triplets from {table[table.emergent].task.nunique()} "
          f"tasks; under multiple_choice_grade or exact_str_match: {100 * share_all:.1f}% "
          f"({100 * share_known:.1f}% of those with a preferred metric; the paper says >92%)")  # fmt: skip
    print(summary.to_string(index=False))
    return 0


def run_fig6(args: argparse.Namespace) -> int:
    from src.analysis.families.figures import TARGET_ONLY_NOTE, fig6_curves, fig6_scatter
    from src.analysis.families.meta_analysis import mcg_vs_brier

    out = _out_dir(args)
    ev = load_inputs(args, metrics=[args.mcg_metric, args.brier_metric])
    pairs = mcg_vs_brier(_scores(args, ev), mcg=args.mcg_metric, brier=args.brier_metric)
    note = TARGET_ONLY_NOTE if "target_prob" in args.brier_metric else ""
    _csv(
        pairs.assign(mcg_metric=args.mcg_metric, brier_metric=args.brier_metric, brier_note=note),
        out,
        "fig6_mcg_vs_brier",
    )
    _save(
        fig6_scatter(pairs, args.threshold, args.mcg_metric, args.brier_metric, note=note),
        out,
        "fig6_scatter",
    )
    families = args.family or list(
        pairs.groupby("family").emergence_mcg.max().sort_values(ascending=False).index[: args.n_families]
    )
    for fam in families:
        fig = fig6_curves(
            ev, pairs, fam, args.mcg_metric, args.brier_metric, note=note, max_tasks=args.max_curves
        )
        _save(fig, out, f"fig6_curves_{safe_name(fam)}")
    caveat = "; target-only Brier, see PROVENANCE" if note else ""
    print(f"Fig. 6 ({args.mcg_metric} vs {args.brier_metric}{caveat}): {len(pairs)} (task, family) "
          f"pairs; emergent under MCG: {int(pairs.emergent_mcg.sum())}, under Brier: {int(pairs.emergent_brier.sum())}, "
          f"MCG emergence that disappears under Brier: {int(pairs.disappears.sum())} (threshold {args.threshold:g})")  # fmt: skip
    print(pairs[pairs.emergent_mcg | pairs.emergent_brier].to_string(index=False))
    print(f"curves drawn for: {', '.join(families)}")
    return 0


def run_null(args: argparse.Namespace) -> int:
    from src.analysis.families.figures import fig_null
    from src.analysis.families.meta_analysis import add_null_pvalues, null_scores, null_summary

    out = _out_dir(args)
    ev = load_inputs(args)
    scores = _scores(args, ev)
    kw = dict(n_draws=args.n_draws, seed=args.seed, min_sizes=args.min_sizes, ties=args.ties)
    nulls = {}
    for kind in args.nulls:
        keys, mat = null_scores(ev, kind=kind, **kw)
        scores = add_null_pvalues(scores, keys, mat, kind)
        nulls[kind] = mat
    thresholds = sorted(set(args.thresholds) | {args.threshold})
    summary = null_summary(scores, nulls, thresholds)
    _csv(scores, out, "null_triplet_pvalues")
    _csv(summary, out, "null_expected_vs_observed")
    _save(fig_null(summary, args.threshold), out, "null_expected_vs_observed")
    print(f"Multiple comparisons: {len(scores)} triplets, {args.n_draws} draws per null, seed {args.seed}")
    print(summary[summary.threshold == args.threshold].to_string(index=False))
    floor = 1 / (args.n_draws + 1)
    for kind in nulls:
        print(f"{kind} null: triplets with Benjamini-Hochberg q < 0.05: {int((scores[f'q_{kind}'] < 0.05).sum())} "
              f"(smallest attainable p = 1/(n_draws+1) = {floor:.2g}; raise --n-null-draws to resolve smaller p)")  # fmt: skip
        per = scores[scores[f"p_{kind}"].notna()].groupby("metric")[f"q_{kind}_per_metric"]
        print("  per metric (BH within the metric): "
              + ", ".join(f"{m}: {int((q < 0.05).sum())} of {len(q)}" for m, q in per))  # fmt: skip
    _permutation_verdicts(args, ev, out)
    return 0


def _permutation_verdicts(args: argparse.Namespace, ev: pd.DataFrame, out: Path) -> None:
    """Exact permutation tests (all orders up to 8 sizes, else enough draws for BH), N-aware thresholds, the
    families too small to score counted, per-metric summary; the label rule is src/analysis/stats/verdicts.py (a
    real rise: more than the engine's ``min_rise`` of the metric's range, where the range is known, or on a
    floor-0 metric at least ``min_ratio`` times its start, as the engine's rule reads on a point)."""
    from src.analysis.core.vocab import meaning_of
    from src.analysis.families.meta_analysis import curves, higher_is_better, triplet_keys
    from src.analysis.stats.engine import Settings, point_rise_floor
    from src.analysis.stats.nulls import per_metric_summary
    from src.analysis.stats.verdicts import permutation_table

    keys = triplet_keys(ev)
    n_sizes = ev.groupby(keys)["scale"].nunique()
    small = n_sizes[n_sizes < args.min_sizes]
    cs, floors, logs, rules = [], [], [], Settings()
    for key, x, y, _ in curves(ev, args.min_sizes, args.ties):
        metric = key[keys.index("metric")]
        hib = higher_is_better(metric, args.lower_is_better)
        cs.append((key, x, y if hib else -y))
        floor, e_log = point_rise_floor({**meaning_of(metric), "higher_is_better": hib}, y, rules)
        floors.append(floor)
        logs.append(e_log)
    tests = permutation_table(
        cs, keys, args.threshold, alpha=0.05, seed=args.seed, rise_floors=floors, log_scores=logs
    )
    per_metric = per_metric_summary(tests)
    _csv(tests, out, "permutation_exact_triplets")
    _csv(per_metric, out, "permutation_exact_per_metric")
    print(f"\nExact permutation tests (all n! orders up to 8 sizes, else {tests.attrs['n_draws']} draws: enough for "
          f"BH over {len(tests)} triplets); threshold {args.threshold:g}")  # fmt: skip
    print(f"not scorable (fewer than {args.min_sizes} sizes): {len(small)} triplets "
          f"({int((small == 2).sum())} with 2 sizes, {int((small == 1).sum())} with 1); "
          f"threshold unreachable (3 sizes, |E| <= 2): {int((tests['threshold_status'] == 'unreachable').sum())}")  # fmt: skip
    print(f"could pass BH at all (smallest attainable p <= 0.05): {int(tests['can_pass_bh'].sum())}; "
          f"on their own (<= 0.05/{len(tests)}): {int(tests['can_pass_bh_alone'].sum())}")  # fmt: skip
    print(tests["emergent"].value_counts().to_string())
    print(per_metric.to_string(index=False, float_format="{:.3g}".format))


def run_all(args: argparse.Namespace) -> int:
    for step in (run_fig5a, run_fig5bc, run_fig6, run_null):
        step(args)
        print()
    return 0


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs (default: the open-model stand-ins in $DATA_DIR/llm/standins)")
    g.add_argument(
        "--bigbench-results", metavar="DIR", help="BIG-bench checkout (or its bigbench/benchmark_tasks)"
    )
    g.add_argument("--shots", type=int, default=0, help="number_of_shots to keep from BIG-Bench (default 0)")
    g.add_argument("--params", default="non_embedding_params",
                   choices=["non_embedding_params", "total_params", "flop_matched_non_embedding_params"],
                   help="BIG-Bench model size field used as the x axis")  # fmt: skip
    g.add_argument("--table", action="append", metavar="PATH",
                   help="an evidence table file (same as giving it as INPUT); repeatable")  # fmt: skip
    g.add_argument("--data-dir", default=None, help="data root (default $DATA_DIR)")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="evidence table file(s) (CSV, TSV, Parquet, JSON, JSONL) or sweep dir(s); shaped by the "
                        "table flags below")  # fmt: skip
    add_ingest_args(p)
    add_declaration_args(p)


def _add_scoring(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scoring")
    g.add_argument("--threshold", type=float, default=10.0,
                   help="emergence score at or above which a triplet counts as emergent (default 10: above the "
                        "N-1 that an evenly stepped curve of N <= 10 sizes scores)")  # fmt: skip
    g.add_argument(
        "--min-sizes", type=int, default=3, help="distinct model sizes a triplet needs, >= 3 (default 3)"
    )
    g.add_argument("--ties", choices=["mean", "error"], default="mean",
                   help="several models of one family at one size: average them or refuse (default mean)")  # fmt: skip


def _add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        "--out-dir",
        dest="out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output directory of the figures (PNG, PDF) and tables (default {DEFAULT_OUT})",
    )


def _add_fig5bc(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--annotations", default=None, help=f"Wei et al. annotations CSV (default $DATA_DIR/{WEI})"
    )
    p.add_argument(
        "--metadata", default=None, help=f"BIG-Bench task metadata CSV (default $DATA_DIR/{METADATA})"
    )


def _add_fig6(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mcg-metric",
        default="multiple_choice_grade",
        help="the discontinuous metric (default multiple_choice_grade)",
    )
    p.add_argument("--brier-metric", default=DEFAULT_BRIER,
                   help=f"the continuous metric (default {DEFAULT_BRIER}; BIG-Bench: "
                        "calibration_multiple_choice_brier_score)")  # fmt: skip
    p.add_argument("--family", action="append", help="family to draw MCG/Brier curves for (repeatable)")
    p.add_argument(
        "--n-families",
        type=int,
        default=3,
        help="without --family: the N families with the highest MCG emergence (default 3)",
    )
    p.add_argument(
        "--max-curves",
        type=int,
        default=8,
        help="per family figure: draw the N tasks with the highest MCG emergence, the rest only in a summary "
        "panel (median and interquartile range over all tasks; default 8)",
    )


def _add_null(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nulls", nargs="+", choices=["permutation", "noise", "binomial"],
                   default=["permutation", "noise"],
                   help="permutation: shuffle scores across a family's sizes; noise: straight line in log size "
                        "plus Gaussian noise of the curve's residual SD; binomial (tables with n_items): straight "
                        "line in log size re-measured on n_items items, for shares of items (MCG, exact match)")  # fmt: skip
    p.add_argument("--n-null-draws", "--n-draws", dest="n_draws", type=int, default=300,
                   help="draws of the null model per triplet (default 300)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the null draws (default 0)")
    p.add_argument("--thresholds", type=float, nargs="+", default=[2, 3, 5, 7, 10, 15, 20, 30, 50, 100],
                   help="thresholds for the observed-vs-chance table (default 2 3 5 7 10 15 20 30 50 100)")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the bigbench-* commands to the analysis CLI."""
    p = subparsers.add_parser(
        "bigbench-table",
        help="read BIG-Bench's results tree (scores_*.json) into one tidy CSV",
        description="Validate and read every <task>/results/scores_*.json of a BIG-bench checkout into one tidy "
        "table (task, subtask, family, model, params, shots, metric, score, preferred). A file that breaks the "
        "official schema stops the run with its path and the field.",
    )
    p.add_argument("root", help="BIG-bench checkout, its bigbench/ or its bigbench/benchmark_tasks/")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory (writes bigbench_scores.csv there; a path ending .csv or .parquet is "
                        "still taken as the file)")  # fmt: skip
    p.add_argument(
        "--params",
        default="non_embedding_params",
        choices=["non_embedding_params", "total_params", "flop_matched_non_embedding_params"],
        help="model size field copied into the params column (all three are kept; default non_embedding_params)",
    )
    p.set_defaults(func=run_table)

    inputs_note = __doc__.split("\n\n")[-1].strip()
    specs = [
        ("bigbench-fig5a", run_fig5a, "Fig. 5A: emergence score per (task, metric, family) triplet, count per metric",
         (_add_inputs, _add_scoring, _add_out)),
        ("bigbench-fig5bc", run_fig5bc, "Fig. 5B/C: Wei et al.'s emergent abilities by preferred metric",
         (_add_fig5bc, _add_out)),
        ("bigbench-fig6", run_fig6, "Fig. 6: MCG vs Brier emergence per (task, family); count where it disappears",
         (_add_inputs, _add_scoring, _add_fig6, _add_out)),
        ("bigbench-null", run_null, "multiple comparisons: 'emergent' triplets observed vs expected by chance",
         (_add_inputs, _add_scoring, _add_null, _add_out)),
        ("bigbench-all", run_all, "all of Fig. 5A, 5B/C, 6 and the null into one directory",
         (_add_inputs, _add_scoring, _add_fig5bc, _add_fig6, _add_null, _add_out)),
    ]  # fmt: skip
    for name, func, help_text, adders in specs:
        description = help_text + "." if func is run_fig5bc else f"{help_text}. {inputs_note}"
        p = subparsers.add_parser(name, help=help_text, description=description)
        for add in adders:
            add(p)
        if func is run_fig5bc:
            p.add_argument("--data-dir", default=None, help="data root (default $DATA_DIR)")
        p.set_defaults(func=func)
