"""Format ``generations``: per-sample generation tables (one row per model answer), scored with the project's string
metrics into the evidence table and the items table.

A table (CSV, TSV, JSONL, Parquet; a folder of them) whose header has an output column (``completion``,
``output``, ``response`` or ``generation``) and either a target column (``target``, ``answer``) or operand columns
(``a``, ``b``) from which ``--target-rule`` makes the target (``'a*b'``: a small expression parsed with ``ast``,
:mod:`src.analysis.core.safe_expr`; nothing is guessed from the file name). Per file:

- the model is the ``model`` column, else the named group ``model`` of ``--model-from-name REGEX`` matched against
  the file stem (default: the whole stem; a file whose name does not match is skipped, with a notice); the task is
  the ``task`` column, the group ``task`` of that regex, or ``--task-name`` (default ``generations``);
- sizes from ``--size-map`` (or a ``num_params``/``scale`` column), never built in; families from a ``family``
  column, ``--family``, or ``--family-map`` (shaping);
- text is read as UTF-8; a file that is not falls back to Latin-1 with a notice naming the file and the byte;
- an empty output is a wrong answer (counted in a notice); ``--exclude-items 'a=41,b=70'`` leaves items out (the
  prompt's own examples), ``--keep-items 'a >= 10 and b >= 10'`` keeps only the items it is true for.

Scores (tokens are characters of the stripped answer: digits): on the whole answer ``exact_match`` (level 2),
``token_acc`` (level 1: the per-digit accuracy, the share of the target's digits the output has at the same place,
places aligned from the units digit; a missing digit is wrong; the arithmetic stream's whole-answer ``token_acc``
aligns from the left instead, the same wherever output and target have one length) and ``edit_distance`` (level
0, Levenshtein); and for each target length
L = 1..max as the arithmetic stream scores them (first L digits, only items whose target has L digits;
:mod:`src.metrics.text`) in task ``<task>/L=<L>``: ``exact_match`` (level 1 at L = 1, where it is one digit's
accuracy), ``token_acc`` (from the left, as the stream) and ``edit_distance``. The items table has one row per (family, model, task, item) with
those columns, named as the metrics, so the verdict engine resamples items.
"""

from __future__ import annotations

import argparse
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.readers import Evidence, ReadOptions, register_reader
from src.analysis.core.safe_expr import compile_expr
from src.analysis.families.readers.generation_tables import (
    OPERANDS,
    OUTPUT_COLUMNS,
    TARGET_COLUMNS,
    detect,
    files_of,
    read_table,
)
from src.metrics.text import code_matrix, edit_distances, score_strings
from src.results.errors import InputError

SIZE_COLUMNS = ("num_params", "scale", "size", "params")
DEFAULT_NAME_REGEX = r"(?P<model>.+)"
DEFAULT_TASK = "generations"
DEFAULT_FAMILY = "generations"  # without a family column, --family or --family-map


# ------------------------------------------------------------------------------------------------- options
def add_generation_args(p: argparse.ArgumentParser) -> None:
    """The flags of format ``generations`` (every command that reads inputs through the registry calls this)."""
    g = p.add_argument_group("per-sample generation tables (--format generations; docs/arithmetic.md)")
    g.add_argument("--target-rule", default=None, metavar="EXPR",
                   help="make the target from operand columns, e.g. 'a*b' (numbers, columns, + - * // %% **); "
                        "without it the table's target column is used")  # fmt: skip
    g.add_argument("--model-from-name", default=None, metavar="REGEX",
                   help="model (and task) from the file stem: a regex with the named group 'model' (and "
                        "optionally 'task'); files whose names do not match are skipped (default: the whole stem)")  # fmt: skip
    g.add_argument(
        "--task-name",
        default=None,
        metavar="NAME",
        help=f"task of tables without a task column or regex group (default {DEFAULT_TASK})",
    )
    g.add_argument(
        "--exclude-items",
        action="append",
        default=[],
        metavar="COL=V,COL=V",
        help="leave out the items whose columns have these values, e.g. 'a=41,b=70' (repeatable)",
    )
    g.add_argument(
        "--keep-items",
        default=None,
        metavar="EXPR",
        help="keep only items for which this is true, e.g. 'a >= 10 and b >= 10'",
    )
    g.add_argument(
        "--ignore-commas",
        action="store_true",
        help="read thousands separators in outputs as absent ('2,870' as 2870); default: strict",
    )


