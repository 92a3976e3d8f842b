"""Per-sample outputs (outputs.jsonl, schema: src/results/outputs.py) from local Hugging Face causal LMs.

    python scripts/hf_arithmetic_outputs.py --models /ckpt/pythia-70m /ckpt/pythia-160m --family pythia \\
        --tasks two_digit_multiplication four_digit_addition --out logs/hf/pythia/outputs.jsonl

Needs the optional extra: `pip install -e .[hf]`. Models are read from disk only (``local_files_only``); nothing is
downloaded. Each test item of ``$DATA_DIR/llm/gpt3_arithmetic_problems/<task>.jsonl.gz`` gets a 2-shot prompt built
from the next two test items (as the paper, following GPT-3), a greedy answer (batched, cut at the first newline),
and the teacher-forced log-probability of each model token of the target. Then analyse with
``python -m src.analysis arith-fig3 <out> --out <dir>`` (and ``arith-fig4``, ``arith-pred3``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.datamodules.arithmetic import PROBLEMS_SUBDIR  # noqa: E402
from src.results.outputs import write_outputs  # noqa: E402


def load_items(data_dir: Path, task: str, n_items: int | None) -> list[tuple[str, str]]:
    """(context, completion) pairs of a GPT-3 test file, in file order."""
    path = data_dir / PROBLEMS_SUBDIR / f"{task}.jsonl.gz"
    if not path.is_file():
        raise SystemExit(f"error: no test file {path}; set --data-dir (or DATA_DIR) to the dir holding llm/")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    items = [(r["context"], r["completion"]) for r in rows]
    return items[:n_items] if n_items else items


def few_shot_prompts(items: list[tuple[str, str]], shots: int) -> list[str]:
    """Prompt of item i: the next ``shots`` items (cyclically) with their answers, then item i's question."""
    n = len(items)
    prompts = []
    for i, (context, _) in enumerate(items):
        demo = "".join(items[(i + k) % n][0] + items[(i + k) % n][1] for k in range(1, shots + 1) if n > 1)
        prompts.append((demo + context).lstrip())
    return prompts


@torch.no_grad()
def greedy_answers(model, tok, prompts: list[str], batch_size: int, max_new_tokens: int, device) -> list[str]:
    """Greedy continuations of whole batches (left padding), cut at the first newline."""
    tok.padding_side = "left"
    out = []
    for start in range(0, len(prompts), batch_size):
        enc = tok(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        gen = model.generate(
            **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
        )
        texts = tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out += [t.split("\n")[0].strip() for t in texts]
    return out


@torch.no_grad()
def target_logprobs(model, tok, prompts: list[str], targets: list[str], batch_size: int, device):
    """Model tokens of each target (leading whitespace dropped from their text) and their log-probabilities given
    the prompt, by teacher forcing (right padding, one forward pass per batch)."""
    tok.padding_side = "right"
    all_tokens, all_lps = [], []
    for start in range(0, len(prompts), batch_size):
        ps, ts = prompts[start : start + batch_size], targets[start : start + batch_size]
        ctx = [
            tok(p)["input_ids"] for p in ps
        ]  # context and target encoded apart: no token spans the boundary
        full = [c + tok(t, add_special_tokens=False)["input_ids"] for c, t in zip(ctx, ts, strict=True)]
        width = max(map(len, full))
        ids = torch.full((len(full), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, f in enumerate(full):
            ids[i, : len(f)] = torch.tensor(f)
            mask[i, : len(f)] = 1
        logp = torch.log_softmax(
            model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float(), -1
        )
        for i, (c, f) in enumerate(zip(ctx, full, strict=True)):
            cont = f[len(c) :]
            lp = logp[i, len(c) - 1 : len(f) - 1].gather(-1, torch.tensor(cont, device=device)[:, None])[:, 0]
            texts = [tok.decode([t]) for t in cont]
            stripped = "".join(texts).lstrip()
            drop = len("".join(texts)) - len(stripped)  # leading whitespace: not part of the scored answer
            clean = []
            for t in texts:
                cut = min(drop, len(t))
                clean.append(t[cut:])
                drop -= cut
            all_tokens.append(clean)
            all_lps.append([min(float(v), 0.0) for v in lp.cpu()])
    return all_tokens, all_lps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", nargs="+", required=True, type=Path, help="local model dirs (save_pretrained)"
    )
    parser.add_argument("--family", required=True, help="family name written to every line")
    parser.add_argument("--tasks", nargs="+", default=["two_digit_multiplication", "four_digit_addition"])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument(
        "--n-items", type=int, default=None, help="first N test items only (default: all 2000)"
    )
    parser.add_argument(
        "--shots", type=int, default=2, help="solved examples before each question (default 2)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--no-logprobs", action="store_true", help="skip the target log-probabilities")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, required=True, help="outputs.jsonl to write")
    args = parser.parse_args(argv)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise SystemExit("error: transformers is not installed: pip install -e .[hf]") from None

    rows = []
    for model_dir in args.models:
        tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).to(args.device).eval()
        num_params = sum(p.numel() for p in model.parameters())
        for task in args.tasks:
            items = load_items(args.data_dir, task, args.n_items)
            prompts = few_shot_prompts(items, args.shots)
            targets = [c for _, c in items]
            outputs = greedy_answers(model, tok, prompts, args.batch_size, args.max_new_tokens, args.device)
            toks = lps = None
            if not args.no_logprobs:
                toks, lps = target_logprobs(model, tok, prompts, targets, args.batch_size, args.device)
            for i, (prompt, target, output) in enumerate(zip(prompts, targets, outputs, strict=True)):
                row = {"model": model_dir.name, "family": args.family, "num_params": num_params, "task": task,
                       "prompt": prompt, "target": target.strip(), "output": output, "item": i, "subset": "test"}  # fmt: skip
                if toks is not None:
                    row.update(target_tokens=toks[i], target_logprobs=lps[i])
                rows.append(row)
        print(f"{model_dir.name}: {num_params:,} parameters, {len(args.tasks)} task(s) done")
    print(write_outputs(args.out, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
