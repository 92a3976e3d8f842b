"""The ladder prediction end to end: every method fitted on the fit set, the target predicted per task; backtests
inside the ladder (each size predicted from the smaller ones, each token multiplier from the lower ones) that
choose the method and calibrate its intervals; the calibration table.

Intervals measure the extrapolation error, not only the fit noise: every prediction has a bootstrap sd (the fits
redone on runs resampled with replacement), which grows with the distance beyond the fit set and shrinks with more
runs; the inner backtests' errors in units of their own bootstrap sd give a quantile ``q`` per level (``q`` above
1.64 at 90% says the bootstrap alone is too narrow), and the target's interval is ``pred +- q boot_sd``. Coverage
is checked leaving one inner fold out at a time (its own errors calibrate nothing that judges it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from src.analysis.stats import ladder_data as data
from src.analysis.stats.ladder_methods import ENSEMBLE_OF, METHODS, fit_method, fit_step1, steep_guard
from src.results.errors import InputError

MIN_DISTANCE = 0.3  # a factor 2 in compute: no held-out run is treated as nearer than that
LEVELS = (0.5, 0.8, 0.9, 0.95)
MIN_RUNS = 6  # step 1 has 5 parameters
N_BOOT = 30
FAR = (
    "far:"  # name prefix of the far folds (:func:`far_folds`): they choose the method, they do not calibrate
)


@dataclass
class TaskData:
    task: str
    acc_metric: str
    chance: float
    chance_source: str
    ck: pd.DataFrame  # every checkpoint of every run
    fin: pd.DataFrame  # final values per run


def task_data(ev, task, acc_metrics, loss_metric, last_k, chance_flags, chance_table) -> TaskData:
    acc = data.acc_metric_of(ev, task, acc_metrics)
    ck = data.checkpoints(ev, task, acc, loss_metric)
    chance, src = data.resolve_chance(task, chance_flags, chance_table)
    return TaskData(task, acc, chance, src, ck, data.finals(ck, last_k))


def late(ck: pd.DataFrame, runs: pd.DataFrame, skip_early: float) -> pd.DataFrame:
    """The checkpoints of ``runs`` past the first ``skip_early`` share of each run's steps (all of a run without
    steps): step 2's data."""
    sel = ck.merge(runs[data.RUN_COLS], on=data.RUN_COLS)
    smax = sel.groupby(data.RUN_COLS)["step"].transform("max")
    return sel[sel["step"].isna() | (sel["step"] >= skip_early * smax)]


def smooth(ck: pd.DataFrame, window: int) -> pd.DataFrame:
    """Each run's stepped checkpoints as the moving average of ``window`` consecutive evaluations (loss and
    accuracy; a run with fewer has one point, its mean), as Bhagia et al. smooth step 2's data (their 5);
    stepless checkpoints as they are. ``window`` 1: unchanged."""
    if window <= 1 or ck.empty:
        return ck
    parts = []
    for _, g in ck.groupby(data.RUN_COLS, sort=False):
        s, rest = g[g["step"].notna()], g[g["step"].isna()]
        if len(s) >= window:
            r = s[["loss", "acc"]].rolling(window).mean()
            s = s.assign(loss=r["loss"], acc=r["acc"]).iloc[window - 1 :]
        elif len(s):
            s = s.iloc[[-1]].assign(loss=s["loss"].mean(), acc=s["acc"].mean())
        parts += [s, rest]
    return pd.concat(parts, ignore_index=True)


