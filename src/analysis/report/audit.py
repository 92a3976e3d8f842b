"""``write_audit``: the verdict engine's output as one page a researcher can read, cite and share.

The input is any object with the engine's attributes (``curves``, ``pairs``, ``unpaired``, ``points``, ``read``,
``notices``, ``settings``; optionally ``premise`` and ``backtest``); the output is ``audit.html`` (self-contained:
figures embedded, opens from disk), ``audit.pdf`` (the same sections) and the two verdict tables as CSV.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pandas as pd

from src.analysis.report import html as H
from src.analysis.report.figures import summary_figure, task_figure, y_limits
from src.analysis.report.pdf import chromium, write_pdf
from src.analysis.report.text import resolution_warnings, task_sentence

EXPAND_UP_TO = 12  # families with at most this many tasks open by default; larger ones start collapsed


COLUMNS = {
    "pairs": ["family", "task", "sharp", "smooth", "basis", "paired", "diff", "diff_lo", "diff_hi", "verdict", "reason"],
    "unpaired": ["family", "task", "metric", "note"],
    "points": ["family", "task", "metric", "model", "scale", "value", "lo", "hi", "n_replicates", "n_items"],
    "read": ["family", "format", "n_models", "models", "scale_min", "scale_max", "n_tasks", "metrics", "n_items",
             "n_replicates", "interval_sources"],
}  # fmt: skip


def _frame(v, name: str) -> pd.DataFrame:
    """``v.<name>`` with the contract's columns (an absent or column-less table becomes an empty one)."""
    df = getattr(v, name, None)
    df = pd.DataFrame() if df is None else df
    missing = [c for c in COLUMNS.get(name, []) if c not in df.columns]
    return df.assign(**{c: pd.Series(dtype=object) for c in missing}) if missing else df


def normalise(verdicts) -> SimpleNamespace:
    """The engine's output with every table present and carrying its columns; the input is not modified."""
    return SimpleNamespace(
        curves=verdicts.curves, pairs=_frame(verdicts, "pairs"), unpaired=_frame(verdicts, "unpaired"),
        points=_frame(verdicts, "points"), read=_frame(verdicts, "read"),
        notices=list(getattr(verdicts, "notices", None) or []), settings=dict(getattr(verdicts, "settings", None) or {}),
        premise=getattr(verdicts, "premise", None), backtest=getattr(verdicts, "backtest", None),
    )  # fmt: skip


def tasks_in_order(curves: pd.DataFrame, pairs: pd.DataFrame) -> list[dict]:
    """One entry per (family, task), strongest first (the task's largest curve strength), with its sentence."""
    out = []
    for (fam, task), c in curves.groupby(["family", "task"], sort=False):
        p = pairs[(pairs["family"] == fam) & (pairs["task"] == task)] if len(pairs) else pairs
        em = c.loc[c["verdict"] == "emergent", "metric"].tolist()
        above = p.loc[p["verdict"] == "sharp above smooth", "sharp"].tolist() if len(p) else []
        out.append(
            {
                "family": fam,
                "task": task,
                "id": H.anchor(fam, task),
                "strength": float(c["strength"].max()),
                "emergent": ", ".join(em) if em else "none",
                "sharp_above": ", ".join(above) if above else "none",
                "sentence": task_sentence(c, p),
            }
        )
    return sorted(out, key=lambda t: -t["strength"] if pd.notna(t["strength"]) else float("inf"))


def family_sections(v, tasks: list[dict], expand: bool, dpi: int) -> tuple[str, dict]:
    """Per family a <details> block with one section per task (sentence, small multiples, curve table); also
    returns the figures by (family, task) for the PDF fallback."""
    curves, pairs, points = v.curves, _frame(v, "pairs"), v.points
    ylims = y_limits(points, curves)
    figs, out = {}, ["<h2 id='families'>Families: each sharp metric beside its smooth partner</h2>"]
    for fam in dict.fromkeys(curves["family"]):
        ft = [t for t in tasks if t["family"] == fam]
        opened = " open" if expand or len(ft) <= EXPAND_UP_TO else ""
        out.append(
            f"<details{opened} id='{H.anchor(fam, '')}'><summary>{H.esc(fam)}: {len(ft)} tasks</summary>"
        )
        for t in ft:
            c = curves[(curves["family"] == fam) & (curves["task"] == t["task"])]
            p = points[(points["family"] == fam) & (points["task"] == t["task"])]
            pr = pairs[(pairs["family"] == fam) & (pairs["task"] == t["task"])] if len(pairs) else pairs
            fig = task_figure(p, c, pr, ylims)
            figs[(fam, t["task"])] = fig
            alt = f"{fam} {t['task']}: {', '.join(c['metric'])} against parameters"
            out.append(
                f"<section class='task' id='{t['id']}'><h3>{H.esc(fam)} · {H.esc(t['task'])}</h3>"
                f"<p>{H.esc(t['sentence'])}</p>{H.png(fig, alt, dpi)}"
                f"{H.curve_table(c.sort_values('strength', ascending=False))}</section>"
            )
        out.append("</details>")
    return "".join(out), figs


