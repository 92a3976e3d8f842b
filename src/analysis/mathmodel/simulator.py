"""Monte-Carlo simulator of the paper's model: sample token sequences with a per-token error rate and score them
with real metric code (torchmetrics), so the analytic curves of :mod:`src.analysis.mathmodel.model` can be checked.

Error model (App. A): every target token is independently replaced, with probability ``eps``, by a different token
drawn uniformly from the rest of the vocabulary; no insertions or deletions.

Metric code used:
- exact match: ``torchmetrics.classification.MulticlassExactMatch`` (a sequence counts when all L tokens match);
- token edit distance: ``torchmetrics.text.EditDistance`` on strings whose characters are the tokens;
- ROUGE-L-Sum: torchmetrics' summary-level union-LCS score (``_rouge_lsum_score``, the port of Google's
  ``rouge_scorer``) on pre-split sentences. The public ``ROUGEScore(rouge_keys="rougeLsum")`` cannot run offline: it
  needs ``nltk`` and downloads nltk's ``punkt_tab`` sentence splitter at first use. Our sentences are known, so the
  splitter is not needed, and for one-sentence texts the score equals public ``ROUGEScore(rouge_keys="rougeL")``
  (tested).

ROUGE scores *words*; a model emits *tokens*. ``tokens_per_word`` sets how many model tokens make one ROUGE word: a
word counts only if all its tokens are right, which is what makes ROUGE-L-Sum sharp in the per-token error rate.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from torchmetrics.classification import MulticlassExactMatch
from torchmetrics.text import EditDistance
from tqdm.auto import tqdm

_CHAR_BASE = 0x4E00  # tokens become single CJK code points, so character edit distance = token edit distance


def sample_targets(n_items: int, length: int, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random target token ids [n_items, length]."""
    return rng.integers(0, vocab_size, size=(n_items, length))


def corrupt(targets: np.ndarray, eps: float, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """Replace each token independently w.p. ``eps`` by a uniformly drawn *different* token."""
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"per-token error probability must be in [0, 1], got {eps}")
    if vocab_size < 2:
        raise ValueError(f"a wrong token needs a vocabulary of at least 2, got {vocab_size}")
    wrong = rng.random(targets.shape) < eps
    shift = rng.integers(
        1, vocab_size, size=targets.shape
    )  # never 0: the replacement differs from the target
    return np.where(wrong, (targets + shift) % vocab_size, targets)


def exact_match(preds: np.ndarray, targets: np.ndarray, vocab_size: int) -> float:
    """Share of sequences with every token right, via torchmetrics ``MulticlassExactMatch``."""
    metric = MulticlassExactMatch(num_classes=vocab_size, multidim_average="global")
    return float(metric(torch.as_tensor(preds), torch.as_tensor(targets)))


def _as_strings(tokens: np.ndarray) -> list[str]:
    return ["".join(chr(_CHAR_BASE + int(t)) for t in row) for row in tokens]


def token_edit_distance(preds: np.ndarray, targets: np.ndarray) -> float:
    """Mean token Levenshtein distance, via torchmetrics ``EditDistance`` on one character per token."""
    return float(EditDistance(reduction="mean")(_as_strings(preds), _as_strings(targets)))


def _rouge_lsum_fn():
    try:
        from torchmetrics.functional.text.rouge import _rouge_lsum_score
    except ImportError as err:  # a private name: fail loudly if a torchmetrics upgrade moves it
        raise ImportError(
            "torchmetrics.functional.text.rouge._rouge_lsum_score is gone in this torchmetrics version; pin "
            "torchmetrics<=1.9 or port src/analysis/simulator.py's ROUGE-L-Sum to the new API"
        ) from err
    return _rouge_lsum_score


def _words(tokens: np.ndarray, tokens_per_word: int, words_per_sentence: int) -> list[list[list[str]]]:
    """Token ids [n, L] -> per item, sentences of words; a word joins ``tokens_per_word`` tokens."""
    n, length = tokens.shape
    if length % (tokens_per_word * words_per_sentence):
        raise ValueError(
            f"sequence length {length} must be a multiple of tokens_per_word * words_per_sentence "
            f"= {tokens_per_word * words_per_sentence}"
        )
    words = tokens.reshape(n, -1, tokens_per_word)
    out = []
    for item in words:
        strs = ["-".join(map(str, w)) for w in item.tolist()]
        out.append([strs[i : i + words_per_sentence] for i in range(0, len(strs), words_per_sentence)])
    return out


def rouge_lsum(
    preds: np.ndarray, targets: np.ndarray, tokens_per_word: int = 1, words_per_sentence: int = 8
) -> float:
    """Mean ROUGE-L-Sum F-measure over items (summary-level union LCS over sentences, Lin 2004 Sec. 3.2)."""
    return float(np.mean(rouge_lsum_items(preds, targets, tokens_per_word, words_per_sentence)))


def rouge_lsum_items(
    preds: np.ndarray, targets: np.ndarray, tokens_per_word: int = 1, words_per_sentence: int = 8
) -> np.ndarray:
    """Per-item ROUGE-L-Sum F-measures (their mean is :func:`rouge_lsum`)."""
    score = _rouge_lsum_fn()
    p_items = _words(preds, tokens_per_word, words_per_sentence)
    t_items = _words(targets, tokens_per_word, words_per_sentence)
    return np.array([float(score(p, t)["fmeasure"]) for p, t in zip(p_items, t_items, strict=True)])


