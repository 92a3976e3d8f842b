"""Readers of what EleutherAI's lm-evaluation-harness writes: results JSON files and ``--log_samples`` files.

**Results** (``results_<date>.json`` in ``<output_path>/<model>/``, or any ``*.json`` with a ``results`` key, as
v0.3 wrote them): ``results -> task -> metric``. v0.4 keys are ``<metric>,<filter>`` (``acc,none``,
``acc_stderr,none``; the filter is dropped when it is ``none`` or the metric's only one, else the metric is named
``<metric>[<filter>]``); v0.3 keys are plain (``acc``, ``acc_stderr``, ``ppl``). ``<metric>_stderr`` becomes the
``stderr`` column (``"N/A"`` -> NaN), ``n-samples -> task -> effective`` becomes ``n_items``, and the shots
(``n-shot`` or ``config.num_fewshot``) are part of the task key: ``lambada_openai/0shot``.

Model, size and checkpoint: the model is the last path part of ``pretrained=`` in ``config.model_args`` (a string in
v0.3, a dict in v0.4), else ``model_name``, else the file name; the checkpoint is ``revision=step<N>`` there, else
``step<N>`` in the file name (``1.4b_step1000.json``), else final (empty). Parameters: ``size_map`` (model name ->
parameters), else ``config.model_num_parameters`` (v0.4), else the size in the name read as a number (``pythia-1.4b``
-> 1.4e9, ``bloom-7b1`` -> 7.1e9, ``opt-125m`` -> 1.25e8: nominal sizes). The family is the name without its size
(``pythia-v1.1-1.4b-deduped`` -> ``pythia-v1.1-deduped``) unless ``family`` is given. ``tokens_per_step`` turns steps
into training tokens.

**Samples** (``samples_<task>_<date>.jsonl``, one JSON object per line): ``doc_id``, ``target``, ``arguments``,
``resps`` (raw model answers per request), ``filtered_resps`` (after the task's filter), ``filter``, ``metrics`` (the
names of the per-sample metric fields) and those fields. The shapes read, by output type:

- multiple choice (one ``[loglikelihood, is_greedy]`` per option): per item the options' log-likelihoods give the
  Multiple Choice Grade (``mcg``: the highest-scoring option is the target, first on ties, as the harness's
  ``acc``), the normalised probabilities ``p_k = softmax(ll)_k``, the exact multi-class Brier score
  ``sum_k (p_k - y_k)^2`` (what the harness's ``brier_score`` aggregates), ``p_target`` and the target's
  unnormalised log-likelihood ``logprob``;
- loglikelihood (one ``[ll, is_greedy]``, e.g. LAMBADA): ``logprob`` and ``correct = is_greedy``;
- generate_until (text answers): the response text, and the harness's per-sample metric fields.

Numbers come as JSON numbers or strings (``"-14.43"``, ``"False"``: v0.4.x writes strings), ``target`` as an option
index (int or its string) or the option's text. Every numeric per-sample metric field (``acc``, ``acc_norm``,
``exact_match``, ...) is kept as a column of the items table; non-scalar ones (``brier_score``'s ``[gold, probs]``)
are recomputed, not copied.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize
from src.analysis.core.inputs import expand_inputs
from src.results.errors import InputError, raise_at_first

_SIZE = re.compile(r"(?:^|(?<=[-_]))(\d+(?:\.\d+)?)([kmbt])(\d*)(?=[-_]|$)", re.IGNORECASE)
_UNIT = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_STEP = re.compile(r"(?:^|[-_])step[-_]?(\d+)(?=[-_.]|$)", re.IGNORECASE)
_SAMPLES = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")
_RESULTS = re.compile(r"results_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.json$")

MAX_ITEMS = 1e9  # items of one task: more than any evaluation has

#: Direction of the metrics the samples reader computes (True: higher is better).
HIGHER_IS_BETTER = {"mcg": True, "brier": False, "p_target": True, "logprob": True, "correct": True}


# ----------------------------------------------------------------------------------------------- names and sizes
def size_from_name(name: str) -> float | None:
    """The size token of a model name as parameters (``1.4b`` -> 1.4e9, ``7b1`` -> 7.1e9), None without one."""
    matches = list(_SIZE.finditer(name))
    if not matches:
        return None
    m = matches[-1]
    whole, unit, frac = m.group(1), m.group(2).lower(), m.group(3)
    value = float(f"{whole}.{frac}") if frac and "." not in whole else float(whole)
    return value * _UNIT[unit]


def family_from_name(name: str) -> str:
    """The model name without its size token (``opt-125m`` -> ``opt``, ``pythia-v1.1-1.4b-deduped`` ->
    ``pythia-v1.1-deduped``); the whole name when it has none."""
    matches = list(_SIZE.finditer(name))
    if not matches:
        return name
    m = matches[-1]
    out = (name[: m.start()] + name[m.end() :]).replace("--", "-").replace("__", "_").strip("-_")
    return out or name


def sizes_and_families(models: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per model (the last part of a path-valued name): its size from the name (NaN without a size token) and its
    family (the name without the size), for ``--sizes-from-names``."""
    names = models.astype(str).str.rstrip("/").str.split("/").str[-1]
    return names.map(size_from_name).astype(float), names.map(family_from_name)


