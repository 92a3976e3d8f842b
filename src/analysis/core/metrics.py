"""Which logged metrics are smooth and which are sharp, with plot labels and direction.

A log key is ``<split>/<name>`` with an optional parameter in the name (``test/subset_acc_k=3``). The registry maps
the name to a :class:`MetricKind` by pattern; families with new metrics extend it with :func:`register_metric_kind`
(earlier registrations win, so register specific patterns before broad ones).

The paper's distinction: a *smooth* metric changes continuously and roughly linearly in the per-item error rate
(accuracy, cross-entropy, MSE, token edit distance, Brier score); a *sharp* metric is nonlinear or discontinuous in
it (all K of K right, reconstruction error under a threshold, a whole sequence right).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from src.results.errors import InputError

Sharpness = Literal["smooth", "sharp"]


@dataclass(frozen=True)
class MetricKind:
    """How to read one metric family: its name pattern, sharpness, a plot label and its direction.

    ``pattern`` is matched (``re.fullmatch``) against the name without the split; a named group ``param`` captures
    the parameter (``K`` in ``subset_acc_k=3``). ``family`` is the name without the parameter; curves of one family
    share one panel. ``param_label`` names the parameter in legends (``"K"``).
    """

    pattern: str
    sharpness: Sharpness | None  # None: not known (declare it with --sharp / --smooth)
    label: str
    higher_is_better: bool | None  # None: not known (declare it with --higher-is-better / --lower-is-better)
    family: str
    param_label: str | None = None
    identity_param: str | None = None  # parameter value at which the sharp metric is its smooth companion
    chance: float | None = None  # score of a random guesser, when known (drawn as a floor)
    lower: float | None = None  # bounds of the score, when known ([0, 1] for accuracies)
    upper: float | None = None
    # the engine's vocabulary (stats/engine.py): how far the metric is from the per-item outcome it summarises.
    # 0: continuous per item (Brier, log-likelihood, edit distance, loss); 1: a share of items or samples judged
    # right by an argmax or threshold (accuracy, MCG, pass@1); 2: a nonlinear aggregate of such per-item
    # judgements (all K of K right, all L digits right, pass@k for k > 1). A pair "sharp vs smooth" is two metrics
    # of the same outputs at different levels; two metrics of one level (acc, acc_norm) are never paired.
    level: int | None = None
    value_kind: str | None = None  # "share" (of n items), "counts" (of samples), "continuous"


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
    MetricKind(r"(?:em|exact)", "sharp", "exact match", True, "exact_match"),
    MetricKind(r"pass@(?P<param>\d+)", "sharp", "pass@k", True, "pass@k", "k", "1"),
    MetricKind(
        r"acc_norm|acc_len_norm|acc_mutual_info|acc_per_char|acc_per_token|acc_uncond",
        "sharp",
        "accuracy (normalised)",
        True,
        "acc_norm",
    ),
    MetricKind(r"mc1", "sharp", "MC1 (best option right)", True, "mc1"),
    MetricKind(r"mcg|correct", "sharp", "multiple choice grade", True, "multiple_choice_grade"),
    MetricKind(r"multiple_choice_grade", "sharp", "multiple choice grade", True, "multiple_choice_grade"),
    MetricKind(r"exact_str_match", "sharp", "exact string match", True, "exact_str_match"),
    MetricKind(
        r"case_insensitive_str_match", "sharp", "exact string match (any case)", True, "exact_str_match"
    ),
    # smooth (continuous, about linear in the per-item error rate)
    MetricKind(rf"edit_distance_l={_P}", "smooth", "token edit distance", False, "edit_distance", "L"),
    MetricKind(r"edit_distance", "smooth", "token edit distance", False, "edit_distance"),
    MetricKind(rf"token_acc(?:_l={_P})?", "smooth", "per-token accuracy", True, "token_acc", "L"),
    MetricKind(r"brier(?:_score)?", "smooth", "Brier score", False, "brier"),
    MetricKind(r"mc2", "smooth", "MC2 (probability on true options)", True, "mc2"),
    MetricKind(
        r"p_target|p_correct|prob_correct", "smooth", "probability of the right answer", True, "p_target"
    ),
    MetricKind(
        r"logprob|logp_correct|log_likelihood|loglikelihood|ll",
        "smooth",
        "log-probability of the right answer",
        True,
        "logprob",
    ),
    MetricKind(r"ppl|log_ppl|word_perplexity|byte_perplexity", "smooth", "perplexity", False, "perplexity"),
    MetricKind(r"bpb|bits_per_byte", "smooth", "bits per byte", False, "bpb"),
    MetricKind(r"ce_loss", "smooth", "cross-entropy (nats per token)", False, "ce"),
    MetricKind(r"acc|accuracy", "smooth", "accuracy", True, "acc"),
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
    # direction known, sharpness not settled by the paper: declare --sharp/--smooth to draw or claim them
    MetricKind(r"(?i).*bleu.*", None, "BLEU", True, "bleu"),
    MetricKind(r"(?i)rouge.*", None, "ROUGE", True, "rouge"),
    MetricKind(r"(?:macro_|sequence_)?f1", None, "F1", True, "f1"),
    MetricKind(
        r"normalized_aggregate_score", None, "normalized aggregate score", True, "normalized_aggregate_score"
    ),
):
    register_metric_kind(_kind)

#: level and kind of value of each metric family (see MetricKind.level): the engine's one table of them
LEVELS: dict[str, tuple[int, str]] = {
    # 2: nonlinear aggregates of per-item judgements
    "subset_acc": (2, "share"), "seq_acc": (2, "share"), "exact_match": (2, "share"),
    "target_prob": (2, "continuous"), "pass@k": (2, "counts"),
    # 1: shares of items (or samples) judged right by an argmax or a threshold
    "acc": (1, "share"), "acc_norm": (1, "share"), "mc1": (1, "share"), "multiple_choice_grade": (1, "share"),
    "exact_str_match": (1, "share"), "recon": (1, "share"), "token_acc": (1, "share"),
    # 0: continuous per item
    "brier": (0, "continuous"), "mc2": (0, "continuous"), "p_target": (0, "continuous"),
    "logprob": (0, "continuous"), "perplexity": (0, "continuous"), "bpb": (0, "continuous"),
    "ce": (0, "continuous"), "loss": (0, "continuous"), "mse": (0, "continuous"), "sq_err": (0, "continuous"),
    "edit_distance": (0, "continuous"), "calibration_error": (0, "continuous"), "cross_entropy": (0, "continuous"),
}  # fmt: skip
#: bounds of continuous scores whose range is known (shares and counts are [0, 1] by their kind)
BOUNDS: dict[str, tuple[float, float]] = {"brier": (0.0, 2.0), "p_target": (0.0, 1.0), "mc2": (0.0, 1.0)}
_REGISTRY[:] = [
    (p, replace(k, level=LEVELS[k.family][0], value_kind=LEVELS[k.family][1],
                lower=BOUNDS.get(k.family, (k.lower, k.upper))[0], upper=BOUNDS.get(k.family, (k.lower, k.upper))[1])
     if k.family in LEVELS else k)
    for p, k in _REGISTRY
]  # fmt: skip


def declared_fields(key: str) -> dict:
    """What the declarations in force say of ``key`` (direction as ``higher_is_better``, ``level``), later ones
    winning: a user's word overrides what a reader took from its source."""
    name = key.partition("/")[2] or key
    out: dict = {}
    for d in _DECLARED:
        if d.matches(key, name):
            if d.higher_is_better is not None:
                out["higher_is_better"] = float(d.higher_is_better)
            if d.level is not None:
                out["level"] = float(d.level)
            elif d.sharpness is not None:
                out["level"] = 0.0 if d.sharpness == "smooth" else None
    return {k: v for k, v in out.items() if v is not None}


