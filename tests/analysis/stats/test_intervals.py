import numpy as np
import pytest

from src.analysis.stats.intervals import (
    clopper_pearson,
    clustered_binomial_interval,
    design_effect,
    interval,
    item_counts,
    resample_clustered,
    resample_crossed,
    resample_items,
    resample_items_seeds,
    resample_parametric,
)


def test_item_counts_are_a_resample():
    c = item_counts(7, 500, np.random.default_rng(0))
    assert c.shape == (500, 7) and (c.sum(axis=1) == 7).all()
    # each item drawn Binomial(7, 1/7) times: mean 1
    assert abs(c.mean() - 1.0) < 0.05


def _coverage(make, resampler, truth, n_sims=1000, n_boot=400, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sims):
        data = make(rng)
        lo, hi = interval(resampler([data], n_boot, rng)[:, 0])
        hits += lo <= truth <= hi
    return hits / n_sims


def test_item_bootstrap_covers_at_least_93_percent():
    p = 0.3
    cov = _coverage(lambda r: (r.random(200) < p).astype(float), resample_items, p, n_sims=600)
    assert cov >= 0.93


def _items_seeds(n_seeds, n_items=80):
    # item effect shared by the seeds + seed effect + noise; the target is the population mean 2.0
    def make(r):
        item = r.normal(0, 1, (n_items, 1))
        seed = r.normal(0, 0.5, (1, n_seeds))
        return 2.0 + item + seed + r.normal(0, 0.5, (n_items, n_seeds))

    return make


def test_items_x_seeds_crossed_covers_population_mean():
    assert _coverage(_items_seeds(40, 120), resample_crossed, 2.0, n_sims=500) >= 0.93
    # the nested bootstrap resamples items independently per seed: it ignores that seeds share the test set
    # (the item effect is counted once per seed, i.e. divided by s), so it undercovers here
    nested = _coverage(_items_seeds(30), resample_items_seeds, 2.0, n_sims=150, n_boot=200)
    assert nested < 0.9


def test_clustered_bootstrap_equals_mean_and_covers():
    def make(r):  # 60 problems, 20 samples each, per-problem success rates vary widely
        rates = r.beta(1.0, 3.0, 60)
        return (r.random((60, 20)) < rates[:, None]).astype(float)

    assert _coverage(make, resample_clustered, 0.25) >= 0.93
    v = make(np.random.default_rng(1))
    full = resample_clustered([v], 1, np.random.default_rng(0))  # shape check
    assert full.shape == (1, 1)


def test_parametric_draws_have_the_stderr():
    r = resample_parametric([0.5, 0.6], [0.01, 0.02], 20000, np.random.default_rng(0))
    np.testing.assert_allclose(r.std(axis=0), [0.01, 0.02], rtol=0.03)
    with pytest.raises(ValueError, match="stderr"):
        resample_parametric([0.5], [np.nan], 10, np.random.default_rng(0))


def test_clopper_pearson_reference_values():
    lo, hi = clopper_pearson(0, 16384)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 16384), rel=1e-6)  # exact for k = 0
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-5) and hi == pytest.approx(0.812914, abs=1e-5)


def test_clustered_binomial_uses_problems_not_samples():
    k, m = np.zeros(128), np.full(128, 128)  # 0 of 16,384 samples, from 128 problems
    naive = clopper_pearson(0, 16384)[1]
    lo, hi = clustered_binomial_interval(k, m)
    assert naive == pytest.approx(2.25e-4, rel=0.01)
    assert hi == pytest.approx(clopper_pearson(0, 128)[1]) and hi > 100 * naive
    # independent samples (no clustering): the design effect is ~1
    r = np.random.default_rng(0)
    k = r.binomial(50, 0.3, 400)
    assert design_effect(k, np.full(400, 50)) == pytest.approx(1.0, abs=0.15)
