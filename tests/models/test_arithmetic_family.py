"""The arithmetic family end to end: datamodule (held-out test pairs, GPT-3 format), batched greedy decoding, one
fast_dev_run through train() whose logged metrics the analysis recomputes from the outputs.jsonl it writes."""

import gzip
import json

import numpy as np
import pytest
import torch

from src.analysis.arithmetic.scoring import model_table, score_items
from src.datamodules.arithmetic import (
    VOCAB,
    ArithmeticDataModule,
    TaskSpec,
    decode,
    draw_pairs,
    load_test_problems,
)
from src.models.decoder import DecoderLM
from src.results.outputs import load_outputs
from src.training import train
from tests.helpers.configs import compose_train


def write_gpt3_items(data_dir, task="two_digit_multiplication", n=60, seed=0, corrupt=False):
    """A GPT-3-format test file (``{"context": "\\n\\nQ: What is a times b?\\n\\nA:", "completion": " ab"}``)."""
    spec = TaskSpec.parse(task)
    rng = np.random.default_rng(seed)
    path = data_dir / "llm" / "gpt3_arithmetic_problems" / f"{task}.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        for a, b in rng.integers(0, spec.space, (n, 2)).tolist():
            answer = int(spec.answer(np.int64(a), np.int64(b))) + (1 if corrupt else 0)
            row = {"context": f"\n\nQ: What is {a} {spec.op} {b}?\n\nA:", "completion": f" {answer}"}
            fh.write(json.dumps(row) + "\n")
    return data_dir


def test_real_gpt3_file_parses_when_present():
    from tests.conftest import real_data_dir

    root = real_data_dir()
    if root is None or not (root / "llm" / "gpt3_arithmetic_problems").is_dir():
        pytest.skip("DATA_DIR with llm/gpt3_arithmetic_problems not available")
    a, b = load_test_problems(root, TaskSpec.parse("four_digit_addition"))
    assert len(a) == 2000 and (a < 10_000).all() and (b < 10_000).all()


def test_datamodule_keeps_test_pairs_out_of_training(tmp_path):
    write_gpt3_items(tmp_path, n=300)
    dm = ArithmeticDataModule(str(tmp_path), train_size=5000, val_size=50, extra_size=200)
    dm.setup()
    spec = dm.spec

    def pairs(name):
        prompts = dm.texts[name][0]
        nums = np.array([[int(x) for x in p.split("is ")[1].split("?")[0].split(" times ")] for p in prompts])
        return set((nums[:, 0] * spec.space + nums[:, 1]).tolist())

    test, train_, extra, val = pairs("test"), pairs("train"), pairs("extra"), pairs("val")
    assert not (test & train_) and not (extra & train_) and not (val & train_) and not (extra & test)
    assert len(extra) == 200 and len(dm.test_set) == 300
    # layout: prompt left-padded to the task's prompt length, answer right after it, then EOS
    seq = dm.test_set.tensors[0]
    answers = decode(seq[:, dm.answer_start :].numpy())
    assert answers == dm.texts["test"][1].tolist()
    assert "".join(VOCAB[i] for i in seq[0, : dm.answer_start].tolist() if i > 1) == dm.texts["test"][0][0]


def test_bad_and_missing_test_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="gpt3_arithmetic_problems/two_digit_multiplication.jsonl.gz"):
        load_test_problems(tmp_path, TaskSpec.parse("two_digit_multiplication"))
    write_gpt3_items(tmp_path, corrupt=True)
    with pytest.raises(ValueError, match="differ from the template"):
        load_test_problems(tmp_path, TaskSpec.parse("two_digit_multiplication"))
    with pytest.raises(ValueError, match="unknown arithmetic task"):
        TaskSpec.parse("two_digit_division")


def test_draw_pairs_without_replacement_in_a_small_space():
    spec = TaskSpec.parse("two_digit_addition")
    got = draw_pairs(np.random.default_rng(0), spec, 9_000, np.arange(1000), replace=False)
    assert len(set(got.tolist())) == 9_000 and got.min() >= 1000
    with pytest.raises(ValueError, match="only 9000 are left"):
        draw_pairs(np.random.default_rng(0), spec, 9_001, np.arange(1000), replace=False)


def test_batched_greedy_equals_one_item_at_a_time():
    torch.manual_seed(0)
    net = DecoderLM(len(VOCAB), width=16, depth=1, max_len=40).eval()
    prefix = torch.randint(2, len(VOCAB), (5, 12))
    batched = net.greedy(prefix, steps=4)
    single = torch.cat([net.greedy(prefix[i : i + 1], steps=4) for i in range(5)])
    assert torch.equal(batched, single)


def test_fast_dev_run_logs_metrics_and_writes_outputs(tmp_path):
    data = write_gpt3_items(tmp_path / "data", n=40)
    overrides = ["experiment=arithmetic_2dm", "debug=fdr", "logger=none", "model.width=8",
                 "data.train_size=256", "data.val_size=20", "data.extra_size=30", "data.batch_size=32"]  # fmt: skip
    record = train(compose_train(overrides, tmp_path / "run", data))
    assert record["status"] == "finished" and record["model_family"] == "arithmetic_transformer"
    assert record["num_params"] == sum(
        p.numel() for p in DecoderLM(len(VOCAB), width=8, max_len=64).parameters()
    )
    metrics = record["metrics"]
    for key in (
        "test/exact_match_l=1",
        "test/edit_distance_l=3",
        "test/exact_match",
        "test/ce",
        "val/exact_match_l=1",
    ):
        assert key in metrics, key
    outputs = load_outputs([tmp_path / "run"])
    assert (outputs["subset"] == "test").sum() == 40 and (outputs["subset"] == "extra").sum() == 30
    assert (outputs["num_params"] == record["num_params"]).all()
    assert outputs["target_logprobs"].map(len).equals(outputs["target"].map(len))
    # the analysis, from the JSONL alone, reproduces what the run logged
    table = model_table(score_items(outputs)).set_index("metric")["value"]
    for L in (1, 2, 3, 4):
        assert table[f"test/exact_match_l={L}"] == pytest.approx(metrics[f"test/exact_match_l={L}"], abs=1e-6)
        assert table[f"test/edit_distance_l={L}"] == pytest.approx(
            metrics[f"test/edit_distance_l={L}"], abs=1e-5
        )
