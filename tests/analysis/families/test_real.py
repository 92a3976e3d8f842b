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
from src.analysis.stats.engine import Settings
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


FAST = Settings(n_resamples=200, n_width_resamples=40, seed=3)


def test_fig6_curves_come_from_the_engine_on_paired_items(tmp_path):
    items = _items(tmp_path)
    curves, pairs = real.fig6_verdicts(items, settings=FAST)
    assert set(curves["metric"]) == {"mcg", "brier", "logprob"} and set(curves["task"]) == {"taskA", "taskB"}
    assert (curves["interval_source"] == "items").all()
    # Eq. 1 of each oriented curve of per-item means, MCG steps up to 1/n_items as ties (written out here)
    for (_, task), g in items.groupby(["family", "task"], sort=True):
        order = g.groupby("model")["scale"].first().sort_values().index
        n = g["item"].nunique()
        for metric, col in real.FIG6_QUANTITIES.items():
            mat = g.pivot_table(index="model", columns="item", values=col).loc[order].to_numpy()
            sign = -1.0 if metric == "brier" else 1.0  # Brier: lower is better
            tol = max(1.0 / n if metric == "mcg" else 0.0, 1e-9 * max(1.0, np.abs(mat.mean(axis=1)).max()))
            row = curves[(curves.task == task) & (curves.metric == metric)].iloc[0]
            assert row["E"] == pytest.approx(_eq1_ties(sign * mat.mean(axis=1), tol))
            assert row["start"] == pytest.approx(mat.mean(axis=1)[0])
            assert row["change_lo"] <= row["change"] <= row["change_hi"]
    # MCG is the sharp partner of both smooth metrics, on the same resampled items (paired)
    assert set(zip(pairs["sharp"], pairs["smooth"], strict=True)) == {("mcg", "brier"), ("mcg", "logprob")}
    assert pairs["paired"].all()
    summary = real.fig6_summary(curves, pairs)
    assert {"E_mcg", "E_brier_lo", "verdict_mcg", "mcg_vs_brier", "d_brier", "mcg_above_brier"} <= set(
        summary
    )
    assert len(summary) == 2


def _fig6_rows(n=400):
    rng = np.random.default_rng(0)
    rows = []
    for fam, models in (("four", [1e6, 1e7, 1e8, 1e9]), ("three", [1e6, 1e7, 1e8])):
        for j, scale in enumerate(models):
            # MCG: 0 right until the largest model; p(right) falls with scale (a smooth metric that worsens)
            p = np.clip(0.45 - 0.05 * j + 0.02 * rng.standard_normal(n), 0.01, 0.99)
            correct = (np.arange(n) < (n * 0.9 if j == len(models) - 1 else 0)).astype(float)
            for i in range(n):
                rows.append({"family": fam, "task": "t", "model": f"{fam}{j}", "scale": scale, "item": i,
                             "correct": correct[i], "brier": 2 * (1 - p[i]) ** 2, "logprob": np.log(p[i]),
                             "p_target": p[i], "n_options": 2, "replicate": "", "checkpoint": ""})  # fmt: skip
    return pd.DataFrame(rows)


def test_fig6_verdicts_follow_the_engine_rules():
    """A one-step MCG curve with a real rise is emergent; a worsening smooth metric is 'worsens' and its pair has
    no rise to compare (never 'sharp above smooth'); 3 models cannot reach the threshold; the nulls are columns."""
    curves, pairs = real.fig6_verdicts(
        _fig6_rows(), settings=FAST, nulls=("permutation", "binomial"), n_draws=200
    )
    t = curves.set_index(["family", "metric"])
    assert t.loc[("four", "mcg"), "E"] == np.inf  # flat steps are ties: one-step curve
    assert t.loc[("four", "mcg"), "verdict"] == "emergent"
    assert t.loc[("three", "mcg"), "verdict"] == "too few sizes"
    assert (
        t.loc[("four", "brier"), "verdict"] == "worsens"
        and t.loc[("four", "logprob"), "verdict"] == "worsens"
    )
    four = pairs[pairs.family == "four"]
    assert (four["verdict"] == "no rise to compare").all()
    assert not (pairs["verdict"] == "sharp above smooth").any()
    # exact: only the orders with the one non-zero value at the largest size score +inf: 3!/4! = 1/4
    assert t.loc[("four", "mcg"), "p_permutation"] == pytest.approx(1 / 4)
    assert np.isnan(t.loc[("four", "brier"), "p_binomial"]) and t.loc[("four", "mcg"), "p_binomial"] < 0.05
    assert {"q_permutation", "q_binomial"} <= set(curves.columns)


