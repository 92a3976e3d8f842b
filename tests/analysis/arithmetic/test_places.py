"""Per-place error rates (``src/analysis/arithmetic/places.py``) against a plain-Python reference."""

import numpy as np
import pandas as pd
import pytest

from src.analysis.arithmetic.places import place_figure, place_fits, place_items, place_table


def _reference_place_error(output: str, target: str, k: int) -> float:
    """1 if the k-th digit from the right differs (or the output has fewer than k characters); NaN if the target
    has fewer than k."""
    output, target = output.strip(), target.strip()
    if len(target) < k:
        return float("nan")
    if len(output) < k:
        return 1.0
    return float(output[len(output) - k] != target[len(target) - k])


def _outputs(pairs, model="m", num_params=10.0, subset="test"):
    return pd.DataFrame([{"family": "f", "model": model, "num_params": num_params, "task": "t", "subset": subset,
                          "item": i, "output": o, "target": t} for i, (o, t) in enumerate(pairs)])  # fmt: skip


def test_place_items_match_a_plain_python_reference():
    rng = np.random.default_rng(0)
    pairs = [("4275", "4275"), ("4675", "4275"), ("275", "4275"), ("", "12"), (" 12 ", "12"), ("99999", "1")]
    for _ in range(300):
        t = str(rng.integers(0, 10 ** rng.integers(1, 6)))
        o = "".join(str(d) for d in rng.integers(0, 10, rng.integers(0, 7)))
        pairs.append((o, t))
    items = place_items(_outputs(pairs), max_places=5)
    for i, (o, t) in enumerate(pairs):
        for k in range(1, 6):
            ref = _reference_place_error(o, t, k)
            got = items.loc[i, f"place_err_{k}"]
            assert (np.isnan(ref) and np.isnan(got)) or got == ref, (o, t, k)
    with pytest.raises(ValueError, match="max_places"):
        place_items(_outputs(pairs), max_places=0)


def test_place_table_means_counts_and_seeds():
    a = _outputs([("12", "12"), ("13", "12"), ("3", "123")], model="a", num_params=10.0)
    b = _outputs([("22", "12"), ("12", "12"), ("123", "123")], model="b", num_params=10.0)
    c = _outputs([("12", "12")], model="c", num_params=20.0, subset="extra")
    table = place_table(place_items(pd.concat([a, b, c]), max_places=3))
    assert set(table["model"]) == {"a", "b"}  # the extra subset is not scored
    row = table[(table["model"] == "a") & (table["place"] == 1)].iloc[0]
    # 13 vs 12 wrong; 3 vs 123 right at units
    assert row["value"] == pytest.approx(1 / 3) and row["n_items"] == 3
    row = table[(table["model"] == "a") & (table["place"] == 3)].iloc[0]
    assert row["value"] == 1.0 and row["n_items"] == 1  # only 123 has a hundreds digit; "3" lacks it
    assert sorted(table.drop_duplicates("model")["replicate"]) == [0, 1]  # two models of one size: seeds 0, 1
    with pytest.raises(ValueError, match="no items of subset"):
        place_table(place_items(c))


def _place_rows(n, errors, place):
    return [{"source": "s", "task": "t", "family": "f", "model": f"m{x}", "scale": x, "replicate": 0,
             "place": place, "value": e, "n_items": 1000.0} for x, e in zip(n, errors, strict=True)]  # fmt: skip


def test_place_fits_tell_a_power_law_place_from_a_step():
    n = np.geomspace(1e3, 1e6, 8)
    smooth = 0.8 * (n / 1e3) ** -0.5
    step = np.where(n < 3e4, 0.7, 0.004) * (n / 1e3) ** -0.1
    table = pd.DataFrame(_place_rows(n, smooth, 1) + _place_rows(n, step, 2) + _place_rows(n, np.zeros(8), 3))
    fits = place_fits(table).set_index("place")
    assert fits.loc[1, "alpha"] == pytest.approx(0.5, abs=0.02) and fits.loc[1, "r2_log"] > 0.999
    assert fits.loc[1, "slope_ratio"] == pytest.approx(1.0, abs=0.05)
    # the step is between the 4th and 5th sizes and is far steeper than any power law through the curve
    assert fits.loc[2, "steepest_at"] == f"{int(n[3])}-{int(n[4])}" and fits.loc[2, "slope_ratio"] > 3
    assert fits.loc[2, "max_abs_resid_log"] > 1.0
    assert fits.loc[3, "n_zero"] == 8 and np.isnan(fits.loc[3, "alpha"]) and fits.loc[3, "steepest_at"] == ""
    fig = place_figure(table)
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "place 1 (units)" in labels and "place 2" in labels
