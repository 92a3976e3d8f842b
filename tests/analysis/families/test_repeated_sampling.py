"""pass@k from repeated-sampling counts: reference = exact fractions (math.comb) and brute-force subsets."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from src.analysis.families.readers.repeated_sampling import (
    bootstrap_pass_at_k,
    pass_at_k,
    read_repeated_sampling,
    resolution_view,
)
from src.results.errors import InputError


def _exact(n, c, k):
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def test_pass_at_k_matches_exact_fractions_and_brute_force():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 60, 200)
    c = np.array([rng.integers(0, x + 1) for x in n])
    for k in (1, 2, 5):
        ok = n >= k
        got = pass_at_k(n[ok], c[ok], k)
        ref = np.array([float(_exact(int(a), int(b), k)) for a, b in zip(n[ok], c[ok], strict=True)])
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-15)
    # brute force: the share of k-subsets of the n samples holding a correct one
    for nn, cc, k in [(6, 2, 3), (7, 0, 2), (5, 5, 1), (8, 1, 4)]:
        samples = [1] * cc + [0] * (nn - cc)
        subsets = list(itertools.combinations(range(nn), k))
        brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
        assert pass_at_k([nn], [cc], k)[0] == pytest.approx(brute, abs=1e-14)


def test_large_n_is_stable_and_k_over_n_is_refused():
    # 10,000 samples, one correct: pass@1 = 1e-4 exactly, pass@100 = 0.01
    assert pass_at_k([10_000], [1], 1)[0] == pytest.approx(1e-4, rel=1e-12)
    assert pass_at_k([10_000], [1], 100)[0] == pytest.approx(0.01, rel=1e-10)
    assert pass_at_k([10_000], [0], 1000)[0] == 0.0
    with pytest.raises(ValueError, match="k=11 exceeds n=10"):
        pass_at_k([10], [0], 11)


def _table(tmp_path):
    rows = []
    rng = np.random.default_rng(1)
    for model, rate in (("s", 0.01), ("m", 0.05), ("l", 0.3)):
        for p in range(30):
            rows.append({"model": model, "problem": f"p{p}", "n": 20, "num_correct": rng.binomial(20, rate)})
    path = tmp_path / "counts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_reader_evidence_bootstrap_and_resolution(tmp_path):
    path = _table(tmp_path)
    sizes = {"s": 1e8, "m": 1e9, "l": 1e10}
    ev, items = read_repeated_sampling(path, ks=(1, 5), columns={"c": "num_correct"}, size_map=sizes)
    assert set(ev["metric"]) == {"pass@1", "pass@5"} and (ev["n_items"] == 30).all()
    raw = pd.read_csv(path)
    for model in sizes:
        r = raw[raw.model == model]
        ref1 = (r["num_correct"] / r["n"]).mean()
        assert ev[(ev.model == model) & (ev.metric == "pass@1")]["value"].item() == pytest.approx(ref1)
    boot = bootstrap_pass_at_k(items, (1,), n_boot=500)
    assert ((boot["lo"] <= boot["value"]) & (boot["value"] <= boot["hi"])).all()
    view = resolution_view(items, (1, 5, 20, 50))
    assert set(view["m"]) == {1, 5, 20}  # m = 50 exceeds the 20 samples drawn
    s = view[view.model == "s"].set_index("m")
    # more samples per problem: finer resolution, more problems read as solved, less chance of reading zero
    assert s["resolution"].is_monotonic_decreasing and s["share_solved"].is_monotonic_increasing
    assert s["p_reads_zero"].is_monotonic_decreasing
    # reference for P(reads zero) at m = 1: product over problems of (1 - c/n)
    r = items[items.model == "s"]
    assert s.loc[1, "p_reads_zero"] == pytest.approx(float(np.prod(1 - r["c"] / r["n"])))


@pytest.mark.parametrize(
    "content, kwargs, match",
    [
        (
            "model,problem,n,c\na,p,5,1\n",
            {"ks": (10,)},
            r"line 2: pass@10 needs at least 10 samples but problem p",
        ),
        ("model,problem,n,c\na,p,5,7\n", {}, r"line 2: n=5, c=7: expected whole numbers with 0 <= c <= n"),
        ("model,problem,n\na,p,5\n", {}, r"lacks column\(s\) \['c'\]"),
        ("model,problem,n,c\na,p,5,1\n", {"ks": (1,), "size_map": {}}, r"no scale column and no size for"),
        (
            "model,problem,n,c,scale\na,p,5,1,1\na,p,5,2,1\n",
            {"ks": (1,)},
            r"line 2: problem p of a appears twice",
        ),
    ],
)
def test_malformed_counts_are_one_line(tmp_path, content, kwargs, match):
    path = tmp_path / "c.csv"
    path.write_text(content)
    kwargs.setdefault("size_map", {"a": 1e6})
    kwargs.setdefault("ks", (1,))
    with pytest.raises(InputError, match=match) as err:
        read_repeated_sampling(path, **kwargs)
    assert "\n" not in str(err.value)