def test_a_flat_mcg_curve_is_no_real_rise_whatever_eq1_says():
    """MCG 0.50, 0.50, 0.50, 0.51 of 400 items: a single step of 4 items, E = inf, but no real rise."""
    df = _fig6_rows()
    df = df[df.family == "four"].copy()
    df["correct"] = np.where(df["item"] < 200 + 4 * (df["model"] == "four3"), 1.0, 0.0)
    curves, _ = real.fig6_verdicts(df, settings=FAST)
    row = curves.set_index("metric").loc["mcg"]
    assert row["E"] == np.inf and row["verdict"] == "no real rise"


def test_a_step_between_two_sizes_is_judged_on_eq1_not_on_an_unresolved_width():
    """MCG and Brier both jump between the two largest of 4 sizes: any logistic narrower than the grid's spacing
    fits, so the widths are not measured and the pair is judged on Eq. 1 (not on two widths pinned near 0)."""
    df = _fig6_rows()
    df = df[df.family == "four"].copy()
    j = df["model"].str[-1].astype(int)
    df["correct"] = np.where(df["item"] < np.where(j == 3, 380, 40 + 10 * j), 1.0, 0.0)
    p = np.where(df["correct"] == 1, 0.9, 0.3) - 0.01 * j
    df["brier"], df["logprob"] = 2 * (1 - p) ** 2, np.log(p)
    curves, pairs = real.fig6_verdicts(df, settings=FAST)
    assert (curves.set_index("metric").loc[["mcg", "brier"], "verdict"] != "no real rise").all()
    row = pairs[pairs.smooth == "brier"].iloc[0]
    assert row["basis"] == "Eq. 1", row["reason"]


def test_resolution_subsets(tmp_path):
    items = _items(tmp_path)
    res = real.resolution_real(items, sizes=(2, 4), n_subsets=50, n_verdict_subsets=5, settings=FAST)
    full = res[res.is_all]
    ref = items.groupby(["task", "model"])["correct"].mean()
    for _, r in full.iterrows():
        assert r["acc_mean"] == pytest.approx(ref[(r["task"], r["model"])])
        assert r["acc_lo"] == r["acc_hi"] == r["acc_mean"]
    assert set(res["n"]) == {2, 4, 6}
    sub = res[res.n == 2]
    assert ((sub.acc_lo <= sub.acc_mean) & (sub.acc_mean <= sub.acc_hi)).all()
    assert set(sub["acc_share_zero"].unique()) <= set(np.linspace(0, 1, 51).round(12)) | {0.0}
    # the engine judged 5 subsets of each smaller size alone, and the whole task once
    assert (res.loc[~res.is_all, "n_verdict_subsets"] == 5).all() and (full["n_verdict_subsets"] == 1).all()
    assert res["share_subsets_acc_emergent"].between(0, 1).all()
    # on the whole task the verdict is the engine's own on every item
    curves, _ = real.fig6_verdicts(items, settings=FAST)
    for task, g in full.groupby("task"):
        one = curves[(curves.task == task) & (curves.metric == "mcg")].iloc[0]
        assert g["verdict_acc"].iloc[0] == one["verdict"]


def test_scale_time_olmo_axes(tmp_path):
    from src.analysis.families.readers.olmo_ladder import read_olmo_ladder

    for i, size in enumerate(("190M", "370M", "760M")):
        for k in (1, 2, 5):
            _run([100, 200 * k], seed=10 * i + k).to_csv(tmp_path / f"{size}-{k}xC.csv", index=False)
        _run([100, 200], seed=99 + i).to_csv(tmp_path / f"{size}-1xC-rerun.csv", index=False)
    ev = read_olmo_ladder(tmp_path)
    st, pairs = real.scale_time_olmo(ev, settings=FAST)
    assert set(st["axis"]) == {"params", "tokens"} and set(st["metric"]) == {"acc", "p_correct", "bpb"}
    assert (st["n_sizes"] == 3).all()
    # over parameters: one engine family per budget; over tokens: one per size, its 3 budgets at their tokens
    assert set(st.loc[st.axis == "params", "family"]) == {
        "OLMo-ladder 1xC",
        "OLMo-ladder 2xC",
        "OLMo-ladder 5xC",
    }
    assert set(st.loc[st.axis == "tokens", "family"]) == {
        "OLMo-ladder 190M",
        "OLMo-ladder 370M",
        "OLMo-ladder 760M",
    }
    # 3 budgets x (accuracy of 2 tasks + p_correct and bpb of the one task that has them)
    assert len(st[(st.axis == "params")]) == 3 * (2 + 1 + 1)
    one = st[(st.fixed == "2xC") & (st.metric == "bpb") & st.task.str.startswith("hella")]
    fin = ev[
        (ev.metric == "bpb")
        & (ev.chinchilla_multiplier == 2)
        & (ev.step == 400)
        & ev.task.str.startswith("hella")
    ]
    y = -fin.sort_values("scale")["value"].to_numpy()
    assert one["E"].item() == pytest.approx(emergence_score(np.arange(3), y))
    tok = st[(st.fixed == "190M") & (st.metric == "bpb") & st.task.str.startswith("hella")].iloc[0]
    final_tokens = ev[(ev["size"] == "190M") & (ev.replicate == "")].groupby("model")["tokens"].max()
    assert tok["scales"] == ";".join(f"{v:.6g}" for v in sorted(final_tokens))
    # 3 sizes: Eq. 1 <= 2, the threshold is unreachable; only the 1xC reruns give an interval (seeds)
    assert (st["verdict"] == "too few sizes").all() and set(pairs["verdict"]) == {"too few sizes"}
    src = st.set_index("family")["interval_source"]
    assert set(src[["OLMo-ladder 1xC"]]) == {"seeds"}
    assert set(src.drop(["OLMo-ladder 1xC"])) == {"none", "partial"}


