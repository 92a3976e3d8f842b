"""The audit page as PDF: Chromium's print-to-PDF of the page when Chromium is installed, else a matplotlib
PdfPages rendering of the same sections (text pages for the tables and sentences, then the figures)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from src.analysis.report.text import interval, num

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str | None:
    """The path of an installed Chromium (or Chrome), or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_pdf(html_path: Path, pdf_path: Path, timeout: float = 180.0) -> bool:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; True when a non-empty PDF came out."""
    exe = chromium()
    if exe is None:
        return False
    pdf_path.unlink(missing_ok=True)
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-pdf-header-footer",
        "--run-all-compositor-stages-before-draw",
        f"--print-to-pdf={pdf_path}",
        Path(html_path).resolve().as_uri(),
    ]
    try:
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return pdf_path.exists() and pdf_path.stat().st_size > 1000


def _text_page(title: str, lines: list[str]) -> Figure:
    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.96, title, fontsize=13, weight="bold", va="top")
    wrapped = [w for line in lines for w in (textwrap.wrap(line, 110) or [""])]
    fig.text(0.06, 0.93, "\n".join(wrapped[:78]), fontsize=7.5, va="top", family="monospace")
    return fig


def _pages(title: str, lines: list[str], per_page: int = 78):
    """Text pages of at most ``per_page`` wrapped lines each."""
    wrapped = [w for line in lines for w in (textwrap.wrap(line, 110) or [""])]
    for i in range(0, max(len(wrapped), 1), per_page):
        yield _text_page(title if i == 0 else f"{title} (continued)", wrapped[i : i + per_page])


def matplotlib_pdf(
    pdf_path: Path, title: str, verdicts, tasks: list[dict], summary: Figure, figs: dict, warnings: list[dict]
) -> None:
    """The same sections as the page, in the same order, as PdfPages."""
    read = [
        f"{r.family} ({r.format}): {r.n_models} models ({str(r.models).replace(';', ', ')}), {r.n_tasks} tasks, "
        f"metrics {str(r.metrics).replace(';', ', ')}, {num(r.n_items)} items, {r.n_replicates} seeds, "
        f"intervals from {str(r.interval_sources).replace(';', ', ')}"
        for r in verdicts.read.itertuples()
    ]
    ranked = verdicts.curves.sort_values("strength", ascending=False)
    curves = [
        f"{r.family} · {r.task} · {r.label}: {r.verdict}; E {interval(r.E, r.E_lo, r.E_hi)}; change "
        f"{interval(r.change, r.change_lo, r.change_hi)} ({r.interval_source}). {r.reason}"
        for r in ranked.itertuples()
    ]
    pairs = getattr(verdicts, "pairs", None)
    pair_lines = (
        []
        if pairs is None
        else [
            f"{r.family} · {r.task}: {r.sharp} vs {r.smooth} ({r.basis}): {r.verdict}, difference "
            f"{interval(r.diff, r.diff_lo, r.diff_hi)}. {r.reason}"
            for r in pairs.itertuples()
        ]
    )
    with PdfPages(pdf_path) as pdf:
        for page in _pages(
            title,
            [
                "What was read",
                *read,
                "",
                *list(getattr(verdicts, "notices", []) or []),
                "",
                "Verdicts, strongest first",
                *curves,
                "",
                "Sharp above smooth?",
                *pair_lines,
            ],
        ):
            pdf.savefig(page)
        pdf.savefig(summary)
        lines = [f"{t['family']} · {t['task']}: {t['sentence']}" for t in tasks]
        lines += [
            "",
            "Resolution warnings",
            *[f"{w['family']} · {w['task']} · {w['metric']}: {w['text']}" for w in warnings],
        ]
        for page in _pages("Tasks, strongest first", lines):
            pdf.savefig(page)
        for t in tasks:
            pdf.savefig(figs[(t["family"], t["task"])])


def write_pdf(html_path: Path, pdf_path: Path, title: str, verdicts, tasks, summary, figs, warnings) -> str:
    """Write the PDF; returns how: "chromium" or "matplotlib"."""
    if chromium_pdf(html_path, pdf_path):
        return "chromium"
    matplotlib_pdf(pdf_path, title, verdicts, tasks, summary, figs, warnings)
    return "matplotlib"
