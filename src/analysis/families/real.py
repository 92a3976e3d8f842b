"""The paper's LLM predictions tested on real model families (the shared ``llm/families`` data or a user's own),
every verdict from the one engine (:func:`src.analysis.stats.engine.run_engine`, docs/analysis.md "Verdict rules").

Each analysis builds an evidence table (and an items table where the source has per-item outcomes) in the evidence
vocabulary (:mod:`src.analysis.core.evidence`), completes it with what each metric means (:mod:`..core.vocab`:
direction, level, kind of value, bounds) and hands it to the engine; what it writes are the engine's curves and
pairs, with the analysis's own key columns (``axis``, ``fixed``) beside them:

- :func:`fig6_verdicts`: GPT-3 / GPT-2 per item: MCG (level 1) against the exact Brier score and the target
  log-probability (level 0) of the same outputs, intervals from resampling items (the same items for every model
  and metric: paired).
- :func:`resolution_real`: accuracy on random item subsets vs mean per-item probability (Fig. 4 analogue), and
  what the engine concludes from a benchmark of only n items.
- :func:`scale_time_olmo` / :func:`scale_time_pythia`: sharp and smooth metrics of the same runs over parameters
  and over training tokens.
- :func:`operand_arithmetic`: Pythia's arithmetic accuracy, first operands as the items.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize
from src.analysis.core.readers import Evidence
from src.analysis.core.vocab import complete
from src.analysis.stats.engine import Settings, Verdicts, run_engine
from src.analysis.stats.intervals import interval
from src.analysis.stats.nulls import bh, binomial_null, null_pvalues, permutation_pvalue
from src.analysis.stats.sharpness import emergence_rows


def judge(table: pd.DataFrame, items: pd.DataFrame | None = None, settings: Settings | None = None,
          source: str = "real families") -> Verdicts:  # fmt: skip
    """The engine's verdicts on an evidence table built by an analysis (checked and completed as any reader's)."""
    items = pd.DataFrame() if items is None else items
    ev = complete(Evidence(normalize(table, source=source), items))
    return run_engine(ev, settings or Settings(), progress=False)


def _keyed(
    v: Verdicts, keys: pd.DataFrame, nulls=(), n_draws: int = 10000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The engine's curves (with the ``nulls`` p-values asked for) and pairs, with an analysis's key columns
    (``keys``: one row per engine family)."""
    curves = _add_nulls(v.curves, v.points, nulls, n_draws, int(v.settings.get("seed", 0)))
    curves = curves.merge(keys, on="family", how="left")
    pairs = v.pairs.merge(keys, on="family", how="left")
    return curves, pairs


# ------------------------------------------------------------------------------------------------- Fig. 6 real
#: metric -> the items table's per-item column (MCG is the items' ``correct``)
FIG6_QUANTITIES = {"mcg": "correct", "brier": "brier", "logprob": "logprob"}
#: score of a uniform guess over K options, where the source knows K (the engine's "real rise" is a share of the
#: range from chance to the bound): MCG and p(right option) 1/K, the multi-class Brier score (K - 1)/K
CHANCE_OF_K = {"mcg": lambda k: 1.0 / k, "p_target": lambda k: 1.0 / k, "brier": lambda k: (k - 1.0) / k}


def _chance(metric: str, n_options) -> float:
    """Chance level of ``metric`` on items with these numbers of options (NaN unless all have the same K >= 2)."""
    k = np.unique(np.asarray(n_options, dtype=float))
    if metric not in CHANCE_OF_K or k.size != 1 or not (k[0] >= 2):
        return np.nan
    return float(CHANCE_OF_K[metric](k[0]))


