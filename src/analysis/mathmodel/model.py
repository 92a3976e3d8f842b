"""The paper's mathematical model of emergence as a metric artefact (Sec. 2, App. A).

Per-token cross-entropy falls as a power law in parameters N, ``CE(N) = (N / c) ** alpha`` (c > 0, alpha < 0);
the per-token probability of the right token is ``p(N) = exp(-CE(N))``. Scoring L tokens at once:

- accuracy / exact match (nonlinear):    ``p ** L``           (App. A.3, independent tokens)
- token edit distance (quasi-linear):    ``L * (1 - p)``      (App. A.2, substitutions only)
- multiple choice grade (discontinuous): 1 when the right choice has the largest mass, else 0
- Brier score (continuous):              ``sum_k (q_k - y_k) ** 2`` over the choices

and a test set of n items resolves only multiples of 1/n (App. A.1, Eq. 3).
"""

from __future__ import annotations

import numpy as np

ArrayLike = float | np.ndarray


def cross_entropy(n_params: ArrayLike, c: float, alpha: float) -> np.ndarray:
    """Per-token cross-entropy ``(N / c) ** alpha`` (paper Fig. 2A); needs c > 0 and alpha < 0."""
    if c <= 0 or alpha >= 0:
        raise ValueError(f"the power law needs c > 0 and alpha < 0, got c={c}, alpha={alpha}")
    return (np.asarray(n_params, dtype=float) / c) ** alpha


def token_prob(n_params: ArrayLike, c: float, alpha: float) -> np.ndarray:
    """Per-token probability of the right token, ``exp(-CE(N))`` (Fig. 2B)."""
    return np.exp(-cross_entropy(n_params, c, alpha))


def sequence_accuracy(p: ArrayLike, length: int) -> np.ndarray:
    """Probability all ``length`` independent tokens are right, ``p ** L`` (Fig. 2C, App. A.3)."""
    return np.asarray(p, dtype=float) ** length


def token_edit_distance(p: ArrayLike, length: int) -> np.ndarray:
    """Expected token edit distance under substitution errors only, ``L * (1 - p)`` (Fig. 2E, App. A.2)."""
    return length * (1.0 - np.asarray(p, dtype=float))


def choice_distribution(q: ArrayLike, n_choices: int) -> np.ndarray:
    """Choice probabilities [..., K] with mass ``q`` on the right choice (index 0), the rest shared evenly."""
    q = np.asarray(q, dtype=float)[..., None]
    rest = np.broadcast_to((1.0 - q) / (n_choices - 1), q.shape[:-1] + (n_choices - 1,))
    return np.concatenate([q, rest], axis=-1)


def multiple_choice_grade(probs: np.ndarray, correct: int = 0) -> np.ndarray:
    """1.0 where the right choice strictly has the largest probability, else 0.0 (Fig. 2D)."""
    probs = np.asarray(probs, dtype=float)
    others = np.delete(probs, correct, axis=-1)
    return (probs[..., correct] > others.max(axis=-1)).astype(float)


def brier_score(probs: np.ndarray, correct: int = 0) -> np.ndarray:
    """Multi-class Brier score ``sum_k (q_k - 1[k = correct]) ** 2`` in [0, 2]; lower is better (Fig. 2F)."""
    probs = np.asarray(probs, dtype=float)
    onehot = np.zeros(probs.shape[-1])
    onehot[correct] = 1.0
    return ((probs - onehot) ** 2).sum(axis=-1)


def resolution_round(a: ArrayLike, n: int) -> np.ndarray:
    """``a`` rounded to the nearest integer multiple of 1/n (App. A.1, Eq. 3): what n test items can resolve."""
    if n < 1:
        raise ValueError(f"resolution needs n >= 1 test items, got {n}")
    return np.round(np.asarray(a, dtype=float) * n) / n
