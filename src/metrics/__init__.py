"""torchmetrics classes (DDP-mergeable states), each with a functional twin."""

from src.metrics.reconstruction import ReconstructionThreshold, reconstruction_threshold, squared_errors
from src.metrics.sequence_accuracy import SequenceAccuracy, sequence_accuracy
from src.metrics.subset_accuracy import (
    SubsetAccuracy,
    exact_subset_accuracy,
    sampled_subset_accuracy,
    subset_accuracy,
)
from src.metrics.text import (
    ExactMatchByLength,
    TokenEditDistanceByLength,
    edit_distances,
    exact_target_logprob,
    score_strings,
)

__all__ = [
    "ExactMatchByLength",
    "ReconstructionThreshold",
    "SequenceAccuracy",
    "SubsetAccuracy",
    "TokenEditDistanceByLength",
    "edit_distances",
    "exact_subset_accuracy",
    "exact_target_logprob",
    "reconstruction_threshold",
    "sampled_subset_accuracy",
    "score_strings",
    "sequence_accuracy",
    "squared_errors",
    "subset_accuracy",
]
