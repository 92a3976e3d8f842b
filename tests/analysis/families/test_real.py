"""Real-family analyses and commands on fixtures written here (tiny, in the upstream shapes)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core.emergence import emergence_score
from src.analysis.families import real
from src.analysis.families.readers.operand_table import read_operand_table
from src.analysis.stats.intervals import interval
from tests.analysis.families.test_inverse_scaling_reader import _task
from tests.analysis.families.test_olmo_ladder_reader import _run


def _items(tmp_path):
    for name, seed in (("taskA-gpt3", 0), ("taskB-gpt3", 1)):
        _task(tmp_path, name, 2, ["ada", "babbage", "curie", "davinci"], seed=seed)
    from src.analysis.families.readers.inverse_scaling import read_inverse_scaling

    return read_inverse_scaling(tmp_path)[1]


def _eq1_ties(y, tol):
    """Eq. 1 written out, steps within ``tol`` counted as ties (reference for the one in stats/sharpness)."""
    y = np.asarray(y, dtype=float)
    total = y.max() - y.min()
    if total <= tol:
        return 0.0
    d = np.diff(y)
    d[np.abs(d) <= tol] = 0.0
    med = np.median(d**2)
    sign = np.sign(int(np.argmax(y)) - int(np.argmin(y)))
    return sign * np.inf if med == 0 else sign * total / np.sqrt(med)


def test_fig6_real_bootstrap_matches_a_loop(tmp_path):
    items = _items(tmp_path)
    table, pairs = real.fig6_verdicts(items, n_boot=200, seed=3)
    assert set(table["metric"]) == {"mcg", "brier", "logprob"} and set(table["task"]) == {"taskA", "taskB"}
    # reference: one multinomial draw of the items per bootstrap, shared by every model and metric (paired),
    # Eq. 1 with MCG ties at 1/n_items, one bootstrap at a time; 95% percentile interval
    rng = np.random.default_rng(3)
    for (_, task), g in items.groupby(["family", "task"], sort=True):
        order = g.groupby("model")["scale"].first().sort_values().index
        n = g["item"].nunique()
        idx = rng.integers(0, n, size=(200, n))
        for metric, col in real.FIG6_QUANTITIES.items():
            mat = g.pivot_table(index="model", columns="item", values=col).loc[order].to_numpy()
            sign = 1.0 if real.METRICS[metric][1] else -1.0
            tol = max(1.0 / n if metric == "mcg" else 0.0, 1e-9 * max(1.0, np.abs(mat.mean(axis=1)).max()))
            boots = []
            for i in idx:
                yb = sign * mat[:, i].mean(axis=1)
                boots.append(_eq1_ties(yb, max(tol, 1e-9 * max(1.0, np.abs(yb).max()))))
            lo, hi = interval(np.asarray(boots))  # percentile interval (tested in stats/test_intervals)
            row = table[(table.task == task) & (table.metric == metric)].iloc[0]
            assert row["e_lo"] == pytest.approx(lo) and row["e_hi"] == pytest.approx(hi)
            assert row["emergence_score"] == pytest.approx(_eq1_ties(sign * mat.mean(axis=1), tol))
    summary = real.fig6_summary(table, pairs)
    assert {"E_mcg", "E_brier", "E_logprob", "mcg_above_brier", "mcg_vs_brier"} <= set(summary.columns)
    assert set(pairs["smooth"]) == {"brier", "logprob"} and (pairs["verdict_on"] == "Eq. 1").all()


def test_fig6_verdicts_follow_the_rules(tmp_path):
    """A worsening smooth metric is reported as such (never 'sharp above smooth'); a 3-model family is
    unscorable by the threshold; MCG ties at 1/n_items."""
    rng = np.random.default_rng(0)
    rows = []
    n = 400
    for fam, models in (("four", [1e6, 1e7, 1e8, 1e9]), ("three", [1e6, 1e7, 1e8])):
        for j, scale in enumerate(models):
            # MCG: 0 right until the largest model; p(right) falls with scale (a smooth metric that worsens)
            p = np.clip(0.45 - 0.05 * j + 0.02 * rng.standard_normal(n), 0.01, 0.99)
            correct = (np.arange(n) < (n * 0.9 if j == len(models) - 1 else 0)).astype(float)
            for i in range(n):
                rows.append({"family": fam, "task": "t", "model": f"{fam}{j}", "scale": scale, "item": i,
                             "correct": correct[i], "brier": 2 * (1 - p[i]) ** 2, "logprob": np.log(p[i]),
                             "p_target": p[i], "n_options": 2})  # fmt: skip
    table, pairs = real.fig6_verdicts(pd.DataFrame(rows), n_boot=100, nulls=("permutation", "binomial"),
                                      n_draws=200)  # fmt: skip
    t = table.set_index(["family", "metric"])
    assert t.loc[("four", "mcg"), "emergence_score"] == np.inf  # flat steps are ties: one-step curve
    assert t.loc[("four", "mcg"), "emergent"] == "emergent"
    assert t.loc[("three", "mcg"), "emergent"] == "unreachable"
    assert t.loc[("four", "brier"), "direction"] == "worsens"
    four = pairs[pairs.family == "four"]
    assert four["verdict"].str.startswith("worsens").all()
    assert not (pairs["verdict"] == "sharp above smooth").any()
    # exact: only the orders with the one non-zero value at the largest size score +inf: 3!/4! = 1/4
    assert t.loc[("four", "mcg"), "p_permutation"] == pytest.approx(1 / 4)
    assert np.isnan(t.loc[("four", "brier"), "p_binomial"]) and t.loc[("four", "mcg"), "p_binomial"] < 0.05
    assert {"q_permutation", "q_binomial"} <= set(table.columns)


def test_resolution_subsets(tmp_path):
    items = _items(tmp_path)
    res = real.resolution_real(items, sizes=(2, 4), n_subsets=50)
    full = res[res.is_all]
    ref = items.groupby(["task", "model"])["correct"].mean()
    for _, r in full.iterrows():
        assert r["acc_mean"] == pytest.approx(ref[(r["task"], r["model"])])
        assert r["acc_lo"] == r["acc_hi"] == r["acc_mean"]
    assert set(res["n"]) == {2, 4, 6}
    sub = res[res.n == 2]
    assert ((sub.acc_lo <= sub.acc_mean) & (sub.acc_mean <= sub.acc_hi)).all()
    assert set(sub["acc_share_zero"].unique()) <= set(np.linspace(0, 1, 51).round(12)) | {0.0}


def test_scale_time_olmo_axes(tmp_path):
    from src.analysis.families.readers.olmo_ladder import read_olmo_ladder

    for i, size in enumerate(("190M", "370M", "760M")):
        for k in (1, 2, 5):
            _run([100, 200 * k], seed=10 * i + k).to_csv(tmp_path / f"{size}-{k}xC.csv", index=False)
    ev = read_olmo_ladder(tmp_path)
    st, pairs = real.scale_time_olmo(ev)
    assert set(st["axis"]) == {"params", "tokens"} and set(st["metric"]) == {"acc", "p_correct", "bpb"}
    assert (st["n_points"] == 3).all()
    # 3 budgets x (accuracy of 2 tasks + p_correct and bpb of the one task that has them)
    assert len(st[(st.axis == "params")]) == 3 * (2 + 1 + 1)
    one = st[
        (st.axis == "params") & (st.fixed == "2xC") & (st.metric == "bpb") & st.task.str.startswith("hella")
    ]
    fin = ev[
        (ev.metric == "bpb")
        & (ev.chinchilla_multiplier == 2)
        & (ev.step == 400)
        & ev.task.str.startswith("hella")
    ]
    y = -fin.sort_values("scale")["value"].to_numpy()
    assert one["emergence_score"].item() == pytest.approx(emergence_score(np.arange(3), y))
    # 3 sizes: Eq. 1 <= 2, the threshold is unreachable; no interval source (one score per checkpoint)
    assert (st["emergent"] == "unreachable").all() and (st["interval_source"] == "none").all()
    assert set(pairs["verdict"]) == {"no interval"}


def test_operand_table_and_arithmetic(tmp_path):
    rows = []
    for model, base in (("EleutherAI/pythia-125m-deduped", 0.0), ("EleutherAI/pythia-1.3b-deduped", 0.3),
                        ("EleutherAI/pythia-13b-deduped", 0.9)):  # fmt: skip
        for step in (13000, 143000):
            for op in ("addition", "multiplication"):
                for operand in range(3):
                    acc = base * step / 143000
                    rows.append([model, step, f"num_reasoning_arithmetic_{op}_{operand}", 16, acc, 0.01])
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["model", "checkpoint", "task", "fewshot", "acc", "acc_stderr"]).to_csv(
        path, index=False
    )
    ev = read_operand_table(path)
    assert set(ev["family"]) == {"pythia-deduped"} and sorted(ev["scale"].unique()) == [1.25e8, 1.3e9, 1.3e10]
    assert set(ev["operand"]) == {0, 1, 2}
    mean, scores = real.operand_arithmetic(ev)
    last = mean[(mean.step == 143000) & (mean.operation == "addition")].sort_values("scale")["acc"].tolist()
    assert last == pytest.approx([0.0, 0.3, 0.9])
    assert set(scores["axis"]) == {"params", "tokens"}


def test_commands_end_to_end(tmp_path, capsys):
    inv = tmp_path / "inv"
    for name, seed in (("taskA-gpt3", 0), ("taskB-gpt3", 1)):
        _task(inv, name, 2, ["ada", "babbage", "curie", "davinci"], seed=seed)
    out = tmp_path / "out"
    assert (
        main(["real-fig6", "--inverse-scaling", str(inv), "--out", str(out), "--n-boot", "50", "--no-wandb"])
        == 0
    )
    for f in ("fig6_real.png", "fig6_real.pdf", "fig6_real.csv", "fig6_real_curves.png", "claims_fig6.csv"):
        assert (out / f).is_file(), f
    assert main(["real-resolution", "--inverse-scaling", str(inv), "--out", str(out), "--n-subsets", "20",
                 "--no-wandb"]) == 0  # fmt: skip
    assert (out / "resolution_real.png").is_file()
    ev_path = tmp_path / "ev.parquet"
    assert (
        main(
            [
                "ingest-inverse-scaling",
                str(inv),
                "--out",
                str(ev_path),
                "--items-out",
                str(tmp_path / "it.csv"),
            ]
        )
        == 0
    )
    assert set(pd.read_parquet(ev_path)["task"]) == {"taskA", "taskB"}
    fixtures = __import__("pathlib").Path(__file__).parent / "fixtures" / "lm_eval_0.4.13"
    assert main(["ingest-lm-eval", str(fixtures), "--samples", "--out", str(tmp_path / "s.csv")]) == 0
    assert "mcg" in set(pd.read_csv(tmp_path / "s.csv")["metric"])
    counts = tmp_path / "counts.csv"
    counts.write_text("model,problem,n,c,scale\na,p1,10,1,1e6\na,p2,10,0,1e6\n")
    assert main(["ingest-repeated-sampling", str(counts), "--k", "1", "5", "--m", "1", "10",
                 "--out", str(tmp_path / "rs"), "--n-boot", "50"]) == 0  # fmt: skip
    assert (tmp_path / "rs" / "samples_per_problem_view.csv").is_file()


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    counts = tmp_path / "counts.csv"
    counts.write_text("model,problem,n,c,scale\na,p1,3,1,1e6\n")
    proc = subprocess.run(
        [sys.executable, "-m", "src.analysis", "ingest-repeated-sampling", str(counts), "--k", "5", "--out",
         str(tmp_path / "o")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "counts.csv:line 2: pass@5 needs at least 5 samples" in lines[0]