def items_evidence(items: pd.DataFrame, quantities: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evidence, items) of per-item outcomes: per (family, model, task) the mean of each quantity over the items,
    with ``n_items``, the standard error and the chance level where every item has the same number of options; a
    metric with an unknown per-item value (3 options, no ``correct``)
    is left out for that model and task. The items table gains one column named like each metric."""
    keys = ["family", "model", "scale", "task"]
    its = items.assign(**{m: items[c] for m, c in quantities.items()})
    for col in ("replicate", "checkpoint"):
        its[col] = its[col].fillna("").astype(str) if col in its else ""
    rows = []
    for key, g in its.groupby(keys, sort=True):
        for m in quantities:
            v = g[m].to_numpy(float)
            if v.size == 0 or np.isnan(v).any():
                continue
            k = g["n_options"] if "n_options" in g else []
            rows.append({**dict(zip(keys, key, strict=True)), "metric": m, "value": float(v.mean()),
                         "n_items": float(v.size), "stderr": float(v.std(ddof=1) / np.sqrt(v.size))
                         if v.size > 1 else np.nan, "chance": _chance(m, k)})  # fmt: skip
    return pd.DataFrame(rows), its


def fig6_verdicts(
    items: pd.DataFrame,
    *,
    settings: Settings | None = None,
    nulls: tuple[str, ...] = (),
    n_draws: int = 10000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, pairs) of the engine on per-item MCG, exact Brier and target log-probability: one curve per
    (family, task, metric) with its interval source (items), total change, Eq. 1 and their intervals and the
    curve verdict; one pair per (MCG, smooth metric) with the paired verdict. ``nulls``: ``permutation`` (exact)
    and/or ``binomial`` (shares of items only) p-values of Eq. 1 per curve and their BH q within each metric,
    added as columns (tests against chance orderings, not verdicts)."""
    settings = settings or Settings()
    table, its = items_evidence(items, FIG6_QUANTITIES)
    v = judge(table, its, settings, source="inverse-scaling items")
    curves = _add_nulls(v.curves, v.points, nulls, n_draws, settings.seed)
    return curves, v.pairs


def fig6_real(items: pd.DataFrame, **kw) -> pd.DataFrame:
    """The curves of :func:`fig6_verdicts`."""
    return fig6_verdicts(items, **kw)[0]


def _add_nulls(curves: pd.DataFrame, points: pd.DataFrame, nulls, n_draws: int, seed: int) -> pd.DataFrame:
    """p-values of Eq. 1 of each oriented curve (the engine's points) under the chosen nulls: ``permutation``
    (every order of the sizes up to 8, exact) and ``binomial`` (a share of items with known n_items: smooth truth, a
    line in log N, each size re-measured on n_items items; NaN for other metrics), with BH q within each metric."""
    if not nulls or curves.empty:
        return curves
    rng = np.random.default_rng(seed + 1)
    out = curves.copy()
    pts = points.groupby(["family", "task", "metric"])
    for i, row in out.iterrows():
        p = pts.get_group((row["family"], row["task"], row["metric"])).sort_values("scale")
        hib = bool(row["higher_is_better"])
        x, y = p["scale"].to_numpy(float), p["value"].to_numpy(float) * (1.0 if hib else -1.0)
        res = float(row["resolution"])
        for kind in nulls:
            if kind == "permutation":
                out.loc[i, "p_permutation"] = permutation_pvalue(
                    y, stat=lambda r, res=res: emergence_rows(r, res), n_draws=n_draws, rng=rng
                )[0]
            elif kind == "binomial":
                n = row["n_items"]
                if row["value_kind"] != "share" or not (np.isfinite(n) and n > 0) or y.size < 3:
                    out.loc[i, "p_binomial"] = np.nan
                    continue
                draws = binomial_null(x, y if hib else -y, int(n), n_draws, rng, higher_is_better=hib)
                obs = emergence_rows(y, res)
                out.loc[i, "p_binomial"] = float(null_pvalues([obs], emergence_rows(draws, res)[None, :])[0])
            else:
                raise ValueError(f"null must be 'permutation' or 'binomial', got {kind!r}")
    for kind in nulls:
        out[f"q_{kind}"] = np.nan
        for _, idx in out.groupby("metric").groups.items():
            out.loc[idx, f"q_{kind}"] = bh(out.loc[idx, f"p_{kind}"])
    return out


