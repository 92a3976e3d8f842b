"""Reader of per-item score files of the inverse-scaling evaluation pipeline shape (naimenz/inverse-scaling-eval-
pipeline ``results/<task folder>/``): one ``<model>.csv`` per model beside the task's items file ``data.csv``.

- ``data.csv``: one row per item; for classification ``classes`` (the options, a Python list literal) and
  ``answer_index`` (or ``answer_ix``); for LAMBADA-style tasks only the prompt.
- ``<model>.csv``: ``index,loss[,correct,total_logprob]``, one row per item (``index`` = row of ``data.csv``).
  Classification: ``loss = -log p(correct option)`` with p normalised over the options; ``correct`` = the
  highest-scoring option is the right one. LAMBADA: ``loss = -log p(target word)``.
- ``args.log`` (optional): the pipeline's settings, JSON objects one after another; ``task_type`` is read from the
  last one (else inferred: ``classes`` in ``data.csv`` -> classification).

Per item (the items table): ``p_target = exp(-loss)``, ``logprob = -loss``, ``n_options``, ``correct`` (given, or
derived where the distribution is known: 2 options, correct iff ``p_target > 1/2``; with more options a
``p_target > 1/2`` item is surely correct, others unknown -> NaN) and the multi-class Brier score
``sum_k (p_k - y_k)^2``: exact with 2 options (``2 (1 - p)^2``); with K > 2 options and only p(correct) known, only its
bounds ``brier_lo = (1-p)^2 (1 + 1/(K-1))`` (the rest spread evenly) and ``brier_hi = 2 (1-p)^2`` (all on one option)
are kept and ``brier`` is NaN.

Evidence rows per (model, task): ``mcg`` (Multiple Choice Grade: mean ``correct``, only where every item's is known), ``brier`` (exact
multi-class, mean), ``brier_lo``/``brier_hi``, ``p_target`` (mean probability of the correct option or target word),
``logprob`` (mean target log-probability), each with ``n_items`` and ``stderr`` (SD / sqrt(n)).

The model name gives family and parameters: GPT-3 ``ada``/``babbage``/``curie``/``davinci`` (commonly estimated
350M, 1.3B, 6.7B, 175B) and GPT-2 ``gpt2``, ``-medium``, ``-large``, ``-xl`` (124M, 355M, 774M, 1.56B); others need
``size_map`` (model -> parameters) and get family ``family`` (default: the folder's family tag or "unknown").
The task is the folder name with its family tag (``-gpt3``, ``gpt2_``) removed.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize
from src.analysis.core.ingest import check_last_line
from src.results.errors import LINE, InputError, raise_at_first, raise_at_first_cell

#: (family, parameters) of the models this pipeline evaluated. GPT-3 sizes are the usual estimates (OpenAI never
#: published them for the API models); GPT-2 counts are those of the released checkpoints.
KNOWN_MODELS: dict[str, tuple[str, float]] = {
    "ada": ("GPT-3", 350e6),
    "babbage": ("GPT-3", 1.3e9),
    "curie": ("GPT-3", 6.7e9),
    "davinci": ("GPT-3", 175e9),
    "gpt2": ("GPT-2", 124_439_808),
    "gpt2-medium": ("GPT-2", 354_823_168),
    "gpt2-large": ("GPT-2", 774_030_080),
    "gpt2-xl": ("GPT-2", 1_557_611_200),
}
_FAMILY_TAG = re.compile(r"(^|[-_])(gpt3|gpt2)(?=[-_]|$)")
_TAG_FAMILY = {"gpt3": "GPT-3", "gpt2": "GPT-2"}

#: Direction of every metric this reader writes (True: higher is better).
HIGHER_IS_BETTER = {
    "mcg": True,
    "brier": False,
    "brier_lo": False,
    "brier_hi": False,
    "p_target": True,
    "logprob": True,
}
ITEM_COLUMNS = [
    "correct",
    "p_target",
    "logprob",
    "brier",
    "brier_lo",
    "brier_hi",
    "n_options",
    "total_logprob",
]


def _show(value) -> str:
    """A cell as the user wrote it (numpy scalars as plain numbers)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _task_name(folder: Path) -> tuple[str, str]:
    """(task, family tag's family or "") of a result folder."""
    m = _FAMILY_TAG.search(folder.name)
    if not m:
        return folder.name, ""
    task = (folder.name[: m.start()] + folder.name[m.end() :]).strip("-_")
    return task or folder.name, _TAG_FAMILY[m.group(2)]


