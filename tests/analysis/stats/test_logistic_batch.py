"""The batched logistic width fit against the per-row fit it replaces (``sharpness._careful_width``: one scipy
``least_squares`` call per start and per row).

The batched fit takes the per-row fit's path (same start, Jacobian, steps and termination), so the two differ only
by floating-point rounding. Where the fit is well determined that is below 1e-6 decades of width; on flat
least-squares surfaces (sharp or noisy resamples) rounding moves the point where the ftol test stops, and there the
per-row fit moves as much when its own start moves by one ulp. The tolerance stated and tested here: the same
identified / not-identified decision on every row, widths within 1e-6 decades on well-determined curves, and on
random resample blocks no more rows apart than the per-row fit is from itself with its start moved by one ulp.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from src.analysis.stats.logistic_batch import fit_rows
from src.analysis.stats.sharpness import (
    WIDTH_FACTOR,
    _careful_width,
    _fit_logistic,
    expit,
    logistic_width,
    logistic_width_many,
    logistic_width_rows,
)


def _curve(x, width, mid=8.0, chance=0.25, top=0.9):
    return chance + (top - chance) * expit((np.log10(x) - mid) / (width / WIDTH_FACTOR))


def _careful_rows(x, ys, fit, floor, upper, mid0=None):
    """The per-row loop of logistic_width_rows before the batched fit (optionally from another start)."""
    warm = fit if mid0 is None else type(fit)(fit.floor, fit.ceiling, mid0, fit.s, fit.rss, fit.identified)
    out = []
    for row in ys:
        f = _careful_width(x, row, floor, None, upper, warm=warm)
        out.append(f.width if f.identified else np.nan)
    return np.array(out)


@pytest.mark.parametrize("width", [0.1, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("n", [5, 9, 13])
@pytest.mark.parametrize("floor", [0.25, None])
def test_point_fit_equals_careful_fit_on_known_widths(width, n, floor):
    x = np.logspace(6, 10, n)
    y = _curve(x, width) + 0.01 * np.random.default_rng(n).standard_normal(n)
    new, old = logistic_width(x, y, floor=floor), _careful_width(x, y, floor=floor)
    assert new.identified == old.identified
    assert new.width == pytest.approx(old.width, abs=1e-6)
    assert new.mid == pytest.approx(old.mid, abs=1e-6) and new.rss == pytest.approx(
        old.rss, rel=1e-6, abs=1e-12
    )


def test_existing_cases_unchanged():
    """The cases of test_sharpness: a noisy 13-size logistic, a step, a line; fitted floor and fixed ceiling too."""
    rng = np.random.default_rng(3)
    x = np.logspace(6, 10, 13)
    y = _curve(x, 1.0, mid=8.2) + 0.015 * rng.standard_normal(x.size)
    step = np.where(np.log10(x) < 8.1, 0.25, 0.9)
    line = np.linspace(0.3, 0.6, x.size)
    # a step fits to rss ~1e-15 for any width below the grid spacing (a flat valley): rounding moves where the
    # ftol test stops by ~1e-6 decades there; the others are determined by the data
    cases = [(y, {"floor": 0.25}, 1e-6), (step, {"floor": 0.25}, 1e-4), (line, {"floor": 0.25}, 1e-6),
             (y, {}, 1e-6), (y, {"floor": 0.25, "ceiling": 0.9}, 1e-6), (y, {"upper": 1.5}, 1e-6)]  # fmt: skip
    for curve, kw, tol in cases:
        new, old = logistic_width(x, curve, **kw), _careful_width(x, curve, **kw)
        assert new.identified == old.identified
        assert new.width == pytest.approx(old.width, abs=tol)
    fit = logistic_width(x, y, floor=0.25)
    reps = fit.predict(x)[None, :] + 0.015 * rng.standard_normal((100, x.size))
    new = logistic_width_rows(x, reps, fit, 0.25, None)
    old = _careful_rows(x, reps, fit, 0.25, 1.0)
    np.testing.assert_array_equal(np.isnan(new), np.isnan(old))
    np.testing.assert_allclose(new, old, atol=1e-6)


def _binomial_block(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([4, 6, 9]))
    x = np.logspace(6, 10, n)
    items = int(rng.choice([50, 200]))
    y = rng.binomial(items, _curve(x, float(rng.choice([0.2, 1.0, 3.0])), mid=rng.uniform(7, 9))) / items
    floor = 0.25 if seed % 2 else None
    upper = max(1.0, float(y.max() + np.ptp(y)))
    return x, y, rng.binomial(items, y, size=(60, n)) / items, floor, upper


def test_resample_blocks_agree_as_well_as_the_careful_fit_with_itself():
    new_far = self_far = total = 0
    for seed in range(8):
        x, y, reps, floor, upper = _binomial_block(seed)
        fit = _careful_width(x, y, floor=floor, upper=upper)
        assert logistic_width(x, y, floor=floor, upper=upper).identified == fit.identified
        if not fit.identified:
            continue
        new = logistic_width_rows(x, reps, fit, floor, None, upper)
        old = _careful_rows(x, reps, fit, floor, upper)
        moved = _careful_rows(x, reps, fit, floor, upper, mid0=np.nextafter(fit.mid, np.inf))
        np.testing.assert_array_equal(np.isnan(new), np.isnan(old))  # the same decisions, every row
        ok = ~np.isnan(old)
        assert np.median(np.abs(new - old)[ok]) < 1e-6
        new_far += int(np.sum(np.abs(new - old)[ok] > 1e-3))
        self_far += int(np.sum(np.abs(moved - old)[ok & ~np.isnan(moved)] > 1e-3))
        total += int(ok.sum())
    assert total > 200
    assert new_far <= max(self_far, 0.02 * total)


def test_fit_rows_matches_least_squares_per_row_with_mixed_starts():
    """Rows with their own starts and data in one block give each row's own least_squares result."""
    rng = np.random.default_rng(5)
    x = np.logspace(6, 10, 9)
    lx = np.log10(x)
    ys = _curve(x, 1.0)[None, :] + 0.02 * rng.standard_normal((12, 9))
    mid0, s0 = rng.uniform(6.5, 9.5, 12), rng.choice([0.05, 0.3, 1.5], 12)
    r = fit_rows(lx, ys, None, None, 1.0, 1e-3, 100.0, mid0, s0)
    for i in range(12):
        mid, s, f, c, rss = _fit_logistic(lx, ys[i], None, None, 1.0, 1e-3, 100.0, [(mid0[i], s0[i])])
        assert r.status[i] > 0
        assert r.rss[i] == pytest.approx(rss, rel=1e-6, abs=1e-12)
        assert (r.mid[i], r.s[i], r.floor[i], r.ceiling[i]) == pytest.approx((mid, s, f, c), abs=1e-5)


