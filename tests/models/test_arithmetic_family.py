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
    depth = record["config"]["model"]["module"]["net"]["depth"]
    assert record["num_params"] == sum(
        p.numel() for p in DecoderLM(len(VOCAB), width=8, depth=depth, max_len=64).parameters()
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


def test_reverse_prefix_reverses_each_row_up_to_its_end_and_is_its_own_inverse():
    from src.datamodules.arithmetic import EOS, PAD, reverse_prefix

    ids = torch.tensor([[5, 6, 7, EOS, PAD], [5, 6, PAD, PAD, PAD], [5, 6, 7, 8, 9], [EOS, 3, 4, PAD, PAD]])
    want = torch.tensor([[7, 6, 5, EOS, PAD], [6, 5, PAD, PAD, PAD], [9, 8, 7, 6, 5], [EOS, 3, 4, PAD, PAD]])
    assert torch.equal(reverse_prefix(ids), want)
    assert torch.equal(reverse_prefix(reverse_prefix(ids)), ids)
    # explicit lengths (log-probs are floats with no PAD to stop at); brute force per row
    x = torch.randn(4, 6)
    lengths = torch.tensor([0, 1, 4, 6])
    ref = x.clone()
    for i, n in enumerate(lengths.tolist()):
        ref[i, :n] = x[i, :n].flip(0)
    assert torch.equal(reverse_prefix(x, lengths), ref)


def test_compact_reversed_layout_keeps_gpt3_items_and_normal_order_texts(tmp_path):
    write_gpt3_items(tmp_path, task="four_digit_addition", n=50)
    dm = ArithmeticDataModule(
        str(tmp_path), task="four_digit_addition", train_size=100, val_size=10, extra_size=20,
        prompt_format="compact", reverse_answer=True,
    )  # fmt: skip
    dm.setup()
    a, b = load_test_problems(tmp_path, TaskSpec.parse("four_digit_addition"))
    prompts, answers = dm.texts["test"]
    assert prompts.tolist() == [f"{x:04d}+{y:04d}=" for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    assert answers.tolist() == [
        str(x + y) for x, y in zip(a.tolist(), b.tolist(), strict=True)
    ]  # normal order
    assert dm.answer_start == 10
    seq = dm.test_set.tensors[0]
    assert decode(seq[:, :10].numpy()) == prompts.tolist()
    assert decode(seq[:, 10:].numpy()) == [
        s[::-1] for s in answers.tolist()
    ]  # the model writes them reversed
    with pytest.raises(ValueError, match="prompt_format"):
        TaskSpec.parse("four_digit_addition", "chat")
    none = ArithmeticDataModule(str(tmp_path), "four_digit_addition", 10, 5, 0, prompt_format="compact")
    none.setup()
    assert len(none.extra_set) == 0


@pytest.mark.parametrize("reverse", [False, True])
def test_a_model_that_writes_the_answer_scores_perfectly_in_either_order(tmp_path, reverse):
    """The module's greedy decoding, metrics and outputs, with a net that emits the training target: exact match 1
    and normal-order outputs equal to the targets, so reversal is undone everywhere."""
    from src.models.arithmetic_module import ArithmeticLMModule

    write_gpt3_items(tmp_path, task="four_digit_addition", n=30)
    dm = ArithmeticDataModule(
        str(tmp_path), task="four_digit_addition", train_size=10, val_size=5, extra_size=7,
        prompt_format="compact", reverse_answer=reverse,
    )  # fmt: skip
    dm.setup()
    table = {
        tuple(r[: dm.answer_start].tolist()): r for s in (dm.test_set, dm.extra_set) for r in s.tensors[0]
    }

    import torch.nn.functional as F

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids):
            rows = torch.stack([table[tuple(r[: dm.answer_start].tolist())] for r in ids])
            nxt = rows[:, 1 : ids.shape[1] + 1]
            return F.one_hot(nxt, len(VOCAB)).float() * 50 + self.w

        def greedy(self, prefix, steps):
            return torch.stack([table[tuple(r.tolist())] for r in prefix])[:, prefix.shape[1] :][:, :steps]

    module = ArithmeticLMModule(Oracle(), optimizer=torch.optim.SGD, reverse_answer=reverse)
    with torch.no_grad():  # as Lightning runs test_step
        module.test_step(dm.test_set.tensors, 0)  # the whole test set as one batch
    got = module.test_em.compute()
    assert got["full"] == 1.0 and all(float(v) == 1.0 for v in got.values() if not torch.isnan(v))
    cols = module.per_sample_outputs(dm)
    assert cols["output"] == cols["target"]
    assert len(cols["output"]) == 37
    for lps, target in zip(cols["target_logprobs"], cols["target"], strict=True):
        assert len(lps) == len(target) and max(lps) <= 0 and min(lps) > -1e-6


def test_strip_whitespace_matches_python_strip():
    from src.datamodules.arithmetic import EOS, encode, strip_whitespace

    texts = np.array(["12", " 12", "1 2 ", "  \n", "", "\n3\n4 ", "5"])
    ids = torch.from_numpy(encode(texts))
    ids = torch.cat([ids, torch.full((len(texts), 1), EOS)], dim=1)  # an end token after each answer
    got = decode(strip_whitespace(torch.where(ids == EOS, 0, ids)).numpy())
    assert got == [t.strip() for t in texts.tolist()]


def test_lr_scales_as_reference_width_over_width_and_cosine_ends_at_the_floor():
    import functools
    from types import SimpleNamespace

    from src.models.arithmetic_module import ArithmeticLMModule

    opt = functools.partial(torch.optim.AdamW, lr=3e-3)
    module = ArithmeticLMModule(DecoderLM(len(VOCAB), width=64), opt, lr_width_ref=32)
    assert module.configure_optimizers().param_groups[0]["lr"] == pytest.approx(1.5e-3)
    module = ArithmeticLMModule(DecoderLM(len(VOCAB), width=16), opt, lr_schedule="cosine", warmup_steps=10)
    module._trainer = SimpleNamespace(estimated_stepping_batches=110)
    sched = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(110):
        lrs.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    assert lrs[0] == pytest.approx(3e-4) and max(lrs) == pytest.approx(3e-3)
    assert lrs[-1] == pytest.approx(3e-4, rel=0.01)  # min_lr_ratio 0.1 at the last step


def _operands(prompts):
    """Operand pairs of compact prompts ``"095*045="``."""
    return np.array([[int(x) for x in p[:-1].split("*")] for p in prompts.tolist()])


def test_wider_training_operands_keep_every_held_out_pair_and_its_swap_out(tmp_path):
    write_gpt3_items(tmp_path, n=300)
    dm = ArithmeticDataModule(
        str(tmp_path), train_size=20_000, val_size=50, extra_size=200, prompt_format="compact",
        reverse_answer=True, train_digits=3, task_share=0.4, exclude_swapped=True,
    )  # fmt: skip
    dm.setup()
    held = np.concatenate([_operands(dm.texts[s][0]) for s in ("test", "val", "extra")])
    assert (held < 100).all()  # the test, validation and extra items are the task's own 2-digit problems
    train_ops = _operands(dm.texts["train"][0])
    train = set(map(tuple, train_ops.tolist()))
    assert not train & set(map(tuple, held.tolist()))
    assert not train & set(map(tuple, held[:, ::-1].tolist()))  # nor any swapped held-out pair
    in_task = (train_ops < 100).all(axis=1)
    # 40% from the task's space, plus the wide draws that land there (digit counts 1-2 for both: 4 of 9)
    assert abs(in_task.mean() - (0.4 + 0.6 * 4 / 9)) < 0.02
    assert train_ops.max() > 900 and (train_ops >= 100).any(axis=1).mean() > 0.3
    # one layout for all splits: operands zero-padded to 3 digits, answers up to 6 digits, answers correct
    assert dm.texts["test"][0][0].count("*") == 1 and len(dm.texts["test"][0][0]) == 8
    assert dm.answer_start == 8 and dm.test_set.tensors[0].shape[1] == 8 + 6 + 1
    prod = train_ops[:, 0] * train_ops[:, 1]
    assert dm.texts["train"][1].astype(np.int64).tolist() == prod.tolist()


def test_default_training_draws_are_the_task_pairs_as_before(tmp_path):
    write_gpt3_items(tmp_path, n=300)
    dm = ArithmeticDataModule(str(tmp_path), train_size=3000, val_size=50, extra_size=200, seed=3)
    dm.setup()
    test = load_test_problems(tmp_path, dm.spec)
    test_codes = test[0] * 100 + test[1]
    held = draw_pairs(np.random.default_rng(0), dm.spec, 250, test_codes, replace=False)
    before = draw_pairs(np.random.default_rng(4), dm.spec, 3000, np.concatenate([test_codes, held]), True)
    prompts, _ = dm.texts["train"]
    nums = np.array([[int(x) for x in p.split("is ")[1].split("?")[0].split(" times ")] for p in prompts])
    assert (nums[:, 0] * 100 + nums[:, 1]).tolist() == before.tolist()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"train_digits": 1}, "data.train_digits must be an integer from the task's 2"),
        ({"train_digits": 7}, "data.train_digits"),
        ({"task_share": 0.5}, "data.task_share must be in"),
        ({"train_digits": 3, "task_share": 1.5}, "data.task_share must be in"),
    ],
)
def test_bad_wide_training_settings_are_refused(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ArithmeticDataModule(str(tmp_path), **kwargs)


def test_decoder_widths_below_eight_and_bad_head_splits():
    assert DecoderLM(len(VOCAB), width=4, depth=1).width == 4
    torch.manual_seed(0)
    assert abs(float(DecoderLM(len(VOCAB), width=64, depth=1, pos_std=1.0).pos.std()) - 1.0) < 0.05
    assert float(DecoderLM(len(VOCAB), width=64, depth=1).pos.std()) < 0.03  # GPT-2's 0.02 by default
    with pytest.raises(ValueError, match="divisible by its number of heads, 3"):
        DecoderLM(len(VOCAB), width=50, depth=1)  # 3 heads
    assert DecoderLM(len(VOCAB), width=8, depth=1, heads=4).blocks[0].heads == 4
    with pytest.raises(ValueError, match="divisible by its number of heads, 3"):
        DecoderLM(len(VOCAB), width=8, depth=1, heads=3)
    with pytest.raises(ValueError, match="heads must be a positive integer"):
        DecoderLM(len(VOCAB), width=8, depth=1, heads=0)


def test_decoder_head_dim_sets_the_head_count_when_heads_is_null():
    widths = (2, 3, 4, 5, 6, 8, 12, 16, 24, 32)
    heads = [DecoderLM(len(VOCAB), width=w, depth=1, head_dim=4).blocks[0].heads for w in widths]
    assert heads == [1, 1, 1, 1, 1, 2, 3, 4, 6, 8]
    assert DecoderLM(len(VOCAB), width=32, depth=1).blocks[0].heads == 2  # head_dim 16 by default
    assert DecoderLM(len(VOCAB), width=32, depth=1, heads=1, head_dim=4).blocks[0].heads == 1  # heads wins
    with pytest.raises(ValueError, match="head_dim must be a positive integer"):
        DecoderLM(len(VOCAB), width=8, depth=1, head_dim=0)


def test_answer_start_is_read_on_the_host_before_the_batch_moves(tmp_path):
    """The datamodule hands the answer start (one number per batch) on as a Python int before the batch moves, so
    a step on an accelerator needs no device-to-host read; the loss is the one computed from the tensor form."""
    import functools

    from src.models.arithmetic_module import ArithmeticLMModule

    write_gpt3_items(tmp_path)
    dm = ArithmeticDataModule(str(tmp_path), train_size=64, val_size=8, extra_size=0, batch_size=4)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    moved = dm.on_before_batch_transfer(batch, 0)
    assert moved[1] == dm.answer_start and isinstance(moved[1], int) and moved[2] is batch[2]
    torch.manual_seed(0)
    net = DecoderLM(len(VOCAB), width=8, depth=1, max_len=64)
    module = ArithmeticLMModule(net, functools.partial(torch.optim.SGD))
    module.log_train_loss = lambda loss: loss  # no Trainer here
    assert torch.equal(module.training_step(moved, 0), module.training_step(batch, 0))
