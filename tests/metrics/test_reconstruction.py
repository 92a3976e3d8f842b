"""Reconstruction_c against a numpy loop, the class against its functional twin, DDP merge, bad c grids."""

import math

import numpy as np
import pytest
import torch

from src.metrics.reconstruction import (
    ReconstructionThreshold,
    check_thresholds,
    format_threshold,
    reconstruction_threshold,
    squared_errors,
)
from tests.helpers.ddp import run_distributed

CS = (0.5, 2.0, 3.0, 10.0)


def numpy_reference(x: np.ndarray, x_hat: np.ndarray, c: float) -> float:
    """Eq. 2 literally: for each image, sum the squared differences of all its values; count those below c."""
    below = 0
    for xi, yi in zip(x, x_hat, strict=True):
        err = sum(float(a - b) ** 2 for a, b in zip(xi.ravel(), yi.ravel(), strict=True))
        below += err < c
    return below / len(x)


def test_functional_matches_numpy_loop():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3, 4, 4)).astype(np.float32)
    x_hat = (x + rng.normal(0, rng.random((40, 1, 1, 1)) * 0.5, x.shape)).astype(np.float32)
    sq = squared_errors(torch.from_numpy(x), torch.from_numpy(x_hat))
    assert sq.shape == (40,)
    assert sq.numpy() == pytest.approx(((x - x_hat) ** 2).reshape(40, -1).sum(1), rel=1e-5)
    got = reconstruction_threshold(sq, CS)
    for c in CS:
        assert float(got[c]) == pytest.approx(numpy_reference(x, x_hat, c))
    assert 0 < float(got[2.0]) < 1  # the fixture has images on both sides of a threshold


def test_threshold_is_strict_and_monotone_in_c():
    sq = torch.tensor([1.0, 2.0, 2.0, 5.0])
    got = reconstruction_threshold(sq, (1.0, 2.0, 2.5, 6.0))
    assert [float(v) for v in got.values()] == [0.0, 0.25, 0.75, 1.0]


def test_class_matches_functional_over_batches_and_sq_err_input():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(250, 3, 8, 8, generator=gen)
    x_hat = x + 0.2 * torch.randn(250, 3, 8, 8, generator=gen) * torch.rand(250, 1, 1, 1, generator=gen)
    metric, from_err = ReconstructionThreshold(cs=CS), ReconstructionThreshold(cs=CS)
    for chunk in torch.arange(250).split(64):
        metric.update(x[chunk], x_hat[chunk])
        from_err.update(sq_err=squared_errors(x[chunk], x_hat[chunk]))
    want = reconstruction_threshold(squared_errors(x, x_hat), CS)
    for c in CS:
        assert float(metric.compute()[c]) == pytest.approx(float(want[c]))
        assert float(from_err.compute()[c]) == pytest.approx(float(want[c]))
    metric.reset()
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert all(math.isnan(float(v)) for v in metric.compute().values())


@pytest.mark.parametrize(
    "cs, message",
    [
        ([], "empty"),
        ([5, -1], "positive"),
        ([0], "positive"),
        ([float("inf")], "finite"),
        (["abc"], "list of positive numbers"),
    ],
)
def test_bad_c_grid_is_a_clear_error(cs, message):
    with pytest.raises(ValueError, match=message):
        check_thresholds(cs)
    with pytest.raises(ValueError, match=message):
        ReconstructionThreshold(cs=cs)


def test_key_format():
    assert [format_threshold(c) for c in (40.0, 2.5, 1e-3)] == ["40", "2.5", "0.001"]


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="must match"):
        squared_errors(torch.zeros(2, 3), torch.zeros(2, 4))


def _ddp_worker(rank, world_size, sq_err):
    metric = ReconstructionThreshold(cs=CS)
    for chunk in torch.arange(len(sq_err))[rank::world_size].split(29):  # uneven interleaved shards
        metric.update(sq_err=sq_err[chunk])
    return {c: float(v) for c, v in metric.compute().items()}


def test_ddp_two_processes_merge_to_single_process_value():
    sq_err = torch.rand(301, generator=torch.Generator().manual_seed(5)) * 8
    want = {c: float(v) for c, v in reconstruction_threshold(sq_err, CS).items()}
    for result in run_distributed(_ddp_worker, sq_err, world_size=2):
        assert result == pytest.approx(want, abs=1e-12)
