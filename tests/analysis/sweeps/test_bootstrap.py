"""Bootstrap intervals over test items: nominal coverage on simulated data, agreement with the records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from src.analysis.sweeps.bootstrap import bootstrap_table, run_replicates, subset_accuracy_from_count
from src.analysis.sweeps.figures import sweep_figure
from src.analysis.sweeps.loading import load_sweeps
from tests.analysis.sweep_factory import make_sweep, subset_acc


def test_subset_accuracy_from_count_matches_brute_force():
    from itertools import combinations

    correct = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    for k in (1, 2, 3, 4):
        brute = np.mean([correct[list(c)].all() for c in combinations(range(7), k)])
        assert subset_accuracy_from_count(np.array([5]), 7, k)[0] == pytest.approx(brute)
        assert subset_acc(5, 7, k) == pytest.approx(brute)


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    # n Bernoulli(p) items: truth acc = p, subset_acc_k=3 = p^3 (C(m,3)/C(n,3) is unbiased for it), ce = E[ce].
    rng = np.random.default_rng(0)
    n, p, trials, n_boot = 300, 0.7, 300, 400
    hits = {"test/acc": 0, "test/subset_acc_k=3": 0, "test/ce": 0}
    truth = {"test/acc": p, "test/subset_acc_k=3": p**3, "test/ce": 1.0}  # ce ~ Exponential(1)
    for _ in range(trials):
        correct = rng.random(n) < p
        ce = rng.exponential(1.0, n)
        m = int(correct.sum())
        metrics = {"test/acc": m / n, "test/subset_acc_k=3": subset_acc(m, n, 3), "test/ce": ce.mean()}
        reps, bad = run_replicates(metrics, {"correct": correct, "ce": ce}, n_boot, rng)
        assert not bad and set(reps) == set(hits)
        for key, r in reps.items():
            lo, hi = np.quantile(r, [0.025, 0.975])
            hits[key] += lo <= truth[key] <= hi
    for key, h in hits.items():
        assert 0.91 <= h / trials <= 0.985, (key, h / trials)  # 300 trials: nominal 0.95 +- ~3 s.e.


def test_bootstrap_table_is_seeded_and_brackets_the_seed_mean(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 4, 16), seeds=(0, 1), n=400)
    table = load_sweeps([sweep])
    ci = bootstrap_table(table, n_boot=300, seed=3, progress=False)
    again = bootstrap_table(table, n_boot=300, seed=3, progress=False)
    assert ci.equals(again)
    assert set(ci["metric"]) == {"test/acc", "test/ce"} | {f"test/subset_acc_k={k}" for k in range(1, 6)}
    assert (ci["n_runs"] == 2).all() and len(ci) == 3 * 7
    merged = ci.merge(table.groupby(["metric", "scale"], as_index=False)["value"].mean())
    assert (merged["ci_lo"] <= merged["value"] + 1e-12).all() and (
        merged["value"] <= merged["ci_hi"] + 1e-12
    ).all()
    # width of the acc interval of one point ~ 2 * 1.96 * sqrt(p(1-p)/n) / sqrt(2 seeds)
    row = merged[(merged["metric"] == "test/acc") & (merged["scale"] == merged["scale"].min())].iloc[0]
    p = row["value"]
    expected = 2 * 1.96 * np.sqrt(p * (1 - p) / 400) / np.sqrt(2)
    assert row["ci_hi"] - row["ci_lo"] == pytest.approx(expected, rel=0.25)


def test_a_record_the_per_item_arrays_do_not_reproduce_gets_no_interval(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), n=200)
    rec_path = sweep / "model.width=2,seed=0" / "metrics.json"
    rec = json.loads(rec_path.read_text())
    rec["metrics"]["test/ce"] += 0.5
    rec_path.write_text(json.dumps(rec))
    with pytest.warns(UserWarning, match=r"test/ce \(record"):
        ci = bootstrap_table(load_sweeps([sweep]), n_boot=50, progress=False)
    assert len(ci[ci["metric"] == "test/ce"]) == 2


def test_figure_draws_the_intervals(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 4, 16), seeds=(0,), n=300)
    table = load_sweeps([sweep])
    ci = bootstrap_table(table, n_boot=200, progress=False)
    fig = sweep_figure(table, ci=ci)
    # one errorbar container per curve: acc, ce, and the 5 subset-accuracy curves
    assert sum(len(ax.containers) for ax in fig.axes) == 7


def test_autoencoder_and_sequence_records_are_rescored_from_their_per_item_arrays():
    rng = np.random.default_rng(5)
    sq_err = rng.gamma(4.0, 15.0, 800).astype(np.float32)  # summed over a 3072-value image
    correct = rng.random((400, 5)) < 0.8  # Omniglot-like [n_seq, L]
    metrics = {
        "test/sq_err": float(sq_err.astype(np.float64).mean()),
        "test/mse": float(sq_err.astype(np.float64).mean() / 3072),
        "test/recon_c=50": float((sq_err < 50).mean()),
        "test/recon_c=100": float((sq_err < 100).mean()),
    }
    reps, bad = run_replicates(metrics, {"sq_err": sq_err}, 400, rng)
    assert not bad and set(reps) == set(metrics)
    for key, r in reps.items():
        assert r.mean() == pytest.approx(metrics[key], rel=0.02)
    m, n_answers = int(correct.sum()), correct.size
    seq = {
        "test/acc": float(correct.mean()),
        "test/seq_acc_l=3": float(correct[:, :3].all(axis=1).mean()),
        "test/subset_acc_k=3": subset_acc(m, n_answers, 3),  # every answer of every sequence is an item
    }
    reps, bad = run_replicates(seq, {"correct": correct}, 400, rng)
    assert not bad and set(reps) == set(seq)
    se = np.sqrt(seq["test/seq_acc_l=3"] * (1 - seq["test/seq_acc_l=3"]) / 400)
    assert reps["test/seq_acc_l=3"].std() == pytest.approx(se, rel=0.15)
