"""The one verdict engine: every command's verdicts on any evidence come from :func:`run_engine`.

For each curve (family, task, metric; the final checkpoint of each model, replicates kept) it resamples the curve
from what the data carry (:mod:`src.analysis.stats.resample`: items, seeds within the family, the source's stderr,
the binomial of a share), and measures on every resample, oriented so that improvement is positive:

- the total change (largest size minus smallest) and its interval;
- Eq. 1 of the paper, and the largest step as a share of all steps;
- the logistic width in decades of N (10% -> 90% of the rise), for curves that take part in a pair, 5+ sizes
  (``min_width_sizes``: with 4 sizes the logistic interpolates them exactly and its width is not a measurement),
  where the grid resolves it (between the smallest spacing of the sizes and their span, in decades).

**Curve verdict** (:func:`curve_verdict`), in this order: "too few sizes" (Eq. 1 cannot reach the threshold at
this many sizes), "not supported by the data" (a size has no interval source), "worsens" (the change's interval
lies below 0), "no real rise" (the lower end of the change's interval is not above both the measurement
resolution and ``min_rise`` of the metric's range: a flat 0.52 -> 0.54 curve with E = inf is not emergent; on a
metric whose floor is 0 and that has no chance level (pass@k, exact match of a generation, a Brier score) a rise
is also real when the metric at least doubles (or halves, lower being better) by the lower end of the ratio's
interval, ``min_ratio``: pass@1 from 3e-5 to 0.02 is a real rise, though far below 5% of the range; such a
rise, real only relative to its floor, is judged emergent only if Eq. 1 of the metric's log also reaches the
threshold, because Eq. 1 on the values reads any steady geometric growth near 0 (a power law) as a jump),
"emergent" (the lower end of Eq. 1's interval is at least the threshold and at most half of the rise comes in
the smaller half of the sizes: a curve that drops most at the smallest sizes and then flattens saturates, it does
not emerge), else "not emergent".

**Pair verdict** (a sharp metric and its smooth partner of the same outputs, :func:`src.analysis.core.vocab.pairs_of`):
the interval of the difference of logistic widths (smooth minus sharp) where both are identified, else of Eq. 1
(sharp minus smooth), on the same resamples where the source pairs them: "sharp above smooth" when it lies above 0,
"smooth above sharp" below, else "no difference"; "no rise to compare" when either curve does not rise for real;
"not supported by the data" when either has no interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.core import vocab
from src.analysis.stats import resample as rs
from src.analysis.stats.intervals import interval_about
from src.analysis.stats.nulls import difference_verdict
from src.analysis.stats.sharpness import (
    emergence_rows,
    largest_step_share,
    logistic_width,
    logistic_width_rows,
    threshold_status,
)
from src.results.errors import InputError


@dataclass
class Settings:
    """The verdict rules' numbers, one set for every command (``--settings FILE``: a YAML with these keys)."""

    threshold: float = 10.0  # Eq. 1 at or above this is "emergent" (the paper's scale)
    level: float = 0.95  # interval level
    n_resamples: int = 1000
    n_width_resamples: int = 200  # logistic refits per curve (the slow part)
    seed: int = 0
    min_rise: float = 0.05  # a real rise exceeds this share of the metric's range (chance or bound to bound)
    min_ratio: float = 2.0  # ... or, on a metric with floor 0 and no chance level, this factor (end / start)
    min_width_sizes: int = (
        5  # the logistic width (4 parameters, or 3 with chance fixed) needs this many sizes
    )

    @classmethod
    def from_yaml(cls, path: str | Path | None, **overrides) -> Settings:
        import yaml

        data = {}
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise InputError("settings file does not exist", path=path, fix="check the path")
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as err:
                raise InputError(
                    f"not valid YAML ({type(err).__name__})", path=path, fix="fix the file"
                ) from err
            if not isinstance(data, dict):
                raise InputError("must be a mapping of setting: value", path=path, fix=f"keys: {cls.keys()}")
            unknown = sorted(set(data) - set(cls.keys()))
            if unknown:
                raise InputError(f"unknown setting(s) {unknown}", path=path, fix=f"use only {cls.keys()}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        out = cls(**data)
        out.check()
        return out

    @classmethod
    def keys(cls) -> list[str]:
        return list(cls.__dataclass_fields__)

    def check(self) -> None:
        ok = (0 < self.level < 1 and self.n_resamples >= 20 and self.n_width_resamples >= 0
              and self.threshold > 0 and 0 <= self.min_rise < 1 and self.min_ratio > 1)  # fmt: skip
        if not ok:
            raise InputError(
                f"settings out of range: {asdict(self)}",
                fix="level in (0, 1), n_resamples >= 20, threshold > 0, 0 <= min_rise < 1, min_ratio > 1",
            )


@dataclass
class Verdicts:
    curves: pd.DataFrame
    pairs: pd.DataFrame
    unpaired: pd.DataFrame
    points: pd.DataFrame
    read: pd.DataFrame
    notices: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    premise: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None


PAIR_ORDER = ["sharp above smooth", "smooth above sharp", "no difference", "no rise to compare",
              "not supported by the data", "too few sizes"]  # fmt: skip


def _ranked_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs with a verdict first (by the lower end of their difference), then those the data cannot judge."""
    rank = pairs["verdict"].map({v: i for i, v in enumerate(PAIR_ORDER)}).fillna(len(PAIR_ORDER))
    key = pairs["diff_lo"].abs().fillna(0.0)
    return (pairs.assign(_r=rank, _k=key).sort_values(["_r", "_k"], ascending=[True, False], kind="stable")
            .drop(columns=["_r", "_k"]).reset_index(drop=True))  # fmt: skip


CURVE_ORDER = [
    "emergent",
    "not emergent",
    "no real rise",
    "worsens",
    "not supported by the data",  # a point Eq. 1 without an interval: above curves that have none at all
    "too few sizes",
]


# ---------------------------------------------------------------------------------------------- selecting rows
def final_rows(table: pd.DataFrame, notices: list[str]) -> pd.DataFrame:
    """Each model's final checkpoint (:func:`src.analysis.core.evidence.final_checkpoints`), the rows of earlier
    checkpoints counted in ``notices``."""
    from src.analysis.core.evidence import final_checkpoints

    t = final_checkpoints(table)
    dropped = int(table["value"].notna().sum()) - len(t)
    if dropped:
        notices.append(
            f"scale curves use each model's final checkpoint: {dropped} rows of earlier checkpoints left out"
        )
    return t


def implied_items(table: pd.DataFrame, notices: list[str]) -> pd.DataFrame:
    """Item counts a share's standard error implies where the source gives no count: lm-eval's stderr of a mean
    of 0/1 outcomes is sqrt(p (1 - p) / (n - 1)), so n = p (1 - p) / stderr^2 + 1. The models of one task are
    scored on the same items, so a model at 0 or 1 (stderr 0: no count of its own) takes the task's median."""
    share = (table["value_kind"] == "share") & table["n_items"].isna()
    if not share.any():
        return table
    p, se = table["value"], table["stderr"]
    n = (p * (1 - p) / se**2 + 1).where(share & (se > 0) & (p > 0) & (p < 1))
    med = n.groupby([table["family"], table["task"], table["metric"]]).transform("median").round()
    fill = share & med.notna()
    if fill.any():
        notices.append(
            f"{int(fill.sum())} share(s) without an item count take the count their stderr implies "
            "(n = p(1-p)/stderr^2 + 1, the median over the task's models): the binomial interval of a 0 or 1"
        )
        table = table.assign(n_items=table["n_items"].where(~fill, med))
    return table


# ------------------------------------------------------------------------------------------------ one curve
def _range(meta: dict) -> float:
    lo, hi, ch, hib = meta["lower"], meta["upper"], meta["chance"], meta["higher_is_better"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return math.nan
    if np.isfinite(ch):
        return (hi - ch) if hib else (ch - lo)
    return hi - lo


def _log_scale(metric: str) -> bool:
    from src.analysis.core.metrics import classify

    info = classify(metric)
    return info is not None and info.kind.family == "perplexity" and not info.name.startswith("log_")


def _early_share(ys: np.ndarray) -> float:
    """Share of the total (oriented) change made between the smallest and the middle size."""
    total = ys[-1] - ys[0]
    mid = (ys.size - 1) // 2
    return float((ys[mid] - ys[0]) / total) if total != 0 else math.nan


def _ratio_applies(meta: dict) -> bool:
    """A relative rise is meaningful where the metric's floor is 0 and no chance level sits above it."""
    ch = meta["chance"]
    return meta["lower"] == 0 and not (np.isfinite(ch) and ch > 0)


def improvement_ratio(y: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """end / start (start / end, lower being better) over the last axis of raw (unoriented) values; inf where the
    denominator is 0 and the numerator not."""
    a, b = (y[..., -1], y[..., 0]) if higher_is_better else (y[..., 0], y[..., -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, np.nan))


def log_emergence(y: np.ndarray, higher_is_better: bool, resolution: float = 0.0) -> float:
    """Eq. 1 of the log of a floor-0 metric's curve (raw values sorted by scale), oriented; zeros lifted to the
    resolution (or to half the smallest positive value where it is unknown); NaN without a positive value."""
    y = np.asarray(y, float)
    pos = y[y > 0]
    if pos.size == 0:
        return math.nan
    ly = np.log(np.maximum(y, resolution if resolution > 0 else pos.min() / 2))
    return float(emergence_rows(ly if higher_is_better else -ly))


def point_rise_floor(meta: dict, y: np.ndarray, settings: Settings) -> tuple[float, float]:
    """For a curve of points without an interval (raw values sorted by scale): the change it must exceed to rise
    for real, and Eq. 1 of its log where the rise is real only relative to a floor of 0 (else NaN), which must
    also reach the threshold for "emergent": :func:`curve_verdict`'s rules as far as a point can meet them."""
    span = _range(meta)
    floor = settings.min_rise * span if math.isfinite(span) else 0.0  # NaN: range unknown
    y, hib = np.asarray(y, float), bool(meta["higher_is_better"])
    if (
        _ratio_applies(meta)
        and improvement_ratio(y, hib) >= settings.min_ratio
        and not abs(y[-1] - y[0]) > floor
    ):
        return 0.0, log_emergence(y, hib)
    return floor, math.nan


def curve_verdict(row: dict, threshold: float, min_rise: float, min_ratio: float = 2.0) -> tuple[str, str]:
    """(verdict, reason) of one measured curve (see the module doc for the order of the rules)."""
    n, name = row["n_sizes"], row["metric"]
    if n < 3 or threshold_status(n, threshold) != "ok":
        return "too few sizes", (
            f"{name}: {n} size(s); Eq. 1 cannot reach {threshold:g} with fewer than 4 sizes, so emergence cannot "
            "be tested here"
        )
    if row["interval_source"] in ("none", "partial"):
        return "not supported by the data", (
            f"{name}: no interval for {row['no_interval']} (no items, seeds, stderr or item count there); "
            f"E = {row['E']:.3g} is a point, not a measurement"
        )
    ch = (f"{row['start']:.3g} -> {row['end']:.3g} (improvement {row['change']:+.3g}, 95% "
          f"[{row['change_lo']:+.3g}, {row['change_hi']:+.3g}])")  # fmt: skip
    if row["change_hi"] < 0:
        return "worsens", f"{name} gets worse with scale: {ch}"
    need = max(row["resolution"], min_rise * row["range"] if np.isfinite(row["range"]) else 0.0)
    ratio_lo = row.get("ratio_lo", math.nan)
    relative = row["change_lo"] > row["resolution"] and ratio_lo >= min_ratio
    if not (row["change_lo"] > need or relative):
        also = (f", nor is its ratio {row['ratio']:.3g} (lower end {ratio_lo:.3g}) at least {min_ratio:g}"
                if np.isfinite(row.get("ratio", math.nan)) else "")  # fmt: skip
        return "no real rise", (
            f"{name} {ch}: the rise is not clearly above {need:.3g} "
            f"({'resolution' if need == row['resolution'] else f'{min_rise:g} of the range'}){also}, so no "
            "Eq. 1 value can make it emergent"
        )
    relative_only = not row["change_lo"] > need
    if relative_only:
        ch += f", {row['ratio']:.3g}x (95% lower end {ratio_lo:.3g}x: a real rise relative to its floor of 0)"
    e = f"E = {row['E']:.3g} [{row['E_lo']:.3g}, {row['E_hi']:.3g}]"
    if row["E_lo"] >= threshold and row["early_share"] > 0.5:
        return "not emergent", (
            f"{name} {ch}; {e}, but {row['early_share']:.0%} of the rise comes in the smaller half of the sizes: "
            "it rises early and saturates, the opposite of an emergent jump"
        )
    e_log = row.get("E_log", math.nan)
    if row["E_lo"] >= threshold and relative_only and not e_log >= threshold:
        return "not emergent", (
            f"{name} {ch}; {e}, but the rise is relative, near the floor: Eq. 1 of the log of {name} is "
            f"{e_log:.3g} < {threshold:g}, a steady geometric rise that Eq. 1 on the values reads as a jump"
        )
    if row["E_lo"] >= threshold:
        return "emergent", f"{name} {ch}; {e}: the lower end is at or above {threshold:g}"
    return "not emergent", f"{name} {ch}; {e}: the lower end is below {threshold:g}"


# ---------------------------------------------------------------------------------------------- the engine
def run_engine(ev, settings: Settings | None = None, progress: bool = True) -> Verdicts:
    """Verdicts on an :class:`~src.analysis.core.readers.Evidence` (or a bare evidence table)."""
    from src.analysis.core.readers import Evidence

    settings = settings or Settings()
    if isinstance(ev, pd.DataFrame):
        ev = vocab.complete(Evidence(ev))
    notices = list(ev.notices)
    table = implied_items(final_rows(ev.table, notices), notices)
    items = ev.items
    undeclared = sorted(
        table.loc[table["level"].isna() | table["higher_is_better"].isna(), "metric"].unique()
    )
    if undeclared:
        notices.append(
            f"left out (direction or level not known): {', '.join(undeclared[:15])}"
            + (" ..." if len(undeclared) > 15 else "")
            + "; declare them (--metrics-file: name: {direction: higher, level: 0|1|2})"
        )
        table = table[~table["metric"].isin(undeclared)]
    if table.empty:
        raise InputError("no curve left to judge", fix="give inputs with known metrics, or declare them")
    B = settings.n_resamples
    curves, pairs, unpaired, points = [], [], [], []
    groups = list(table.groupby(["family", "task"], sort=True))
    items_of = {}
    if items is not None and not items.empty:
        items_of = dict(tuple(items.groupby(["family", "task"], sort=False, observed=True)))
    for (family, task), g in tqdm(groups, desc="verdicts", disable=not progress or len(groups) < 20):
        rng = rs.group_rng(settings.seed, family, task)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter(
                "ignore", RuntimeWarning
            )  # all-NaN resamples (2 sizes have no Eq. 1): NaN out
            c, p, u, pts = _group(family, task, g, items_of.get((family, task)), B, rng, settings)
        curves += c
        pairs += p
        unpaired += u
        points += pts
    curves_df = pd.DataFrame(curves)
    unsupported = int((curves_df["verdict"] == "not supported by the data").sum()) if len(curves_df) else 0
    if unsupported:
        notices.append(
            f"{unsupported} curve(s) not supported by the data: a size has no interval source. Give one: per-item "
            "outcomes (an items file, lm-eval --log_samples), seeds (--column replicate=COL), the source's stderr "
            "(--column stderr=COL), or item counts for shares (--column n_items=COL, or --set n_items=N)"
        )
    rank = curves_df["verdict"].map({v: i for i, v in enumerate(CURVE_ORDER)})
    curves_df = (
        curves_df.assign(_r=rank).sort_values(["_r", "strength"], ascending=[True, False]).drop(columns="_r")
    )
    return Verdicts(
        curves=curves_df.reset_index(drop=True),
        pairs=_ranked_pairs(pd.DataFrame(pairs, columns=PAIR_COLUMNS)),
        unpaired=pd.DataFrame(unpaired, columns=["family", "task", "metric", "note"]),
        points=pd.DataFrame(points),
        read=read_summary(table, ev, curves_df),
        notices=notices,
        settings=asdict(settings),
    )


PAIR_COLUMNS = [
    "family",
    "task",
    "sharp",
    "smooth",
    "basis",
    "paired",
    "diff",
    "diff_lo",
    "diff_hi",
    "verdict",
    "reason",
]


def _group(family, task, g, items, B, rng, settings):
    """Curves, pairs, unpaired notes and points of one (family, task)."""
    models = g.groupby("model")["scale"].first().sort_values()
    order = list(models.index)
    x = models.to_numpy(float)
    reps_of_model = {m: sorted(r) for m, r in g.groupby("model")["replicate"].unique().items()}
    metrics = list(g["metric"].unique())
    # per-item replicates: one resample plan shared by every metric (and every size scored on the same items)
    item_reps: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    if items is not None and not items.empty:
        chosen = g.groupby(["model", "replicate"])["checkpoint"].first()  # the evidence's (final) checkpoint
        by_run = dict(tuple(items.groupby(["model", "replicate", "checkpoint"], sort=False, observed=True)))
        runs = [(m, r) for m in order for r in reps_of_model[m]]
        frames = [by_run.get((m, r, chosen.get((m, r), ""))) for m, r in runs]
        have = [
            (k, f.sort_values("item")) for k, f in zip(runs, frames, strict=True) if f is not None and len(f)
        ]
        if have:
            value_of = g.set_index(["model", "replicate", "metric"])["value"]
            vals = [dict(value_of.loc[(m, r)]) for (m, r), _ in have]
            out = rs.item_replicates([f for _, f in have], metrics, B, rng, vals)
            item_reps = {k: o for (k, _), o in zip(have, out, strict=True)}
    meta_all = g.drop_duplicates("metric").set_index("metric")
    summaries, curves, points = {}, [], []
    pos = {m: j for j, m in enumerate(order)}
    pick_cache: dict[tuple[str, int], np.ndarray] = {}

    def picks_for(m: str, k: int) -> np.ndarray:
        """Seeds drawn with replacement for model m's k runs: one draw shared by every metric (paired)."""
        if (m, k) not in pick_cache:
            pick_cache[(m, k)] = rng.integers(0, k, size=(B, k))
        return pick_cache[(m, k)]

    for metric, gm in g.groupby("metric", sort=False):
        meta = meta_all.loc[metric].to_dict()
        sign = 1.0 if meta["higher_is_better"] else -1.0
        bounds = (meta["lower"], meta["upper"])
        y = np.full(len(order), np.nan)
        reps = np.full((B, len(order)), np.nan)
        sources, missing, n_items, n_trials, n_rep = [], [], [], [], []
        val = gm["value"].to_numpy(float)
        keep = ~np.isnan(val)
        mpos = gm["model"].map(pos).to_numpy()[keep]
        val, rep = val[keep], gm["replicate"].to_numpy()[keep]
        se, ni, nt = (gm[c].to_numpy(float)[keep] for c in ("stderr", "n_items", "n_trials"))
        trials_of = np.where(np.isfinite(nt), nt, ni)
        srt = np.argsort(mpos, kind="stable")
        starts = np.searchsorted(mpos[srt], np.arange(len(order) + 1))
        for j, m in enumerate(order):
            idx = srt[starts[j] : starts[j + 1]]
            if idx.size == 0:
                sources.append("none")
                missing.append(m)
                continue
            vals = val[idx]
            y[j] = vals.mean()
            n_items.append(float(np.median(ni[idx])))
            n_trials.append(float(trials_of[idx].sum()))
            n_rep.append(idx.size)
            noise, nsrc, ireps = [], [], []
            for k in idx:
                d, src = rs.parametric(val[k], se[k], trials_of[k], meta["value_kind"], bounds, B, rng)
                noise.append(d)
                nsrc.append(src)
                ir = item_reps.get((m, rep[k]), {}).get(metric)
                if ir is not None and not np.isclose(np.mean(ir), val[k], rtol=0.05, atol=0.02):
                    ir = None  # the items do not reproduce the value: do not trust them for it
                ireps.append(ir)
            pk = picks_for(m, idx.size) if idx.size >= 2 else None
            r_j, src = rs.size_replicates(vals, noise, nsrc, ireps, B, pk)
            sources.append(src)
            if r_j is None:
                missing.append(m)
            else:
                reps[:, j] = r_j
        if _log_scale(metric):  # perplexity is exp(cross-entropy): judged on its log, the per-token loss
            y, reps = np.log(np.clip(y, 1e-300, None)), np.log(np.clip(reps, 1e-300, None))
            meta = {**meta, "label": f"log {meta['label']}", "lower": math.nan, "upper": math.nan}
        ok = ~np.isnan(y)
        if ok.sum() < 1:
            continue
        xs, ys, rp = x[ok], sign * y[ok], sign * reps[:, ok]
        names = [m for m, k in zip(order, ok, strict=True) if k]
        src_set = sorted({s for s, k in zip(sources, ok, strict=True) if k})
        source = "none" if src_set == ["none"] else ("partial" if "none" in src_set else " / ".join(src_set))
        has_reps = source not in ("none", "partial")
        trials = float(np.nanmin(n_trials)) if n_trials and np.isfinite(np.nanmin(n_trials)) else math.nan
        res = 1.0 / trials if meta["value_kind"] in ("share", "counts") and trials > 0 else 0.0
        row = {
            "family": family, "task": task, "metric": metric, "label": meta["label"],
            "level": int(meta["level"]), "higher_is_better": bool(meta["higher_is_better"]),
            "value_kind": meta["value_kind"], "chance": meta["chance"], "n_sizes": int(ok.sum()),
            "models": ";".join(names), "scales": ";".join(f"{v:.6g}" for v in xs),
            "n_items": float(np.nanmedian(n_items)) if n_items and not np.isnan(n_items).all() else math.nan,
            "n_trials": trials, "n_replicates": int(max(n_rep)) if n_rep else 0, "resolution": res,
            "interval_source": source, "n_resamples": B if has_reps else 0, "no_interval": ", ".join(missing),
            "start": float(y[ok][0]), "end": float(y[ok][-1]), "change": float(ys[-1] - ys[0]),
            "E": float(emergence_rows(ys, res)) if ys.size >= 3 else math.nan,
            "step_share": float(largest_step_share(ys, res)),
            "range": _range(meta),
            "early_share": _early_share(ys),
            "ratio": math.nan, "ratio_lo": math.nan,
            "E_log": (log_emergence(y[ok], bool(meta["higher_is_better"]), res)
                      if _ratio_applies(meta) and ys.size >= 3 else math.nan),
        }  # fmt: skip
        lo_hi = {}
        if has_reps:  # every interval is taken about its own point (stats/intervals.py: interval_about)
            e_reps = emergence_rows(rp, res) if ys.size >= 3 else np.full(B, np.nan)
            lo_hi["change"] = interval_about(rp[:, -1] - rp[:, 0], row["change"], settings.level)
            lo_hi["E"] = interval_about(e_reps, row["E"], settings.level)
            lo_hi["step_share"] = interval_about(
                largest_step_share(rp, res), row["step_share"], settings.level
            )
            if _ratio_applies(meta):
                hib = bool(meta["higher_is_better"])
                row["ratio"] = float(improvement_ratio(y[ok], hib))
                r_reps = improvement_ratio(reps[:, ok], hib)
                r_lo = (
                    np.nanquantile(r_reps, (1 - settings.level) / 2)
                    if np.isfinite(r_reps).any()
                    else math.nan
                )
                row["ratio_lo"] = float(min(r_lo, row["ratio"]))  # about its own point, as every interval
            plo, phi = interval_about(rp, ys, settings.level)
            plo, phi = sign * plo, sign * phi
        else:
            e_reps = None
            plo = phi = np.full(ys.size, np.nan)
        for k in ("change", "E", "step_share"):
            row[f"{k}_lo"], row[f"{k}_hi"] = (float(v) for v in lo_hi.get(k, (math.nan, math.nan)))
        row["width"] = row["width_lo"] = row["width_hi"] = math.nan
        row["threshold_status"] = threshold_status(row["n_sizes"], settings.threshold)
        row["verdict"], row["reason"] = curve_verdict(
            row, settings.threshold, settings.min_rise, settings.min_ratio
        )
        real = row["verdict"] in ("emergent", "not emergent")
        # rank by the evidence: the lower end of Eq. 1 of curves whose rise is real (a flat curve ranks last)
        e_lo = row["E_lo"]
        row["strength"] = float(np.clip(e_lo, 0.0, 1e3)) if real and not np.isnan(e_lo) else 0.0
        if row["verdict"] != "emergent":  # every emergent curve ranks above every other one
            row["strength"] = min(row["strength"], 0.99 * settings.threshold)
        summaries[metric] = {"row": row, "x": xs, "y": ys, "reps": rp if has_reps else None, "e_reps": e_reps,
                             "chance": sign * meta["chance"] if np.isfinite(meta["chance"]) else None}  # fmt: skip
        curves.append(row)
        for j, m in enumerate(names):
            points.append({"family": family, "task": task, "metric": metric, "model": m, "scale": float(xs[j]),
                           "value": float(y[ok][j]), "lo": float(min(plo[j], phi[j])), "hi": float(max(plo[j], phi[j])),
                           "n_replicates": n_rep[j] if j < len(n_rep) else 0,
                           "n_items": n_items[j] if j < len(n_items) else math.nan})  # fmt: skip
    pair_list = vocab.pairs_of(g[["metric", "level", "partner"]])
    pair_rows = [_pair(a, b, summaries, settings) for a, b in pair_list if a in summaries and b in summaries]
    paired_sharp = {a for a, _ in pair_list}
    unpaired = [
        {"family": family, "task": task, "metric": m,
         "note": f"{m} has no smooth partner of the same outputs in the data: a continuous score of the same "
                 "answers (Brier score, probability or log-likelihood of the right answer, edit distance) is "
                 "needed; for lm-evaluation-harness, rerun with --log_samples and read the samples files"}
        for m in metrics
        if m in summaries and summaries[m]["row"]["level"] >= 1 and m not in paired_sharp
        and not any(summaries[o]["row"]["level"] > summaries[m]["row"]["level"] for o in summaries)
    ]  # fmt: skip
    return curves, pair_rows, unpaired, points


def _width(s: dict, settings: Settings) -> tuple[float, np.ndarray | None]:
    """Logistic width of a curve and its resampled widths (NaN / None where not identified or < 4 sizes)."""
    if "width_cache" in s:
        return s["width_cache"]
    out = (math.nan, None)
    x, y = s["x"], s["y"]
    if y.size >= settings.min_width_sizes and settings.n_width_resamples > 0:
        upper = max(1.0, float(y.max() + np.ptp(y)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = logistic_width(x, y, floor=s["chance"], upper=upper)
            # a width below the grid's smallest spacing (any step between two sizes fits as well) or beyond its
            # span (an extrapolation) is not measured by these sizes: not identified
            lx = np.log10(x)
            if fit.identified and np.diff(lx).min() <= fit.width <= lx[-1] - lx[0]:
                w = None
                if s["reps"] is not None:
                    w = logistic_width_rows(
                        x, s["reps"][: settings.n_width_resamples], fit, s["chance"], None, upper
                    )
                out = (fit.width, w)
                row = s["row"]
                row["width"] = fit.width
                if w is not None and np.isfinite(w).any():
                    row["width_lo"], row["width_hi"] = (
                        float(v) for v in interval_about(w, fit.width, settings.level)
                    )
    s["width_cache"] = out
    return out


def _pair(a: str, b: str, summaries: dict, settings: Settings) -> dict:
    sa, sb = summaries[a], summaries[b]
    ra, rb = sa["row"], sb["row"]
    base = {"family": ra["family"], "task": ra["task"], "sharp": a, "smooth": b}
    paired = ra["interval_source"].split(" x ")[0] in ("items", "seeds") and rb["interval_source"].split(" x ")[0] in (
        "items", "seeds")  # fmt: skip
    for r in (ra, rb):
        if r["verdict"] == "too few sizes":
            return {**base, "basis": "", "paired": paired, "diff": math.nan, "diff_lo": math.nan,
                    "diff_hi": math.nan, "verdict": "too few sizes", "reason": r["reason"]}  # fmt: skip
    for r in (ra, rb):
        if r["verdict"] == "not supported by the data":
            return {**base, "basis": "", "paired": False, "diff": math.nan, "diff_lo": math.nan,
                    "diff_hi": math.nan, "verdict": "not supported by the data", "reason": r["reason"]}  # fmt: skip
    for r in (ra, rb):
        if r["verdict"] in ("no real rise", "worsens"):
            return {**base, "basis": "", "paired": paired, "diff": math.nan, "diff_lo": math.nan,
                    "diff_hi": math.nan, "verdict": "no rise to compare", "reason": r["reason"]}  # fmt: skip
    wa, wra = _width(sa, settings)
    wb, wrb = _width(sb, settings)
    if np.isfinite(wa) and np.isfinite(wb) and wra is not None and wrb is not None:
        basis, d, reps = "logistic width", wb - wa, wrb - wra
        unit = "decades"
    else:
        basis, d, reps = "Eq. 1", ra["E"] - rb["E"], sa["e_reps"] - sb["e_reps"]
        unit = ""
    with np.errstate(invalid="ignore"):
        reps = reps[~np.isnan(reps)]
    lo, hi, verdict = difference_verdict(reps, d, settings.level)
    verdict = verdict or "not supported by the data"
    what = "smooth minus sharp logistic width" if basis == "logistic width" else "Eq. 1 of sharp minus smooth"
    reason = f"{what}: {d:+.3g}{(' ' + unit) if unit else ''}, 95% [{lo:+.3g}, {hi:+.3g}]" + (
        "" if paired else " (the two metrics' resamples are independent: a conservative comparison)"
    )
    return {**base, "basis": basis, "paired": paired, "diff": float(d), "diff_lo": lo, "diff_hi": hi,
            "verdict": verdict, "reason": reason}  # fmt: skip


def read_summary(table: pd.DataFrame, ev, curves: pd.DataFrame) -> pd.DataFrame:
    """One row per family: what was read and where its intervals come from."""
    rows = []
    fmt = table["format"] if "format" in table.columns else pd.Series("", index=table.index)
    for fam, g in table.groupby("family"):
        sizes = g.groupby("model")["scale"].first().sort_values()
        c = curves[curves["family"] == fam] if not curves.empty else curves
        rows.append({
            "family": fam, "format": ";".join(sorted(set(fmt[g.index].astype(str)) - {""})),
            "n_models": int(sizes.size), "models": ";".join(sizes.index), "scale_min": float(sizes.min()),
            "scale_max": float(sizes.max()), "n_tasks": int(g["task"].nunique()),
            "metrics": ";".join(sorted(g["metric"].unique())),
            "n_items": float(g["n_items"].median()) if g["n_items"].notna().any() else math.nan,
            "n_replicates": int(g.groupby(["model", "task", "metric"])["replicate"].nunique().max()),
            "interval_sources": ";".join(sorted(c["interval_source"].unique())) if len(c) else "",
        })  # fmt: skip
    return pd.DataFrame(rows)
