"""Two-operand arithmetic problems in the GPT-3 test format, as character-token tensors.

``"Q: What is 95 times 45?\\n\\nA: "`` is the prompt and ``"4275"`` the answer. The test set is the GPT-3 paper's
2000 items of the task (``<data_dir>/llm/gpt3_arithmetic_problems/<task>.jsonl.gz``); training, validation and
"extra" items (more test items for the resolution analysis, paper Fig. 4) are freshly generated with the same
operand distribution (each operand uniform on 0 .. 10^digits - 1) and never contain a test pair; extra and
validation pairs are also kept out of training (and, with ``exclude_swapped``, their swapped pairs ``(b, a)`` too).

Wider training problems (``train_digits`` > the task's digits): a task with few distinct problems (2-digit
multiplication has 10^4 ordered pairs, 6000 left for training) is memorised before it is learnt. With
``train_digits=3`` a share ``1 - task_share`` of the training problems has operands of up to 3 digits (each
operand's digit count uniform on 1 .. 3, then its value uniform among the numbers of that many digits), the rest
are the task's own pairs; every sequence is laid out for the wider operands (``"095*045="``), test items included.

Tokens are characters: PAD (0), EOS (1), then the characters of the templates and the digits. Every sequence is
``[PAD.. prompt][answer][EOS][PAD..]`` with the prompt left-padded to a fixed length, so all answers start at the
same position and greedy decoding runs on whole batches.

Two prompt formats (``prompt_format``): ``gpt3``, the test file's own text, and ``compact``, the same operands as
digit tokens zero-padded to the task's width with one operator token, ``"0095*0045="`` (the plain ``a*b=`` layout of
Lee et al. 2023, "Teaching arithmetic to small transformers"; the zero padding is ours). With ``reverse_answer`` the
model writes the answer's digits least significant first (Lee et al.'s "reverse" format), ``"5724"`` for 4275;
:func:`reverse_prefix` turns model outputs back, so every text, metric and ``outputs.jsonl`` line is in normal order.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from src.datamodules.base import InMemoryDataModule, TensorBatches
from src.datamodules.idx import DataMissingError
from src.metrics.text import code_matrix

PAD, EOS = 0, 1
CHARS = sorted(set("Q: What is plus minus times?\n\nA: -0123456789+*="))
VOCAB = ["<pad>", "<eos>", *CHARS]
_NUMS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_OPS = {"addition": "plus", "subtraction": "minus", "multiplication": "times"}
_SYMBOLS = {"plus": "+", "minus": "-", "times": "*"}
PROMPT_FORMATS = ("gpt3", "compact")
PROBLEMS_SUBDIR = "llm/gpt3_arithmetic_problems"


@dataclass(frozen=True)
class TaskSpec:
    """A GPT-3 two-operand task: operand digits and operation word (``four_digit_addition`` -> 4, "plus")."""

    name: str
    digits: int
    op: str
    prompt_format: str = "gpt3"

    @classmethod
    def parse(cls, name: str, prompt_format: str = "gpt3") -> TaskSpec:
        m = re.fullmatch(r"(two|three|four|five|six)_digit_(addition|subtraction|multiplication)", name)
        if not m:
            raise ValueError(
                f"unknown arithmetic task {name!r}: use <two..six>_digit_<addition|subtraction|multiplication>, "
                "e.g. two_digit_multiplication or four_digit_addition"
            )
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"data.prompt_format must be one of {PROMPT_FORMATS}, got {prompt_format!r}")
        return cls(name, _NUMS[m.group(1)], _OPS[m.group(2)], prompt_format)

    @property
    def space(self) -> int:
        return 10**self.digits

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return {"plus": a + b, "minus": a - b, "times": a * b}[self.op]

    @property
    def answer_len(self) -> int:
        return {"plus": self.digits + 1, "minus": self.digits + 1, "times": 2 * self.digits}[self.op]

    def prompt_text(self, a: str, b: str) -> str:
        """The GPT-3 test file's prompt (whatever ``prompt_format``): the loader checks the file against it."""
        return f"Q: What is {a} {self.op} {b}?\n\nA: "

    @property
    def prompt_len(self) -> int:
        if self.prompt_format == "compact":
            return 2 * self.digits + 2
        return len(self.prompt_text("9" * self.digits, "9" * self.digits))