def fig6_summary(curves: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (family, task): E of MCG, Brier and log p with their 95% intervals and curve verdicts side by side
    (``E_<m>``, ``E_<m>_lo``, ``E_<m>_hi``, ``verdict_<m>``), and (given ``pairs``) the engine's paired verdict of
    MCG against each smooth metric (``mcg_vs_<m>``, on ``basis_<m>``: difference ``d_<m>`` [``d_<m>_lo``,
    ``d_<m>_hi``]); ``mcg_above_brier``: that verdict is "sharp above smooth"."""
    wide = curves.pivot_table(index=["family", "task"], columns="metric",
                              values=["E", "E_lo", "E_hi", "verdict"], aggfunc="first")  # fmt: skip
    out = pd.DataFrame(index=wide.index)
    for m in FIG6_QUANTITIES:
        if ("E", m) in wide:
            out[f"E_{m}"] = wide[("E", m)].astype(float)
            out[f"E_{m}_lo"] = wide[("E_lo", m)].astype(float)
            out[f"E_{m}_hi"] = wide[("E_hi", m)].astype(float)
            out[f"verdict_{m}"] = wide[("verdict", m)]
    out = out.reset_index()
    if pairs is not None and not pairs.empty:
        for smooth in ("brier", "logprob"):
            p = pairs[(pairs["sharp"] == "mcg") & (pairs["smooth"] == smooth)]
            names = {"verdict": f"mcg_vs_{smooth}", "basis": f"basis_{smooth}", "diff": f"d_{smooth}",
                     "diff_lo": f"d_{smooth}_lo", "diff_hi": f"d_{smooth}_hi"}  # fmt: skip
            out = out.merge(
                p[["family", "task", *names]].rename(columns=names), on=["family", "task"], how="left"
            )
    if "mcg_vs_brier" in out:
        out["mcg_above_brier"] = out["mcg_vs_brier"] == "sharp above smooth"
    return out


# ---------------------------------------------------------------------------------------------- resolution
def resolution_real(
    items: pd.DataFrame,
    *,
    sizes=(10, 20, 50, 100, 200, 500),
    n_subsets: int = 500,
    n_verdict_subsets: int = 20,
    seed: int = 0,
    level: float = 0.95,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Per (family, task, subset size n, model): accuracy (MCG) and mean p_target on ``n_subsets`` random item
    subsets of size n (without replacement, the same subset for every model, as a smaller benchmark would be):
    their mean and central ``level`` range, and the central range and median of Eq. 1 over the subsets (accuracy
    ties at 1/n). What a benchmark of n items would conclude: the engine run on each of the first
    ``n_verdict_subsets`` subsets alone (its own item resamples): ``share_subsets_acc_emergent`` (share whose
    accuracy curve the engine calls emergent), ``verdict_acc_vs_p`` (the most common paired verdict of accuracy
    against mean probability) and ``share_verdict_acc_vs_p`` (its share). ``n = all`` (the whole task, the
    engine's own verdicts on every item) is the last row of each group. The pairs here are judged on Eq. 1
    (``n_width_resamples = 0``): 200 logistic refits per curve cost seconds per subset, and the subsets and the
    whole task must be judged alike; the curve verdicts do not use the widths."""
    settings = replace(settings or Settings(), n_width_resamples=0)
    rng = np.random.default_rng(seed)
    a_lo, a_hi = (1 - level) / 2, 1 - (1 - level) / 2
    rows, ev_rows, it_rows, keys = [], [], [], []
    for (fam, task), g in items.groupby(["family", "task"], sort=True):
        if g["correct"].isna().any() or g["n_options"].max() != 2:
            continue
        models = g.groupby("model")["scale"].first().sort_values()
        acc = g.pivot_table(index="model", columns="item", values="correct").loc[models.index].dropna(axis=1)
        prob = g.pivot_table(index="model", columns="item", values="p_target").loc[models.index][acc.columns]
        a, p = acc.to_numpy(float), prob.to_numpy(float)
        total = a.shape[1]
        for n in [s for s in sizes if s < total] + [total]:
            pick = (
                np.arange(total)[None, :]
                if n == total
                else np.argsort(rng.random((n_subsets, total)), axis=1)[:, :n]
            )
            acc_s, prob_s = a[:, pick].mean(axis=2), p[:, pick].mean(axis=2)  # [models, subsets]
            e_acc, e_prob = emergence_rows(acc_s.T, 1.0 / n), emergence_rows(prob_s.T)
            e_acc_lo, e_acc_hi = (float(v) for v in interval(e_acc, level))
            e_p_lo, e_p_hi = (float(v) for v in interval(e_prob, level))
            for s in range(min(n_verdict_subsets, pick.shape[0])):
                fam_key = f"{fam}|{task}|{n}|{s}"
                keys.append({"family": fam_key, "_family": fam, "_task": task, "n": n, "subset": s})
                for j, (model, scale) in enumerate(models.items()):
                    cols = acc.columns[pick[s]]
                    ev_rows += [{"family": fam_key, "model": model, "scale": scale, "task": task, "metric": m,
                                 "value": float(v[j, pick[s]].mean()), "n_items": float(n), "chance": 0.5}  # 2 options
                                for m, v in (("mcg", a), ("p_target", p))]  # fmt: skip
                    it_rows.append(pd.DataFrame({"family": fam_key, "model": model, "scale": scale, "task": task,
                                                 "item": np.asarray(cols), "mcg": a[j, pick[s]],
                                                 "p_target": p[j, pick[s]]}))  # fmt: skip
            for j, (model, scale) in enumerate(models.items()):
                rows.append({
                    "family": fam, "task": task, "n": n, "is_all": n == total, "model": model, "scale": scale,
                    "acc_mean": acc_s[j].mean(), "acc_lo": np.quantile(acc_s[j], a_lo),
                    "acc_hi": np.quantile(acc_s[j], a_hi), "acc_share_zero": float((acc_s[j] == 0).mean()),
                    "p_mean": prob_s[j].mean(), "p_lo": np.quantile(prob_s[j], a_lo),
                    "p_hi": np.quantile(prob_s[j], a_hi),
                    "E_acc_lo": e_acc_lo, "E_acc_hi": e_acc_hi, "E_p_lo": e_p_lo, "E_p_hi": e_p_hi,
                    "E_acc_median": np.median(e_acc), "E_p_median": np.median(e_prob),
                })  # fmt: skip
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    its = pd.concat(it_rows, ignore_index=True).assign(replicate="", checkpoint="")
    v = judge(pd.DataFrame(ev_rows), its, settings, source="inverse-scaling item subsets")
    k = pd.DataFrame(keys)
    acc_v = v.curves[v.curves["metric"] == "mcg"].merge(k, on="family")
    pair_v = v.pairs.merge(k, on="family")
    by = ["_family", "_task", "n"]
    em = (
        acc_v.groupby(by)["verdict"]
        .agg(lambda s: float((s == "emergent").mean()))
        .rename("share_subsets_acc_emergent")
    )
    acc_verdict = acc_v.groupby(by)["verdict"].agg(lambda s: s.value_counts().index[0]).rename("verdict_acc")
    top = pair_v.groupby(by)["verdict"].agg(lambda s: s.value_counts().index[0]).rename("verdict_acc_vs_p")
    share = pair_v.groupby(by)["verdict"].agg(lambda s: float(s.value_counts().iloc[0] / len(s)))
    count = acc_v.groupby(by).size().rename("n_verdict_subsets")
    summ = pd.concat([em, acc_verdict, top, share.rename("share_verdict_acc_vs_p"), count], axis=1)
    summ = summ.reset_index().rename(columns={"_family": "family", "_task": "task"})
    return out.merge(summ, on=["family", "task", "n"], how="left")


# ------------------------------------------------------------------------------------------ scale and time
def olmo_accuracy(ev: pd.DataFrame, reruns: bool = False) -> pd.DataFrame:
    """OLMo-ladder rows with one accuracy per task: ``acc_len_norm`` where the task has it, else ``acc``
    (BoolQ), renamed ``acc`` (both level 1); plus ``p_correct`` and ``bpb``. Reruns (replicate != "") are left out
    unless ``reruns`` (the engine keeps them as seeds of their run)."""
    ev = ev[ev["task"].str.contains("_rc_")]
    if not reruns:
        ev = ev[ev["replicate"] == ""]
    has_norm = set(ev.loc[ev["metric"] == "acc_len_norm", "task"])
    acc = ev[
        ((ev["metric"] == "acc_len_norm") & ev["task"].isin(has_norm))
        | ((ev["metric"] == "acc") & ~ev["task"].isin(has_norm))
    ].assign(metric="acc")
    return pd.concat([acc, ev[ev["metric"].isin(["p_correct", "bpb"])]], ignore_index=True)


def _final(ev: pd.DataFrame) -> pd.DataFrame:
    last = ev.sort_values(["tokens", "step"]).groupby(["model", "replicate"])["checkpoint"].last()
    key = pd.MultiIndex.from_frame(ev[["model", "replicate", "checkpoint"]])
    return ev[key.isin(pd.MultiIndex.from_frame(last.reset_index()[["model", "replicate", "checkpoint"]]))]


def _over(rows: list[pd.DataFrame], keys: list[dict], g: pd.DataFrame, family: str, axis: str, fixed: str,
          model: pd.Series, scale: pd.Series) -> None:  # fmt: skip
    """Add one engine family: the rows ``g`` as models ``model`` at ``scale`` (each row its own final point)."""
    rows.append(g.assign(family=family, model=model.astype(str), scale=scale.astype(float), checkpoint=""))
    keys.append({"family": family, "axis": axis, "fixed": fixed})


def scale_time_olmo(
    ev: pd.DataFrame, settings: Settings | None = None, nulls=(), n_draws: int = 10000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Engine curves and pairs of each (task, metric) of the OLMo ladder along two axes, each with the 5 final
    models: over parameters (one engine family per token budget k x Chinchilla: ``OLMo-ladder <k>xC``, scale =
    parameters) and over training tokens (one engine family per model size: ``OLMo-ladder <size>``, its models
    the runs of the 5 budgets, scale = training tokens of each run's final checkpoint). The 7B runs are on neither
    axis. The ladder's CSVs give one score per checkpoint, no items or stderr; the 1xC reruns are seeds of their
    run, so only curves whose every point has a rerun get an interval; the others are "not supported by the data"."""
    fin = _final(olmo_accuracy(ev[ev["chinchilla_multiplier"].notna()], reruns=True))
    rows, keys = [], []
    for k, g in fin.groupby("chinchilla_multiplier"):
        _over(rows, keys, g, f"OLMo-ladder {k:g}xC", "params", f"{k:g}xC", g["size"], g["scale"])
    for size, g in fin.groupby("size"):
        _over(rows, keys, g, f"OLMo-ladder {size}", "tokens", str(size), g["model"], g["tokens"])
    v = judge(pd.concat(rows, ignore_index=True), settings=settings, source="OLMo ladder")
    return _keyed(v, pd.DataFrame(keys), nulls, n_draws)


def pythia_lambada(ev: pd.DataFrame) -> pd.DataFrame:
    """LAMBADA accuracy and log perplexity (``log ppl`` = mean nats per target token) of a Pythia results evidence
    table, for the figure (the engine reads ``ppl`` itself and judges it on its log)."""
    lam = ev[ev["task"].str.startswith("lambada_openai")]
    acc = lam[lam["metric"] == "acc"]
    ppl = lam[lam["metric"] == "ppl"].copy()
    ppl["value"] = np.log(ppl["value"])
    ppl["stderr"] = ppl["stderr"] / np.exp(ppl["value"])  # delta method
    ppl["metric"] = "log_ppl"
    return pd.concat([acc, ppl], ignore_index=True)


def scale_time_pythia(
    ev: pd.DataFrame,
    *,
    n_points: int | None = None,
    min_step: int = 1,
    settings: Settings | None = None,
    nulls=(),
    n_draws: int = 10000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Engine curves and pairs of LAMBADA accuracy and perplexity (judged on its log) of Pythia results: over
    parameters (the final checkpoint of each size, one engine family ``<family> step<N>``) and over training tokens
    (one engine family per size, ``<model> over tokens``: its checkpoints from ``min_step`` on as the models,
    scale = training tokens; ``n_points`` of them nearest a geometric grid, by default as many as there are sizes,
    so both axes have equally many points). Intervals: the harness's stderr (each metric drawn on its own)."""
    from src.results.errors import InputError

    lam = ev[ev["task"].str.startswith("lambada_openai") & ev["metric"].isin(["acc", "ppl"])]
    if lam.empty:
        raise InputError("no LAMBADA (lambada_openai) acc or ppl in the Pythia results",
                         fix="give lm-eval results folders of a run that evaluated lambada_openai")  # fmt: skip
    if lam["tokens"].isna().any():
        raise InputError("Pythia checkpoints without training tokens", fix="give --tokens-per-step")
    final_step = lam["step"].max()
    n_points = n_points or lam["model"].nunique()
    rows, keys = [], []
    fin = lam[lam["step"] == final_step]
    fam = str(fin["family"].iloc[0])
    _over(rows, keys, fin, f"{fam} step{int(final_step)}", "params", f"step{int(final_step)}", fin["model"],
          fin["scale"])  # fmt: skip
    for model, c in lam.groupby("model"):
        c = c[c["step"] >= min_step]
        steps = np.sort(c["step"].unique())
        if steps.size < 3:
            continue
        grid = np.geomspace(steps[0], steps[-1], n_points)
        keep = steps[sorted({int(np.argmin(np.abs(np.log(steps) - np.log(s)))) for s in grid})]
        c = c[c["step"].isin(keep)]
        _over(rows, keys, c, f"{model} over tokens", "tokens", str(model), c["checkpoint"], c["tokens"])
    v = judge(pd.concat(rows, ignore_index=True), settings=settings, source="Pythia results")
    return _keyed(v, pd.DataFrame(keys), nulls, n_draws)


# ------------------------------------------------------------------------------------------------ arithmetic
def operand_arithmetic(
    ev: pd.DataFrame,
    *,
    fewshot: int | None = None,
    tokens_per_step: float = 2_097_152.0,
    settings: Settings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean, curves): mean accuracy over first operands per (operation, model, checkpoint) at ``fewshot`` shots
    (default: the most), and the engine's curves of it over parameters (one engine family per checkpoint,
    ``<family> step<N>``) and over training tokens (one per size, ``<model> over tokens``: its checkpoints after
    step 0, scale = step x ``tokens_per_step``). The first operands are the items (the intervals resample them);
    accuracy has no smooth partner in these tables, so there are no pairs."""
    shots = fewshot if fewshot is not None else int(ev["fewshot"].max())
    ev = ev[ev["fewshot"] == shots]
    mean = (
        ev.groupby(["operation", "family", "model", "scale", "step"])["value"]
        .agg(["mean", "size", lambda v: (v > 0).mean()])
        .reset_index()
        .rename(columns={"mean": "acc", "size": "n_operands", "<lambda_0>": "share_operands_above_0"})
    )
    mean["fewshot"] = shots
    base = ev.assign(task="arithmetic_" + ev["operation"] + f"/{shots}shot", item=ev["operand"].astype(int),
                     acc=ev["value"], checkpoint="")  # fmt: skip
    table = mean.assign(
        task="arithmetic_" + mean["operation"] + f"/{shots}shot", metric="acc", value=mean["acc"]
    )
    rows, its, keys = [], [], []
    for step, g in table.groupby("step"):
        fam = f"{g['family'].iloc[0]} step{int(step)}"
        _over(rows, keys, g, fam, "params", f"step{int(step)}", g["model"], g["scale"])
        b = base[base["step"] == step]
        its.append(b.assign(family=fam))
    for model, g in table[table["step"] > 0].groupby("model"):
        fam = f"{model} over tokens"
        name = "step" + g["step"].astype(np.int64).astype(str)
        _over(rows, keys, g, fam, "tokens", str(model), name, g["step"] * tokens_per_step)
        b = base[(base["model"] == model) & (base["step"] > 0)]
        its.append(b.assign(family=fam, model="step" + b["step"].astype(np.int64).astype(str),
                            scale=b["step"] * tokens_per_step))  # fmt: skip
    items = pd.concat(its, ignore_index=True)[["family", "model", "scale", "task", "item", "replicate",
                                                "checkpoint", "acc"]]  # fmt: skip
    ev_table = pd.concat(rows, ignore_index=True).drop(
        columns=["acc", "n_operands", "share_operands_above_0"]
    )
    v = judge(ev_table, items, settings, source="Pythia arithmetic by operand")
    return mean, _keyed(v, pd.DataFrame(keys))[0]


# ---------------------------------------------------------------------------------------------- claim table
def claim_rows(analysis: str, curves: pd.DataFrame) -> pd.DataFrame:
    """The engine's curves of one analysis for the joint claim table: ``analysis``, ``axis`` (params or tokens)
    and ``fixed`` (the budget, checkpoint or size held fixed) in front of the engine's own columns."""
    t = curves.copy()
    t["analysis"] = analysis
    if "axis" not in t:
        t["axis"] = "params"
    if "fixed" not in t:
        t["fixed"] = ""
    front = ["analysis", "axis", "fixed"]
    return t[front + [c for c in t.columns if c not in front]]
