"""An arithmetic sweep's intervals come from its items (``outputs.jsonl``), like every other sweep's: the claims
path used to fall back to seeds and the binomial, with the sharp and smooth metrics resampled independently."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from src.analysis.arithmetic.scoring import score_items
from src.analysis.stats import resample as rs
from src.analysis.sweeps.claims import claim_intervals
from src.analysis.sweeps.loading import load_sweeps
from src.results.outputs import read_outputs_file
from tests.analysis.arith_factory import simulate
from tests.analysis.sweep_factory import make_sweep

WIDTHS, SEEDS = (1, 2, 4, 8, 16), (0, 1)
P = dict(zip(WIDTHS, (0.2, 0.45, 0.7, 0.9, 0.98), strict=True))


def _arithmetic_sweep(root):
    """A sweep dir of generating runs: outputs.jsonl and a record whose metrics are those outputs' scores (as
    training writes them), no per_item.npz."""
    sweep = make_sweep(root, widths=WIDTHS, seeds=SEEDS)
    for w in WIDTHS:
        for s in SEEDS:
            run = sweep / f"model.width={w},seed={s}"
            (run / "per_item.npz").unlink()
            out = simulate(run / "outputs.jsonl", n_items=300, n_extra=20, sizes=(1000,), ps=(P[w],), seed=s)
            items = score_items(read_outputs_file(out).query("subset == 'test'"), max_len=5)
            names = ["exact_match", "edit_distance"] + [f"{k}_l={L}" for k in ("exact_match", "edit_distance")
                                                          for L in range(1, 6)]  # fmt: skip
            record = json.loads((run / "metrics.json").read_text())
            record["metrics"] = {f"test/{n}": float(items[n].mean()) for n in names}
            (run / "metrics.json").write_text(json.dumps(record))
    return sweep


def test_an_arithmetic_sweep_is_judged_on_its_items_paired_across_metrics(tmp_path):
    curves, pairs = claim_intervals(load_sweeps([_arithmetic_sweep(tmp_path)]), n_boot=100, progress=False)
    src = curves.set_index("metric")["interval_source"]
    # exact match of the first 5 digits is a metric of the 5-digit answers only (NaN for the others): still items
    assert set(src) == {"items x seeds"} and "test/exact_match_l=5" in src.index
    assert pairs["paired"].all() and len(pairs) > 0
    inside = (curves["E_lo"] <= curves["E"]) & (curves["E"] <= curves["E_hi"])
    assert inside[curves["E"].notna()].all()


def test_a_metric_of_some_items_is_their_mean_in_every_resample():
    """Items without a value at L (an answer shorter than L) are left out of the mean, not the whole metric."""
    rng = np.random.default_rng(0)
    v = np.where(rng.random(400) < 0.5, np.nan, rng.random(400) < 0.3).astype(float)
    run = pd.DataFrame({"item": np.arange(400), "exact_match_l=3": v, "unknown": v, "whole": rng.random(400)})
    (out,) = rs.item_replicates(
        [run], ["exact_match_l=3", "unknown", "whole"], 2000, np.random.default_rng(1)
    )
    # a NaN elsewhere is an item the reader could not score: those items do not give the metric
    assert "unknown" not in out and "whole" in out
    assert out["exact_match_l=3"].shape == (2000,) and not np.isnan(out["exact_match_l=3"]).any()
    assert abs(out["exact_match_l=3"].mean() - np.nanmean(v)) < 0.01
    # its spread is that of a mean of the ~200 items that have a value, not of 400
    se = np.nanstd(v) / np.sqrt(np.isfinite(v).sum())
    assert 0.8 < out["exact_match_l=3"].std() / se < 1.25
