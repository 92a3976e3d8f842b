"""Inverse-scaling per-item reader on folders written here in the pipeline's shape."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from src.analysis.families.readers.inverse_scaling import read_inverse_scaling
from src.results.errors import InputError


def _task(root, name, n_options, models, seed=0, with_correct=True, kind="classification"):
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True)
    n = 6
    opts = [f"' o{i}'" for i in range(n_options)]
    data = pd.DataFrame({"prompt": [f"q{i}" for i in range(n)]})
    if kind == "classification":
        data["classes"] = "[" + ", ".join(opts) + "]"
        data["answer_index"] = rng.integers(0, n_options, n)
    data.to_csv(folder / "data.csv")
    (folder / "args.log").write_text(
        json.dumps({"dataset": name, "task_type": "x"}, indent=2) + json.dumps({"task_type": kind}, indent=2)
    )
    truth = {}
    for model in models:
        logits = rng.normal(size=(n, n_options)) * 2
        ans = data["answer_index"].to_numpy() if kind == "classification" else np.zeros(n, int)
        logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        loss = -logp[np.arange(n), ans]
        df = pd.DataFrame({"index": np.arange(n), "loss": loss})
        if with_correct:
            df["correct"] = (logits.argmax(1) == ans).astype(int)
            df["total_logprob"] = -1.0
        df.to_csv(folder / f"{model}.csv", index=False)
        probs = np.exp(logp)
        onehot = np.eye(n_options)[ans]
        truth[model] = {
            "mcg": (logits.argmax(1) == ans).mean(),
            "brier": ((probs - onehot) ** 2).sum(1).mean(),
            "p_target": np.exp(-loss).mean(),
            "logprob": -loss.mean(),
        }
    return folder, truth


def test_two_option_task_gives_exact_multiclass_brier(tmp_path):
    folder, truth = _task(tmp_path, "syllogism-0shot-gpt3", 2, ["ada", "davinci"])
    ev, items = read_inverse_scaling(folder)
    assert set(ev["task"]) == {"syllogism-0shot"} and set(ev["family"]) == {"GPT-3"}
    for model, t in truth.items():
        sub = ev[ev.model == model].set_index("metric")["value"]
        for metric, value in t.items():
            assert sub[metric] == pytest.approx(value, abs=1e-12), (model, metric)
    assert ev[ev.model == "davinci"]["scale"].iloc[0] == 175e9
    assert (ev["n_items"] == 6).all()
    assert len(items) == 12 and set(items["n_options"]) == {2.0}
    # brier bounds coincide with the exact score when there are 2 options
    np.testing.assert_allclose(items["brier_lo"], items["brier"])


def test_three_options_without_correct_keeps_bounds_only(tmp_path):
    folder, truth = _task(tmp_path / "r", "anli_all-gpt2", 3, ["gpt2"], with_correct=False)
    ev, items = read_inverse_scaling(tmp_path / "r")  # the parent folder
    metrics = set(ev["metric"])
    assert "brier" not in metrics and "mcg" not in metrics
    assert {"brier_lo", "brier_hi", "p_target", "logprob"} <= metrics
    sub = ev.set_index("metric")["value"]
    assert sub["brier_lo"] <= truth["gpt2"]["brier"] + 1e-12 <= sub["brier_hi"] + 2e-12
    # an item with p_target > 1/2 is surely correct, the others are unknown
    assert ((items["p_target"] > 0.5) == (items["correct"] == 1)).all()
    assert items.loc[items["p_target"] <= 0.5, "correct"].isna().all()


def test_lambada_task_and_size_map(tmp_path):
    folder, truth = _task(tmp_path, "lambada_mine", 5, ["tiny"], kind="lambada", with_correct=False)
    with pytest.raises(InputError, match=r"tiny\.csv: model 'tiny' has no known parameter count; give it"):
        read_inverse_scaling(folder)
    ev, _ = read_inverse_scaling(folder, size_map={"tiny": 1e6}, family="mine")
    assert set(ev["metric"]) == {"p_target", "logprob"} and ev["scale"].unique().tolist() == [1e6]
    assert ev.set_index("metric")["value"]["logprob"] == pytest.approx(truth["tiny"]["logprob"])


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda f: (f / "ada.csv").write_text("index,loss\n0,0.5\n1,x\n"),
            r"ada\.csv:line 3: column 'loss' holds 'x'",
        ),
        (
            lambda f: (f / "ada.csv").write_text("index,loss\n0,0.5\n0,0.4\n"),
            r"ada\.csv:line 2: index 0 appears twice",
        ),
        (
            lambda f: (f / "ada.csv").write_text("index,loss\n0,0.5\n99,0.4\n"),
            r"line 3: index '?99'? is not a row",
        ),
        (lambda f: (f / "ada.csv").write_text("index,loss\n0,-2\n"), r"line 2: loss is -2(\.0)?, expected"),
        (lambda f: (f / "ada.csv").write_text("idx,loss\n0,1\n"), r"lacks column 'index'"),
        (lambda f: (f / "args.log").write_text("{oops"), r"args\.log: is not a sequence of JSON objects"),
        (
            lambda f: pd.DataFrame({"classes": ["['a','b']", "a b"], "answer_index": [0, 1]}).to_csv(
                f / "data.csv"
            ),
            r"data\.csv:line 3: classes is 'a b', expected a list literal",
        ),
        (
            lambda f: pd.DataFrame({"classes": ["['a','b']"], "answer_index": [2]}).to_csv(f / "data.csv"),
            r"data\.csv:line 2: answer_index is 2, expected an option index 0\.\.1",
        ),
    ],
)
def test_malformed_input_is_one_line(tmp_path, edit, match):
    folder, _ = _task(tmp_path, "boolq-gpt3", 2, ["ada"])
    edit(folder)
    with pytest.raises(InputError, match=match) as err:
        read_inverse_scaling(folder)
    assert "\n" not in str(err.value)


def test_folder_without_items(tmp_path):
    with pytest.raises(InputError, match="holds no data.csv"):
        read_inverse_scaling(tmp_path)