def generation_options(args: argparse.Namespace) -> dict:
    """``ReadOptions.extra`` entries of the flags of :func:`add_generation_args`."""
    return {k: getattr(args, k, None) for k in
            ("target_rule", "model_from_name", "task_name", "exclude_items", "keep_items", "ignore_commas",
             "max_len", "family_map")}  # fmt: skip


def _exclusions(specs: list[str]) -> list[dict[str, str]]:
    out = []
    for spec in specs or []:
        pairs = [s.strip() for s in str(spec).split(",") if s.strip()]
        d = {}
        for pair in pairs:
            col, sep, val = pair.partition("=")
            if not sep or not col.strip() or not val.strip():
                raise InputError(f"--exclude-items expects COL=VALUE[,COL=VALUE], got {spec!r}",
                                 fix="e.g. --exclude-items 'a=41,b=70'")  # fmt: skip
            d[col.strip()] = val.strip()
        out.append(d)
    return out


def _same(cells: pd.Series, value: str) -> np.ndarray:
    """Cells equal to ``value`` as text, or as numbers where both are numbers (``41`` == ``41.0``)."""
    text = cells.astype(str).str.strip().to_numpy() == value
    num = pd.to_numeric(cells, errors="coerce").to_numpy(float)
    try:
        v = float(value)
    except ValueError:
        return text
    return text | (num == v)


def _numbers(df: pd.DataFrame, cols: list[str], path: Path, flag: str) -> dict[str, np.ndarray]:
    """Columns as exact numbers (Python ints where every cell is whole: no overflow), one error at a bad cell."""
    env = {}
    for c in cols:
        num = pd.to_numeric(df[c].astype(str).str.strip(), errors="coerce")
        if num.isna().any():
            i = int(np.flatnonzero(num.isna().to_numpy())[0])
            raise InputError(f"{flag} reads column {c!r}, which holds {df[c].iloc[i]!r}, not a number", path=path,
                             where=f"row {i + 1}", fix="give numbers in the operand columns")  # fmt: skip
        v = num.to_numpy(float)
        env[c] = (np.array([int(x) for x in v], dtype=object) if np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53)
                  else v)  # fmt: skip
    return env


def _as_text(v: np.ndarray) -> list[str]:
    out = []
    for x in v:
        if isinstance(x, int | np.integer) or float(x) == round(float(x)):
            out.append(str(int(x)))
        else:
            out.append(np.format_float_positional(float(x), trim="-"))
    return out


