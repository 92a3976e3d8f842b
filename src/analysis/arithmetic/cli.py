"""Commands on per-sample outputs (``outputs.jsonl``): ``arith-fig3``, ``arith-fig4``, ``arith-pred3``.

Each takes outputs files or directories (every ``outputs.jsonl`` below a sweep dir), scores the items, and writes
tables (CSV) and figures (PNG + PDF) into ``--out`` (default: ``<the one dir given>/arithmetic``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from src.analysis.core.cli import add_command
from src.analysis.core.plotting import name_models
from src.analysis.core.saving import hold_out_dir, output_path, print_table, safe_name, save_figure
from src.analysis.core.saving import save_table as write_table
from src.results.errors import InputError


def _add_common(p: argparse.ArgumentParser) -> None:
    from src.analysis.families.readers.generations import add_generation_args

    p.add_argument(
        "paths", nargs="+", type=Path, metavar="OUTPUTS",
        help="outputs.jsonl file(s) or dir(s) above them, or generation tables (--format generations)",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=None, help="output dir (default: <the one dir given>/arithmetic)"
    )
    p.add_argument("--max-len", type=int, default=5, help="score target lengths L = 1..max-len (default 5)")
    g = p.add_argument_group("reading other formats than outputs.jsonl (`python -m src.analysis formats`)")
    g.add_argument("--format", default=None, metavar="NAME",
                   help="outputs (outputs.jsonl) or generations (per-sample tables); default: detected")  # fmt: skip
    g.add_argument("--size-map", default=None, metavar="FILE",
                   help="generation tables: YAML model: parameters (e.g. configs/analysis/instructgpt_sizes.yaml)")  # fmt: skip
    g.add_argument(
        "--family", default=None, metavar="NAME", help="generation tables: one family for every model"
    )
    g.add_argument("--family-map", default=None, metavar="FILE",
                   help="YAML model-glob: family (or [families]), e.g. configs/analysis/instructgpt_families.yaml")  # fmt: skip
    g.add_argument("--drop-model", action="append", default=[], metavar="GLOB", help="leave models out")
    add_generation_args(p)


def _out(args: argparse.Namespace) -> Path:
    if args.out is not None:
        out = args.out
    elif len(args.paths) == 1 and args.paths[0].is_dir():
        out = hold_out_dir(args, args.paths[0] / "arithmetic")
    else:
        raise InputError("several inputs or a file given: say where results go with --out DIR")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot write results here ({err.strerror})", path=out,
                         fix="say where results go with --out DIR") from None  # fmt: skip
    return out


def _is_outputs(path: Path) -> bool:
    from src.results.outputs import OUTPUTS_NAME

    if path.is_dir():
        return any(True for _ in zip(range(1), path.rglob(OUTPUTS_NAME + "*"), strict=False))
    if path.name.startswith(OUTPUTS_NAME):
        return True
    if path.suffix != ".jsonl" or not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    return '"num_params"' in first and '"target"' in first


def _generation_outputs(args: argparse.Namespace) -> pd.DataFrame:
    """Generation tables (format ``generations``) as the outputs table, family map and --drop-model applied."""
    from fnmatch import fnmatchcase

    from src.analysis.core.inputs import read_size_map_file
    from src.analysis.core.readers import ReadOptions
    from src.analysis.core.shaping import load_family_map
    from src.analysis.families.readers.generations import (
        generation_options,
        generation_outputs,
        same_size_notices,
    )  # fmt: skip

    options = ReadOptions(size_map=read_size_map_file(args.size_map), family=args.family,
                          extra={**generation_options(args), "family_map": "applied below"})  # fmt: skip
    notices: list[str] = []
    outputs = generation_outputs(list(args.paths), options, notices)
    if args.drop_model:
        drop = outputs["model"].map(lambda m: any(fnmatchcase(m, g) for g in args.drop_model))
        notices.append(f"--drop-model: {outputs.loc[drop, 'model'].nunique()} model(s) left out")
        outputs = outputs[~drop]
    if args.family_map:
        fmap = load_family_map(args.family_map)
        parts = []
        for model, g in outputs.groupby("model", sort=False):
            fams = next((f for glob, f in fmap.items() if fnmatchcase(model, glob)), None)
            parts += [g] if fams is None else [g.assign(family=f) for f in fams]
        outputs = pd.concat(parts, ignore_index=True)
    same_size_notices(outputs.rename(columns={"num_params": "scale"}), notices)
    for n in notices:
        print(f"note: {n}")
    if outputs.empty:
        raise InputError("no output left", fix="loosen --drop-model")
    return outputs.sort_values(["family", "model", "task", "subset", "item"], ignore_index=True)


def _outputs(args: argparse.Namespace) -> pd.DataFrame:
    from src.analysis.core.readers import detect_format
    from src.results.outputs import load_outputs

    fmt = args.format
    if fmt is None:
        kinds = {"outputs" if _is_outputs(p) else detect_format(p) for p in args.paths}
        if len(kinds) > 1:
            raise InputError(f"the inputs are in several formats ({', '.join(sorted(kinds))})",
                             fix="give outputs.jsonl files or generation tables, not both")  # fmt: skip
        fmt = kinds.pop()
    args.format = fmt  # what was read, for the captions
    if fmt == "generations":
        outputs = _generation_outputs(args)
    elif fmt == "outputs":
        outputs = load_outputs(args.paths)
    else:
        raise InputError(f"arith commands read per-sample outputs; the inputs are in format {fmt!r}",
                         fix="give outputs.jsonl files or generation tables (--format generations)")  # fmt: skip
    print(
        f"{len(outputs)} outputs of {outputs['model'].nunique()} model(s), tasks {sorted(outputs['task'].unique())}"
    )
    return outputs


def _items(args: argparse.Namespace, outputs: pd.DataFrame | None = None) -> pd.DataFrame:
    from src.analysis.arithmetic.scoring import score_items

    return score_items(_outputs(args) if outputs is None else outputs, args.max_len)


def _stem(family: str, task: str) -> str:
    """A file stem from a family and a task name of the outputs files: made safe and short (core/saving.py)."""
    return safe_name(f"{family}_{task}")


def _names(part: pd.DataFrame) -> dict[float, str]:
    """Size -> model name(s) of one (family, task) of an evidence or items table (for the figures' top axis)."""
    m = part.drop_duplicates(["scale", "model"]).groupby("scale")["model"]
    return {float(k): " / ".join(sorted(v)) for k, v in m}


def _read_as(args: argparse.Namespace) -> str:
    """A caption line saying how generation tables were read (items kept, left out, where sizes come from)."""
    if getattr(args, "format", None) != "generations":
        return ""
    parts = [f"items: {args.keep_items}"] if args.keep_items else []
    parts += [f"left out: {'; '.join(args.exclude_items)}"] if args.exclude_items else []
    parts += [f"sizes: {Path(args.size_map).name}"] if args.size_map else []
    return ("\n" + ", ".join(parts)) if parts else ""


def _per_size(part: pd.DataFrame) -> str:
    """'' where some size has several runs (seeds), else ', one model per size' (so no caption says seeds)."""
    several = part.groupby("scale")["model"].nunique().max() > 1
    return "" if several else ", one model per size"


def cmd_fig3(args: argparse.Namespace) -> int:
    from src.analysis.arithmetic.scoring import model_table
    from src.analysis.sweeps.claims import claim_table, claim_verdicts
    from src.analysis.sweeps.figures import sweep_figure

    if args.intervals < 0:
        raise InputError(f"--n-resamples {args.intervals}: the number of bootstrap replicates must be >= 0",
                         fix="pass --n-resamples 200 (default), or 0 to skip the intervals")  # fmt: skip
    out = _out(args)
    outputs = _outputs(args)
    items = _items(args, outputs)
    table = model_table(items, subset=args.subset)
    print(write_table(table, output_path(out, "arithmetic_table", ".csv")))
    by_l = table[table["metric"].str.contains("_l=")]
    for (family, task), part in by_l.groupby(["source", "task"]):
        lengths = sorted({int(m.rsplit("=", 1)[1]) for m in part["metric"]})
        title = (f"{task} ({family}{_per_size(part)}): paper Fig. 3, the first L = {lengths[0]}..{lengths[-1]} "
                 "target digits; E: emergence score (Eq. 1), improvement positive" + _read_as(args))  # fmt: skip
        fig = sweep_figure(part, title=title)
        name_models(fig, _names(part))
        for path in save_figure(fig, out, f"fig3_{_stem(family, task)}"):
            print(path)
    claims = claim_table(by_l)
    verdicts = claim_verdicts(claims)
    print(write_table(claims, output_path(out, "claims", ".csv")))
    print(write_table(verdicts, output_path(out, "claims_verdict", ".csv")))
    cols = ["task", "metric", "sharpness", "identity", "n_sizes", "emergence_score", "largest_step_share",
            "sizes_below_1_over_n", "start", "end"]  # fmt: skip
    print_table(
        "Emergence scores per (task, metric, L) curve (improvement positive; paper Eq. 1):", claims[cols]
    )
    print_table("Prediction 'sharp metrics score higher than smooth ones' per task:", verdicts)
    _fig3_premise(table, out)
    _fig3_places(outputs, table, args, out)
    if args.intervals > 0:
        _fig3_intervals(items, args, out)
    return 0


def _fig3_premise(table: pd.DataFrame, out: Path) -> None:
    """The premise check (:mod:`src.analysis.sweeps.premise`) on the per-token error rate, 1 - per-token accuracy
    of the whole answer, which every outputs file gives (the teacher-forced cross-entropy is in the run records:
    ``python -m src.analysis claims <sweep>``)."""
    from src.analysis.sweeps.premise import R2_PASS, RESID_PASS, premise_check, premise_figure

    per_token = table[table["metric"] == "test/token_acc"]
    if per_token["scale"].nunique() < 4:
        return
    fits, resids = premise_check(per_token, "test")
    print(write_table(fits, output_path(out, "premise", ".csv")))
    print(write_table(resids, output_path(out, "premise_residuals", ".csv")))
    for (family, task), part in per_token.groupby(["source", "task"]):
        fig = premise_figure(part, "test", (fits, resids), unit="seed" if not _per_size(part) else "model")
        name_models(fig, _names(part))
        fig.tight_layout()  # again: room for the names
        for path in save_figure(fig, out, f"premise_{_stem(family, task)}"):
            print(path)
    cols = ["task", "quantity", "n_sizes", "n_censored", "E", "A", "alpha", "r2_log", "max_abs_resid_log",
            "passes", "note"]  # fmt: skip
    print_table(
        f"Premise check: per-token error rate L(N) = E + A N^-alpha on seed means, passes = R^2 (log) >= {R2_PASS:g} "
        f"and |log resid| <= {RESID_PASS:g} (and, where the rate reads 0 in every run, the fit below a 95% bound "
        "over runs):",
        fits[[c for c in cols if c in fits.columns]],
    )


def _fig3_places(outputs: pd.DataFrame, table: pd.DataFrame, args: argparse.Namespace, out: Path) -> None:
    """Error rate per digit place (:mod:`src.analysis.arithmetic.places`): which digit is learnt at which scale."""
    from src.analysis.arithmetic.places import place_figure, place_fits, place_items, place_table

    places = place_table(place_items(outputs, args.max_len), subset=args.subset)
    fits = place_fits(places)
    print(write_table(places, output_path(out, "places", ".csv")))
    print(write_table(fits, output_path(out, "place_fits", ".csv")))
    per_token = table[table["metric"] == "test/token_acc"]
    for (family, task), part in places.groupby(["source", "task"]):
        several = not _per_size(part)
        title = (f"{task} ({family}): error rate per digit place (1 = units)\n"
                 + ("dots: seeds; crosses on the floor: runs without error at that place" if several else
                    "one model per size; crosses on the floor: models without error at that place"))  # fmt: skip
        tok = per_token[(per_token["source"] == family) & (per_token["task"] == task)]
        fig = place_figure(part, tok, title=title)
        name_models(fig, _names(part))
        for path in save_figure(fig, out, f"places_{_stem(family, task)}"):
            print(path)
    cols = ["task", "place", "n_sizes", "error_smallest", "error_largest", "n_zero", "alpha", "r2_log",
            "max_abs_resid_log", "steepest_slope", "steepest_at", "slope_ratio"]  # fmt: skip
    print_table(
        "Error rate per digit place (1 = units) on seed means: power law E + A N^-alpha and the steepest local "
        "log-log slope between adjacent sizes (slope_ratio = steepest / alpha; well above 1: a step):",
        fits[cols],
    )


def _fig3_intervals(items: pd.DataFrame, args: argparse.Namespace, out: Path) -> None:
    from src.analysis.arithmetic.intervals import RULE, THRESHOLD, arith_intervals

    scores, pairs = arith_intervals(items, subset=args.subset, n_boot=args.intervals, seed=args.seed,
                                    max_len=args.max_len)  # fmt: skip
    print(write_table(scores, output_path(out, "claims_intervals", ".csv")))
    if not pairs.empty:
        print(write_table(pairs, output_path(out, "claims_pairs", ".csv")))
    print(RULE.format(thr=THRESHOLD))
    cols = ["task", "metric", "sharpness", "n_sizes", "threshold_status", "null_threshold_95", "direction",
            "emergence_score", "e_lo", "e_hi", "width", "width_lo", "width_hi", "width_identified_share", "width_resolved", "emergent"]  # fmt: skip
    print_table(
        f"Eq. 1 and logistic width (decades of N) per (task, metric, L) curve, 95% intervals from "
        f"{args.intervals} item resamples (improvement positive):",
        scores[[c for c in cols if c in scores.columns]],
    )
    if not pairs.empty:
        cols = ["task", "L", "sharp", "smooth", "verdict", "verdict_on", "diff_E", "diff_lo_E", "diff_hi_E",
                "diff_width", "diff_lo_width", "diff_hi_width"]  # fmt: skip
        print_table(
            "Paired sharp vs smooth at the same L (same resampled items):",
            pairs[[c for c in cols if c in pairs.columns]],
        )


def cmd_fig4(args: argparse.Namespace) -> int:
    from src.analysis.arithmetic.scoring import resolution_figure, resolution_summary, resolution_table

    out = _out(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    res = resolution_table(_items(args), sizes, args.max_len)
    if res.empty:
        raise InputError(f"no model has as many items as the smallest size in {sizes}")
    print(write_table(res, output_path(out, "resolution", ".csv")))
    summary = resolution_summary(res)
    print(write_table(summary, output_path(out, "resolution_summary", ".csv")))
    for (family, task), part in res.groupby(["family", "task"]):
        order = (
            "first n of the items in a seeded random order"
            if args.format == "generations"
            else "first n items"
        )
        title = (f"{task} ({family}): paper Fig. 4, accuracy on growing test sets ({order}; "
                 "open markers: read 0, at 1/(2n))" + _read_as(args))  # fmt: skip
        fig = resolution_figure(part, title=title)
        name_models(fig, _names(part))
        for path in save_figure(fig, out, f"fig4_{_stem(family, task)}"):
            print(path)
    print_table("Zero readings per test-set size (a larger set resolves small non-zero accuracies):", summary)
    return 0


def cmd_pred3(args: argparse.Namespace) -> int:
    if args.max_len < 2:
        raise InputError(
            f"prediction 3 compares accuracy across target lengths L = 1..max-len; --max-len {args.max_len} "
            "gives one length",
            fix="pass --max-len 2 or more (default 5)",
        )
    from src.analysis.arithmetic.scoring import model_table, prediction3_table

    out = _out(args)
    pred = prediction3_table(model_table(_items(args), subset=args.subset))
    if pred.empty:
        raise InputError(
            "no model has exact match and edit distance at L = 1 and 2",
            fix="check that the targets have at least 2 characters",
        )
    print(write_table(pred, output_path(out, "prediction3", ".csv")))
    cols = ["task", "model", "scale", "p_l1", "max_L", "r2_acc", "q_fit", "r2_acc_fit", "r2_ed",
            "slope_fit", "r2_ed_fit"]  # fmt: skip
    print_table(
        "Prediction 3: accuracy(L) vs p^L and edit distance(L) vs L(1-p), p = accuracy at L=1:", pred[cols]
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "arith-fig3",
        func=cmd_fig3,
        help="per-sample outputs -> accuracy and token edit distance vs num_params for L = 1..5, emergence scores",
        description=(
            "Score every outputs.jsonl line for target lengths L = 1..max-len (tokens = answer characters, digits), "
            "average per model, and write arithmetic_table.csv (tidy), one Fig. 3 figure per (family, task) (smooth: "
            "token edit distance, per-token accuracy; sharp: exact match, probability of the exact target) and the "
            "claim table of emergence scores (claims.csv, claims_verdict.csv); then the premise check on the per-token "
            "error rate (premise.csv) and the error rate per digit place, units = 1 (places.csv, place_fits.csv, "
            "places_<family>_<task>.png)."
        ),
    )
    _add_common(p)
    p.add_argument(
        "--subset", default="test", help="which items to score (default: test, the shared test set)"
    )
    p.add_argument(
        "--n-resamples", "--intervals", dest="intervals", type=int, default=200, metavar="B",
        help="item-bootstrap replicates for intervals and paired verdicts (claims_intervals.csv, "
        "claims_pairs.csv); 0: off (default 200)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")

    p = add_command(
        subparsers,
        "arith-fig4",
        func=cmd_fig4,
        help="accuracy on growing test sets on a log y axis (resolution, paper Fig. 4)",
        description=(
            "Accuracy (exact match of the first L digits) of each model on its first n items for each n in --sizes "
            "(the shared test items first, then extra items), on log-log axes; writes resolution.csv (with 95%% "
            "upper bounds), resolution_summary.csv (zero readings per size) and fig4_<family>_<task>.png/pdf."
        ),
    )
    _add_common(p)
    p.add_argument(
        "--sizes", default="100,2000,6000", help="comma-separated test-set sizes (default 100,2000,6000)"
    )

    p = add_command(
        subparsers,
        "arith-pred3",
        func=cmd_pred3,
        help="prediction 3 by numbers: accuracy(L) vs p^L, edit distance(L) vs L(1-p), R^2 per model",
        description=(
            "Per model, with p = accuracy at L = 1: R^2 of accuracy(L) against p^L and of token edit distance(L) "
            "against L(1-p) over L = 1..max, plus the best-fitting q (accuracy = q^L) and slope (distance = slope*L)."
        ),
    )
    _add_common(p)
    p.add_argument("--subset", default="test", help="which items to score (default: test)")