def test_rows_the_port_cannot_follow_fall_back_to_the_careful_fit(monkeypatch):
    """A row the batched fit stopped on a non-finite value (status -1) is refitted per row: the careful answer."""
    from src.analysis.stats import logistic_batch

    real = logistic_batch.fit_rows

    def failing(*args, **kw):
        r = real(*args, **kw)
        r.status[:] = -1
        r.s[:] = 123.0  # garbage that must not come out
        return r

    monkeypatch.setattr(logistic_batch, "fit_rows", failing)
    x = np.logspace(6, 10, 9)
    y = _curve(x, 1.0)
    new, old = logistic_width(x, y, floor=0.25), _careful_width(x, y, floor=0.25)
    assert new == old


def test_many_curves_at_once_equal_one_at_a_time():
    """logistic_width_many (curves grouped by size count and floor kind into shared batched fits) gives each
    curve's logistic_width and logistic_width_rows."""
    curves = []
    for seed in range(10):
        x, y, reps, floor, upper = _binomial_block(seed)
        curves.append((x, y, reps[:20], floor, upper))
    curves.append((np.logspace(6, 10, 9), np.linspace(0.3, 0.6, 9), None, 0.25, 1.0))  # no resamples
    for (x, y, reps, floor, upper), (fit, w) in zip(curves, logistic_width_many(curves), strict=True):
        one = logistic_width(x, y, floor=floor, upper=upper)
        assert fit.identified == one.identified and fit.width == pytest.approx(one.width, abs=1e-9)
        if reps is None or not one.identified:
            assert w is None
            continue
        rows = logistic_width_rows(x, reps, one, floor, None, upper)
        np.testing.assert_array_equal(np.isnan(w), np.isnan(rows))
        np.testing.assert_allclose(w, rows, atol=1e-9)


def test_a_nan_in_the_data_is_the_same_error_as_before():
    x = np.logspace(6, 10, 6)
    y = _curve(x, 1.0)
    fit = logistic_width(x, y, floor=0.25)
    reps = np.tile(y, (3, 1))
    reps[1, 2] = np.nan
    with pytest.raises(ValueError) as before:
        _careful_rows(x, reps, fit, 0.25, 1.0)
    with pytest.raises(ValueError, match=re.escape(str(before.value))):
        logistic_width_rows(x, reps, fit, 0.25, None)
