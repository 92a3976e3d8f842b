"""The audit's figures on a many-metric input: natural order (pass@1, 16, 100, 128; K=1..10), a grid rather than
one row, model names as ticks, chance per task, a shared y range per metric, captions from the data's facts."""

from __future__ import annotations

import numpy as np
import pytest

from src.analysis.report.figures import caption, panel_metrics, summary_figure, task_figure, y_limits
from tests.analysis.report.verdicts_factory import make_verdicts


@pytest.fixture(scope="module")
def v():
    return make_verdicts(n_extra_tasks=2)


def _parts(v, fam, task):
    sel = lambda df: df[(df["family"] == fam) & (df["task"] == task)]  # noqa: E731
    return sel(v.points), sel(v.curves), sel(v.pairs)


def _titles(fig):
    return [ax.get_title().split("\n")[0].split(" (")[0] for ax in fig.axes if ax.get_visible()]


def test_k_of_k_panels_in_natural_order_in_a_grid(v):
    p, c, pr = _parts(v, "toy", "subset")
    fig = task_figure(p, c, pr, y_limits(v.points, v.curves))
    assert _titles(fig) == ["token_acc"] + [f"K={k}" for k in range(1, 11)]
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes if ax.get_visible()}
    assert len(rows) == 3  # 11 panels: 3 rows of at most 4, not one 11-panel row
    w, h = fig.get_size_inches()
    assert w / h < 2.5


def test_pass_at_k_in_numeric_order_with_model_names_as_ticks(v):
    p, c, pr = _parts(v, "codegen", "humaneval")
    fig = task_figure(p, c, pr)
    assert _titles(fig) == ["neg_log_pass", "pass@1", "pass@16", "pass@100", "pass@128"]
    fig.canvas.draw()
    ax = fig.axes[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["code-350M", "code-2B", "code-6B", "code-16B"]
    assert ax.get_xscale() == "log"


def test_chance_per_task_and_resolution_from_the_data(v):
    def hlines(fam, task, metric):
        p, c, pr = _parts(v, fam, task)
        fig = task_figure(p, c, pr)
        ax = next(a for a in fig.axes if a.get_title().startswith(metric + " "))
        return {
            line.get_label().split(" ")[0]: line.get_ydata()[0]
            for line in ax.get_lines()
            if line.get_label().startswith(("chance", "resolution"))
        }

    assert hlines("pythia", "hellaswag", "acc")["chance"] == pytest.approx(0.25)
    assert hlines("pythia", "piqa", "acc")["chance"] == pytest.approx(0.5)
    assert hlines("pythia", "piqa", "acc")["resolution"] == pytest.approx(1 / 500)
    assert "chance" not in hlines("codegen", "humaneval", "pass@1")  # no chance level in the data, no line


def test_one_y_range_per_metric_across_tasks(v):
    limits = y_limits(v.points, v.curves)
    got = []
    for task in ("hellaswag", "piqa"):
        p, c, pr = _parts(v, "pythia", task)
        fig = task_figure(p, c, pr, limits)
        got.append(next(a for a in fig.axes if a.get_title().startswith("brier ")).get_ylim())
    assert got[0] == got[1]


def test_caption_says_what_the_data_are(v):
    _, c, _ = _parts(v, "pythia", "hellaswag")
    text = caption(c)
    assert "6 models" in text and "500 items" in text and "the items" in text
    assert "seed" not in text and "test split" not in text  # one run per model, no split in these data
    c3 = c.assign(n_replicates=3, interval_source="seeds+stderr")
    assert "3 seeds" in caption(c3) and "stderr" in caption(c3)
    _, cc, _ = _parts(v, "codegen", "humaneval")
    assert "32,800 trials" in caption(cc)


def test_panel_order_without_pairs_is_natural():
    v = make_verdicts()
    c = v.curves[v.curves["family"] == "toy"]
    assert panel_metrics(c, v.pairs.iloc[:0]) == [f"K={k}" for k in range(1, 11)] + ["token_acc"]


def test_summary_figure_has_the_threshold_line(v):
    fig = summary_figure(v.curves, threshold=10.0)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label() == "E = 10"]
    assert len(lines) == 1 and np.allclose(lines[0].get_ydata(), 10.0)
    assert ax.get_yscale() == "symlog"
    assert "▲ = inf" in fig._suptitle.get_text()
    assert [a.get_xlabel().split("\n")[1].split(" ")[0] for a in fig.axes] == ["shares", "continuous"]


def test_no_bars_where_the_data_carry_no_interval(v):
    p, c, pr = _parts(v, "pythia", "arc_easy")
    fig = task_figure(p, c, pr)
    assert "no bars on acc" in fig._suptitle.get_text().replace("\n", " ")
    acc = next(a for a in fig.axes if a.get_title().startswith("acc "))
    brier = next(a for a in fig.axes if a.get_title().startswith("brier "))
    assert not acc.containers and brier.containers  # errorbar containers only where an interval exists


def test_share_panels_of_a_figure_share_one_y_range(v):
    p, c, pr = _parts(v, "toy", "subset")
    fig = task_figure(p, c, pr, y_limits(v.points, v.curves))
    assert (
        len({ax.get_ylim() for ax in fig.axes if ax.get_visible()}) == 1
    )  # token_acc and K=1..10: all shares
    p, c, pr = _parts(v, "codegen", "humaneval")
    fig = task_figure(p, c, pr)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len({ax.get_ylim() for ax in shown[1:]}) == 1 and shown[0].get_ylim() != shown[1].get_ylim()