def encode(strings: np.ndarray) -> np.ndarray:
    """Strings -> ``[n, w]`` int64 token ids (right-padded with PAD); raises on a character outside the vocabulary."""
    codes = code_matrix(strings.tolist(), strip=False) if len(strings) else np.zeros((0, 1), np.uint32)
    table = np.full(max(int(codes.max(initial=0)), 128) + 1, -1, dtype=np.int64)
    table[0] = PAD
    for i, ch in enumerate(CHARS):
        table[ord(ch)] = i + 2
    ids = table[codes]
    if (ids < 0).any():
        bad = sorted({chr(c) for c in codes[ids < 0].tolist()})
        raise ValueError(f"characters outside the arithmetic vocabulary: {bad}")
    return ids


def decode(ids: np.ndarray) -> list[str]:
    """Token ids ``[n, w]`` -> strings, each cut at its first PAD or EOS."""
    ids = np.asarray(ids, dtype=np.int64)
    ended = np.cumsum((ids == PAD) | (ids == EOS), axis=1) > 0
    chars = np.array(["", "", *CHARS])[np.where(ended, PAD, ids)]
    return ["".join(row) for row in chars.tolist()] if len(chars) else []


def _lengths(ids: np.ndarray) -> np.ndarray:
    return (ids != PAD).sum(axis=1)


