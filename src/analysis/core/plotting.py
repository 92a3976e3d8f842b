"""Plotting helpers shared by every stream: log x axes, colour ramps, panel order."""

from __future__ import annotations

import numpy as np
import pandas as pd


def panel_order(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(sharpness, metric_family) panels: smooth first, then sharp, each in natural order of the family's name (pass@1,
    pass@16, pass@100, pass@128; not string order)."""
    seen: list[tuple[str, str]] = []
    for sharp in ("smooth", "sharp"):
        for fam in sorted(
            dict.fromkeys(curves.loc[curves["sharpness"] == sharp, "metric_family"]), key=natural_key
        ):
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
    names = dict(zip(names, short_names(list(names.values())), strict=True))
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if ax.get_xscale() != "log" or spec is None or not spec.is_first_row():
            continue
        top = ax.secondary_xaxis("top")
        top.set_xticks(list(names), labels=list(names.values()), fontsize=6, rotation=25, ha="left",
                       rotation_mode="anchor")  # fmt: skip
        top.xaxis.set_minor_locator(NullLocator())
        top.tick_params(axis="x", length=2, pad=1)


def short_names(names: list[str]) -> list[str]:
    """Run names without the ``,``-separated parts that every one of them shares (a sweep's
    ``arithmetic_2dm/experiment=arithmetic_2dm,model.width=16`` -> ``model.width=16``), and several runs at one size
    (``... / ...``, seeds) named by what they share (``model.width=16,seed=0 / model.width=16,seed=1`` ->
    ``model.width=16``); names that are not such override strings, or that would no longer differ, are kept."""
    parts = [[p.split(",") for p in n.split(" / ")] for n in names]
    if len(names) < 2 or not all("=" in q for n in parts for p in n for q in p):
        return names
    common = set.intersection(*[set(p) for n in parts for p in n])
    out = []
    for n in parts:  # the runs at one size (seeds): what they share names them
        shared = set.intersection(*[set(p) for p in n])
        keep = [q for q in n[0] if q in shared and q not in common]
        out.append(
            ",".join(keep) if keep else " / ".join(",".join(q for q in p if q not in common) for p in n)
        )
    return out if len(set(out)) == len(set(names)) else names


def natural_key(name: str) -> tuple:
    """Sort key that orders the numbers inside a name by value: K=2 before K=10, pass@16 before pass@100,
    L=1..5 in order (plain string order gives pass@1, pass@100, pass@128, pass@16)."""
    import re

    parts = re.split(r"(\d+(?:\.\d+)?)", str(name))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p.lower()) for i, p in enumerate(parts) if p != "")


def grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) of a panel grid for ``n`` panels: at most ``max_cols`` per row, never one long row."""
    cols = max(1, min(max_cols, n))
    return int(np.ceil(max(n, 1) / cols)), cols


def model_ticks(ax, scales, models, max_models: int = 8) -> None:
    """Put the models' names at their sizes on a log x axis when there are few models (<= ``max_models``), so a
    reader sees which model each point is; with more models the decade ticks stay. Call after :func:`log_x`."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    pairs = sorted({(float(s), str(m)) for s, m in zip(scales, models, strict=True) if np.isfinite(float(s))})
    if not pairs or len(pairs) > max_models:
        return
    ax.xaxis.set_major_locator(FixedLocator([s for s, _ in pairs]))
    labels = [m if _names_size(m, s) else f"{m}\n{size_label(s)}" for s, m in pairs]
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = pairs[0][0], pairs[-1][0]
    if hi > lo:
        pad = (hi / lo) ** 0.08
        ax.set_xlim(lo / pad, hi * pad)


def _names_size(name: str, scale: float) -> bool:
    """Whether a model's name already says its size (pythia-70m at 7e7, code-2B at 2e9): then no second line."""
    import re

    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([kKmMbBtT])", name):
        value = float(num) * {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[unit.lower()]
        if 0.5 <= value / scale <= 2.0:
            return True
    return False


def size_label(scale: float) -> str:
    """1.3e9 -> '1.3B', 125e6 -> '125M': how model sizes are written in names."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(scale) >= div:
            return f"{scale / div:.3g}{suffix}"
    return f"{scale:.3g}"


def plain_symlog_ticks(ax) -> None:
    """Symlog y ticks as plain numbers at 0, ±1, 2, 5, 10, 20, 50, ... (matplotlib writes 10^1 and -10^0)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    steps = [0.0] + [m * 10.0**d for d in range(0, 7) for m in (1, 2, 5)]
    lo, hi = ax.get_ylim()
    ticks = sorted({s for s in steps + [-s for s in steps] if lo <= s <= hi})
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def share_ylim(axes: list) -> None:
    """One y range (the union of theirs) for ``axes``, so heights compare across panels; nothing with one axis."""
    if len(axes) > 1:
        lo = min(ax.get_ylim()[0] for ax in axes)
        hi = max(ax.get_ylim()[1] for ax in axes)
        for ax in axes:
            ax.set_ylim(lo, hi)