def _task_type(folder: Path, data: pd.DataFrame) -> str:
    log = folder / "args.log"
    if log.is_file():
        text = log.read_text(encoding="utf-8", errors="replace")
        dec, pos, last = json.JSONDecoder(), 0, None
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                obj, pos = dec.raw_decode(text, pos)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"is not a sequence of JSON objects ({err.msg} at char {err.pos})",
                    path=log,
                    fix="give the pipeline's args.log unchanged, or delete it (the task type is then inferred)",
                ) from None
            last = obj
        if isinstance(last, dict) and last.get("task_type"):
            return str(last["task_type"])
    return "classification" if "classes" in data.columns else "lambada"


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
        check_last_line(path, ",")
        return df
    except FileNotFoundError:
        raise InputError(f"{what} is missing", path=path, fix="keep data.csv beside the model CSVs") from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty", path=path, fix=f"give the {what} with its header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        msg = str(err).splitlines()[0]
        raise InputError(
            f"is not a readable CSV ({msg})", path=path, fix="give a comma-separated file"
        ) from None


def _options(data: pd.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(number of options, answer index) per item of a classification data.csv."""
    answer_col = next((c for c in ("answer_index", "answer_ix") if c in data.columns), None)
    if answer_col is None or "classes" not in data.columns:
        raise InputError(
            f"lacks {'classes' if 'classes' not in data.columns else 'answer_index'} (has {list(data.columns)})",
            path=path,
            fix="a classification data.csv needs classes (a list literal) and answer_index (or answer_ix)",
        )
    n_opt = np.empty(len(data), dtype=np.int64)
    for i, text in enumerate(data["classes"].astype(str)):
        try:
            opts = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            opts = None
        if not isinstance(opts, list | tuple) or len(opts) < 2:
            raise InputError(
                f"classes is {text[:60]!r}, expected a list literal of two or more options",
                path=path,
                where=f"line {i + 2}",
                fix="write the options as a Python list, e.g. [' Yes', ' No']",
            )
        n_opt[i] = len(opts)
    ans = pd.to_numeric(data[answer_col], errors="coerce").to_numpy()
    bad = ~np.isfinite(ans) | (ans < 0) | (ans >= n_opt) | (ans != np.round(ans))
    raise_at_first(
        bad,
        lambda i: (
            f"{answer_col} is {_show(data[answer_col].iloc[i])}, expected an option index 0..{n_opt[i] - 1}"
        ),
        path=path,
        where=LINE,
        fix="give the position of the right option in classes",
    )
    return n_opt, ans.astype(np.int64)


def _model_scores(path: Path, n_items: int, classification: bool) -> pd.DataFrame:
    df = _read_csv(path, "model score file")
    for col in ("index", "loss"):
        if col not in df.columns:
            raise InputError(
                f"lacks column {col!r} (has {list(df.columns)})",
                path=path,
                fix="give index,loss[,correct,total_logprob] per item",
            )
    cols = ["index", "loss", *[c for c in ("correct", "total_logprob") if c in df.columns]]
    num = df[cols].apply(pd.to_numeric, errors="coerce")
    bad = num.isna() & df[cols].notna()
    bad["index"] |= num["index"].isna()
    bad["loss"] |= num["loss"].isna()
    raise_at_first_cell(
        bad,
        lambda r, c: f"column {cols[c]!r} holds {_show(df[cols[c]].iloc[r])}, expected a number",
        path=path,
        where=LINE,
        fix="give a number in every index and loss cell",
    )
    idx = num["index"].to_numpy()
    out_of_range = (idx < 0) | (idx >= n_items) | (idx != np.round(idx))
    raise_at_first(
        out_of_range,
        lambda i: f"index {_show(df['index'].iloc[i])} is not a row of data.csv (it has {n_items} items)",
        path=path,
        where=LINE,
        fix="give the item's 0-based row in data.csv",
    )
    dup = num["index"].duplicated(keep=False).to_numpy()
    raise_at_first(
        dup,
        lambda i: f"index {int(idx[i])} appears twice",
        path=path,
        where=LINE,
        fix="give one row per item",
    )
    neg = num["loss"].to_numpy() < -1e-6
    raise_at_first(
        neg | ~np.isfinite(num["loss"].to_numpy()),
        lambda i: f"loss is {_show(df['loss'].iloc[i])}, expected -log p >= 0 (a finite number)",
        path=path,
        where=LINE,
        fix="give minus the log-probability of the correct option",
    )
    if "correct" in num and classification:
        c = num["correct"].to_numpy()
        badc = ~np.isin(c[~np.isnan(c)], (0.0, 1.0))
        if badc.any():
            i = int(np.flatnonzero(~np.isnan(c))[np.flatnonzero(badc)[0]])
            raise InputError(
                f"correct is {_show(df['correct'].iloc[i])}, expected 0 or 1",
                path=path,
                where=f"line {i + 2}",
                fix="give 1 where the highest-scoring option is the right one, else 0",
            )
    return num


def _task_folders(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise InputError(
                "is not a folder", path=p, fix="give task folders (data.csv + <model>.csv) or their parent"
            )
        if (p / "data.csv").is_file():
            out.append(p)
        else:
            sub = sorted(d for d in p.iterdir() if d.is_dir() and (d / "data.csv").is_file())
            if not sub:
                raise InputError(
                    "holds no data.csv and no task folder with one",
                    path=p,
                    fix="give task folders (data.csv + one <model>.csv per model) or their parent folder",
                )
            out.extend(sub)
    return out


def read_inverse_scaling(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    size_map: Mapping[str, float] | None = None,
    family: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evidence table, items table) of inverse-scaling-pipeline result folders (or a parent of several)."""
    size_map = dict(size_map or {})
    evidence, items = [], []
    for folder in _task_folders(paths):
        task, tag_family = _task_name(folder)
        data = _read_csv(folder / "data.csv", "items file data.csv")
        kind = _task_type(folder, data)
        classification = kind == "classification"
        if classification:
            n_opt, _ = _options(data, folder / "data.csv")
        models = sorted(p for p in folder.glob("*.csv") if p.name != "data.csv")
        if not models:
            raise InputError(
                "holds data.csv but no <model>.csv", path=folder, fix="add one score file per model"
            )
        for mpath in models:
            model = mpath.stem
            if model in size_map:
                fam = family or KNOWN_MODELS.get(model, (tag_family or "unknown",))[0]
                scale = float(size_map[model])
            elif model in KNOWN_MODELS:
                fam, scale = KNOWN_MODELS[model]
                fam = family or fam
            else:
                raise InputError(
                    f"model {model!r} has no known parameter count",
                    path=mpath,
                    fix=f"give it in a size map ({model}: <parameters>)",
                )
            num = _model_scores(mpath, len(data), classification)
            item = num["index"].to_numpy().astype(np.int64)
            loss = num["loss"].to_numpy().clip(min=0.0)
            p = np.exp(-loss)
            rec = {
                "family": fam,
                "model": model,
                "scale": scale,
                "task": task,
                "item": item,
                "p_target": p,
                "logprob": -loss,
                "total_logprob": num["total_logprob"].to_numpy() if "total_logprob" in num else np.nan,
            }
            if classification:
                k = n_opt[item].astype(float)
                given = num["correct"].to_numpy() if "correct" in num else np.full(len(item), np.nan)
                derived = np.where(p > 0.5, 1.0, np.where(k == 2, 0.0, np.nan))
                rec["correct"] = np.where(np.isnan(given), derived, given)
                rec["n_options"] = k
                two = k == 2
                rec["brier"] = np.where(two, 2.0 * (1.0 - p) ** 2, np.nan)
                rec["brier_lo"] = (1.0 - p) ** 2 * (1.0 + 1.0 / (k - 1.0))
                rec["brier_hi"] = 2.0 * (1.0 - p) ** 2
            else:
                for col in ("correct", "n_options", "brier", "brier_lo", "brier_hi"):
                    rec[col] = np.nan
            it = pd.DataFrame(rec)
            it["task_type"] = kind
            it["source"] = str(mpath)
            items.append(it)
            n = len(it)
            for metric in ("mcg", "brier", "brier_lo", "brier_hi", "p_target", "logprob"):
                col = "correct" if metric == "mcg" else metric
                vals = it[col].to_numpy(dtype=float)
                if n == 0 or np.isnan(vals).any():
                    continue
                evidence.append(
                    {
                        "family": fam,
                        "model": model,
                        "scale": scale,
                        "task": task,
                        "metric": metric,
                        "value": float(vals.mean()),
                        "n_items": float(n),
                        "stderr": float(vals.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                        "source": str(mpath),
                        "n_options": float(np.nanmax(it["n_options"])) if classification else np.nan,
                        "task_type": kind,
                    }
                )
    src = str(Path(next(iter([paths] if isinstance(paths, str | os.PathLike) else paths))))
    ev = normalize(pd.DataFrame(evidence), source=src)
    items_df = pd.concat(items, ignore_index=True)
    items_df.insert(5, "replicate", "")
    items_df.insert(6, "checkpoint", "")
    return ev, items_df