def reverse_prefix(ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's first ``lengths[i]`` entries reversed, the rest unchanged (``[b, w]``, any dtype).

    Without ``lengths`` a row's prefix ends at its first PAD or EOS, so a greedy answer written least significant
    digit first (``"5724"`` then EOS) comes back in normal order (``"4275"``); its own inverse."""
    w = ids.shape[1]
    if lengths is None:
        lengths = (torch.cumsum((ids == PAD) | (ids == EOS), dim=1) == 0).sum(dim=1)
    j = torch.arange(w, device=ids.device)[None, :]
    n = lengths.to(ids.device)[:, None]
    return torch.gather(ids, 1, torch.where(j < n, n - 1 - j, j))


WHITESPACE = [i + 2 for i, ch in enumerate(CHARS) if ch.isspace()]


def strip_whitespace(ids: torch.Tensor) -> torch.Tensor:
    """Answers ``[b, w]`` (each ending at its first PAD) without leading and trailing whitespace tokens, as the
    analysis strips them from ``outputs.jsonl`` (so the metrics logged in training and those recomputed agree)."""
    space = torch.isin(ids, torch.tensor(WHITESPACE, device=ids.device))
    content = (ids != PAD) & ~space
    w = ids.shape[1]
    j = torch.arange(w, device=ids.device)[None, :]
    last = torch.where(content, j, -1).max(dim=1, keepdim=True).values
    ids = torch.where(j > last, PAD, ids)
    lead = torch.cumprod(space.long(), dim=1).sum(dim=1, keepdim=True)
    src = j + lead
    return torch.where(src < w, torch.gather(ids, 1, src.clamp(max=w - 1)), PAD)


def build_sequences(
    spec: TaskSpec, prompts: np.ndarray, answers: np.ndarray, reverse_answer: bool = False
) -> np.ndarray:
    """``[n, prompt_len + answer_len + 1]`` ids: left-padded prompt, answer (digits reversed if ``reverse_answer``),
    EOS, right padding."""
    p_ids, a_ids = encode(prompts), encode(answers)
    if reverse_answer:
        a_ids = reverse_prefix(torch.from_numpy(a_ids)).numpy()
    n, P, A = len(prompts), spec.prompt_len, spec.answer_len
    p_len, a_len = _lengths(p_ids), _lengths(a_ids)
    if (p_len > P).any() or (a_len > A).any() or (a_len == 0).any():
        raise ValueError(
            f"{spec.name}: a prompt or answer does not fit the task's layout (prompt {P}, answer {A})"
        )
    seq = np.full((n, P + A + 1), PAD, dtype=np.int64)
    cols = np.arange(P)[None, :] - (P - p_len)[:, None]  # left padding: prompt ends at column P
    src = np.take_along_axis(p_ids, np.clip(cols, 0, p_ids.shape[1] - 1), axis=1)
    seq[:, :P] = np.where(cols >= 0, src, PAD)
    width = min(a_ids.shape[1], A)
    seq[:, P : P + width] = a_ids[:, :width]
    seq[np.arange(n), P + a_len] = EOS
    return seq


def problem_texts(spec: TaskSpec, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prompts (in ``spec.prompt_format``) and answers (numpy string arrays) for operand arrays ``a`` and ``b``."""
    answers = spec.answer(a, b).astype(str)
    if len(a) == 0:  # numpy's char.zfill fails on empty arrays
        return np.zeros(0, dtype=str), answers
    if spec.prompt_format == "compact":
        sa, sb = np.char.zfill(a.astype(str), spec.digits), np.char.zfill(b.astype(str), spec.digits)
        return np.char.add(np.char.add(np.char.add(sa, _SYMBOLS[spec.op]), sb), "="), answers
    sa, sb = a.astype(str), b.astype(str)
    head, mid = np.char.add("Q: What is ", sa), np.char.add(f" {spec.op} ", sb)
    prompts = np.char.add(np.char.add(head, mid), "?\n\nA: ")
    return prompts, answers


def load_test_problems(data_dir: str | Path, spec: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """Operands ``(a, b)`` of the GPT-3 test items, checked against the file's prompts and answers."""
    path = Path(data_dir) / PROBLEMS_SUBDIR / f"{spec.name}.jsonl.gz"
    if not path.is_file():
        raise DataMissingError(
            f"GPT-3 arithmetic test set not found: {path}. It is openai/gpt-3's data/{spec.name}.jsonl, gzipped; "
            "set DATA_DIR (paths.data_dir) to the directory holding llm/gpt3_arithmetic_problems/"
        )
    a, b, contexts, completions = [], [], [], []
    pattern = re.compile(rf"Q: What is (\d+) {spec.op} (\d+)\?\n\nA:")
    with gzip.open(path, "rt", encoding="utf-8") as fh:  # 2000 lines, read once at setup
        for line_no, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
                m = pattern.fullmatch(row["context"].strip())
                if m is None:
                    raise ValueError(f"context {row['context']!r} is not a '{spec.op}' problem")
            except (json.JSONDecodeError, KeyError, ValueError) as err:
                raise ValueError(
                    f"{path}:{line_no}: not a GPT-3 arithmetic item ({err}); re-fetch the file"
                ) from None
            a.append(int(m.group(1)))
            b.append(int(m.group(2)))
            contexts.append(row["context"].strip() + " ")
            completions.append(row["completion"].strip())
    a, b = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
    prompts, answers = problem_texts(TaskSpec.parse(spec.name), a, b)  # the file's own (GPT-3) format
    if prompts.tolist() != contexts or answers.tolist() != completions:
        raise ValueError(
            f"{path}: prompts or answers differ from the template {spec.prompt_text('a', 'b')!r}"
        )
    return a, b


def draw_pairs(
    rng: np.random.Generator, spec: TaskSpec, n: int, exclude: np.ndarray, replace: bool
) -> np.ndarray:
    """``n`` operand-pair codes ``a * space + b`` uniform over pairs not in ``exclude`` (distinct unless ``replace``)."""
    total = spec.space**2
    if total <= 4_000_000:
        pool = np.setdiff1d(np.arange(total, dtype=np.int64), exclude)
        if not replace and n > len(pool):
            raise ValueError(f"{spec.name}: asked for {n} distinct new pairs, only {len(pool)} are left")
        return rng.choice(pool, size=n, replace=replace)
    out = np.zeros(0, dtype=np.int64)
    while len(out) < n:
        cand = rng.integers(0, total, size=2 * (n - len(out)) + 16, dtype=np.int64)
        cand = cand[~np.isin(cand, exclude)]
        if not replace:
            cand = np.setdiff1d(np.unique(cand), out)
            cand = rng.permutation(cand)
        out = np.concatenate([out, cand])[:n]
    return out


class ArithmeticDataModule(InMemoryDataModule):
    """Fresh training problems and the GPT-3 test items of one task as token tensors.

    Batches are ``(tokens [b, T], start [b], index [b])``: ``start`` is where the answer begins (the same for every
    item), ``index`` the item's position in its split. ``extra_size`` more generated test items (for Fig. 4) are in
    ``extra_set``; the test set holds the GPT-3 items only. ``prompt_format`` and ``reverse_answer``: module
    docstring. ``texts`` holds each split's prompts (as the model sees them) and answers (normal digit order).
    """

    def __init__(
        self,
        data_dir: str,
        task: str = "two_digit_multiplication",
        train_size: int = 64_000,
        val_size: int = 500,
        extra_size: int = 4_000,
        split_seed: int = 0,
        seed: int = 0,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        prompt_format: str = "gpt3",
        reverse_answer: bool = False,
        train_digits: int | None = None,
        task_share: float = 1.0,
        exclude_swapped: bool = False,
    ):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        self.data_dir, self.spec = data_dir, TaskSpec.parse(task, prompt_format)
        digits = self.spec.digits if train_digits is None else train_digits
        if not isinstance(digits, int) or not self.spec.digits <= digits <= 6:
            raise ValueError(
                f"data.train_digits must be an integer from the task's {self.spec.digits} operand digits to 6 "
                f"(or null), got {train_digits!r}"
            )
        if not 0.0 <= task_share <= 1.0 or (digits == self.spec.digits and task_share != 1.0):
            raise ValueError(
                f"data.task_share must be in [0, 1] (and 1 unless data.train_digits is wider than the task's "
                f"{self.spec.digits} digits), got {task_share!r}"
            )
        # every split is laid out (zero padding, prompt and answer lengths) for the widest operands trained on
        self.layout = TaskSpec(self.spec.name, digits, self.spec.op, self.spec.prompt_format)
        self.task_share, self.exclude_swapped = task_share, exclude_swapped
        self.reverse_answer = reverse_answer
        self.train_size, self.val_size, self.extra_size = train_size, val_size, extra_size
        self.split_seed = split_seed
        self.texts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.extra_set: TensorBatches | None = None

    @property
    def task(self) -> str:
        return self.spec.name

    @property
    def answer_start(self) -> int:
        return self.layout.prompt_len

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        """The answer start is one number per batch (the prompt length): hand it on as a host int, so that a step
        on an accelerator does not stop to read it back from the device (a sync per step)."""
        tokens, start, *rest = batch
        return (tokens, int(start[0]), *rest)

    def _split(self, name: str, codes: np.ndarray) -> TensorBatches:
        """Token tensors of operand-pair codes ``a * layout.space + b``."""
        a, b = codes // self.layout.space, codes % self.layout.space
        prompts, answers = problem_texts(self.layout, a, b)
        self.texts[name] = (prompts, answers)
        seq = torch.from_numpy(build_sequences(self.layout, prompts, answers, self.reverse_answer))
        n = len(codes)
        return TensorBatches(seq, torch.full((n,), self.layout.prompt_len), torch.arange(n))

    def _widen(self, codes: np.ndarray) -> np.ndarray:
        """Task-space pair codes ``a * spec.space + b`` -> layout-space codes."""
        return codes // self.spec.space * self.layout.space + codes % self.spec.space

    def _train_codes(self, rng: np.random.Generator, held: np.ndarray) -> np.ndarray:
        """``train_size`` training pair codes (layout space), none in ``held`` (task-space codes), in random order."""
        if self.exclude_swapped:
            held = np.concatenate([held, held % self.spec.space * self.spec.space + held // self.spec.space])
        n_task = int(round(self.task_share * self.train_size))
        task = self._widen(draw_pairs(rng, self.spec, n_task, held, True))
        wide, held_wide, space = [], self._widen(held), self.layout.space
        need = self.train_size - n_task
        while need > 0:
            digits = rng.integers(1, self.layout.digits + 1, size=(2 * need + 16, 2))
            low = np.where(digits == 1, 0, 10 ** (digits - 1))
            ops = rng.integers(low, 10**digits)
            codes = ops[:, 0] * space + ops[:, 1]
            codes = codes[~np.isin(codes, held_wide)][:need]
            wide.append(codes)
            need -= len(codes)
        return rng.permutation(np.concatenate([task, *wide])) if wide else task  # task only: the old draws

    def data_source(self) -> dict[str, object]:
        """The GPT-3 test items file's fingerprint, part of the job's identity (training data are drawn from the
        config); it has no known digest here, so ``checksums_verified`` is false."""
        from src.datamodules.checksums import data_source

        path = Path(self.data_dir) / PROBLEMS_SUBDIR / f"{self.spec.name}.jsonl.gz"
        if not path.is_file():
            load_test_problems(self.data_dir, self.spec)  # the missing-file error, naming where to get it
        return data_source({f"{PROBLEMS_SUBDIR}/{path.name}": path}, verify=False)

    def setup(self, stage: str | None = None) -> None:
        if self.test_set is not None:
            return
        a, b = load_test_problems(self.data_dir, self.spec)
        test_codes = a * self.spec.space + b
        # held-out pairs (validation, extra test) drawn with split_seed; training draws with the run's seed
        held = np.random.default_rng(self.split_seed)
        pairs = draw_pairs(held, self.spec, self.val_size + self.extra_size, test_codes, replace=False)
        val_codes, extra_codes = pairs[: self.val_size], pairs[self.val_size :]
        train_codes = self._train_codes(
            np.random.default_rng(self.seed + 1), np.concatenate([test_codes, pairs])
        )
        self.test_set = self._split("test", self._widen(test_codes))
        self.extra_set = self._split("extra", self._widen(extra_codes))
        self.val_set = self._split("val", self._widen(val_codes))
        self.train_set = self._split("train", train_codes)