def predict_runs(td: TaskData, fit_runs: pd.DataFrame, points: pd.DataFrame, methods, skip_early: float,
                 n_boot: int = N_BOOT, seed: int = 0, moving_avg: int = 1, step1_kind: str = "auto") -> pd.DataFrame:  # fmt: skip
    """Each method fitted on ``fit_runs``, predicting every row of ``points`` (scale, tokens, acc): one row per
    (point, method) with the prediction, the guard, the distance beyond the fit set and ``boot_sd``, the sd of the
    prediction over ``n_boot`` refits on runs resampled with replacement (NaN when fewer than half succeed)."""
    if len(fit_runs) < MIN_RUNS:
        raise InputError(f"{len(fit_runs)} runs in the fit set of {td.task!r}; the two-step fit needs at least {MIN_RUNS}",
                         fix="widen the fit set (--max-scale, --mults, --reruns in)")  # fmt: skip
    ck = smooth(late(td.ck, fit_runs, skip_early), moving_avg)
    ck_by = dict(list(ck.groupby(data.RUN_COLS, sort=False)))
    keys = [tuple(k) for k in fit_runs[data.RUN_COLS].to_numpy()]
    cmax = float((6.0 * fit_runs["scale"] * fit_runs["tokens"]).max())
    nd = points[["scale", "tokens"]].to_numpy(float)
    n_tok = min(3, fit_runs["tokens"].round(-6).nunique())  # a family trained on one token count has one
    # distinct runs a resample needs: 5 for L(N, D)'s 5 parameters; with one token count the D term is a constant
    # and L = E' + A N^-alpha has 3 (a family of 7-8 sizes, e.g. Pythia's, then still gets a bootstrap sd)
    need = MIN_RUNS - 1 if n_tok > 1 else 4
    rows, cache = [], {}

    def step1(runs, key):  # step 1 of these runs, fitted once per kind for every two-step method
        def fit(warm, kind):
            if (key, kind) not in cache:
                cache[key, kind] = fit_step1(kind, runs["scale"], runs["tokens"], runs["loss"], warm=warm)
            return cache[key, kind]

        return fit

    for m in methods:
        try:
            pred = fit_method(m, fit_runs, ck, td.chance, step1=step1(fit_runs, "all"), step1_kind=step1_kind)
        except (
            ValueError
        ) as err:  # a fit that cannot be made (too few points, non-positive loss): no prediction
            pred, why = None, f"no fit: {err}"
        reps = np.full((n_boot, len(nd)), np.nan)
        rng = np.random.default_rng(seed)
        for b in range(n_boot if pred else 0):
            idx = rng.integers(0, len(keys), len(keys))
            sub = fit_runs.iloc[idx]
            if (
                sub["scale"].nunique() < (2 if n_tok > 1 else 3)
                or sub["tokens"].nunique() < n_tok
                or len(np.unique(idx)) < need
            ):
                continue
            try:
                ck_b = pd.concat([ck_by[keys[i]] for i in idx if keys[i] in ck_by])
                pb = fit_method(m, sub, ck_b, td.chance, pred.fits, step1(sub, tuple(idx)), step1_kind)
            except ValueError:
                continue
            reps[b] = [pb(n, d).acc for n, d in nd]
        ok = np.isfinite(reps).all(axis=1)
        sd = reps[ok].std(axis=0, ddof=1) if ok.sum() >= max(n_boot // 2, 2) else np.full(len(nd), np.nan)
        for j, p in enumerate(points.itertuples(index=False)):
            pr = pred(p.scale, p.tokens) if pred else None
            dist = max(np.log10(6.0 * p.scale * p.tokens / cmax), MIN_DISTANCE)
            rows.append({"task": td.task, "method": m, "model": p.model, "replicate": getattr(p, "replicate", ""),
                         "actual": p.acc, "loss_actual": p.loss, "pred": pr.acc if pr else np.nan,
                         "loss_pred": pr.loss if pr else np.nan, "guard": pr.guard if pr else why,
                         "distance": dist, "boot_sd": sd[j], "n_boot_ok": int(ok.sum()), "chance": td.chance,
                         "steep": pr.steep if pr else np.nan})  # fmt: skip
    out = pd.DataFrame(rows)
    out["fit_acc_hi"] = float(fit_runs["acc"].max())
    out["fit_acc_span"] = max(float(fit_runs["acc"].max() - fit_runs["acc"].min()), 1e-9)
    out["reach"] = reach(out)
    out["err"] = out["pred"] - out["actual"]
    out["rel_err"] = out["err"].abs() / out["actual"].abs()
    return out


def reach(rows: pd.DataFrame) -> pd.Series:
    """How far each prediction goes beyond the best accuracy of its fit set's runs, in units of the accuracy range
    those runs cover (0: at the best fitted run; 1: one more range above it)."""
    return (rows["pred"] - rows["fit_acc_hi"]) / rows["fit_acc_span"]


def inner_folds(
    fin: pd.DataFrame, fit: data.FitSet, target_scale: float, far: bool = True
) -> list[tuple[str, pd.Series, pd.Series]]:
    """(name, fitted, held out) masks: each size predicted from the fit set's smaller sizes (held out: the runs of
    that size at the fit set's multipliers, also sizes above the fit set but below the target), each multiplier
    from the fit set's lower multipliers at the same sizes (where the multipliers form a grid over at least two
    sizes); a fold is kept when it fits at least :data:`MIN_RUNS` runs. ``far``: also :func:`far_folds`."""
    base = fit.mask(fin)
    pool = data.FitSet(max_scale=target_scale * (1 - 1e-6), min_scale=fit.min_scale, mults=fit.mults,
                       reruns=fit.reruns, exclude=fit.exclude).mask(fin)  # fmt: skip
    folds = []
    for s in sorted(fin.loc[pool, "scale"].unique()):
        fm, hm = base & (fin["scale"] < s * (1 - 1e-6)), pool & (np.abs(fin["scale"] / s - 1) < 1e-6)
        if fm.sum() >= MIN_RUNS and fin.loc[fm, "scale"].nunique() >= 2 and hm.any():
            folds.append((f"size {s:.3g} from smaller", fm, hm))
    mults = sorted(fin.loc[base, "mult"].round(3).unique())
    for k in mults:
        fm, hm = base & (fin["mult"] < k * 0.9), base & (np.abs(fin["mult"] / k - 1) < 0.1)
        # a token extrapolation at sizes the fold fits: only where the multipliers form a grid over the sizes
        same_sizes = (
            set(fin.loc[hm, "scale"]) <= set(fin.loc[fm, "scale"]) and fin.loc[hm, "scale"].nunique() >= 2
        )
        if fm.sum() >= MIN_RUNS and hm.any() and same_sizes:
            folds.append((f"{k:g}xC from lower", fm, hm))
    if far:
        folds += far_folds(fin, base, pool)
    return folds


def far_folds(fin: pd.DataFrame, base: pd.Series, pool: pd.Series) -> list[tuple[str, pd.Series, pd.Series]]:
    """Folds that extrapolate as far in compute as the ladder allows: for each token multiplier ``k`` of the fit
    set (one level, every multiplier, where the multipliers form no grid: a family trained on one token count),
    the fewest smallest sizes at multipliers up to ``k`` that still give :data:`MIN_RUNS` runs over two sizes are
    fitted, and every other run of the pool (larger sizes, larger multipliers, up to the target's size) is held
    out. On the OLMo ladder: 190M-760M at 1-2xC, 190M-370M at 1-5xC and at 1-10xC, predicting up to the 3B at
    10xC (up to ~90x the fitted compute; the 7B is 83x)."""
    b = fin[base]
    rm = b["mult"].round(3)
    grid = rm.nunique() > 1 and (b.groupby(rm)["scale"].nunique() >= 2).all()
    levels = sorted(rm.unique()) if grid else [np.inf]
    folds, seen = [], set()
    for k in levels:
        under = base & (fin["mult"] < k * 1.1 if np.isfinite(k) else True)
        for a in sorted(fin.loc[under, "scale"].unique()):
            fm = under & (fin["scale"] <= a * (1 + 1e-6))
            if fm.sum() >= MIN_RUNS and fin.loc[fm, "scale"].nunique() >= 2:
                break
        else:
            continue
        hm = pool & ~fm
        key = tuple(np.flatnonzero(fm.to_numpy()))
        if hm.any() and key not in seen:
            seen.add(key)
            folds.append((f"{FAR} sizes <= {a:.3g}" + (f" at <= {k:g}xC" if np.isfinite(k) else ""), fm, hm))
    return folds


def backtest_inner(td: TaskData, fit: data.FitSet, target_scale: float, methods, skip_early, n_boot=N_BOOT,
                   seed=0, far=True, moving_avg=1, step1_kind="auto") -> pd.DataFrame:  # fmt: skip
    parts = []
    for name, fm, hm in inner_folds(td.fin, fit, target_scale, far):
        p = predict_runs(
            td, td.fin[fm], td.fin[hm], methods, skip_early, n_boot, seed, moving_avg, step1_kind
        )
        parts.append(p.assign(fold=name))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _scored(inner: pd.DataFrame) -> pd.DataFrame:
    """The inner predictions that calibrate: unguarded, with a bootstrap sd, from the folds that fit every smaller
    size or lower multiplier (the far folds, fitted on 6-9 runs, choose the method but do not calibrate: their
    bootstrap of a 5-parameter step 1 on so few runs understates the spread, and the target is fitted on the whole
    fit set); ``z = |err| / boot_sd``."""
    ok = inner[(inner["guard"] == "") & inner["pred"].notna() & (inner["boot_sd"] > 0)]
    ok = ok[~ok["fold"].astype(str).str.startswith(FAR)]
    return ok.assign(z=ok["err"].abs() / ok["boot_sd"])


def calibration_folds(inner: pd.DataFrame, method: str) -> int:
    """How many folds of ``method``'s inner predictions calibrate (leave-one-fold-out needs 2)."""
    ok = _scored(inner)
    return int(ok.loc[ok["method"] == method, "fold"].nunique())


def min_scores(level: float) -> int:
    """The fewest scores whose ``level`` quantile means something: ``level / (1 - level)`` (9 for 90%, 19 for 95%),
    the n at which the largest of n exchangeable scores first bounds a new one with probability ``level``."""
    return int(np.ceil(level / (1 - level) - 1e-9))


def interval_q(z: np.ndarray, level: float) -> float:
    """The ``level`` quantile of the scores ``z``; ``inf`` when there are fewer than :func:`min_scores` (two inner
    backtests cannot say where 90% of the errors lie: no interval, rather than one from two points); NaN without."""
    z = np.asarray(z, float)
    if z.size == 0:
        return np.nan
    return float(np.quantile(z, level)) if z.size >= min_scores(level) else np.inf


def quantiles(inner: pd.DataFrame, levels=LEVELS) -> pd.DataFrame:
    """Per method and level: the quantile (:func:`interval_q`) of ``|error| / boot_sd`` over the inner predictions."""
    ok = _scored(inner)
    rows = []
    for m, g in ok.groupby("method"):
        z = g["z"].to_numpy()
        for lv in levels:
            rows.append({"method": m, "level": lv, "q": interval_q(z, lv), "n": z.size})
    return pd.DataFrame(rows)


def calibration(inner: pd.DataFrame, levels=LEVELS) -> pd.DataFrame:
    """Leave-one-fold-out coverage: per method and level, the share of each fold's held-out runs (all tasks) inside
    ``pred +- q boot_sd`` with ``q`` from the other folds only."""
    ok = _scored(inner)
    rows = []
    for m, g in ok.groupby("method"):
        for lv in levels:
            hit, n = 0, 0
            for f in g["fold"].unique():
                rest, this = g[g["fold"] != f], g[g["fold"] == f]
                if rest.empty:
                    continue
                q = interval_q(rest["z"].to_numpy(), lv)
                hit += int((this["z"] <= q).sum())
                n += len(this)
            rows.append(
                {
                    "method": m,
                    "nominal": lv,
                    "held_out": n,
                    "covered": hit,
                    "coverage": hit / n if n else np.nan,
                }
            )
    return pd.DataFrame(rows)


#: Inner predictions at least this share of the target's distance beyond its fit set (log10 compute) are the
#: "far" ones the method is chosen on; with fewer than :data:`MIN_FAR` of them, the farthest quarter is used.
FAR_SHARE = 0.5
MIN_FAR = 10
KEY = ["task", "fold", "model", "replicate"]


def far_predictions(inner: pd.DataFrame, target_distance: float | None) -> tuple[pd.DataFrame, float]:
    """The unguarded inner predictions that extrapolate at least :data:`FAR_SHARE` x ``target_distance`` in log10
    compute beyond their fit set (the farthest quarter when fewer than :data:`MIN_FAR` held-out runs are that far,
    or without a target distance), and the threshold used."""
    ok = inner[(inner["guard"] == "") & inner["pred"].notna()]
    if ok.empty:
        raise InputError(
            "no inner backtest could be made", fix="widen the fit set (more sizes or multipliers)"
        )
    thr = (
        FAR_SHARE * target_distance
        if target_distance is not None and np.isfinite(target_distance)
        else np.inf
    )
    far = ok[ok["distance"] >= thr - 1e-12]
    if len(far[KEY].drop_duplicates()) < MIN_FAR:
        thr = float(np.quantile(ok["distance"], 0.75))
        far = ok[ok["distance"] >= thr - 1e-12]
    return far, float(thr)


def _paired(rows: pd.DataFrame) -> pd.DataFrame:
    """Relative errors, one row per held-out run, one column per method, only runs every method predicted."""
    return rows.pivot_table(index=KEY, columns="method", values="rel_err").dropna()


def method_scores(inner: pd.DataFrame, target_distance: float | None = None) -> pd.DataFrame:
    """Per method over the inner backtests' unguarded predictions: mean relative error over all of them and over
    the far ones (:func:`far_predictions`), and on the far ones the paired difference to the best method with its
    standard error."""
    ok = inner[(inner["guard"] == "") & inner["pred"].notna()]
    far, thr = far_predictions(inner, target_distance)
    w_all, w = _paired(ok), _paired(far)
    if w.empty:  # no far run that every method predicted unguarded: each method on its own far runs, unpaired
        w = far.pivot_table(index=KEY, columns="method", values="rel_err")
    best = w.mean().idxmin() if not w.empty else None
    rows = []
    for m in sorted(ok["method"].unique()):
        d = (w[m] - w[best]) if best and m in w else pd.Series(dtype=float)
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else np.nan
        rows.append({"method": m, "inner_mean_rel_err": float(ok.loc[ok["method"] == m, "rel_err"].mean()),
                     "inner_paired_rel_err": float(w_all[m].mean()) if m in w_all else np.nan,
                     "far_rel_err": float(w[m].mean()) if m in w else np.nan, "far_n": len(w),
                     "far_min_distance": thr, "far_diff_to_best": float(d.mean()) if len(d) else np.nan,
                     "far_diff_se": se})  # fmt: skip
    return pd.DataFrame(rows)


def _parts(method: str) -> list[str]:
    return list(ENSEMBLE_OF) if method == "ensemble" else [method]


def choose_method(inner: pd.DataFrame, target_distance: float | None = None) -> tuple[str, str, list[str]]:
    """The rule (docs/analysis.md 'Ladder prediction'): on the inner predictions that extrapolate farthest in
    compute (:func:`far_predictions`: at least half the target's distance), the method with the lowest mean
    relative error; every method within one paired standard error of it ties, and the tied methods are averaged
    (the ensemble counts as its two parts). Returns (name, reason in words, the averaged methods)."""
    sc = method_scores(inner, target_distance).dropna(subset=["far_rel_err"])
    if sc.empty:
        raise InputError("no method predicted every far inner run", fix="widen the fit set or drop a method")
    best = sc.loc[sc["far_rel_err"].idxmin()]
    tied = sc[(sc["far_diff_to_best"] <= sc["far_diff_se"].fillna(0)) | (sc["method"] == best["method"])]
    members = sorted(dict.fromkeys(p for m in tied["method"] for p in _parts(m)))
    where = (f"the {int(best['far_n'])} inner predictions >= {best['far_min_distance']:.2f} decades of compute "
             "beyond their fit set")  # fmt: skip
    if len(tied) == 1:
        return (
            str(best["method"]),
            f"lowest mean relative error on {where} ({best['far_rel_err']:.4f})",
            _parts(str(best["method"])),
        )
    names = ", ".join(f"{r.method} {r.far_rel_err:.4f}" for r in tied.itertuples())
    name = members[0] if len(members) == 1 else "mean(" + "+".join(members) + ")"
    return name, f"tie within one paired standard error on {where} ({names}): their mean", members


def add_mean_method(df: pd.DataFrame, members: list[str], name: str) -> pd.DataFrame:
    """Rows of method ``name``: the mean prediction of ``members`` per held-out run (or target), its bootstrap sd
    the mean of theirs (an upper bound of the mean's sd: correlations at most 1), guarded when a member is."""
    if name in set(df["method"]) or df.empty:
        return df
    key = [c for c in KEY if c in df.columns]
    sub = df[df["method"].isin(members)]
    g = sub.groupby(key, sort=False, dropna=False)
    first = g.first().reset_index()
    n = g["method"].nunique().to_numpy()
    guard = g["guard"].agg(lambda s: "; ".join(x for x in s if x)).to_numpy()
    pred = g["pred"].mean().to_numpy()
    out = first.assign(method=name, pred=np.where(n == len(members), pred, np.nan),
                       boot_sd=g["boot_sd"].mean().to_numpy(), loss_pred=np.nan,
                       guard=np.where(n == len(members), guard, "no fit: a method of the mean is missing"))  # fmt: skip
    out["err"] = out["pred"] - out["actual"]
    out["rel_err"] = out["err"].abs() / out["actual"].abs()
    if "fit_acc_hi" in out:
        out["reach"] = reach(out)
    return pd.concat([df, out], ignore_index=True)


def target_distance(table: pd.DataFrame) -> float:
    """How far the target lies beyond its fit set, in log10 compute (median over the table's tasks): the distance
    the far inner backtests are measured against (:func:`far_predictions`)."""
    return float(
        np.log10(6.0 * table["scale_target"] * table["target_tokens"] / table["fit_compute_max"]).median()
    )


def run(ev: pd.DataFrame, tasks: list[str], target: str, fit: data.FitSet, *, acc_metrics=("acc_len_norm", "acc"),
        loss_metric="bpb", last_k=1, target_checkpoint="final", chance_flags=None, skip_early=0.1,
        methods=tuple(METHODS), level=0.9, n_boot=N_BOOT, seed=0, progress=False, method="auto", moving_avg=1,
        step1_kind="auto"):  # fmt: skip
    """Predict ``target`` on every task with every method; choose the method (``auto``: :func:`choose_method`,
    whose mean of tied methods is added as a method of its own) and calibrate the intervals by the inner
    backtests. Returns (target table with ``chosen``, ``choice``, ``inside``; inner backtests; quantiles)."""
    from tqdm.auto import tqdm

    ev = data.with_tokens(ev)
    ctab = data.table_chance(ev)
    rows, inners = [], []
    for task in tqdm(tasks, desc="ladder: fits and inner backtests per task", unit="task",
                     disable=None if progress else True):  # None: on a terminal only  # fmt: skip
        td = task_data(ev, task, acc_metrics, loss_metric, last_k, chance_flags or {}, ctab)
        tv = data.target_value(td.ck, target, target_checkpoint, last_k)
        fin = td.fin[td.fin["model"] != target]
        td.fin = fin
        fit_runs = fin[fit.mask(fin)]
        point = pd.DataFrame([{"model": target, "replicate": "", "scale": tv["scale"], "tokens": tv["tokens"],
                               "acc": tv["acc"], "loss": tv["loss"]}])  # fmt: skip
        p = predict_runs(td, fit_runs, point, methods, skip_early, n_boot, seed, moving_avg, step1_kind)
        steep = p["steep"].map(steep_guard)  # the target's number only; the inner backtests keep theirs
        p["guard"] = p["guard"].where(p["guard"] != "", steep)
        p = p.assign(target_checkpoint=tv["target_checkpoint"], target_tokens=tv["tokens"], acc_metric=td.acc_metric,
                     chance_source=td.chance_source, n_fit=len(fit_runs), scale_target=tv["scale"],
                     fit_compute_max=float((6.0 * fit_runs["scale"] * fit_runs["tokens"]).max()))  # fmt: skip
        rows.append(p)
        inners.append(
            backtest_inner(
                td, fit, tv["scale"], methods, skip_early, n_boot, seed, True, moving_avg, step1_kind
            )
        )
    table = pd.concat(rows, ignore_index=True)
    inner = pd.concat(inners, ignore_index=True) if inners else pd.DataFrame()
    if method == "auto" and not inner.empty:
        method, why, members = choose_method(inner, target_distance(table))
        if len(members) > 1:
            table, inner = add_mean_method(table, members, method), add_mean_method(inner, members, method)
    elif method == "auto":
        method, why = methods[0], "no inner backtest: the first method"
    else:
        why = "--method"
    qs = quantiles(inner, sorted({*LEVELS, level})) if not inner.empty else pd.DataFrame()
    table = add_intervals(table, qs, level)
    table = inside_flags(table, inner)
    table["chosen"] = table["method"] == method
    table["choice"] = why
    return table, inner, qs


def inside_flags(table: pd.DataFrame, inner: pd.DataFrame) -> pd.DataFrame:
    """``inside``: the target stays inside what the ladder can tell for this task and method: its prediction is
    supported (no guard: step 2 rises above its noise, the loss and compute within their limits) and reaches no
    further beyond the fit set's best accuracy (:func:`reach`, in units of the fitted accuracy range) than the
    held-out runs of the inner backtests of the same task lay beyond their fit sets' (``inner_reach_max``, from
    their actual accuracies: the longest accuracy extrapolation the ladder has tested). No 7B value enters."""
    if inner.empty:
        return table.assign(inner_reach_max=np.nan, inside=False)
    runs = inner.drop_duplicates([*KEY])
    top = ((runs["actual"] - runs["fit_acc_hi"]) / runs["fit_acc_span"]).groupby(runs["task"]).max()
    table = table.assign(inner_reach_max=table["task"].map(top).astype(float))
    table["inside"] = (table["guard"] == "") & (table["reach"] <= table["inner_reach_max"])
    return table


def add_intervals(table: pd.DataFrame, qs: pd.DataFrame, level: float) -> pd.DataFrame:
    """``lo``, ``hi`` = ``pred -+ q boot_sd`` with ``q`` the quantile of the inner backtests; NaN, "no
    interval", where the inner backtests gave no error for the method, too few for the level (``n_calibration``
    below ``level / (1 - level)``, 9 for 90%: ``interval_note`` says so) or the target's bootstrap failed; and ``covers``
    (None where there is no interval or the prediction is guarded)."""
    sel = (
        qs[np.isclose(qs["level"], level)].set_index("method")
        if not qs.empty
        else pd.DataFrame(columns=["q", "n"])
    )
    q_m = table["method"].map(sel["q"]).astype(float)
    n_m = table["method"].map(sel["n"]).fillna(0).astype(int)
    half = (q_m * table["boot_sd"]).where(np.isfinite(q_m))  # inf: too few inner backtests for the level
    need = min_scores(level)
    note = np.where(np.isinf(q_m), [f"{n} inner backtests, {need} needed for {level:.0%}" for n in n_m], "")
    table = table.assign(lo=table["pred"] - half, hi=table["pred"] + half, level=level, n_calibration=n_m,
                         interval_note=note)  # fmt: skip
    cov = (table["lo"] <= table["actual"]) & (table["actual"] <= table["hi"])
    table["covers"] = cov.astype(object).where(half.notna() & (table["guard"] == ""), None)
    return table