def _model_args(config: Mapping) -> dict[str, str]:
    args = config.get("model_args") if isinstance(config, Mapping) else None
    if isinstance(args, Mapping):
        return {str(k): str(v) for k, v in args.items()}
    out = {}
    for part in str(args or "").split(","):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _identity(doc: Mapping, path: Path, size_map: Mapping[str, float], family: str | None, tokens_per_step):
    """(family, model, scale, checkpoint, step, tokens) of one results file."""
    config = doc.get("config") or {}
    if not isinstance(config, Mapping):
        raise InputError(f"config is {type(config).__name__} {str(config)[:40]!r}, expected an object", path=path,
                         where="key config", fix="give the file the harness wrote, unchanged")  # fmt: skip
    margs = _model_args(config)
    name = margs.get("pretrained") or doc.get("model_name") or ""
    model = str(name).rstrip("/").split("/")[-1] if name else path.stem
    revision = margs.get("revision", "")
    m = _STEP.search(revision) if revision else None
    m = m or _STEP.search(path.stem)
    step = float(m.group(1)) if m else math.nan
    checkpoint = f"step{int(step)}" if m else ("" if revision in ("", "main") else revision)
    if model in size_map:
        scale = float(size_map[model])
    elif isinstance(config.get("model_num_parameters"), int | float) and config["model_num_parameters"] > 0:
        scale = float(config["model_num_parameters"])
    else:
        scale = size_from_name(model)
        if scale is None:
            raise InputError(
                f"model {model!r} has no parameter count (no size in its name, no config.model_num_parameters)",
                path=path,
                fix=f"give it in a size map ({model}: <parameters>)",
            )
    tokens = step * float(tokens_per_step) if tokens_per_step and not math.isnan(step) else math.nan
    if not family and _is_local_path(str(name)):
        # pretrained=/models/llama/13B: the folder above the checkpoint names the family (its size folders are
        # the models); a hub name (EleutherAI/pythia-1.4b) keeps the family read from the model name
        parent = Path(str(name).rstrip("/")).parent.name
        if parent:
            return parent, model, scale, checkpoint, step, tokens
    return family or family_from_name(model), model, scale, checkpoint, step, tokens