def token_edit_distances(preds: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-item token Levenshtein distances (torchmetrics ``EditDistance(reduction="none")``)."""
    return EditDistance(reduction="none")(_as_strings(preds), _as_strings(targets)).numpy().astype(float)


def simulate_lengths(
    eps_values: Iterable[float],
    lengths: Iterable[int],
    n_items: int = 1000,
    vocab_size: int = 50,
    seed: int = 0,
    progress: bool = True,
    items: dict | None = None,
) -> pd.DataFrame:
    """Exact match and token edit distance of n_items sampled sequences for each (eps, L), next to theory.

    Columns: ``eps, length, n_items, exact_match, edit_distance, theory_exact_match = (1-eps)^L,
    theory_edit_distance = L*eps``. ``items``: a dict to fill with per-item (exact match, edit distance) arrays
    by (eps, L).
    """
    rng = np.random.default_rng(seed)
    grid = [(float(e), int(L)) for e in eps_values for L in lengths]
    rows = []
    for eps, length in tqdm(grid, desc="simulate exact match + edit distance", disable=not progress):
        t = sample_targets(n_items, length, vocab_size, rng)
        p = corrupt(t, eps, vocab_size, rng)
        if items is None:
            em, ed = exact_match(p, t, vocab_size), token_edit_distance(p, t)
        else:  # per-item outcomes kept for item-bootstrap intervals (same means as the metrics above)
            em_i, ed_i = (p == t).all(axis=1).astype(float), token_edit_distances(p, t)
            items[(eps, length)] = (em_i, ed_i)
            em, ed = float(em_i.mean()), float(ed_i.mean())
        rows.append((eps, length, n_items, em, ed, (1.0 - eps) ** length, length * eps))
    cols = [
        "eps",
        "length",
        "n_items",
        "exact_match",
        "edit_distance",
        "theory_exact_match",
        "theory_edit_distance",
    ]
    return pd.DataFrame(rows, columns=cols)


def simulate_rouge(
    eps_values: Iterable[float],
    tokens_per_word: Iterable[int],
    n_words: int = 16,
    words_per_sentence: int = 8,
    n_items: int = 200,
    vocab_size: int = 50,
    seed: int = 0,
    progress: bool = True,
    items: dict | None = None,
) -> pd.DataFrame:
    """ROUGE-L-Sum (and exact match) of sampled texts of ``n_words`` words for each (eps, tokens_per_word).

    Columns: ``eps, tokens_per_word, n_items, rouge_lsum, exact_match, word_correct = (1-eps)^tokens_per_word``.
    ``items``: a dict to fill with the per-item ROUGE-L-Sum arrays by (eps, tokens_per_word).
    """
    rng = np.random.default_rng(seed)
    grid = [(float(e), int(w)) for e in eps_values for w in tokens_per_word]
    rows = []
    for eps, w in tqdm(grid, desc="simulate ROUGE-L-Sum", disable=not progress):
        t = sample_targets(n_items, n_words * w, vocab_size, rng)
        p = corrupt(t, eps, vocab_size, rng)
        r_i = rouge_lsum_items(p, t, w, words_per_sentence)
        if items is not None:
            items[(eps, w)] = r_i
        rows.append(
            (
                eps,
                w,
                n_items,
                float(np.mean(r_i)),
                exact_match(p, t, vocab_size),
                (1 - eps) ** w,
            )
        )
    return pd.DataFrame(
        rows, columns=["eps", "tokens_per_word", "n_items", "rouge_lsum", "exact_match", "word_correct"]
    )


def measured_exact_match(
    eps: float, length: int, n_items: int, vocab_size: int, rng: np.random.Generator
) -> float:
    """What a test set of ``n_items`` sequences reads as exact match at per-token error ``eps`` (App. A.1).

    Always a multiple of 1/n_items: a model whose true accuracy is well below 1/n reads as exactly 0.
    """
    t = sample_targets(n_items, length, vocab_size, rng)
    return exact_match(corrupt(t, eps, vocab_size, rng), t, vocab_size)


def simulate_choices(
    q: Iterable[float], n_choices: int, n_items: int, concentration: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item multiple choice grade and Brier score ``[n_sizes, n_items]`` of simulated choice distributions.

    At each size the model puts mass ``q`` on the right choice and shares the rest evenly
    (:func:`src.analysis.mathmodel.model.choice_distribution`); each item's distribution is a Dirichlet draw
    around it with total ``concentration`` (larger: items closer to the model's distribution, the grade curve
    closer to the analytic step). Both metrics score the *same* drawn distributions, so they pair.
    """
    from src.analysis.mathmodel import model as mm

    if concentration <= 0:
        raise ValueError(f"the Dirichlet concentration must be > 0, got {concentration}")
    rng = np.random.default_rng(seed)
    mean = mm.choice_distribution(np.asarray(list(q), dtype=float), n_choices)  # [S, K]
    g = rng.gamma(concentration * np.broadcast_to(mean[:, None, :], (mean.shape[0], n_items, n_choices)))
    probs = g / g.sum(axis=-1, keepdims=True)
    return mm.multiple_choice_grade(probs), mm.brier_score(probs)