def declared_partner(key: str) -> str | None:
    """The partner a declaration in force names for ``key`` (the last one wins), else None."""
    name = key.partition("/")[2] or key
    found = [d.partner for d in _DECLARED if d.partner is not None and d.matches(key, name)]
    return found[-1] if found else None


def _registry_kind(name: str) -> tuple[MetricKind, str | None] | None:
    for pattern, kind in _REGISTRY:
        m = pattern.fullmatch(name)
        if m:
            return kind, m.groupdict().get("param")
    return None


def classify(key: str) -> MetricInfo | None:
    """Parse a log key (``test/subset_acc_k=3``) into a :class:`MetricInfo`; ``None`` for an unknown metric.

    Declarations in force (:func:`declared`) override the registry field by field (a glob that only says
    ``lower`` keeps the registry's sharpness); a declared name the registry does not know gets a kind of its own.
    """
    split, sep, name = key.partition("/")
    if not sep:
        split, name = "", key
    found = _registry_kind(name)
    decls = [d for d in _DECLARED if d.matches(key, name)]
    if found is None and not decls:
        return None
    kind, param = found if found is not None else (MetricKind(re.escape(name), None, name, None, name), None)
    if kind.pattern.startswith("(?i)"):  # a broad name marker: the metric's own name labels it
        kind = replace(kind, label=name)
    for d in decls:
        kind = d.apply(kind)
    return MetricInfo(key=key, split=split, name=name, kind=kind, param=param)


#: metric kinds whose value is a share of items (right or wrong per item): measured in steps of 1/n_items, so
#: Eq. 1 ties at that resolution and a binomial measurement null applies
SHARE_OF_ITEMS = {"acc", "recon", "seq_acc", "exact_match", "multiple_choice_grade", "exact_str_match"}