def _is_local_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or "\\" in name


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """``object_pairs_hook``: a key given twice in one object is an error (json keeps the last one silently)."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _loads(text: str, path: Path, where: str):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as err:
        raise InputError(f"key {err.args[0]!r} is given twice in one object", path=path, where=where,
                         fix="give the file unchanged (the harness writes each key once)") from None  # fmt: skip


def _load_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = _loads(fh.read(), path, "(whole file)")
    except json.JSONDecodeError as err:
        raise InputError(
            f"is not valid JSON ({err.msg})",
            path=path,
            where=f"line {err.lineno}",
            fix="give the file unchanged",
        ) from None
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", path=path, fix="give the harness's results JSON") from None
    if not isinstance(doc, dict):
        raise InputError("holds no JSON object", path=path, fix="give the harness's results JSON")
    return doc


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------------------------------------------ results
def _result_files(paths) -> list[Path]:
    return expand_inputs(
        paths,
        lambda d: [f for f in sorted(d.rglob("*.json")) if _RESULTS.search(f.name) or _has_results(f)],
        none_in_folder="lm-eval results JSON",
        fix_folder="point at the harness's --output_path folder",
        fix_missing="give lm-eval results JSON files or their folder",
    )


def _has_results(path: Path) -> bool:
    """A quick look whether a JSON file in a searched folder is a results file (its first key is ``results``
    or it holds one); files of other kinds in the folder are not results and are left alone."""
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return '"results"' in head


def read_lm_eval_results(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    size_map: Mapping[str, float] | None = None,
    family: str | None = None,
    tokens_per_step: float | None = None,
    replicate_from_folder: bool = False,
) -> pd.DataFrame:
    """Evidence table of lm-eval results JSON files (files, or folders searched recursively). Two files with the
    same (model, checkpoint, task, metric) must agree, unless ``replicate_from_folder``: then each file's folder
    name is its ``replicate`` (repeated evaluations of one checkpoint kept side by side, as bands)."""
    size_map = dict(size_map or {})
    rows = []
    for path in _result_files(paths):
        doc = _load_json(path)
        results = doc.get("results")
        if not isinstance(results, dict):
            raise InputError(
                "has no 'results' object",
                path=path,
                fix="give a results JSON the harness wrote (results -> task)",
            )
        fam, model, scale, checkpoint, step, tokens = _identity(doc, path, size_map, family, tokens_per_step)
        config = doc.get("config") or {}
        nshot = doc.get("n-shot") or {}
        nsamples = doc.get("n-samples") or {}
        for key_name, part in (("config", config), ("n-shot", nshot), ("n-samples", nsamples)):
            if not isinstance(part, dict):
                raise InputError(f"{key_name} is {type(part).__name__} {str(part)[:40]!r}, expected an object",
                                 path=path, where=f"key {key_name}", fix="give the file the harness wrote, unchanged")  # fmt: skip
        for task, metrics in results.items():
            if not isinstance(metrics, dict):
                raise InputError(
                    f"results[{task!r}] is {type(metrics).__name__}, expected an object of metrics",
                    path=path,
                    where=f"key results.{task}",
                    fix="give the file unchanged",
                )
            shots = nshot.get(task, config.get("num_fewshot"))
            if shots is not None and not (isinstance(shots, int | float) and not isinstance(shots, bool)
                                          and math.isfinite(shots) and shots >= 0 and shots == int(shots)):  # fmt: skip
                raise InputError(f"the shots of {task!r} are {shots!r}, not a whole number", path=path,
                                 where=f"key n-shot.{task}", fix="give the file the harness wrote, unchanged")  # fmt: skip
            key = f"{task}/{int(shots)}shot" if isinstance(shots, int | float) else task
            ns = nsamples.get(task)
            if ns is not None and not isinstance(ns, dict):
                raise InputError(f"n-samples of {task!r} is {ns!r}, expected {{original, effective}}", path=path,
                                 where=f"key n-samples.{task}", fix="give the file the harness wrote, unchanged")  # fmt: skip
            n_items = (ns or {}).get("effective", math.nan)
            if ns is not None and not (_number(n_items) is not None and 0 <= _number(n_items) <= MAX_ITEMS):
                raise InputError(f"n-samples of {task!r} is {n_items!r}", path=path, where=f"key n-samples.{task}",
                                 fix="give the file the harness wrote, unchanged")  # fmt: skip
            parsed = {}
            for name, value in metrics.items():
                metric, _, filt = str(name).partition(",")
                parsed.setdefault(metric, {})[filt] = value
            filters_of = {m: set(v) for m, v in parsed.items() if not m.endswith("_stderr")}
            for metric, by_filter in parsed.items():
                if metric.endswith("_stderr"):
                    continue
                for filt, value in by_filter.items():
                    num = _number(value)
                    if metric in ("alias", "name", "sample_len", "samples") or isinstance(value, bool):
                        continue  # labels, not scores
                    if num is None and isinstance(value, str) and value.strip().upper() == "N/A":
                        continue  # the harness's own "no value"
                    if num is None or not math.isfinite(num):
                        raise InputError(
                            f"results[{task!r}][{','.join(x for x in (metric, filt) if x)!r}] is {value!r}, not a "
                            "finite number",
                            path=path,
                            where=f"key results.{task}.{metric}",
                            fix="give the file the harness wrote, unchanged",
                        )
                    if metric in ("sample_len",):
                        continue
                    raw_se = parsed.get(f"{metric}_stderr", {}).get(filt)
                    se = _number(raw_se)
                    bad_se = raw_se is not None and not (
                        isinstance(raw_se, str) and raw_se.strip().upper() == "N/A"
                    )
                    if bad_se and (se is None or not math.isfinite(se) or se < 0):
                        raise InputError(
                            f"results[{task!r}][{metric}_stderr] is {raw_se!r}, not a finite number >= 0 or 'N/A'",
                            path=path,
                            where=f"key results.{task}.{metric}_stderr",
                            fix="give the file the harness wrote, unchanged",
                        )
                    name = (
                        metric
                        if filt in ("", "none") or len(filters_of[metric]) == 1
                        else f"{metric}[{filt}]"
                    )
                    hib = (doc.get("higher_is_better") or {}).get(task, {})
                    hib = hib.get(metric) if isinstance(hib, dict) else None
                    rows.append({
                        "higher_is_better": float(hib) if isinstance(hib, bool) else math.nan,
                        "family": fam, "model": model, "scale": scale, "task": key, "metric": name,
                        "value": num, "checkpoint": checkpoint, "step": step, "tokens": tokens,
                        "n_items": float(n_items) if _number(n_items) is not None else math.nan,
                        "stderr": se if se is not None else math.nan, "source": str(path),
                        "num_fewshot": float(shots) if isinstance(shots, int | float) else math.nan,
                        "replicate": path.parent.name if replicate_from_folder else "",
                    })  # fmt: skip
    if not rows:
        raise InputError(
            "no metric found in the results given", path=str(paths), fix="give non-empty results"
        )
    df = pd.DataFrame(rows)
    key = ["family", "model", "task", "metric", "checkpoint", "replicate"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        g = df[dup].groupby(key)["value"]
        conflict = (g.transform("max") - g.transform("min")) > 1e-12
        if conflict.any():
            a = df[dup][conflict.to_numpy()].iloc[0]
            others = df[dup & (df[key] == a[key]).all(axis=1)]
            raise InputError(
                f"{a['model']} {a['checkpoint'] or 'final'} {a['task']} {a['metric']} is given twice with different "
                f"values ({others['value'].iloc[0]:.6g} here, {others['value'].iloc[1]:.6g} in "
                f"{others['source'].iloc[1]})",
                path=others["source"].iloc[0],
                fix="give one folder per evaluation setup (e.g. only the zero-shot folders); only if both are "
                "repeated runs of the same evaluation keep them as replicates with --replicate-from-folder",
            )
        df = df.drop_duplicates(key, keep="first")
    return normalize(df, source=str(paths if isinstance(paths, str | os.PathLike) else list(paths)[0]))


# ------------------------------------------------------------------------------------------------------ samples
def _ll_pairs(resps, path: Path, line: int) -> list[tuple[float, float]] | None:
    """The [loglikelihood, is_greedy] pairs of a sample's ``filtered_resps``/``resps``; None for text answers."""
    if isinstance(resps, str):
        return None
    if not isinstance(resps, list) or not resps:
        raise InputError(
            f"filtered_resps is {str(resps)[:60]!r}, expected a list of answers",
            path=path,
            where=f"line {line}",
            fix="give the harness's samples file unchanged",
        )
    out = []
    for r in resps:
        # resps nests one more level ([[ll, greedy]] per request); filtered_resps gives [ll, greedy]
        while isinstance(r, list) and len(r) == 1 and isinstance(r[0], list):
            r = r[0]
        is_pair = isinstance(r, list) and len(r) == 2 and _greedy(r[1]) is not None
        if (
            isinstance(r, str)
            and _number(r) is None
            or (isinstance(r, list) and not is_pair and r and all(isinstance(x, str) for x in r))
        ):
            return None  # generated text
        if is_pair:
            ll, greedy = _number(r[0]), _greedy(r[1])
        elif _number(r) is not None:
            ll, greedy = _number(r), math.nan
        else:
            ll = greedy = None
        if ll is not None and not math.isfinite(ll):
            raise InputError(
                f"log-likelihood {r!r} is not a finite number: it would move the grade and the mean log-probability",
                path=path,
                where=f"line {line}",
                fix="rerun the evaluation of this item, or leave the file out",
            )
        if ll is None or greedy is None:
            raise InputError(
                f"response {str(r)[:60]!r} is not [loglikelihood, is_greedy]",
                path=path,
                where=f"line {line}",
                fix="give the harness's samples file unchanged",
            )
        out.append((ll, greedy))
    return out


