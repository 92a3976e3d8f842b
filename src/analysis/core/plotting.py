"""Plotting helpers shared by every stream: log x axes, colour ramps, panel order."""

from __future__ import annotations

import numpy as np
import pandas as pd


def panel_order(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(sharpness, family) panels: smooth first, then sharp, each in order of first appearance."""
    seen: list[tuple[str, str]] = []
    for sharp in ("smooth", "sharp"):
        for fam in curves.loc[curves["sharpness"] == sharp, "family"]:
            if (sharp, fam) not in seen:
                seen.append((sharp, fam))
    return seen


def log_x(ax) -> None:
    """Log x axis; call after plotting. Matplotlib's default labels every minor tick of a short range, and the
    labels collide; here decades only, plus 2x and 5x when the data span under two decades."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    if hi / lo < 100:  # under two decades: label 2x and 5x too, and only those
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def colors(n: int) -> list:
    from matplotlib import colormaps

    if n == 1:
        return ["C0"]
    cmap = colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.85, n)]


def name_models(fig, names: dict[float, str], max_models: int = 8) -> None:
    """Model names at their sizes on a top axis of each top-row log-x panel of ``fig`` (few models only: with
    many, the names would collide). ``names``: size -> model name (several names at one size are joined)."""
    from matplotlib.ticker import NullLocator

    if not names or len(names) > max_models:
        return
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if ax.get_xscale() != "log" or spec is None or not spec.is_first_row():
            continue
        top = ax.secondary_xaxis("top")
        top.set_xticks(list(names), labels=list(names.values()), fontsize=6, rotation=25, ha="left",
                       rotation_mode="anchor")  # fmt: skip
        top.xaxis.set_minor_locator(NullLocator())
        top.tick_params(axis="x", length=2, pad=1)