def is_share_of_items(key: str) -> bool:
    """True where the registry knows ``key`` as a share of items (accuracy, exact match, MCG, ...)."""
    info = classify(key)
    return info is not None and info.kind.family in SHARE_OF_ITEMS


def target_length(key: str) -> int | None:
    """L of a metric of the first L target tokens (``exact_match_l=3``, ``edit_distance_l=3``: 3), else None. Such a
    metric is one of the items with at least L tokens; the others have no value for it."""
    info = classify(key)
    return (
        int(info.param)
        if info is not None and info.param is not None and info.kind.param_label == "L"
        else None
    )


def higher_is_better(key: str, lower_is_better: Iterable[str] = (), default: bool | None = None) -> bool:
    """The one direction rule: ``False`` for a name matching a ``lower_is_better`` glob, else the declared or
    registered direction, else ``default``; with no default, an unknown direction is an :class:`InputError`."""
    name = key.partition("/")[2] or key
    if any(fnmatchcase(key, g) or fnmatchcase(name, g) for g in lower_is_better):
        return False
    info = classify(key)
    if info is not None and info.kind.higher_is_better is not None:
        return info.kind.higher_is_better
    if default is None:
        raise undeclared_error([key], need="direction")
    return default


def param_sort_key(info: MetricInfo) -> tuple[str, float, str]:
    """Order curves of one family by their numeric parameter (K=1, 2, ..., 10, not 1, 10, 2)."""
    if info.param is None:
        return (info.kind.family, float("-inf"), "")
    try:
        return (info.kind.family, float(info.param), info.param)
    except ValueError:
        return (info.kind.family, float("inf"), info.param)


# ---- declarations: what a user says about metrics the registry does not know (YAML file or flags with globs) ----

DIRECTIONS = {"higher": True, "higher_is_better": True, "lower": False, "lower_is_better": False}


@dataclass(frozen=True)
class Declaration:
    """What a user declares about the metrics whose name matches ``glob`` (``fnmatch``, case-sensitive); every
    field left None keeps what the registry (or an earlier declaration) says."""

    glob: str
    higher_is_better: bool | None = None
    sharpness: Sharpness | None = None
    chance: float | None = None
    lower: float | None = None
    upper: float | None = None
    label: str | None = None
    source: str = "flags"
    level: int | None = (
        None  # 0 continuous, 1 share judged per item, 2 nonlinear aggregate (MetricKind.level)
    )
    partner: str | None = None  # the smooth metric (name or glob) of the same outputs to pair this one with

    def matches(self, key: str, name: str) -> bool:
        return fnmatchcase(key, self.glob) or fnmatchcase(name, self.glob)

    def apply(self, kind: MetricKind) -> MetricKind:
        fields = {
            f: getattr(self, f)
            for f in ("higher_is_better", "sharpness", "chance", "lower", "upper", "label", "level")
            if getattr(self, f) is not None
        }
        if self.sharpness is not None and self.level is None:  # --sharp / --smooth say where the metric sits
            fields["level"] = 0 if self.sharpness == "smooth" else max(1, kind.level or 0)
        return replace(kind, **fields)


_DECLARED: list[Declaration] = []


@contextmanager
def declared(declarations: Sequence[Declaration]) -> Iterator[None]:
    """Put ``declarations`` in force for :func:`classify` inside the block (later ones win over earlier ones)."""
    saved = list(_DECLARED)
    _DECLARED[:] = [*saved, *declarations]
    try:
        yield
    finally:
        _DECLARED[:] = saved


def declarations_from_flags(
    lower_is_better: Iterable[str] = (),
    higher_is_better: Iterable[str] = (),
    sharp: Iterable[str] = (),
    smooth: Iterable[str] = (),
    chance: Iterable[str] = (),
) -> list[Declaration]:
    """Declarations from command-line globs; each flag value may hold several globs separated by commas.
    ``chance`` values are ``GLOB=VALUE``."""

    def globs(values: Iterable[str]) -> list[str]:
        return [g.strip() for v in values for g in str(v).split(",") if g.strip()]

    out = [Declaration(g, higher_is_better=False) for g in globs(lower_is_better)]
    out += [Declaration(g, higher_is_better=True) for g in globs(higher_is_better)]
    out += [Declaration(g, sharpness="sharp") for g in globs(sharp)]
    out += [Declaration(g, sharpness="smooth") for g in globs(smooth)]
    for item in chance:
        glob, sep, value = str(item).rpartition("=")
        try:
            level = float(value)
        except ValueError:
            level = None
        if not sep or not glob or level is None:
            raise InputError(
                f"--chance expects GLOB=VALUE, got {item!r}", fix="e.g. --chance 'multiple_choice_grade=0.25'"
            )
        out.append(Declaration(glob, chance=level))
    return out