def write_audit(verdicts, out_dir: Path, title: str) -> dict[str, Path]:
    """Write ``audit.html``, ``audit.pdf``, ``curves.csv`` and ``pairs.csv`` into ``out_dir``; returns their paths
    by kind ("html", "pdf", "curves", "pairs")."""
    matplotlib.use("Agg", force=False)
    verdicts = normalise(verdicts)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = dict(getattr(verdicts, "settings", {}) or {})
    threshold = float(settings.get("threshold", 10.0))
    curves, pairs = verdicts.curves, _frame(verdicts, "pairs")
    tasks = tasks_in_order(curves, pairs)
    many = len(tasks) > 40
    dpi = 72 if many else 100
    summary = summary_figure(curves, threshold)
    warnings = resolution_warnings(curves, verdicts.points)
    fam_html, figs = family_sections(verdicts, tasks, expand=False, dpi=dpi)
    sub = (
        f"{len(verdicts.read)} families · {len(tasks)} tasks · {len(curves)} curves · threshold E = {threshold:g} · "
        f"{float(settings.get('level', 0.95)):.0%} intervals from {settings.get('n_resamples', 'n/a')} resamples, "
        f"seed {settings.get('seed', 'n/a')}"
    )
    nav = (
        "<p class='sub'><a href='#read'>what was read</a> · <a href='#verdicts'>verdicts</a> · "
        "<a href='#summary'>summary figure</a> · <a href='#tasks'>tasks</a> · <a href='#resolution'>resolution</a> · "
        "<a href='#families'>families</a></p>"
    )
    notices = "".join(
        f"<div class='notice'>{H.esc(n)}</div>" for n in (getattr(verdicts, "notices", None) or [])
    )

    def body(expand: bool, fams: str) -> list[str]:
        return [
            f"<h1>{H.esc(title)}</h1><p class='sub'>{H.esc(sub)}</p>",
            nav,
            notices,
            H.read_section(verdicts.read),
            H.verdict_section(curves, pairs, _frame(verdicts, "unpaired"), threshold, expand),
            "<h2 id='summary'>Summary: E's lower bound against the total change</h2>",
            H.png(summary, "E lower bound against total change, every curve", 110),
            H.tasks_section(tasks),
            H.warnings_section(warnings),
            H.premise_section(getattr(verdicts, "premise", None)),
            H.backtest_section(getattr(verdicts, "backtest", None)),
            fams,
        ]

    settings_text = ", ".join(f"{k} = {v}" for k, v in settings.items())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    how = (
        "Chromium's print-to-PDF of this page"
        if chromium()
        else "a matplotlib PdfPages rendering of the same sections (Chromium not found)"
    )
    footer = (
        f"Made {stamp} by python -m src.analysis audit. Settings: {H.esc(settings_text)}. PDF: {H.esc(how)}."
    )
    paths = {
        "html": out_dir / "audit.html",
        "pdf": out_dir / "audit.pdf",
        "curves": out_dir / "curves.csv",
        "pairs": out_dir / "pairs.csv",
    }
    paths["html"].write_text(H.page(title, body(False, fam_html), footer), encoding="utf-8")
    curves.to_csv(paths["curves"], index=False)
    pairs.to_csv(paths["pairs"], index=False)
    printable = out_dir / ".audit_print.html"
    every_open = H.page(title, body(True, fam_html), footer).replace("<details open", "<details")
    printable.write_text(every_open.replace("<details", "<details open"), encoding="utf-8")
    try:
        used = write_pdf(printable, paths["pdf"], title, verdicts, tasks, summary, figs, warnings)
    finally:
        printable.unlink(missing_ok=True)
    if used != "chromium" and chromium():  # Chromium was there but failed: say what the PDF is
        paths["html"].write_text(
            H.page(
                title,
                body(False, fam_html),
                footer.replace(
                    H.esc(how), "a matplotlib PdfPages rendering of the same sections (Chromium failed)"
                ),
            ),
            encoding="utf-8",
        )
    return paths