def _greedy(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value in ("True", "False", "true", "false"):
        return float(value.lower() == "true")
    return _number(value)


def _target_index(sample: dict, n_options: int, path: Path, line: int) -> int:
    target = sample.get("target")
    if isinstance(target, list):
        if len(target) != 1:
            raise InputError(
                f"target is {target!r}: several right options",
                path=path,
                where=f"line {line}",
                fix="MCG and Brier here need one right option per item",
            )
        target = target[0]
    num = _number(target)
    if num is not None and float(num).is_integer() and 0 <= num < n_options:
        return int(num)
    if isinstance(target, str):  # the option's text: match the continuations the harness scored
        conts = [a.get("arg_1") for a in (sample.get("arguments") or {}).values() if isinstance(a, dict)]
        stripped = [str(c).strip() for c in conts]
        if target.strip() in stripped:
            return stripped.index(target.strip())
    raise InputError(
        f"target {target!r} is neither an option index 0..{n_options - 1} nor one of the options",
        path=path,
        where=f"line {line}",
        fix="give the harness's samples file unchanged",
    )


def _sample_files(paths) -> list[Path]:
    return expand_inputs(
        paths,
        lambda d: sorted(d.rglob("samples_*.jsonl")),
        none_in_folder="samples_<task>_<date>.jsonl",
        fix_folder="run lm_eval with --log_samples --output_path <folder>",
        fix_missing="give samples_<task>_*.jsonl files or their folder",
    )


def _results_beside(path: Path) -> dict:
    """The results JSON the same harness run wrote beside a samples file (same date stamp), or {}."""
    m = _SAMPLES.search(path.name)
    if m:
        twin = path.with_name(f"results_{m['date']}.json")
        if twin.is_file():
            return _load_json(twin)
    found = sorted(path.parent.glob("results_*.json"))
    return _load_json(found[-1]) if len(found) == 1 else {}


def read_lm_eval_samples(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    size_map: Mapping[str, float] | None = None,
    family: str | None = None,
    tokens_per_step: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evidence table, items table) of ``--log_samples`` files (files, or folders searched recursively). Model and
    size come from the results file beside each samples file (the same run), else from the folder name."""
    size_map = dict(size_map or {})
    items = []
    for path in _sample_files(paths):
        twin = _results_beside(path)
        ident_doc = twin or {"model_name": path.parent.name}
        fam, model, scale, checkpoint, step, tokens = _identity(
            ident_doc, path.parent / path.parent.name, size_map, family, tokens_per_step
        )
        m = _SAMPLES.search(path.name)
        task = m["task"] if m else path.stem
        shots = (twin.get("n-shot") or {}).get(task, (twin.get("config") or {}).get("num_fewshot"))
        key = f"{task}/{int(shots)}shot" if isinstance(shots, int | float) else task
        recs = []
        with open(path, "rb") as fh:
            raw_lines = fh.read().split(b"\n")
        for lineno, raw in enumerate(raw_lines, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"is not UTF-8 text (byte {err.start})", path=path, where=f"line {lineno}",
                                 fix="give the harness's samples file unchanged") from None  # fmt: skip
            if text.strip():  # blank lines (the file's last newline) hold no sample
                try:
                    s = _loads(text, path, f"line {lineno}")
                except json.JSONDecodeError as err:
                    raise InputError(
                        f"is not a JSON object ({err.msg})",
                        path=path,
                        where=f"line {lineno}",
                        fix="give the harness's samples file unchanged (one JSON object per line)",
                    ) from None
                if not isinstance(s, dict) or "doc_id" not in s:
                    raise InputError(
                        "lacks doc_id",
                        path=path,
                        where=f"line {lineno}",
                        fix="give a samples_<task>_*.jsonl the harness wrote with --log_samples",
                    )
                resps = s.get("filtered_resps", s.get("resps"))
                if resps is None:
                    raise InputError(
                        "has neither filtered_resps nor resps",
                        path=path,
                        where=f"line {lineno}",
                        fix="give the harness's samples file unchanged",
                    )
                rec = {"item": s["doc_id"], "filter": s.get("filter", ""), "_line": lineno}
                pairs = _ll_pairs(resps, path, lineno)
                if pairs is None:  # generated text
                    text_out = resps[0] if isinstance(resps, list) else resps
                    rec.update(
                        output_type="generate_until", response=str(text_out), target=str(s.get("target"))
                    )
                elif len(pairs) == 1:
                    rec.update(output_type="loglikelihood", logprob=pairs[0][0], correct=pairs[0][1])
                else:
                    ll = np.array([p[0] for p in pairs])
                    t = _target_index(s, len(ll), path, lineno)
                    p = np.exp(ll - np.logaddexp.reduce(ll))
                    onehot = np.zeros_like(p)
                    onehot[t] = 1.0
                    rec.update(
                        output_type="multiple_choice",
                        n_options=float(len(ll)),
                        target_index=float(t),
                        mcg=float(int(np.argmax(ll)) == t),
                        p_target=float(p[t]),
                        logprob=float(ll[t]),
                        brier=float(((p - onehot) ** 2).sum()),
                        option_loglikelihoods=json.dumps([float(x) for x in ll]),
                    )
                for name in s.get("metrics") or []:
                    val = s.get(name)
                    if isinstance(val, list | dict) or name in rec:
                        continue  # recomputed from the options above (brier_score's [gold, probs])
                    num = _number(val)
                    if num is None or not math.isfinite(num):
                        raise InputError(
                            f"per-sample metric {name!r} is {val!r}, not a finite number",
                            path=path,
                            where=f"line {lineno}",
                            fix="give the harness's samples file unchanged",
                        )
                    rec[f"harness_{name}"] = num
                recs.append(rec)
        if not recs:
            raise InputError("has no samples", path=path, fix="give a non-empty samples file")
        df = pd.DataFrame(recs)
        dup = df.duplicated(["item", "filter"], keep=False)
        raise_at_first(
            dup,
            lambda i, df=df: f"doc_id {df['item'].iloc[i]!r} appears twice (filter {df['filter'].iloc[i]!r})",
            path=path,
            where=lambda i, df=df: f"line {df['_line'].iloc[i]}",
            fix="give one line per document and filter",
        )
        df = df.drop(columns="_line")
        df.insert(0, "family", fam)
        df.insert(1, "model", model)
        df.insert(2, "scale", scale)
        df.insert(3, "task", key)
        df["replicate"] = ""
        df["checkpoint"] = checkpoint
        df["step"], df["tokens"], df["source"] = step, tokens, str(path)
        items.append(df)
    items_df = pd.concat(items, ignore_index=True)
    return evidence_from_items(items_df), items_df


def evidence_from_items(items: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, checkpoint, filter): the mean of every per-item quantity as an evidence row, with n_items
    and stderr (SD / sqrt(n)). Several filters of one task name the metric ``<name>[<filter>]``."""
    quantities = [c for c in ("mcg", "brier", "p_target", "logprob", "correct") if c in items.columns]
    quantities += [c for c in items.columns if c.startswith("harness_")]
    rows = []
    group = ["family", "model", "scale", "task", "replicate", "checkpoint", "filter"]
    for keys, g in items.groupby(group, sort=False, dropna=False):
        rec = dict(zip(group, keys, strict=True))
        n_filters = items[(items["model"] == rec["model"]) & (items["task"] == rec["task"])][
            "filter"
        ].nunique()
        for q in quantities:
            if q not in g.columns:
                continue
            v = g[q].to_numpy(dtype=float)
            if np.isnan(v).all():
                continue
            v = v[~np.isnan(v)]
            name = q
            if n_filters > 1 and rec["filter"] not in ("", "none"):
                name = f"{q}[{rec['filter']}]"
            rows.append({
                **{k: rec[k] for k in ("family", "model", "scale", "task", "replicate", "checkpoint")},
                "metric": name, "value": float(v.mean()), "n_items": float(v.size),
                "stderr": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else math.nan,
                "step": float(g["step"].iloc[0]) if "step" in g else math.nan,
                "tokens": float(g["tokens"].iloc[0]) if "tokens" in g else math.nan,
                "source": str(g["source"].iloc[0]) if "source" in g else "",
            })  # fmt: skip
    if not rows:
        raise InputError(
            "no per-item quantity to aggregate (no option log-likelihoods and no numeric metric field)",
            path=str(items["source"].iloc[0]) if len(items) else None,
            fix="give samples of multiple-choice or loglikelihood tasks, or of tasks with per-sample metrics",
        )
    return normalize(pd.DataFrame(rows), source="lm-eval samples")