# ------------------------------------------------------------------------------------------------- samples
def read_samples(paths: list[Path], o: ReadOptions, notices: list[str]) -> pd.DataFrame:
    """Every sample of the tables: family, model, scale, task, item (text key), order (a seeded rank of the key,
    the same for every model), prompt, target, output, source. Checks and notices as the module doc says."""
    x = o.extra
    regex_text = x.get("model_from_name") or DEFAULT_NAME_REGEX
    try:
        regex = re.compile(regex_text)
    except re.error as err:
        raise InputError(
            f"--model-from-name {regex_text!r} is not a regex ({err})", fix="e.g. '(?P<model>.+)'"
        ) from None
    if "model" not in regex.groupindex:
        raise InputError(f"--model-from-name {regex_text!r} has no named group 'model'",
                         fix="e.g. 'multiplication_data_(?:GPT3|HF)-(?P<model>.+)_0_100'")  # fmt: skip
    exclusions = _exclusions(x.get("exclude_items") or [])
    parts, skipped = [], []
    for f in files_of(paths):
        df = read_table(f, notices)
        h = set(df.columns)
        out_col = next((c for c in OUTPUT_COLUMNS if c in h), None)
        if out_col is None:
            raise InputError(f"has no output column (one of {', '.join(OUTPUT_COLUMNS)})", path=f,
                             fix="rename the column of the model's answers")  # fmt: skip
        m = regex.fullmatch(f.stem)
        if "model" in h:
            model = df["model"].astype(str)
        elif m is None:
            skipped.append(f.name)
            continue
        else:
            model = pd.Series(m.group("model"), index=df.index)
        task_group = m.group("task") if m is not None and "task" in regex.groupindex else None
        task = df["task"].astype(str) if "task" in h else pd.Series(
            task_group or x.get("task_name") or DEFAULT_TASK, index=df.index)  # fmt: skip
        rule = x.get("target_rule")
        if rule:
            fn, used = compile_expr(rule, h, flag="--target-rule", boolean=False)
            target = pd.Series(_as_text(fn(_numbers(df, used, f, "--target-rule"))), index=df.index)
            tcol = next((c for c in TARGET_COLUMNS if c in h), None)
            if tcol is not None:
                differ = int((df[tcol].astype(str).str.strip() != target).sum())
                notices.append(f"{f.name}: targets made by --target-rule {rule!r}; the table's {tcol!r} column is "
                               f"not used ({differ} of {len(df)} rows differ from the rule)")  # fmt: skip
        else:
            tcol = next((c for c in TARGET_COLUMNS if c in h), None)
            if tcol is None:
                raise InputError("has no target column and no --target-rule was given", path=f,
                                 fix="say how the target is made, e.g. --target-rule 'a*b'")  # fmt: skip
            target = df[tcol].astype(str).str.strip()
            if (target == "").any():
                i = int(np.flatnonzero((target == "").to_numpy())[0])
                raise InputError(
                    "target is empty", path=f, where=f"row {i + 1}", fix="give every row its target"
                )
        keys = [c for c in ("item", "id") if c in h][:1] or [c for c in OPERANDS if c in h] or (
            ["prompt"] if "prompt" in h else [])  # fmt: skip
        if keys == ["item"] or keys == ["id"]:
            item = df[keys[0]].astype(str)
        elif keys:
            item = (
                df[keys]
                .astype(str)
                .apply(lambda r: ",".join(f"{k}={v.strip()}" for k, v in r.items()), axis=1)
            )
        else:
            item = pd.Series([str(i) for i in range(len(df))], index=df.index)
        keep = np.ones(len(df), dtype=bool)
        for ex in exclusions:
            miss = [c for c in ex if c not in h]
            if miss:
                raise InputError(f"--exclude-items names column(s) {miss} the table does not have", path=f,
                                 fix=f"use columns of {sorted(h)}")  # fmt: skip
            hit = np.logical_and.reduce([_same(df[c], v) for c, v in ex.items()])
            keep &= ~hit
        if x.get("keep_items"):
            fn, used = compile_expr(x["keep_items"], h, flag="--keep-items", boolean=True)
            keep &= fn(_numbers(df, used, f, "--keep-items")).astype(bool)
        if "family" in h:
            family = df["family"].astype(str)
        else:
            family = pd.Series(o.family or DEFAULT_FAMILY, index=df.index)
        size = model.map(lambda mm: o.size_map.get(mm, np.nan)).astype(float)
        scol = next((c for c in SIZE_COLUMNS if c in h), None)
        if scol is not None:
            size = size.fillna(pd.to_numeric(df[scol], errors="coerce"))
        part = pd.DataFrame({
            "family": family, "model": model, "scale": size, "task": task, "item": item,
            "prompt": df["prompt"].astype(str) if "prompt" in h else "", "target": target,
            "output": df[out_col].astype(str).str.strip(), "source": str(f), "_excluded": ~keep,
        })  # fmt: skip
        parts.append(part)
    if skipped:
        notices.append(f"--model-from-name {regex_text!r} does not match {len(skipped)} file name(s), skipped: "
                       + ", ".join(skipped[:8]))  # fmt: skip
    if not parts:
        raise InputError(
            "no generation table left to read", fix="check --model-from-name against the file names"
        )
    s = pd.concat(parts, ignore_index=True)
    n_ex = s.groupby("model")["_excluded"].sum()
    if n_ex.any():
        what = "; ".join(x.get("exclude_items") or []) + (
            f"; kept: {x['keep_items']}" if x.get("keep_items") else ""
        )
        notices.append(f"items left out ({what}): " + ", ".join(f"{m} {int(k)}" for m, k in n_ex.items())
                       + " (means and intervals are over the items kept)")  # fmt: skip
    s = s[~s["_excluded"]].drop(columns="_excluded")
    if s.empty:
        raise InputError("the item filters leave no sample", fix="loosen --exclude-items / --keep-items")
    no_size = sorted(s.loc[~(s["scale"] > 0), "model"].unique())
    if no_size:
        raise InputError(f"model(s) without a size: {', '.join(no_size)}",
                         fix="give their parameters in --size-map (YAML model: parameters), or skip their files "
                             "with --model-from-name")  # fmt: skip
    dup = s.duplicated(["family", "model", "task", "item"], keep=False)
    if dup.any():
        r = s[dup].iloc[0]
        raise InputError(f"item {r['item']!r} of model {r['model']!r} appears twice", path=r["source"],
                         fix="give an item column, or pass each file once")  # fmt: skip
    empty = s[s["output"] == ""].groupby("model").size()
    if not empty.empty:
        notices.append("empty outputs, scored as wrong answers: "
                       + ", ".join(f"{m} {int(k)} of {int((s['model'] == m).sum())}" for m, k in empty.items()))  # fmt: skip
    if x.get("ignore_commas"):
        commas = s["output"].str.contains(r"\d,\d{3}")
        s["output"] = s["output"].str.replace(r"(?<=\d),(?=\d{3})", "", regex=True)
        notices.append(f"--ignore-commas: thousands separators removed from {int(commas.sum())} output(s)")
    else:
        commas = s.groupby("model")["output"].agg(lambda v: int(v.str.contains(r"\d,\d{3}").sum()))
        if commas.any():
            notices.append("outputs with a thousands separator score as wrong ('2,870' is not '2870'; "
                           "--ignore-commas reads them as numbers): "
                           + ", ".join(f"{m} {k}" for m, k in commas.items() if k))  # fmt: skip
    if not x.get("family_map"):  # a family map is applied after reading (shaping) and may separate them
        same_size_notices(s, notices)
    s["order"] = s["item"].map(lambda k: zlib.crc32(f"0:{k}".encode()))
    return s.reset_index(drop=True)


