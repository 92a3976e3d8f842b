"""Run the real lm-evaluation-harness on two tiny local tasks with tiny randomly initialised GPT-2 models, so
that the lm-eval readers are tested against files the harness itself writes (``pip install -e .[lmeval]``).

    python scripts/make_lmeval_fixtures.py --out outputs/lmeval_run [--widths 8 16] [--items 12]

Writes ``<out>/models/toy-gpt2-w<W>`` (model + tokenizer, no download), ``<out>/tasks/*.yaml`` over
``<out>/tasks/*.jsonl`` (a multiple-choice and a generate_until task built from the first items of the GPT-3
arithmetic problems in ``$DATA_DIR/llm/gpt3_arithmetic_problems``) and the harness's own ``--output_path`` folder
``<out>/lm_eval/<model>/results_*.json`` + ``samples_<task>_*.jsonl`` (with ``--log_samples``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

MC_YAML = """task: mirage_mc_add
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
  - metric: brier_score
    aggregation: brier_score
    higher_is_better: false
metadata:
  version: 1.0
"""

GEN_YAML = """task: mirage_gen_add
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{context}}}}"
doc_to_target: "{{{{completion}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 4
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def _problems(n: int) -> list[dict]:
    path = (
        Path(os.environ.get("DATA_DIR", "data")) / "llm/gpt3_arithmetic_problems/two_digit_addition.jsonl.gz"
    )
    with gzip.open(path, "rt") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def write_tasks(out: Path, n: int) -> Path:
    tasks = out / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    probs = _problems(n)
    with open(tasks / "gen.jsonl", "w") as fh:
        for p in probs:
            fh.write(json.dumps(p) + "\n")
    with open(tasks / "mc.jsonl", "w") as fh:
        for i, p in enumerate(probs):
            ans = int(p["completion"])
            options = [ans, ans + 1, ans - 10, ans + 10]
            label = i % 4  # put the right answer at every position in turn
            options[0], options[label] = options[label], options[0]
            fh.write(
                json.dumps({"question": p["context"], "choices": [str(o) for o in options], "label": label})
            )
            fh.write("\n")
    (tasks / "mirage_mc_add.yaml").write_text(MC_YAML.format(data=tasks / "mc.jsonl"))
    (tasks / "mirage_gen_add.yaml").write_text(GEN_YAML.format(data=tasks / "gen.jsonl"))
    return tasks


def write_model(out: Path, width: int, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = out / "models" / f"toy-gpt2-w{width}"
    text = [p["context"] + p["completion"] for p in _problems(200)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=120, special_tokens=["<eos>", "<unk>"]))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>", pad_token="<eos>"
    )
    torch.manual_seed(seed + width)
    cfg = GPT2Config(vocab_size=len(fast), n_positions=128, n_embd=width, n_layer=1, n_head=2)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="outputs/lmeval_run")
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--items", type=int, default=12)
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    tasks = write_tasks(out, args.items)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for width in args.widths:
        model = write_model(out, width)
        cmd = [
            sys.executable, "-m", "lm_eval", "--model", "hf",
            "--model_args", f"pretrained={model},dtype=float32",
            "--tasks", "mirage_mc_add,mirage_gen_add", "--include_path", str(tasks),
            "--output_path", str(out / "lm_eval"), "--log_samples", "--device", "cpu", "--batch_size", "4",
        ]  # fmt: skip
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