def test_scale_time_pythia_over_tokens_judges_perplexity_on_its_log():
    rows = []
    steps = [1, 8, 64, 512, 4096, 32768, 143000]
    for m, n in (("pythia-70m", 7e7), ("pythia-410m", 4.1e8), ("pythia-1.4b", 1.4e9)):
        for i, step in enumerate(steps):
            acc = [0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 0.6][i]
            for metric, v, se in (
                ("acc", acc, 0.005),
                ("ppl", float(np.exp(10 - i * np.log(n) / 20)), 0.01),
            ):
                rows.append({"family": "pythia", "model": m, "scale": n, "task": "lambada_openai", "metric": metric,
                             "value": v, "stderr": se, "step": step, "tokens": step * 2_097_152.0,
                             "checkpoint": f"step{step}", "replicate": ""})  # fmt: skip
    curves, pairs = real.scale_time_pythia(pd.DataFrame(rows), settings=FAST)
    assert set(curves["axis"]) == {"params", "tokens"}
    tok = curves[(curves.axis == "tokens") & (curves.fixed == "pythia-410m")].set_index("metric")
    assert tok.loc["acc", "scales"].split(";")[0] == f"{2_097_152.0:.6g}" and tok.loc["acc", "n_sizes"] == 3
    assert tok.loc["ppl", "interval_source"] == "stderr"
    lp = np.log(
        np.exp(10 - np.array([0, 3, 6]) * np.log(4.1e8) / 20)
    )  # the 3 picked checkpoints: 1, 512, 143000
    assert tok.loc["ppl", "E"] == pytest.approx(emergence_score(np.arange(3), -lp))
    assert set(pairs["sharp"]) == {"acc"} and set(pairs["smooth"]) == {"ppl"}


def test_operand_table_and_arithmetic(tmp_path):
    rows = []
    for model, base in (("EleutherAI/pythia-125m-deduped", 0.0), ("EleutherAI/pythia-1.3b-deduped", 0.3),
                        ("EleutherAI/pythia-13b-deduped", 0.9)):  # fmt: skip
        for step in (13000, 143000):
            for op in ("addition", "multiplication"):
                for operand in range(3):
                    acc = base * step / 143000 + 0.01 * operand
                    rows.append([model, step, f"num_reasoning_arithmetic_{op}_{operand}", 16, acc, 0.01])
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["model", "checkpoint", "task", "fewshot", "acc", "acc_stderr"]).to_csv(
        path, index=False
    )
    ev = read_operand_table(path)
    assert set(ev["family"]) == {"pythia-deduped"} and sorted(ev["scale"].unique()) == [1.25e8, 1.3e9, 1.3e10]
    assert set(ev["operand"]) == {0, 1, 2}
    mean, scores = real.operand_arithmetic(ev, settings=FAST)
    last = mean[(mean.step == 143000) & (mean.operation == "addition")].sort_values("scale")["acc"].tolist()
    assert last == pytest.approx([0.01, 0.31, 0.91])
    assert set(scores["axis"]) == {"params", "tokens"} and (scores["interval_source"] == "items").all()
    p = scores[
        (scores.axis == "params") & (scores.fixed == "step143000") & scores.task.str.contains("addition")
    ]
    assert p["start"].item() == pytest.approx(0.01) and p["end"].item() == pytest.approx(0.91)
    t = scores[(scores.axis == "tokens") & (scores.fixed == "pythia-13b-deduped")].iloc[0]
    assert t["scales"] == ";".join(f"{s * 2_097_152.0:.6g}" for s in (13000, 143000))


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
