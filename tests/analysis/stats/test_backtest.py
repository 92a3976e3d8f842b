import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from src.analysis.core.evidence import normalize
from src.analysis.stats.backtest import (
    fit_chance_logistic,
    fit_loss_nd,
    fit_power_link,
    fit_saturating,
    ladder_backtest,
    range_share,
    relative_error,
)
from src.results.errors import InputError


def test_saturating_power_law_recovers_irreducible_term():
    x = np.logspace(6, 9, 8)
    y = 1.7 + 3.0 * (x / 1e6) ** -0.35
    f = fit_saturating(x, y)
    assert f.params["E"] == pytest.approx(1.7, rel=1e-3) and f.params["alpha"] == pytest.approx(
        0.35, rel=1e-3
    )
    assert f.predict(1e11) == pytest.approx(1.7 + 3.0 * 1e5**-0.35, rel=1e-4)


def _loss(n, d):
    return 0.5 + 0.3 * (n / 1e8) ** -0.3 + 0.4 * (d / 1e9) ** -0.25


def _acc(loss, chance=0.25):
    return chance + (0.95 - chance) * expit(-(loss - 0.9) / 0.08)


def test_loss_nd_and_links_recover_their_parameters():
    n, d = np.meshgrid(np.logspace(8, 9, 4), np.logspace(9, 11, 4))
    n, d = n.ravel(), d.ravel()
    f = fit_loss_nd(n, d, _loss(n, d))
    assert f.predict(7e9, 4e12) == pytest.approx(_loss(7e9, 4e12), rel=2e-3)
    lv = np.linspace(0.7, 1.3, 40)
    g = fit_chance_logistic(lv, _acc(lv), 0.25)
    assert g.params["ceiling"] == pytest.approx(0.95, abs=1e-3) and g.params["L0"] == pytest.approx(
        0.9, abs=1e-3
    )
    h = fit_power_link(lv, 0.25 + 0.75 * np.exp(-1.3 * lv), 0.25)
    assert h.params["k"] == pytest.approx(1.3, rel=1e-4)


def test_errors_relative_and_share_of_range():
    assert relative_error(0.55, 0.5) == pytest.approx(0.1)
    assert range_share(0.55, 0.5, chance=0.25) == pytest.approx(0.05 / 0.75)


def _ladder_table(rng):
    rows = []
    for size in (1e8, 2e8, 4e8, 8e8, 3e9, 7e9):
        for mult in (1, 2, 5) if size < 7e9 else (300,):
            d_final = 20 * size * mult
            for frac in np.linspace(0.1, 1.0, 10):
                d = d_final * frac
                loss = _loss(size, d) + 0.003 * rng.standard_normal()
                acc = _acc(loss) + 0.005 * rng.standard_normal()
                model = f"m{size:g}-{mult}x"
                for metric, v in (("bpb", loss), ("acc", acc)):
                    rows.append(dict(family="f", model=model, scale=size, task="t", metric=metric, value=v,
                                     checkpoint=f"step{int(frac * 100)}", step=frac * 100, tokens=d))  # fmt: skip
    return normalize(pd.DataFrame(rows))


def test_two_step_backtest_predicts_the_large_model_within_its_interval():
    ev = _ladder_table(np.random.default_rng(0))
    r = ladder_backtest(ev, "t", "m7e+09-300x", 1e9, "acc", n_boot=30)
    assert r["n_runs"] == 12
    assert r["two_step_rel_err"] < 0.03 and r["two_step_covers"]
    assert r["two_step_lo"] < r["two_step"] < r["two_step_hi"]
    with pytest.raises(InputError, match="no metric 'acc_len_norm'"):
        ladder_backtest(ev, "t", "m7e+09-300x", 1e9, "acc_len_norm")
    with pytest.raises(InputError, match="target model"):
        ladder_backtest(ev, "t", "nope", 1e9, "acc")
