"""The formats the analysis reads, registered with the one reader registry (:mod:`src.analysis.core.readers`):
each is ``detect`` (is this path in the format?) + ``read`` (paths -> evidence and items), over the readers of this
package. A new format is one new module in this package with its own ``@register_reader``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.ingest import IngestSpec, ingest_table, is_table_file, read_any
from src.analysis.core.readers import Evidence, ReadOptions, register_reader

_SCAN = 50  # files looked at when detecting the format of a folder


def _files(path: Path, pattern: str) -> list[Path]:
    out = []
    for f in path.rglob(pattern) if path.is_dir() else [path]:
        out.append(f)
        if len(out) >= _SCAN:
            break
    return out


def _head(path: Path, n: int = 4096) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read(n)


def _header(path: Path) -> set[str]:
    if path.suffix.lower() in (".csv", ".tsv"):
        line = _head(path, 65536).splitlines()[:1]
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return {c.strip().strip('"') for c in line[0].split(sep)} if line else set()
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        first = _head(path, 65536).splitlines()[:1]
        try:
            return set(json.loads(first[0])) if first else set()
        except (json.JSONDecodeError, TypeError):
            return set()
    return set()


# --------------------------------------------------------------------------------- lm-evaluation-harness
def _is_results(f: Path) -> bool:
    return f.suffix == ".json" and '"results"' in _head(f)


@register_reader("lm-eval-samples", "lm-evaluation-harness --log_samples files (samples_<task>_<date>.jsonl), "
                 "per item: MCG, Brier, p(target), log-likelihood", lambda p: any(
                     f.name.startswith("samples_") and f.suffix == ".jsonl" for f in _files(p, "samples_*.jsonl")),
                 priority=30)  # fmt: skip
def read_lm_eval_samples(paths: list[Path], o: ReadOptions) -> Evidence:
    from src.analysis.families.readers.lm_eval import evidence_from_items
    from src.analysis.families.readers.lm_eval import read_lm_eval_samples as read

    ev, items = read(
        paths, size_map=o.size_map, family=o.family, tokens_per_step=o.extra.get("tokens_per_step")
    )
    if ev is None or ev.empty:
        ev = evidence_from_items(items)
    return Evidence(ev, items)


@register_reader("lm-eval-results", "lm-evaluation-harness results JSON (v0.3 and v0.4: results -> task -> "
                 "metric, with stderr, n-samples and higher_is_better)", lambda p: any(
                     _is_results(f) for f in _files(p, "*.json")), priority=20)  # fmt: skip
def read_lm_eval_results(paths: list[Path], o: ReadOptions) -> Evidence:
    from src.analysis.families.readers.lm_eval import read_lm_eval_results as read

    ev = read(paths, size_map=o.size_map, family=o.family, tokens_per_step=o.extra.get("tokens_per_step"),
              replicate_from_folder=bool(o.extra.get("replicate_from_folder")))  # fmt: skip
    notices = []
    has_smooth = (
        ev["metric"].isin(["brier", "brier_score", "ppl", "word_perplexity", "bits_per_byte", "mc2"]).any()
    )
    if not has_smooth:
        notices.append("lm-eval results hold only argmax metrics (acc, acc_norm, ...) for most tasks: no smooth "
                       "partner of the same outputs; rerun lm_eval with --log_samples and read the samples files "
                       "to get the Brier score and p(correct) per item")  # fmt: skip
    return Evidence(ev, pd.DataFrame(), notices)


# ------------------------------------------------------------------------------------------------ OLMo ladder
def _is_ladder(f: Path) -> bool:
    h = _header(f) if f.suffix.lower() == ".csv" else set()
    return "_step" in h and any(c.startswith("eval/downstream") for c in h)


@register_reader("olmo-ladder", "OLMo-ladder wide per-checkpoint CSVs (<size>-<k>xC.csv: _step, eval/...)",
                 lambda p: any(_is_ladder(f) for f in _files(p, "*.csv")), priority=20)  # fmt: skip
def read_olmo_ladder(paths: list[Path], o: ReadOptions) -> Evidence:
    from src.analysis.families.readers.olmo_ladder import read_olmo_ladder as read

    ev = read(paths, size_map=o.size_map)
    n_empty = ev.attrs.get("n_empty", 0)
    if o.family:
        ev = ev.assign(family=o.family)
    elif "chinchilla_multiplier" in ev.columns:
        # one scaling curve per token budget: sizes trained to the same multiple of Chinchilla's tokens
        mult = pd.to_numeric(ev["chinchilla_multiplier"], errors="coerce")
        label = mult.map(lambda m: f"{m:g}xC" if np.isfinite(m) else "")
        ev = ev.assign(
            family=np.where(label != "", ev["family"] + " " + label, ev["family"] + " " + ev["model"])
        )
    notes = (
        [f"OLMo ladder: {n_empty} empty metric cell(s) dropped (evaluations not run at that step)"]
        if n_empty
        else []
    )
    return Evidence(ev, notices=notes)


# ------------------------------------------------------------------------------------------- inverse scaling
def _is_inverse(p: Path) -> bool:
    if not p.is_dir():
        return False
    if (p / "data.csv").is_file():
        return any(f.name != "data.csv" for f in p.glob("*.csv"))
    return any((d / "data.csv").is_file() for d in p.iterdir() if d.is_dir())


@register_reader("inverse-scaling", "inverse-scaling-pipeline result folders (data.csv + <model>.csv per item)",
                 _is_inverse, priority=20)  # fmt: skip
def read_inverse_scaling(paths: list[Path], o: ReadOptions) -> Evidence:
    from src.analysis.families.readers.inverse_scaling import read_inverse_scaling as read

    ev, items = read(paths, size_map=o.size_map, family=o.family)
    # brier_lo / brier_hi bound the Brier score where only the right option's probability is known (3 options):
    # bounds, not metrics of their own; MCG's per-item outcome is the items' "correct"
    ev = ev[~ev["metric"].isin(["brier_lo", "brier_hi"])]
    items = items.drop(columns=["brier_lo", "brier_hi"], errors="ignore")
    if "correct" in items.columns:
        items = items.assign(mcg=items["correct"])
    if "n_options" in items.columns:  # chance of the grade: one option of n at random
        opts = items.groupby(["family", "task"])["n_options"].median()
        chance = ev.set_index(["family", "task"]).index.map(lambda k: 1.0 / opts.get(k, np.nan))
        ev = ev.assign(chance=np.where(ev["metric"] == "mcg", chance, np.nan))
    notes = []
    no_brier = sorted(
        set(ev.loc[ev["metric"] == "p_target", "task"]) - set(ev.loc[ev["metric"] == "brier", "task"])
    )
    if no_brier:
        notes.append(f"inverse scaling: no exact Brier score for {', '.join(no_brier)} (only the right option's "
                     "probability is stored for 3+ options); p(target) and log p(target) are their smooth metrics")  # fmt: skip
    return Evidence(ev.reset_index(drop=True), items, notes)


# ------------------------------------------------------------------------------------------ repeated sampling
def _is_counts(p: Path) -> bool:
    return p.is_file() and {"model", "problem", "n", "c"} <= _header(p)


@register_reader("repeated-sampling", "per-problem counts of repeated sampling (model, problem, n, c) -> pass@k "
                 "and pass@1 (its smooth partner)", _is_counts, priority=20)  # fmt: skip
def read_repeated_sampling(paths: list[Path], o: ReadOptions) -> Evidence:
    """With ``o.extra["tables"]`` (``ingest``: ``{"m": [...], "n_resamples": B, "seed": s}``) also the pass@k
    bootstrap over problems and what m samples per problem would read, as the tables ``pass_at_k_bootstrap`` and
    ``samples_per_problem_view``."""
    from src.analysis.families.readers.repeated_sampling import bootstrap_pass_at_k, resolution_view
    from src.analysis.families.readers.repeated_sampling import read_repeated_sampling as read

    ks = tuple(o.extra.get("ks") or (1, 10, 100))
    if 1 not in ks:
        ks = (1, *ks)  # pass@1, the share of samples right, is the smooth partner of pass@k
    spec = o.extra.get(
        "spec"
    )  # --column ours=yours maps the counts' columns as it maps a table's; --set task=
    constants = spec.constants if spec is not None else {}
    evs, its = [], []
    for p in paths:
        columns = o.extra.get("columns") or (spec.columns if spec is not None else None) or None
        ev, items = read(p, ks=ks, size_map=o.size_map, family=o.family or constants.get("family"),
                         columns=columns, task=constants.get("task"),
                         ks_up_to_samples=o.extra.get("ks") is None,
                         sizes_from_names=bool(spec is not None and spec.sizes_from_names))  # fmt: skip
        trials = items.groupby(["family", "model", "task"])["n"].sum().rename("n_trials").reset_index()
        ev = ev.drop(columns=[c for c in ("n_trials",) if c in ev.columns]).merge(
            trials, on=["family", "model", "task"]
        )
        ev["value_kind"] = "counts"
        evs.append(ev)
        its.append(items)
    items = pd.concat(its, ignore_index=True)
    tables, want = {}, o.extra.get("tables")
    if want:
        done = sorted({int(c[len("pass@") :]) for c in items.columns if c.startswith("pass@")})
        tables["pass_at_k_bootstrap"] = bootstrap_pass_at_k(items, done, n_boot=want["n_resamples"],
                                                            seed=want["seed"])  # fmt: skip
        tables["samples_per_problem_view"] = resolution_view(items, want["m"])
    return Evidence(pd.concat(evs, ignore_index=True), items, tables=tables)


# ------------------------------------------------------------------------------------------------ sweep dirs
def _is_sweep(p: Path) -> bool:
    if not p.is_dir():
        return False
    from src.results import records

    return (
        (p / "multirun.yaml").is_file()
        or (p / "sweep_table.csv").is_file()
        or any(True for _ in zip(range(1), records.find_records(p), strict=False))
    )


@register_reader("sweep", "a sweep dir of this project's runs (train.py -m ...; per-item files where saved)",
                 _is_sweep, priority=40)  # fmt: skip
def read_sweep(paths: list[Path], o: ReadOptions) -> Evidence:
    from src.analysis.core.cli import items_table
    from src.analysis.sweeps.loading import load_sweeps, require_complete_metrics

    ev = load_sweeps(paths, allow_incomplete=bool(o.extra.get("allow_incomplete")))
    ev = ev[ev["metric"].str.startswith("test/")].reset_index(drop=True)
    require_complete_metrics(ev, allow=bool(o.extra.get("allow_missing")))
    items = items_table(ev)
    ev = ev.assign(replicate=ev["replicate"].astype(str))
    return Evidence(ev, items.assign(replicate=items["replicate"].astype(str)) if not items.empty else items)


# ---------------------------------------------------------------------------------------------- plain tables
@register_reader("table", "any table (CSV, TSV, Parquet, JSON, JSONL) in the evidence columns, or shaped by "
                 "--column / --wide / --set ...; a column k makes pass@k rows; a folder: every table below it",
                 lambda p: bool(_table_files(p)), priority=0)  # fmt: skip
def read_table(paths: list[Path], o: ReadOptions) -> Evidence:
    spec: IngestSpec = o.extra.get("spec") or IngestSpec()
    if o.family:
        spec = replace(spec, constants={**spec.constants, "family": o.family})
    parts, notices = [], []
    for p in paths:
        for f in _table_files(p):
            df, header = None, _header(f)
            if "k" in header and "metric" not in header and "metric" not in spec.columns:
                df = read_any(f, spec.na_values)  # a pass@k table long in k: one metric pass@<k> per row
                df["metric"] = "pass@" + pd.to_numeric(df["k"], errors="coerce").astype("Int64").astype(str)
            t = ingest_table(f, spec, df)
            for what in ("duplicates", "missing"):
                if t.attrs.get(f"n_{what}_dropped"):
                    n = t.attrs[f"n_{what}_dropped"]
                    notices.append(
                        f"{f}: {n} {'exact duplicate' if what == 'duplicates' else 'missing-value'} row(s) dropped"
                    )
            if t.attrs.get("model_from_family_and_scale"):
                notices.append(
                    f"{f}: no model column: each (family, scale) is one model, named <family>-<scale>"
                )
            parts.append(t)
    return Evidence(pd.concat(parts, ignore_index=True), _items_beside(paths, notices), notices)


def _table_files(p: Path) -> list[Path]:
    """A table file itself, or every table file below a folder (items tables beside their evidence excepted)."""
    if p.is_file():
        return [p] if is_table_file(p) else []
    if not p.is_dir():
        return []
    return sorted(f for f in p.rglob("*") if f.is_file() and is_table_file(f) and ".items." not in f.name)


def _items_beside(paths: list[Path], notices: list[str]) -> pd.DataFrame:
    """The items tables ``<stem>.items.<suffix>`` that ``ingest`` writes beside ``<stem>.<suffix>``: read with
    their evidence, so that per-item intervals survive a round trip through files."""
    from src.analysis.core.evidence import ITEM_KEY

    parts = []
    for p in paths:
        if not p.is_file() or ".items." in p.name:
            continue
        twin = p.with_name(p.name.split(".")[0] + ".items" + "".join(p.suffixes))
        if twin.is_file():
            it = read_any(twin)
            missing = [c for c in ITEM_KEY if c not in it.columns]
            if missing:
                notices.append(f"{twin}: not used as items (no column(s) {missing})")
                continue
            for c in ("replicate", "checkpoint"):
                it[c] = it[c].astype(str).replace({"nan": "", "None": ""})
            parts.append(it)
            notices.append(f"per-item outcomes read from {twin}")
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
