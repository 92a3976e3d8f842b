"""lm-eval readers: on files the real harness (0.4.13) wrote (tests/analysis/families/fixtures) and on v0.3 /
early v0.4 shapes written here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from src.analysis.families.readers.lm_eval import (
    family_from_name,
    read_lm_eval_results,
    read_lm_eval_samples,
    size_from_name,
)
from src.results.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval_0.4.13"


def test_results_of_the_real_harness():
    ev = read_lm_eval_results(FIXTURES)
    assert set(ev["model"]) == {"toy-gpt2-w8", "toy-gpt2-w16"}
    assert set(ev["task"]) == {"mirage_mc_add/0shot", "mirage_gen_add/0shot"}
    assert set(ev["metric"]) == {"acc", "acc_norm", "brier_score", "exact_match"}
    w8 = ev[ev.model == "toy-gpt2-w8"].set_index("metric")
    doc = json.loads(next((FIXTURES / "toy-gpt2-w8").glob("results_*.json")).read_text())
    assert w8.loc["acc", "value"] == doc["results"]["mirage_mc_add"]["acc,none"]
    assert w8.loc["acc", "stderr"] == doc["results"]["mirage_mc_add"]["acc_stderr,none"]
    assert np.isnan(w8.loc["brier_score", "stderr"])  # "N/A" in the file
    assert (ev["n_items"] == 12).all()
    assert w8["scale"].iloc[0] == doc["config"]["model_num_parameters"]


def test_samples_of_the_real_harness_match_its_own_per_sample_fields():
    ev, items = read_lm_eval_samples(FIXTURES)
    mc = items[items.output_type == "multiple_choice"]
    assert len(mc) == 12 and set(mc["n_options"]) == {4.0}
    # MCG is the harness's acc, item by item
    np.testing.assert_array_equal(mc["mcg"], mc["harness_acc"])
    # the multi-class Brier score equals the one from the harness's own per-sample [gold, probs] field
    for path in FIXTURES.rglob("samples_mirage_mc_add_*.jsonl"):
        for line in path.read_text().splitlines():
            s = json.loads(line)
            gold, probs = s["brier_score"]
            probs = np.array(probs.strip("[]").split(), dtype=float)
            ref = float(((probs - np.eye(len(probs))[gold]) ** 2).sum())
            row = mc[(mc.source == str(path)) & (mc.item == s["doc_id"])]
            assert row["brier"].item() == pytest.approx(ref, abs=1e-6)
            assert row["p_target"].item() == pytest.approx(probs[gold], abs=1e-6)
            lls = [float(r[0][0]) for r in s["resps"]]
            assert row["logprob"].item() == pytest.approx(lls[int(s["target"])])
    gen = items[items.output_type == "generate_until"]
    assert len(gen) == 12 and gen["response"].map(type).eq(str).all()
    assert set(ev[ev.task == "mirage_gen_add/0shot"]["metric"]) == {"harness_exact_match"}
    assert {"mcg", "brier", "p_target", "logprob"} <= set(ev["metric"])


def _sample(doc_id, lls, target, strings=True):
    enc = (lambda v: str(v)) if strings else (lambda v: v)
    return {
        "doc_id": doc_id,
        "target": target,
        "arguments": {f"gen_args_{i}": {"arg_0": "Q", "arg_1": f" opt{i}"} for i in range(len(lls))},
        "resps": [[[enc(ll), enc(False)]] for ll in lls],
        "filtered_resps": [[enc(ll), enc(False)] for ll in lls],
        "filter": "none",
        "metrics": ["acc"],
        "acc": 0.0,
    }


def test_multiple_choice_against_numpy_reference(tmp_path):
    rng = np.random.default_rng(0)
    lls = rng.normal(size=(5, 3)) * 3 - 5
    targets = [0, 2, 1, "opt1", 2]  # an index, or the option's text
    folder = tmp_path / "run"
    folder.mkdir()
    with open(folder / "samples_mytask_2024-01-01T00-00-00.000000.jsonl", "w") as fh:
        for i, (ll, t) in enumerate(zip(lls, targets, strict=True)):
            fh.write(json.dumps(_sample(i, list(ll), t, strings=i % 2 == 0)) + "\n")
    ev, items = read_lm_eval_samples(folder, size_map={"run": 1e6}, family="mine")
    t = np.array([0, 2, 1, 1, 2])
    p = np.exp(lls) / np.exp(lls).sum(1, keepdims=True)
    brier = ((p - np.eye(3)[t]) ** 2).sum(1)
    np.testing.assert_allclose(items["brier"], brier, rtol=1e-12)
    np.testing.assert_allclose(items["p_target"], p[np.arange(5), t], rtol=1e-12)
    np.testing.assert_allclose(items["logprob"], lls[np.arange(5), t])
    np.testing.assert_array_equal(items["mcg"], (lls.argmax(1) == t).astype(float))
    e = ev.set_index("metric")["value"]
    assert e["brier"] == pytest.approx(brier.mean()) and e["mcg"] == pytest.approx(
        (lls.argmax(1) == t).mean()
    )
    assert set(ev["family"]) == {"mine"} and set(ev["scale"]) == {1e6}


def test_loglikelihood_task(tmp_path):
    path = tmp_path / "m-1b" / "samples_lambada_2024-01-01T00-00-00.jsonl"
    path.parent.mkdir()
    rows = [{"doc_id": i, "target": "x", "resps": [[[-1.0 * i, i == 0]]], "filtered_resps": [[-1.0 * i, i == 0]]}
            for i in range(3)]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ev, items = read_lm_eval_samples(path.parent)
    assert items["logprob"].tolist() == [0.0, -1.0, -2.0] and items["correct"].tolist() == [1.0, 0.0, 0.0]
    assert set(ev["scale"]) == {1e9} and set(ev["metric"]) == {"logprob", "correct"}


def test_v03_results_with_checkpoints(tmp_path):
    for step, acc in ((1000, 0.2), (143000, 0.6)):
        doc = {
            "results": {
                "lambada_openai": {"ppl": 10.0 / acc, "ppl_stderr": 0.5, "acc": acc, "acc_stderr": 0.01}
            },
            "versions": {"lambada_openai": 0},
            "config": {
                "model": "hf-causal",
                "model_args": f"pretrained=EleutherAI/pythia-v1.1-1.4b-deduped,revision=step{step}",
                "num_fewshot": 0,
            },
        }
        (tmp_path / f"1.4b_step{step}.json").write_text(json.dumps(doc))
    (tmp_path / "notes.json").write_text('{"other": 1}')  # not a results file: left alone in a folder
    ev = read_lm_eval_results(tmp_path, tokens_per_step=2_097_152)
    assert set(ev["family"]) == {"pythia-v1.1-deduped"} and set(ev["model"]) == {"pythia-v1.1-1.4b-deduped"}
    assert set(ev["scale"]) == {1.4e9} and set(ev["task"]) == {"lambada_openai/0shot"}
    late = ev[(ev.checkpoint == "step143000")].set_index("metric")
    assert late.loc["acc", "value"] == 0.6 and late.loc["acc", "stderr"] == 0.01
    assert late.loc["ppl", "tokens"] == 143000 * 2_097_152 and late.loc["ppl", "step"] == 143000


def test_names_and_sizes():
    assert size_from_name("bloom-7b1") == pytest.approx(7.1e9)
    assert size_from_name("opt-125m") == pytest.approx(1.25e8)
    assert size_from_name("pythia-160m-0.5MtokBS") == pytest.approx(1.6e8)
    assert size_from_name("toy-gpt2-w8") is None
    assert family_from_name("opt-125m") == "opt"
    assert family_from_name("pythia-v1.1-1.4b-deduped") == "pythia-v1.1-deduped"


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"doc_id": 0, "target": 0, "filtered_resps": [["-1", "False"], ["-2", "False"]]}\n{oops\n',
         r"\.jsonl:line 2: is not a JSON object"),
        ('{"target": 0, "filtered_resps": []}\n', r"\.jsonl:line 1: lacks doc_id"),
        ('{"doc_id": 0, "target": 5, "filtered_resps": [["-1", "False"], ["-2", "False"]]}\n',
         r"line 1: target 5 is neither an option index 0\.\.1 nor one of the options"),
        ('{"doc_id": 0, "target": 0, "filtered_resps": [["x", "False"], ["-2", "False"]]}\n',
         r"line 1: response .* is not \[loglikelihood, is_greedy\]"),
    ],
)  # fmt: skip
def test_malformed_samples_are_one_line(tmp_path, text, match):
    path = tmp_path / "m-1b" / "samples_t_2024-01-01T00-00-00.jsonl"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_lm_eval_samples(path)
    assert "\n" not in str(err.value)


def test_malformed_results_are_one_line(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"results": {"t": {"acc": 0.5}')
    with pytest.raises(InputError, match=r"r\.json:line 1: is not valid JSON"):
        read_lm_eval_results(bad)
    bad.write_text('{"results": {"t": 3}, "config": {"model_args": "pretrained=m-1b"}}')
    with pytest.raises(InputError, match=r"r\.json:key results\.t: results\['t'\] is int"):
        read_lm_eval_results(bad)
    bad.write_text('{"results": {"t": {"acc": 0.5}}, "config": {"model_args": "pretrained=tiny"}}')
    with pytest.raises(InputError, match=r"model 'tiny' has no parameter count"):
        read_lm_eval_results(bad)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"results": {"t": {"acc": 0.5}}, "config": {"model_args": "pretrained=m-1b"}}')
    b.write_text('{"results": {"t": {"acc": 0.7}}, "config": {"model_args": "pretrained=m-1b"}}')
    with pytest.raises(InputError, match=r"m-1b final t acc is given twice with different values"):
        read_lm_eval_results([a, b])
    (tmp_path / "rerun").mkdir()
    b.rename(tmp_path / "rerun" / "b.json")
    both = read_lm_eval_results([a, tmp_path / "rerun" / "b.json"], replicate_from_folder=True)
    assert sorted(both["value"]) == [0.5, 0.7] and set(both["replicate"]) == {tmp_path.name, "rerun"}


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("lm_eval") is None, reason="needs the lmeval extra")
def test_real_harness_end_to_end(tmp_path):
    """Run lm-eval itself (tiny random GPT-2s, local tasks) and read its --output_path folder unchanged."""
    script = Path(__file__).parents[3] / "scripts" / "make_lmeval_fixtures.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--items", "4", "--widths", "8"], check=True
    )
    ev, items = read_lm_eval_samples(tmp_path / "lm_eval")
    res = read_lm_eval_results(tmp_path / "lm_eval")
    mc = res[res.metric == "brier_score"].set_index("model")["value"]
    mine = ev[ev.metric == "brier"].set_index("model")["value"]
    for model in mc.index:
        assert mine[model] == pytest.approx(mc[model], abs=1e-6)
    acc = res[(res.metric == "acc")].set_index("model")["value"]
    mcg = ev[ev.metric == "mcg"].set_index("model")["value"]
    for model in acc.index:
        assert mcg[model] == pytest.approx(acc[model])