def load_declarations(path: str | os.PathLike) -> list[Declaration]:
    """Declarations from a small YAML (or JSON) file::

    metrics:                  # the top-level key is optional
      exact_match: {direction: higher, kind: sharp, chance: 0, bounds: [0, 1]}
      "edit_*": {direction: lower, kind: smooth}
      bertscore_f1: {direction: higher, kind: smooth, label: BERTScore F1}
    """
    import yaml

    path = Path(path)
    fix = "see `python -m src.analysis ingest --help` for the declaration format"
    if not path.is_file():
        raise InputError("metric declarations file does not exist", path=path, fix="check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise InputError(
            f"not valid YAML ({type(err).__name__})",
            path=path,
            where=None if line is None else line + 1,
            fix=fix,
        ) from err
    if isinstance(data, dict) and set(data) == {"metrics"}:
        data = data["metrics"]
    if not isinstance(data, dict) or not data:
        raise InputError("must map metric names or globs to their declarations", path=path, fix=fix)
    out = []
    known = {"direction", "kind", "sharpness", "chance", "bounds", "label", "level", "partner"}
    for glob, spec in data.items():
        if not isinstance(spec, dict):
            raise InputError(f"declaration of {glob!r} must be a mapping, got {spec!r}", path=path, fix=fix)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InputError(f"declaration of {glob!r} has unknown key(s) {unknown}", path=path,
                             fix=f"use only {sorted(known)}")  # fmt: skip
        direction = spec.get("direction")
        if direction is not None and str(direction) not in DIRECTIONS:
            raise InputError(
                f"direction of {glob!r} must be higher or lower, got {direction!r}", path=path, fix=fix
            )
        kind = spec.get("kind", spec.get("sharpness"))
        if kind is not None and kind not in ("sharp", "smooth"):
            raise InputError(f"kind of {glob!r} must be sharp or smooth, got {kind!r}", path=path, fix=fix)
        bounds = spec.get("bounds")
        if bounds is not None and not (isinstance(bounds, list) and len(bounds) == 2):
            raise InputError(f"bounds of {glob!r} must be [low, high], got {bounds!r}", path=path, fix=fix)
        try:
            chance = None if spec.get("chance") is None else float(spec["chance"])
            lo, hi = (None, None) if bounds is None else (float(bounds[0]), float(bounds[1]))
        except (TypeError, ValueError) as err:
            raise InputError(
                f"chance/bounds of {glob!r} must be numbers ({err})", path=path, fix=fix
            ) from err
        if lo is not None and hi is not None and not lo < hi:
            raise InputError(f"bounds of {glob!r} must be [low, high] with low < high, got {bounds!r}", path=path,
                             fix=fix)  # fmt: skip
        level = spec.get("level")
        if level is not None and level not in (0, 1, 2):
            raise InputError(f"level of {glob!r} must be 0, 1 or 2, got {level!r}", path=path, fix=fix)
        out.append(Declaration(str(glob), None if direction is None else DIRECTIONS[str(direction)], kind,
                               chance, lo, hi, spec.get("label"), source=str(path), level=level,
                               partner=None if spec.get("partner") is None else str(spec["partner"])))  # fmt: skip
    return out


DECLARE_HINT = (
    "declare them with --higher-is-better/--lower-is-better GLOB and --sharp/--smooth GLOB (globs allowed, "
    "e.g. 'edit_*'), or in a YAML file given with --metrics-file (name: {direction: lower, kind: smooth}), or "
    "leave them out with --metric GLOB"
)


def undeclared_error(keys: Iterable[str], need: str = "direction and kind") -> InputError:
    keys = sorted(set(keys))
    shown = ", ".join(keys[:20]) + (f" ... and {len(keys) - 20} more" if len(keys) > 20 else "")
    return InputError(f"metric(s) with unknown {need}: {shown}", fix=DECLARE_HINT)


def require_known(keys: Iterable[str], direction: bool = True, sharpness: bool = True) -> None:
    """One :class:`InputError` listing every metric in ``keys`` whose direction (and/or kind) is unknown, and what
    is unknown of each (``bleu (kind)``)."""
    missing = []
    for key in sorted(set(keys)):
        info = classify(key)
        what = []
        if direction and (info is None or info.kind.higher_is_better is None):
            what.append("direction")
        if sharpness and (info is None or info.sharpness is None):
            what.append("kind")
        if what:
            missing.append(f"{key} ({', '.join(what)})")
    if missing:
        need = " / ".join(
            w for w, on in (("direction", direction), ("kind (sharp or smooth)", sharpness)) if on
        )
        shown = ", ".join(missing[:20]) + (f" ... and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise InputError(f"the command needs the {need} of metric(s) not declared: {shown}", fix=DECLARE_HINT)
