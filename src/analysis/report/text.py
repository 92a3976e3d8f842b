"""The words of the audit page: numbers as a reader wants them, one plain sentence per task that cites its numbers,
and resolution warnings (a 0 that more items or samples would resolve, with how many)."""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVEL_WORDS = {0: "continuous", 1: "share", 2: "K-of-K / pass@k"}


def num(v, digits: int = 3) -> str:
    """A number as text: 3 significant digits, 'inf', or 'n/a' for a missing value."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "n/a"
    if np.isnan(v):
        return "n/a"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and 1e3 <= abs(v) < 1e7:
        return f"{int(v):,}"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def count(v) -> str:
    """A count as text ('n/a' when missing): the engine leaves counts it does not know as NaN."""
    try:
        return "n/a" if pd.isna(v) else f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def interval(v, lo, hi) -> str:
    """'0.62 [0.55, 0.70]', or the bare value where the interval is missing."""
    if pd.isna(lo) and pd.isna(hi):
        return num(v)
    return f"{num(v)} [{num(lo)}, {num(hi)}]"


def task_sentence(curves: pd.DataFrame, pairs: pd.DataFrame) -> str:
    """One sentence about one (family, task): its strongest sharp curve with its numbers and verdict, and how it
    compares with its smooth partner of the same outputs."""
    c = curves.sort_values("strength", ascending=False)
    smooth = set(pairs["smooth"]) if len(pairs) else set()
    sharp = c[~c["metric"].isin(smooth)]
    top = (sharp if len(sharp) else c).iloc[0]
    models = str(top["models"]).split(";")
    head = (
        f"On {top['task']} ({top['family']}), {top['label']} goes from {num(top['start'])} ({models[0]}) to "
        f"{num(top['end'])} ({models[-1]}), a change of {interval(top['change'], top['change_lo'], top['change_hi'])}"
    )
    if top["verdict"] == "emergent":
        head += f", and is emergent (E {interval(top['E'], top['E_lo'], top['E_hi'])})"
    elif top["verdict"] == "not supported by the data":
        head += ", but these data carry no interval for it, so no verdict is supported"
    else:
        head += f": {top['verdict']}"
    pr = pairs[pairs["sharp"] == top["metric"]] if len(pairs) else pairs
    if len(pr):
        p = pr.iloc[0]
        partner = curves.loc[curves["metric"] == p["smooth"], "label"]
        name = partner.iloc[0] if len(partner) else p["smooth"]
        diff = interval(p["diff"], p["diff_lo"], p["diff_hi"])
        head += f"; against its smooth partner {name}: {p['verdict']} ({p['basis']} difference {diff})"
    n_em = int((curves["verdict"] == "emergent").sum())
    return head + f"; emergent curves on this task: {n_em} of {len(curves)}."


def resolution_warnings(curves: pd.DataFrame, points: pd.DataFrame) -> list[dict]:
    """One warning per share curve with a point read as 0: the trials behind it, the floor 1/n it is below, and the
    trials needed to resolve a rate ten times below that floor (about 3/r trials for a rate r: the rule of three)."""
    out = []
    shares = curves[curves["value_kind"] == "share"]
    keys = ["family", "task", "metric"]
    zeros = points[(points["value"] == 0)].merge(shares[[*keys, "n_trials", "label"]], on=keys)
    for (fam, task, metric), g in zeros.groupby(keys, sort=False):
        n = float(g["n_trials"].iloc[0])
        if not np.isfinite(n) or n <= 0:
            n = float(g["n_items"].max())
        r = 1.0 / n / 10.0
        models = ", ".join(g.sort_values("scale")["model"].astype(str))
        out.append(
            {
                "family": fam,
                "task": task,
                "metric": metric,
                "models": models,
                "n_trials": n,
                "text": (
                    f"{g['label'].iloc[0]} reads 0 of {n:,.0f} trials for {models}: below the floor 1/n = {num(1 / n)}. "
                    f"A true rate r needs about 3/r trials to show; a rate of {num(r)} (ten times below the floor) "
                    f"needs about {3 / r:,.0f} trials."
                ),
            }
        )
    return out