def same_size_notices(s: pd.DataFrame, notices: list[str]) -> None:
    """A notice per family in which two models have one size (read as replicates of one size, or two x values)."""
    sizes = s.drop_duplicates(["family", "model"]).groupby(["family", "scale"])["model"].agg(list)
    for (fam, _), ms in sizes.items():
        if len(ms) > 1:
            notices.append(f"family {fam!r}: models {', '.join(ms)} have the same size; give them separate "
                           "families (--family-map) unless they are replicates of one model")  # fmt: skip


# ------------------------------------------------------------------------------------------------- scoring
def digit_accuracy(outputs: list[str], targets: list[str]) -> np.ndarray:
    """Share of each target's characters that the output has at the same place counted from the right (units
    digit with units digit); an output with fewer characters misses the places it lacks."""
    rev_o = [str(o).strip()[::-1] for o in outputs]
    rev_t = [str(t).strip()[::-1] for t in targets]
    width = max([1, *map(len, rev_t), *map(len, rev_o)])
    o, t = code_matrix(rev_o, width=width), code_matrix(rev_t, width=width)
    n_t = np.array([len(v) for v in rev_t])
    in_t = np.arange(width)[None, :] < n_t[:, None]
    return ((o == t) & in_t).sum(axis=1) / np.maximum(n_t, 1)


