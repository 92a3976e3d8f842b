"""The sweep figure on a newcomer's many-metric table: panels in a grid in natural order (pass@1, 16, 100, 128;
L=1..5), model names as ticks, a caption from the data's own facts, one y range for the [0, 1] scores, and the
summary figure's E = 10 line; ranking by strength, not raw Eq. 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core.metrics import declarations_from_flags, declared
from src.analysis.sweeps.figures import rank_groups, summary_figure, sweep_figure

MODELS = [("code-350M", 3.5e8), ("code-2B", 2e9), ("code-6B", 6e9), ("code-16B", 1.6e10)]
METRICS = [f"pass@{k}" for k in (128, 16, 100, 1)] + [f"em_L={n}" for n in (5, 1, 3, 2, 4)] + ["acc"]


def table(seeds=(0,)) -> pd.DataFrame:
    rows = [
        dict(family="codegen", model=name, scale=scale, task="humaneval", metric=m,
             value=min(1.0, 0.05 * (i + 1) ** 2 + 0.01 * j + 0.01 * seed), replicate=str(seed), n_items=164.0,
             source="t")
        for j, m in enumerate(METRICS) for i, (name, scale) in enumerate(MODELS) for seed in seeds
    ]  # fmt: skip
    return pd.DataFrame(rows)


def draw(t: pd.DataFrame):
    with declared(declarations_from_flags(sharp=["pass@*", "em_L=*"], higher_is_better=["pass@*", "em_L=*"])):
        fig = sweep_figure(t)
        fig.canvas.draw()
        return fig


def test_many_metrics_in_a_grid_in_natural_order():
    fig = draw(table())
    titles = [ax.get_title().split(": ", 1)[1] for ax in fig.axes]
    # pass@k is one family of the metric registry (parameter k): one panel, its curves in natural order of k
    assert titles == ["acc", *[f"em_L={n}" for n in range(1, 6)], "pass@k"]
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert [t.split()[0] for t in legend if t.startswith("k=")] == ["k=1", "k=16", "k=100", "k=128"]
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(rows) == 2  # 7 panels: at most 4 a row, not one 7-panel row
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # one y range for the [0, 1] scores


def test_model_names_as_ticks_and_a_caption_from_the_data():
    fig = draw(table())
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [m for m, _ in MODELS]
    caption = fig._suptitle.get_text()
    assert "one run per size" in caption and "164 items" in caption
    assert "split" not in caption and "seed" not in caption  # no split prefix, no seeds in these data
    caption3 = draw(table(seeds=(0, 1, 2)))._suptitle.get_text()
    assert "mean of 3 seeds" in caption3


def test_summary_has_the_threshold_line_and_ranking_is_by_strength():
    claims = pd.DataFrame({
        "source": "t", "task": ["flat", "rise"], "family": "f", "metric": "exact_match",
        "sharpness": "sharp", "identity": False, "emergence_score": [np.inf, 12.0], "start": [0.52, 0.0],
        "end": [0.54, 0.8],
    })  # fmt: skip
    assert [g[1] for g in rank_groups(claims)] == ["rise", "flat"]
    ax = summary_figure(claims, drawn=1).axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "E = 10"]
    assert np.allclose(line.get_ydata(), 10.0)
    assert "split" not in ax.get_title()


def test_bars_from_the_sources_stderr():
    from src.analysis.sweeps.cli import stderr_table

    t = table().assign(stderr=0.02)
    ci = stderr_table(t)
    row = ci.iloc[0]
    value = t[(t.metric == row.metric) & (t.scale == row.scale)]["value"].iloc[0]
    assert (row.ci_hi - value, value - row.ci_lo) == pytest.approx((1.96 * 0.02, 1.96 * 0.02), abs=1e-4)
    with declared(declarations_from_flags(sharp=["pass@*", "em_L=*"], higher_is_better=["pass@*", "em_L=*"])):
        fig = sweep_figure(t, ci=ci)
    assert "bars: 95% interval from the source's stderr" in fig._suptitle.get_text().replace("\n", " ")
    assert stderr_table(table()) is None  # no stderr, no bars claimed


def test_figure_logs_one_wandb_run_per_analysis_not_per_figure(tmp_path):
    rows = [
        dict(family="f", model=name, scale=scale, task=task, metric=m, value=0.1 * (i + 1) + 0.01 * j)
        for j, task in enumerate(["t1", "t2", "t3"]) for i, (name, scale) in enumerate(MODELS)
        for m in ("acc", "exact_match")
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "ev.csv", index=False)
    out = tmp_path / "out"
    assert main(["figure", str(tmp_path / "ev.csv"), "--out", str(out), "--wandb", "--n-resamples", "0"]) == 0
    assert len(list(out.glob("*_smooth_vs_sharp.png"))) == 3
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1
