"""Which logged metrics are smooth and which are sharp, with plot labels and direction.

A log key is ``<split>/<name>`` with an optional parameter in the name (``test/subset_acc_k=3``). The registry maps
the name to a :class:`MetricKind` by pattern; families with new metrics extend it with :func:`register_metric_kind`
(earlier registrations win, so register specific patterns before broad ones).

The paper's distinction: a *smooth* metric changes continuously and roughly linearly in the per-item error rate
(accuracy, cross-entropy, MSE, token edit distance, Brier score); a *sharp* metric is nonlinear or discontinuous in
it (all K of K right, reconstruction error under a threshold, a whole sequence right).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Sharpness = Literal["smooth", "sharp"]


@dataclass(frozen=True)
class MetricKind:
    """How to read one metric family: its name pattern, sharpness, a plot label and its direction.

    ``pattern`` is matched (``re.fullmatch``) against the name without the split; a named group ``param`` captures
    the parameter (``K`` in ``subset_acc_k=3``). ``family`` is the name without the parameter; curves of one family
    share one panel. ``param_label`` names the parameter in legends (``"K"``).
    """

    pattern: str
    sharpness: Sharpness
    label: str
    higher_is_better: bool
    family: str
    param_label: str | None = None
    identity_param: str | None = None  # parameter value at which the sharp metric is its smooth companion
    chance: float | None = None  # score of a random guesser, when known (drawn as a floor)
    lower: float | None = None  # bounds of the score, when known ([0, 1] for accuracies)
    upper: float | None = None


@dataclass(frozen=True)
class MetricInfo:
    """One parsed log key: split, name, its kind and the parameter value (None when it has none)."""

    key: str
    split: str
    name: str
    kind: MetricKind
    param: str | None

    @property
    def sharpness(self) -> Sharpness:
        return self.kind.sharpness

    @property
    def is_identity(self) -> bool:
        """True where the sharp metric reduces to its smooth companion (all 1 of 1 right = accuracy)."""
        return (
            self.param is not None
            and self.kind.identity_param is not None
            and (float(self.param) == float(self.kind.identity_param))
        )

    @property
    def curve_label(self) -> str:
        """Legend label of this one curve (``K=3``), or the metric label when it has no parameter."""
        if self.param is None:
            return self.kind.label
        return f"{self.kind.param_label or 'param'}={self.param}"


_P = r"(?P<param>[-+0-9.eE]+)"
_REGISTRY: list[tuple[re.Pattern[str], MetricKind]] = []


def register_metric_kind(kind: MetricKind, *, first: bool = False) -> None:
    """Add a metric family to the registry (appended, or put first so it wins over existing broad patterns)."""
    entry = (re.compile(kind.pattern), kind)
    if first:
        _REGISTRY.insert(0, entry)
    else:
        _REGISTRY.append(entry)


for _kind in (
    # sharp (nonlinear or discontinuous in the per-item error rate)
    MetricKind(
        rf"subset_acc_k={_P}", "sharp", "subset accuracy (all K of K right)", True, "subset_acc", "K", "1"
    ),
    MetricKind(rf"recon_c={_P}", "sharp", "Reconstruction$_c$ (share with error < c)", True, "recon", "c"),
    MetricKind(rf"seq_acc_l={_P}", "sharp", "sequence accuracy (all L right)", True, "seq_acc", "L", "1"),
    # exact match of the first L=1 digit is that digit's per-token accuracy: the identity point
    MetricKind(rf"exact_match_l={_P}", "sharp", "exact match", True, "exact_match", "L", "1"),
    MetricKind(
        rf"target_prob_l={_P}", "sharp", "probability of the exact target", True, "target_prob", "L", "1"
    ),
    MetricKind(r"exact_match", "sharp", "exact match", True, "exact_match"),
    MetricKind(r"multiple_choice_grade", "sharp", "multiple choice grade", True, "multiple_choice_grade"),
    # smooth (continuous, about linear in the per-item error rate)
    MetricKind(rf"edit_distance_l={_P}", "smooth", "token edit distance", False, "edit_distance", "L"),
    MetricKind(r"edit_distance", "smooth", "token edit distance", False, "edit_distance"),
    MetricKind(rf"token_acc(?:_l={_P})?", "smooth", "per-token accuracy", True, "token_acc", "L"),
    MetricKind(r"brier(?:_score)?", "smooth", "Brier score", False, "brier"),
    MetricKind(r"acc", "smooth", "accuracy", True, "acc"),
    MetricKind(r"ce", "smooth", "cross-entropy (nats)", False, "ce"),
    MetricKind(r"loss", "smooth", "loss", False, "loss"),
    MetricKind(r"mse", "smooth", "mean squared error", False, "mse"),
    MetricKind(r"sq_err", "smooth", "squared reconstruction error (per image)", False, "sq_err"),
    # broad name markers last (any name containing them; BIG-Bench's calibration_multiple_choice_brier_score,
    # lm-eval's word_perplexity): continuous, lower is better
    MetricKind(r"(?i).*brier.*", "smooth", "Brier score", False, "brier"),
    MetricKind(r"(?i).*calibration_error.*", "smooth", "calibration error", False, "calibration_error"),
    MetricKind(r"(?i).*perplexity.*", "smooth", "perplexity", False, "perplexity"),
    MetricKind(r"(?i).*cross_entropy.*", "smooth", "cross-entropy", False, "cross_entropy"),
    MetricKind(r"(?i).*edit_distance.*", "smooth", "edit distance", False, "edit_distance"),
    MetricKind(r"(?i).*loss.*", "smooth", "loss", False, "loss"),
):
    register_metric_kind(_kind)


def classify(key: str) -> MetricInfo | None:
    """Parse a log key (``test/subset_acc_k=3``) into a :class:`MetricInfo`; ``None`` for an unknown metric."""
    split, sep, name = key.partition("/")
    if not sep:
        split, name = "", key
    for pattern, kind in _REGISTRY:
        m = pattern.fullmatch(name)
        if m:
            param = m.groupdict().get("param")
            return MetricInfo(key=key, split=split, name=name, kind=kind, param=param)
    return None


def higher_is_better(key: str, lower_is_better=(), default: bool = True) -> bool:
    """The one direction rule: ``False`` for a name matching a ``lower_is_better`` glob, else the registry's
    direction, else ``default`` for a name the registry does not know."""
    from fnmatch import fnmatchcase

    name = key.partition("/")[2] or key
    if any(fnmatchcase(key, g) or fnmatchcase(name, g) for g in lower_is_better):
        return False
    info = classify(key)
    return info.kind.higher_is_better if info is not None else default


def param_sort_key(info: MetricInfo) -> tuple[str, float, str]:
    """Order curves of one family by their numeric parameter (K=1, 2, ..., 10, not 1, 10, 2)."""
    if info.param is None:
        return (info.kind.family, float("-inf"), "")
    try:
        return (info.kind.family, float(info.param), info.param)
    except ValueError:
        return (info.kind.family, float("inf"), info.param)