def score_samples(s: pd.DataFrame, max_len: int) -> pd.DataFrame:
    """The items table: per sample of ``s`` one row for the whole answer (task as given) and one per target length
    L = 1..max_len the target reaches (task ``<task>/L=<L>``), with the metric columns of the module doc."""
    out, tgt = s["output"].tolist(), s["target"].tolist()
    base = s[["family", "model", "scale", "task", "item", "order", "target", "output", "source"]].reset_index(
        drop=True
    )
    whole = base.assign(replicate="", checkpoint="", exact_match=(s["output"] == s["target"]).to_numpy(float),
                        token_acc=digit_accuracy(out, tgt),
                        edit_distance=edit_distances(out, tgt).astype(float))  # fmt: skip
    sc = score_strings(out, tgt, max_len)
    parts = [whole]
    for L in range(1, max_len + 1):
        ok = ~np.isnan(sc["exact_match"][:, L])
        if not ok.any():
            continue
        parts.append(base[ok].assign(task=base.loc[ok, "task"] + f"/L={L}", replicate="", checkpoint="",
                                     exact_match=sc["exact_match"][ok, L], token_acc=sc["token_acc"][ok, L],
                                     edit_distance=sc["edit_distance"][ok, L]))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


METRICS = ("exact_match", "token_acc", "edit_distance")


def evidence_of(items: pd.DataFrame) -> pd.DataFrame:
    """Per (family, model, task, metric): the mean over the items, ``n_items`` = the items scored."""
    keys = ["family", "model", "scale", "task", "source"]
    cols = [m for m in METRICS if m in items.columns]
    g = items.groupby(keys, sort=True)[cols]
    long = g.mean().stack().rename("value").to_frame()
    long["n_items"] = g.count().stack()
    long = long.reset_index().rename(columns={f"level_{len(keys)}": "metric"})
    long = long[long["n_items"] > 0].reset_index(drop=True)
    long["level"] = np.nan  # the registry's level (vocab.complete), except:
    one = (long["metric"] == "exact_match") & long["task"].str.endswith("/L=1")
    long.loc[one, "level"] = 1.0  # all 1 of 1 digits right is one digit's accuracy: not a sharp aggregate
    return long


def max_length(s: pd.DataFrame, wanted: int | None) -> int:
    longest = int(s["target"].str.len().max())
    return int(wanted) if wanted else max(1, min(longest, 10))


@register_reader("generations", "per-sample generation tables (CSV/TSV/JSONL/Parquet: an output column and a target "
                 "column or operands a, b with --target-rule) -> exact match, per-digit accuracy, edit distance, "
                 "per item and per target length", detect, priority=10)  # fmt: skip
def read_generations(paths: list[Path], o: ReadOptions) -> Evidence:
    notices: list[str] = []
    s = read_samples(paths, o, notices)
    items = score_samples(s, max_length(s, o.extra.get("max_len")))
    ev = evidence_of(items)
    return Evidence(ev, items.drop(columns=["order", "source"]), notices)  # the evidence rows name the file


def generation_outputs(paths: list[Path], o: ReadOptions, notices: list[str]) -> pd.DataFrame:
    """The samples as the arithmetic stream's outputs table (:mod:`src.results.outputs` columns): item ids are
    ranks of a seeded hash of the item key, the same for every model, so "the first n items" (Fig. 4) is a
    random subset of the items nested in every larger one."""
    s = read_samples(paths, o, notices)
    keys = s[["order", "item"]].drop_duplicates().sort_values(["order", "item"])
    rank = s["item"].map(pd.Series(np.arange(len(keys)), index=keys["item"].to_numpy())).astype("int64")
    return pd.DataFrame({
        "model": s["model"], "family": s["family"], "num_params": s["scale"].round().astype("int64"),
        "task": s["task"], "prompt": s["prompt"], "target": s["target"], "output": s["output"],
        "item": rank, "subset": "test", "target_tokens": None, "target_logprobs": None, "source_file": s["source"],
        "item_key": s["item"],
    }).sort_values(["family", "model", "task", "item"], ignore_index=True)  # fmt: skip
