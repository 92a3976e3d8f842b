"""OLMo-ladder wide CSV reader: fixtures written here in the upstream shape (never copies of the shared files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.analysis.families.readers.olmo_ladder import (
    OLMO_LADDER_PARAMS,
    final_checkpoints,
    read_olmo_ladder,
)
from src.results.errors import InputError

ACC = "eval/downstream/hellaswag_val_rc_5shot_len_norm"
BOOLQ = "eval/downstream/boolq_val_rc_5shot_acc"
SOFT = "eval/downstream_soft/hellaswag_val_rc_5shot_soft"
LOG = "eval/downstream_soft_log/hellaswag_val_rc_5shot_soft_log"
BPB = "eval/downstream_bpb/hellaswag_val_rc_5shot_bpb"
CE = "eval/c4_en-validation/CrossEntropyLoss"


def _run(steps, batch=1000, seed=0, tokens=True):
    rng = np.random.default_rng(seed)
    steps = np.asarray(steps)
    df = pd.DataFrame({"_step": steps})
    df[CE] = 5.0 - np.log1p(steps) * 0.1
    df[ACC] = rng.uniform(0.25, 0.6, len(steps))
    df[BOOLQ] = rng.uniform(0.4, 0.7, len(steps))
    df[SOFT] = rng.uniform(0.2, 0.4, len(steps))
    df[LOG] = np.log(df[SOFT])
    df[BPB] = rng.uniform(0.8, 2.0, len(steps))
    if tokens:
        df["throughput/total_tokens"] = steps * batch
        df["throughput/total_training_Gflops"] = steps * 2.0
    df["optim/learning_rate_group0"] = 1e-4
    df["batch_size_in_tokens"] = batch
    return df


def test_reads_values_scale_tokens_and_replicates(tmp_path):
    a = _run([100, 200, 300])
    b = _run([100, 200], seed=1)
    a.to_csv(tmp_path / "1B-5xC.csv", index=False)
    b.to_csv(tmp_path / "1B-1xC-rerun.csv", index=False)
    ev = read_olmo_ladder(tmp_path)
    assert set(ev["model"]) == {"1B-5xC", "1B-1xC"}
    assert set(ev["replicate"]) == {"", "rerun"}
    assert (ev["scale"] == OLMO_LADDER_PARAMS["1B"]).all()
    assert set(ev["metric"]) == {"ce_loss", "acc_len_norm", "acc", "p_correct", "logp_correct", "bpb"}
    row = ev[(ev.model == "1B-5xC") & (ev.checkpoint == "step200") & (ev.metric == "acc_len_norm")]
    assert row["task"].item() == "hellaswag_val_rc_5shot"
    assert row["value"].item() == pytest.approx(a[ACC].iloc[1])
    assert row["tokens"].item() == 200 * 1000
    assert row["compute"].item() == pytest.approx(400.0 * 1e9)
    assert row["chinchilla_multiplier"].item() == 5.0 and row["size"].item() == "1B"
    ce = ev[(ev.metric == "ce_loss") & (ev.model == "1B-1xC")]
    assert ce["task"].unique().tolist() == ["c4_en-validation"]
    # 6 metric columns per row, settings columns ignored
    assert len(ev) == 6 * (3 + 2)
    fin = final_checkpoints(ev)
    assert set(fin["checkpoint"]) == {"step300", "step200"} and len(fin) == 12


def test_tokens_from_step_times_batch_and_size_map(tmp_path):
    _run([10, 20], batch=512, tokens=False).to_csv(tmp_path / "600M-2xC.csv", index=False)
    ev = read_olmo_ladder([tmp_path / "600M-2xC.csv"])
    assert sorted(ev["tokens"].unique()) == [5120.0, 10240.0]
    assert ev["compute"].isna().all()
    assert (ev["scale"] == OLMO_LADDER_PARAMS["600M"]).all()
    ev = read_olmo_ladder([tmp_path / "600M-2xC.csv"], size_map={"600M-2xC": 6.1e8})
    assert (ev["scale"] == 6.1e8).all()
    _run([10]).to_csv(tmp_path / "42M-1xC.csv", index=False)  # unknown size: the label read as a number
    assert read_olmo_ladder(tmp_path / "42M-1xC.csv")["scale"].unique().tolist() == [42e6]


def test_peteish_parts_merge_and_anneal(tmp_path):
    full = _run([0, 5000, 10000, 15000], tokens=False)
    full.to_csv(tmp_path / "peteish7_eval_full.csv", index=False)
    full.iloc[1:3].to_csv(tmp_path / "peteish7_eval_5k-10k.csv", index=False)
    anneal = full.iloc[[3]].drop(columns="_step").assign(**{"throughput/total_tokens": 7e10})
    anneal.to_csv(tmp_path / "peteish7_eval_anneal.csv", index=False)
    ev = read_olmo_ladder(tmp_path)
    assert set(ev["model"]) == {"peteish7"} and (ev["scale"] == OLMO_LADDER_PARAMS["7B"]).all()
    assert ev["checkpoint"].nunique() == 5  # 4 steps + anneal, the overlapping part kept once
    ann = ev[ev.checkpoint == "anneal"]
    assert ann["step"].isna().all() and (ann["tokens"] == 7e10).all()
    assert final_checkpoints(ev)["checkpoint"].unique().tolist() == ["anneal"]


def test_conflicting_overlap_is_one_error(tmp_path):
    full = _run([0, 5000])
    full.to_csv(tmp_path / "peteish7_eval_full.csv", index=False)
    part = full.iloc[[1]].copy()
    part[ACC] = 0.99
    part.to_csv(tmp_path / "peteish7_eval_5k.csv", index=False)
    with pytest.raises(
        InputError,
        match=r"_5k\.csv:line 2: peteish7 step5000 hellaswag_val_rc_5shot acc_len_norm is 0\.99 here but [0-9.]+ in .*full\.csv:line 3;",
    ):
        read_olmo_ladder(tmp_path)


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("weird.csv", None, r"weird\.csv: file name 'weird\.csv' is not of the OLMo-ladder shape; name it"),
        ("1B-1xC.csv", "", r"1B-1xC\.csv: is empty"),
        ("1B-1xC.csv", "_step,foo\n1,2\n", r"has no metric column"),
        ("1B-1xC.csv", f"_step,{ACC}\n1,0.3\n2,oops\n", rf"1B-1xC\.csv:line 3: column '{ACC}' holds 'oops'"),
        ("1B-1xC.csv", f"_step,{ACC}\n1,0.3\n1,0.4\n", r"1B-1xC\.csv:line 2: step 1 appears twice"),
        ("1B-1xC.csv", f"{ACC}\n0.3\n", r"has neither _step nor throughput/total_tokens"),
    ],
)
def test_malformed_input_is_one_line(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content if content is not None else f"_step,{ACC}\n1,0.3\n")
    with pytest.raises(InputError, match=match) as err:
        read_olmo_ladder(path)
    assert "\n" not in str(err.value)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_olmo_ladder(tmp_path / "nope.csv")


def test_final_checkpoint_is_one_rule_for_the_reader_and_the_engine(tmp_path):
    """The OLMo reader's final_checkpoints and the verdict engine's final_rows are one function: on the reader's
    output (an anneal after the stepped evaluations) and on labels whose number is the only order, they agree."""
    from src.analysis.stats.engine import final_rows

    full = _run([0, 5000, 10000])
    full.to_csv(tmp_path / "peteish7_eval_full.csv", index=False)
    anneal = full.iloc[[2]].drop(columns="_step").assign(**{"throughput/total_tokens": 7e10})
    anneal.to_csv(tmp_path / "peteish7_eval_anneal.csv", index=False)
    _run([100, 200]).to_csv(tmp_path / "1B-5xC.csv", index=False)
    ev = read_olmo_ladder(tmp_path)
    notices: list[str] = []
    a, b = final_checkpoints(ev), final_rows(ev, notices)
    assert a.equals(b) and set(zip(a["model"], a["checkpoint"], strict=True)) == {
        ("peteish7", "anneal"),
        ("1B-5xC", "step200"),
    }
    assert notices and "left out" in notices[0]
    # no step and no tokens: the number a label ends in orders (the first reader rule kept the row order)
    t = ev[ev["model"] == "1B-5xC"].assign(step=np.nan, tokens=np.nan)
    t = pd.concat([t[t["checkpoint"] == "step200"], t[t["checkpoint"] == "step100"]])
    assert final_checkpoints(t)["checkpoint"].unique().tolist() == ["step200"]
    assert final_rows(t, [])["checkpoint"].unique().tolist() == ["step200"]


def test_the_ladder_prediction_reads_through_the_reader_registry(tmp_path):
    """backtest --settings reads its inputs as every command does (format detected, or --format): the registry's
    OLMo-ladder reader names one family per token budget and the vocabulary fills each metric's meaning."""
    from src.analysis.__main__ import build_parser
    from src.analysis.stats.ladder_cli import load_ladder_inputs

    _run([100, 200]).to_csv(tmp_path / "1B-5xC.csv", index=False)
    _run([100, 200], seed=1).to_csv(tmp_path / "1B-2xC.csv", index=False)
    for command in ("backtest", "ladder-backtest"):
        ev = load_ladder_inputs(build_parser().parse_args([command, str(tmp_path), "--target", "1B-5xC"]))
        assert set(ev["family"]) == {"OLMo-ladder 5xC", "OLMo-ladder 2xC"}
        assert "value_kind" in ev.columns and ev["value_kind"].notna().all()
    args = build_parser().parse_args(
        ["backtest", str(tmp_path / "1B-5xC.csv"), "--target", "x", "--format", "lm-eval-results"]
    )
    with pytest.raises(InputError):
        load_ladder_inputs(args)
