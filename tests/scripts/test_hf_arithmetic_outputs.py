"""scripts/hf_arithmetic_outputs.py on a tiny randomly initialised GPT-2 built and saved here (no hub access)."""

import pytest

from src.results.outputs import load_outputs
from tests.models.test_arithmetic_family import write_gpt3_items

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


def _tiny_model(path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(
        [f"Q: What is {a} times {b}?\n\nA: {a * b}" for a in range(30) for b in range(30)], trainer
    )
    from tokenizers import decoders

    tok.decoder = decoders.ByteLevel()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>")
    fast.save_pretrained(path)
    cfg = transformers.GPT2Config(vocab_size=len(fast), n_positions=128, n_embd=16, n_layer=1, n_head=2,
                                  eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id)  # fmt: skip
    transformers.GPT2LMHeadModel(cfg).save_pretrained(path)
    return path


def test_writes_valid_jsonl_from_local_models(tmp_path):
    from scripts.hf_arithmetic_outputs import main

    data = write_gpt3_items(tmp_path / "data", n=5)
    m1, m2 = _tiny_model(tmp_path / "tiny-a"), _tiny_model(tmp_path / "tiny-b")
    out = tmp_path / "hf" / "outputs.jsonl"
    args = ["--models", str(m1), str(m2), "--family", "tiny", "--tasks", "two_digit_multiplication",
            "--data-dir", str(data), "--batch-size", "2", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    df = load_outputs([out])  # validates every line: tokens join to the target, log-probs <= 0
    assert len(df) == 10 and set(df["model"]) == {"tiny-a", "tiny-b"} and (df["family"] == "tiny").all()
    assert df["num_params"].nunique() == 1 and df["num_params"].iloc[0] > 0
    first = df[(df["model"] == "tiny-a") & (df["item"] == 0)].iloc[0]
    # 2-shot prompt: items 1 and 2 with their answers, then item 0's question
    questions = first["prompt"].split("Q: ")
    assert len(questions) == 4 and first["prompt"].endswith("A:")
    assert all("\n" not in o for o in df["output"])
    assert (df["target_logprobs"].map(len) == df["target_tokens"].map(len)).all()
