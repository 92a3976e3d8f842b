"""The one verdict engine on the four shapes of published data (issue: "any lab's evaluations to a verdict that
holds"), each case with a known answer; every test failed on the old general path (``claims``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core.readers import read_inputs
from src.analysis.core.shaping import Shaping
from src.analysis.stats.engine import Settings, run_engine

SIZES = [1e8, 3e8, 1e9, 3e9, 1e10]
FAST = Settings(n_resamples=300, n_width_resamples=40)


def per_run_table(path, families=("A", "B"), seeds=(0, 1, 2), n_items=2000, rng_seed=0):
    """A published per-run table: every family has the same sizes and seeds, n_items per row. Family A jumps late
    (0.02 -> 0.9 between the two largest sizes); family B rises linearly."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    shapes = {"A": [0.02, 0.02, 0.03, 0.05, 0.9], "B": [0.1, 0.3, 0.5, 0.7, 0.9]}
    for fam in families:
        for j, n in enumerate(SIZES):
            for s in seeds:
                p = shapes[fam][j]
                rows.append({"family": fam, "model": f"{fam.lower()}-{j}", "scale": n, "task": "t", "seed": s,
                             "metric": "exact_match", "value": rng.binomial(n_items, p) / n_items,
                             "n_items": n_items})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_families_with_the_same_sizes_and_seeds_are_never_pooled(tmp_path):
    path = per_run_table(tmp_path / "runs.csv")
    both = run_engine(read_inputs([path]), FAST, progress=False).curves.set_index("family")
    for fam in ("A", "B"):
        alone = run_engine(
            read_inputs([path], shaping=Shaping(where=[f"family={fam}"])), FAST, progress=False
        )
        a = alone.curves.iloc[0]
        for col in ("E", "E_lo", "E_hi", "change_lo", "change_hi", "verdict", "interval_source"):
            assert a[col] == both.loc[fam, col], (fam, col)
    c = both.reset_index()
    assert (c["E_lo"] <= c["E"]).all() and (c["E"] <= c["E_hi"]).all()
    assert (c["change_lo"] <= c["change"]).all() and (c["change"] <= c["change_hi"]).all()
    assert set(c["interval_source"]) == {"seeds+binomial"}  # seeds within the family, each run's own n_items
    assert c.set_index("family").loc["A", "verdict"] == "emergent"
    assert c.set_index("family").loc["B", "verdict"] == "not emergent"
    assert c.set_index("family").loc["A", "resolution"] == pytest.approx(1 / (2000 * 3))


def test_models_without_seeds_get_the_binomial_of_their_items(tmp_path):
    df = pd.read_csv(per_run_table(tmp_path / "runs.csv"))
    df = df[(df["seed"] == 0) | (df["model"] != "a-0")]  # the smallest model evaluated once
    df.to_csv(tmp_path / "some.csv", index=False)
    c = run_engine(read_inputs([tmp_path / "some.csv"]), FAST, progress=False).curves.set_index("family")
    assert c.loc["A", "interval_source"] == "binomial / seeds+binomial"
    assert c.loc["A", "verdict"] == "emergent"  # one seed less does not knock out the curve


def _lm_eval_v03(folder, model, acc, se=0.01):
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"results": {"hellaswag": {"acc": acc, "acc_stderr": se, "acc_norm": acc + 0.02, "acc_norm_stderr": se}},
           "config": {"model_args": f"pretrained={model}", "num_fewshot": 0}}  # fmt: skip
    (folder / f"{model.rstrip('/').split('/')[-1]}.json").write_text(json.dumps(doc))


def _lm_eval_v04(folder, model, acc, n_params, se=0.01):
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"results": {"arc_easy": {"alias": "arc_easy", "acc,none": acc, "acc_stderr,none": se,
                                    "acc_norm,none": acc - 0.01, "acc_norm_stderr,none": se}},
           "higher_is_better": {"arc_easy": {"acc": True, "acc_norm": True}},
           "n-samples": {"arc_easy": {"original": 2376, "effective": 2376}}, "n-shot": {"arc_easy": 0},
           "config": {"model": "hf", "model_args": f"pretrained={model}", "model_num_parameters": n_params}}  # fmt: skip
    (folder / "results_2024-05-01T10-00-00.000000.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("version", ["v0.3", "v0.4"])
def test_lm_eval_results_acc_is_sharp_with_stderr_intervals_and_no_argmax_pair(tmp_path, version):
    accs = [0.27, 0.31, 0.40, 0.52, 0.63]
    for j, (n, a) in enumerate(zip(SIZES, accs, strict=True)):
        if version == "v0.3":
            _lm_eval_v03(tmp_path / "res", f"EleutherAI/pythia-{int(n / 1e6)}m", a)
        else:
            _lm_eval_v04(tmp_path / "res" / f"m{j}", f"EleutherAI/pythia-{int(n / 1e6)}m", a, n)
    ev = read_inputs([tmp_path / "res"])
    assert ev.formats and set(ev.formats.values()) == {"lm-eval-results"}
    v = run_engine(ev, FAST, progress=False)
    c = v.curves.set_index("metric")
    assert c.loc["acc", "level"] == 1 and c.loc["acc_norm", "level"] == 1  # argmax shares: the sharp side
    assert set(c["interval_source"]) == {"stderr"}  # the harness's stderr gives every interval
    assert v.pairs.empty  # acc and acc_norm are two argmax metrics of the same outputs: never a pair
    assert set(v.unpaired["metric"]) == {"acc", "acc_norm"}
    assert "--log_samples" in v.unpaired["note"].iloc[0]
    assert "--log_samples" in " ".join(ev.notices)


def test_path_valued_model_args_make_one_family(tmp_path):
    for size, acc in (("1B", 0.3), ("7B", 0.45), ("13B", 0.5), ("70B", 0.6)):
        _lm_eval_v03(tmp_path / "res" / size, f"/data/checkpoints/mylab/{size}", acc)
    ev = read_inputs([tmp_path / "res"])
    assert set(ev.table["family"]) == {"mylab"} and ev.table["model"].nunique() == 4
    _lm_eval_v03(tmp_path / "lone" / "x", "/data/other/3B", 0.4)
    ev = read_inputs([tmp_path / "res", tmp_path / "lone"])
    assert any("one model only" in n and "other" in n for n in ev.notices)


def counts_table(path, problems=20, samples=5000, rates=(0.0, 1e-4, 1e-3, 1e-2, 5e-2), seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"model": f"m{j}", "problem": f"p{i}", "n": samples, "c": int(rng.binomial(samples, r)), "scale": SIZES[j]}
            for j, r in enumerate(rates) for i in range(problems)]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_repeated_sampling_counts_resolution_zero_interval_and_smooth_partner(tmp_path):
    ev = read_inputs([counts_table(tmp_path / "counts.csv")])
    assert set(ev.formats.values()) == {"repeated-sampling"}
    assert {"pass@1", "pass@10", "pass@100"} <= set(ev.table["metric"])
    v = run_engine(ev, FAST, progress=False)
    c = v.curves.set_index("metric")
    assert c.loc["pass@1", "resolution"] == pytest.approx(
        1 / (20 * 5000)
    )  # samples x problems, not 1/problems
    assert c.loc["pass@1", "interval_source"] == "items"
    zero = v.points[(v.points["metric"] == "pass@1") & (v.points["model"] == "m0")].iloc[0]
    assert zero["value"] == 0 and zero["lo"] >= 0 and zero["hi"] > 0  # 0 of 100,000 samples is not [0, 0]
    assert zero["hi"] < 1e-4  # ... but it is small: a rate above 1e-4 would have shown
    assert {("pass@10", "pass@1"), ("pass@100", "pass@1")} <= set(
        zip(v.pairs["sharp"], v.pairs["smooth"], strict=True)
    )


def test_a_flat_curve_with_a_huge_eq1_is_not_emergent(tmp_path):
    rows = [{"family": "F", "model": f"m{j}", "scale": n, "task": "t", "metric": "exact_match", "value": v,
             "n_items": 1000} for j, (n, v) in enumerate(zip(SIZES[:4], [0.52, 0.52, 0.52, 0.54], strict=True))]  # fmt: skip
    rows += [{"family": "F", "model": f"m{j}", "scale": n, "task": "t", "metric": "brier", "value": v, "stderr": 0.004}
             for j, (n, v) in enumerate(zip(SIZES, [0.59, 0.59, 0.59, 0.589, 0.56], strict=True))]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "flat.csv", index=False)
    v = run_engine(read_inputs([tmp_path / "flat.csv"]), FAST, progress=False)
    c = v.curves.set_index("metric")
    assert c.loc["exact_match", "E"] == np.inf and c.loc["exact_match", "verdict"] == "no real rise"
    assert c.loc["brier", "E"] > 10 and c.loc["brier", "verdict"] == "no real rise"
    assert (c["strength"] == 0).all()  # ranked after every real rise
    assert set(v.pairs["verdict"]) == {"no rise to compare"}


def test_a_rise_near_a_floor_of_zero_is_real_when_the_metric_doubles(tmp_path):
    """pass@1 from 1e-5 to 0.04 over 1.2M samples is below 5% of [0, 1] but rises 4,000-fold: a real rise (so its
    pass@k pair is compared), while a share at chance (0.25 -> 0.27, doubling impossible) stays no real rise."""
    rng = np.random.default_rng(0)
    rows = []
    for j, n in enumerate(1e8 * 3.0 ** np.arange(7)):
        rate = 1e-5 * 4.0**j  # per-sample success 1e-5 ... 0.041 over 10,000 samples of each of 120 problems
        for prob in range(120):
            rows.append({"model": f"m{j}", "scale": n, "problem": prob, "n": 10_000,
                         "c": int(rng.binomial(10_000, min(rate * rng.lognormal(0, 0.5), 1)))})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "counts.csv", index=False)
    c = run_engine(read_inputs([tmp_path / "counts.csv"]), FAST, progress=False).curves.set_index("metric")
    p1 = c.loc["pass@1"]
    assert (
        p1["change_lo"] < 0.05
        and p1["ratio_lo"] >= 2
        and "a real rise relative to its floor of 0" in p1["reason"]
    )
    # x4 per size is a power law in N: Eq. 1 of the values says "jump", Eq. 1 of their log (6 equal steps: 6) does not
    assert p1["E_lo"] >= 10 and p1["E_log"] == pytest.approx(6, abs=0.6) and p1["verdict"] == "not emergent"
    assert "steady geometric rise" in p1["reason"]
    at_chance = [{"family": "F", "model": f"m{j}", "scale": n, "task": "t", "metric": "acc", "value": v,
                  "n_items": 5000, "chance": 0.25} for j, (n, v) in enumerate(zip(SIZES, [0.25, 0.25, 0.255, 0.26, 0.27],
                                                                                  strict=True))]  # fmt: skip
    pd.DataFrame(at_chance).to_csv(tmp_path / "chance.csv", index=False)
    a = run_engine(read_inputs([tmp_path / "chance.csv"]), FAST, progress=False).curves.iloc[0]
    assert np.isnan(a["ratio"]) and a["verdict"] == "no real rise"
    strict = Settings(n_resamples=300, n_width_resamples=40, min_ratio=1e4)  # a factor the data cannot show
    c2 = run_engine(read_inputs([tmp_path / "counts.csv"]), strict, progress=False).curves.set_index("metric")
    assert c2.loc["pass@1", "verdict"] == "no real rise"


def test_without_any_interval_source_the_verdict_says_so(tmp_path):
    rows = [{"family": "F", "model": f"m{j}", "scale": n, "task": "t", "metric": "brier", "value": v}
            for j, (n, v) in enumerate(zip(SIZES, [0.7, 0.69, 0.68, 0.3, 0.1], strict=True))]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "bare.csv", index=False)
    c = run_engine(read_inputs([tmp_path / "bare.csv"]), FAST, progress=False).curves.iloc[0]
    assert c["verdict"] == "not supported by the data" and c["interval_source"] == "none"
    assert "no interval" in c["reason"]


def test_unsupported_curves_say_how_to_get_an_interval_and_rank_above_those_with_too_few_sizes(tmp_path):
    rows = [{"family": f, "model": f"{f}{j}", "scale": n, "task": "t", "metric": "brier", "value": v}
            for f, k in (("one", 2), ("many", 5))
            for j, (n, v) in enumerate(zip(SIZES[:k], [0.7, 0.69, 0.68, 0.3, 0.1][:k], strict=True))]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "bare.csv", index=False)
    v = run_engine(read_inputs([tmp_path / "bare.csv"]), FAST, progress=False)
    assert v.curves["verdict"].tolist() == ["not supported by the data", "too few sizes"]
    (note,) = [n for n in v.notices if "not supported by the data" in n]
    assert note.startswith("1 curve(s)") and "--column n_items=COL" in note and "--column stderr=COL" in note


def test_exact_duplicates_are_dropped_with_a_count_and_a_model_may_sit_in_two_families(tmp_path):
    path = per_run_table(tmp_path / "runs.csv", families=("A",))
    df = pd.read_csv(path)
    pd.concat([df, df.iloc[:4]]).to_csv(tmp_path / "dups.csv", index=False)
    ev = read_inputs([tmp_path / "dups.csv"])
    assert len(ev.table) == len(df) and any("4 exact duplicate" in n for n in ev.notices)
    (tmp_path / "fam.yaml").write_text("'a-*': [A, A-ablation]\n")
    ev = read_inputs([path], shaping=Shaping(family_map=tmp_path / "fam.yaml"))
    assert set(ev.table["family"]) == {"A", "A-ablation"} and len(ev.table) == 2 * len(df)
    v = run_engine(ev, FAST, progress=False).curves.set_index("family")
    assert v.loc["A", "E"] == v.loc["A-ablation", "E"]


def test_paired_items_sharp_vs_smooth_known_answer(tmp_path):
    """Per-item outcomes of the same answers: K-of-K (level 2) jumps where per-item accuracy (level 1) rises
    smoothly; the engine pairs them on the same item resamples and finds the sharp one sharper."""
    rng = np.random.default_rng(1)
    p_item = [0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97]
    sizes = np.logspace(7, 10, len(p_item))
    items, rows = [], []
    for j, (n, p) in enumerate(zip(sizes, p_item, strict=True)):
        correct = rng.random((3000, 8)) < p  # 3000 problems of 8 steps each
        items.append(pd.DataFrame({"family": "F", "model": f"m{j}", "scale": n, "task": "t",
                                   "item": np.arange(3000), "acc": correct.mean(1),
                                   "all8": correct.all(1).astype(float)}))  # fmt: skip
        rows += [{"family": "F", "model": f"m{j}", "scale": n, "task": "t", "metric": m, "value": float(v),
                  "n_items": 3000} for m, v in (("acc", correct.mean()), ("all8", correct.all(1).mean()))]  # fmt: skip
    from src.analysis.core.readers import Evidence
    from src.analysis.core.vocab import complete

    (tmp_path / "m.yaml").write_text("all8: {direction: higher, level: 2, bounds: [0, 1]}\n")
    from src.analysis.core.metrics import declared, load_declarations

    with declared(load_declarations(tmp_path / "m.yaml")):
        ev = complete(Evidence(pd.DataFrame(rows).assign(value_kind="share", replicate="", checkpoint="",
                                                          stderr=np.nan, n_trials=np.nan, source=""),
                               pd.concat(items).assign(replicate="", checkpoint="")))  # fmt: skip
        v = run_engine(ev, Settings(n_resamples=200, n_width_resamples=60), progress=False)
    c = v.curves.set_index("metric")
    assert c.loc["acc", "interval_source"] == "items"
    # where every item of a size is wrong (all 8 steps right at p = 0.2: none of 3,000), the item bootstrap can only
    # say [0, 0]: that size takes the binomial of its 3,000 items instead
    assert c.loc["all8", "interval_source"] == "binomial / items"
    zero = v.points[(v.points["metric"] == "all8") & (v.points["model"] == "m0")].iloc[0]
    assert zero["value"] == 0 and 0 < zero["hi"] < 3.5 / 3000
    pair = v.pairs.iloc[0]
    assert (pair["sharp"], pair["smooth"]) == ("all8", "acc")
    assert pair["verdict"] == "sharp above smooth", pair["reason"]


def test_verdicts_command_writes_tables_and_says_what_it_read(tmp_path, capsys):
    path = per_run_table(tmp_path / "runs.csv")
    assert main(["verdicts", str(path), "--out", str(tmp_path / "v"), "--n-resamples", "200"]) == 0
    for name in ("curves", "pairs", "unpaired", "points", "read"):
        assert (tmp_path / "v" / f"{name}.csv").is_file()
    read = pd.read_csv(tmp_path / "v" / "read.csv")
    assert list(read["family"]) == ["A", "B"] and (read["n_replicates"] == 3).all()
    out = capsys.readouterr().out
    assert "1 emergent" in out and "1 not emergent" in out


def test_a_pass_at_k_table_long_in_k_and_a_task_mean(tmp_path):
    rows = [{"family": "F", "model": f"m{j}", "scale": n, "task": f"mmlu_{part}", "k": k,
             "value": min(1.0, 0.01 * (j + 1) * k ** 0.5 + (0.1 if part == "b" else 0.0)),
             "n_items": 100 if part == "a" else 300}
            for j, n in enumerate(SIZES) for part in ("a", "b") for k in (1, 10, 100)]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "long_k.csv", index=False)
    ev = read_inputs([tmp_path / "long_k.csv"], shaping=Shaping(task_means=["mmlu=mmlu_*"]))
    assert {"pass@1", "pass@10", "pass@100"} == set(ev.table["metric"])
    mean = ev.table[
        (ev.table["task"] == "mmlu") & (ev.table["model"] == "m0") & (ev.table["metric"] == "pass@1")
    ]
    # weighted by items: (100 * 0.01 + 300 * 0.11) / 400
    assert mean["value"].item() == pytest.approx((100 * 0.01 + 300 * 0.11) / 400)
    assert mean["n_items"].item() == 400
    assert any("task mean 'mmlu'" in n for n in ev.notices)


def test_settings_file_and_bad_settings(tmp_path):
    from src.results.errors import InputError

    (tmp_path / "s.yaml").write_text("threshold: 5\nn_resamples: 50\n")
    s = Settings.from_yaml(tmp_path / "s.yaml", seed=3)
    assert (s.threshold, s.n_resamples, s.seed) == (5, 50, 3)
    (tmp_path / "bad.yaml").write_text("treshold: 5\n")
    with pytest.raises(InputError, match="unknown setting"):
        Settings.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="settings out of range"):
        Settings.from_yaml(None, level=1.5)


def test_a_share_without_item_count_takes_the_count_its_stderr_implies(tmp_path):
    n = 50  # lm-eval's stderr of a mean of 0/1 outcomes: sqrt(p (1 - p) / (n - 1))
    accs = [0.0, 0.1, 0.3, 0.6, 0.9]
    rows = [{"family": "F", "model": f"m{j}", "scale": s, "task": "t", "metric": "acc", "value": a,
             "stderr": (a * (1 - a) / (n - 1)) ** 0.5} for j, (s, a) in enumerate(zip(SIZES, accs, strict=True))]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "se.csv", index=False)
    v = run_engine(read_inputs([tmp_path / "se.csv"]), FAST, progress=False)
    c = v.curves.iloc[0]
    assert c["n_items"] == n and c["interval_source"] == "binomial / stderr"  # the 0 gets a binomial interval
    zero = v.points[v.points["model"] == "m0"].iloc[0]
    assert zero["hi"] > 0 and any("stderr implies" in s for s in v.notices)


def test_audit_command_writes_one_page_from_a_counts_table(tmp_path, capsys):
    path = counts_table(tmp_path / "counts.csv")
    assert main(["audit", str(path), "--out", str(tmp_path / "a"), "--n-resamples", "100"]) == 0
    html = (tmp_path / "a" / "audit.html").read_text(encoding="utf-8")
    assert "pass@10" in html and "data:image/png;base64," in html and "Verdicts" in html
    assert (tmp_path / "a" / "audit.pdf").stat().st_size > 1000
    assert "the page:" in capsys.readouterr().out


def test_every_interval_contains_its_own_point(tmp_path):
    """Percentile intervals of statistics that are not smooth in the data miss their point: Eq. 1 of a curve with
    tied steps (MMLU-like accuracies in steps of 1/100 with the harness's stderr), a share at 0 drawn from its Beta
    posterior. Every interval the engine reports is taken about its own point."""
    rows = [{"family": "F", "model": f"m{j}", "scale": n, "task": "mmlu", "metric": "acc", "value": v, "stderr": 0.04}
            for j, (n, v) in enumerate(zip(SIZES, [0.25, 0.25, 0.26, 0.25, 0.31], strict=True))]  # fmt: skip
    rows += [{"family": "F", "model": f"m{j}", "scale": n, "task": "em", "metric": "exact_match", "value": v,
              "n_items": 400} for j, (n, v) in enumerate(zip(SIZES, [0.0, 0.0, 0.01, 0.2, 0.7], strict=True))]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    v = run_engine(read_inputs([tmp_path / "t.csv"]), FAST, progress=False)
    c = v.curves
    for k in ("E", "change", "step_share"):
        q = c[np.isfinite(c[k]) & c[f"{k}_lo"].notna()]
        assert ((q[f"{k}_lo"] <= q[k]) & (q[k] <= q[f"{k}_hi"])).all(), (k, q[[k, f"{k}_lo", f"{k}_hi"]])
    p = v.points
    assert ((p["lo"] <= p["value"]) & (p["value"] <= p["hi"])).all()
    zero = p[(p["task"] == "em") & (p["model"] == "m0")].iloc[0]
    assert zero["lo"] == 0 and 0 < zero["hi"] < 0.02  # one-sided at the bound, as a Jeffreys interval is


def test_counts_under_other_column_names_and_fewer_samples_than_the_default_k(tmp_path):
    from src.analysis.core.ingest import IngestSpec
    from src.analysis.core.readers import ReadOptions

    rows = [{"model": f"m{j}", "problem": f"p{i}", "num_samples": 50, "num_correct": (i * j) % 7, "params": 10.0 ** (7 + j)}
            for j in range(4) for i in range(5)]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    spec = IngestSpec(columns={"n": "num_samples", "c": "num_correct", "scale": "params"})
    ev = read_inputs([tmp_path / "c.csv"], "repeated-sampling", ReadOptions(extra={"spec": spec}))
    assert set(ev.table["metric"]) == {"pass@1", "pass@10"}  # pass@100 left out: 50 samples a problem
    assert ev.table["n_trials"].eq(250).all()


def test_a_metric_no_registry_knows_is_left_out_with_a_notice_until_declared(tmp_path):
    from src.analysis.core.metrics import declared, load_declarations

    path = per_run_table(tmp_path / "runs.csv", families=("A",))
    df = pd.read_csv(path)
    pd.concat([df, df.assign(metric="judge_score", value=df["value"] * 10)]).to_csv(
        tmp_path / "m.csv", index=False
    )
    v = run_engine(read_inputs([tmp_path / "m.csv"]), FAST, progress=False)
    assert set(v.curves["metric"]) == {"exact_match"}
    assert any("judge_score" in n and "declare" in n for n in v.notices)
    (tmp_path / "m.yaml").write_text("judge_score: {direction: higher, level: 0, bounds: [0, 10]}\n")
    with declared(load_declarations(tmp_path / "m.yaml")):
        v = run_engine(read_inputs([tmp_path / "m.csv"]), FAST, progress=False)
    assert set(v.curves["metric"]) == {"exact_match", "judge_score"}
    assert list(zip(v.pairs["sharp"], v.pairs["smooth"], strict=True)) == [("exact_match", "judge_score")]


def test_the_range_bound_of_a_continuous_score_of_n_items_covers_its_mean():
    """Known answer: a Brier score in [0, 2] averaged over n items. Items at the ends of the range make the bound
    exact (about 95% covered); items inside it make it conservative (more than 95%), never less."""
    from src.analysis.stats import resample as rs

    rng, n, B = np.random.default_rng(0), 400, 2000
    for draw_items, at_least, at_most in (
        (lambda: 2.0 * rng.binomial(1, 0.3, n), 0.92, 0.98),  # scores 0 or 2: the bound is the true variance
        (lambda: rng.uniform(0.2, 1.0, n), 0.99, 1.0),  # scores inside the range: wider than needed
    ):
        truth = 0.6
        covered = 0
        for _ in range(300):
            v = float(draw_items().mean())
            d, src = rs.parametric(v, np.nan, n, "continuous", (0.0, 2.0), B, rng)
            assert src == "range bound"
            lo, hi = np.quantile(d, [0.025, 0.975])
            covered += lo <= truth <= hi
        assert at_least <= covered / 300 <= at_most
    # no range known (a perplexity), or no item count: no interval, said so
    assert rs.parametric(12.0, np.nan, n, "continuous", (np.nan, np.nan), B, rng) == (None, "none")
    assert rs.parametric(0.6, np.nan, np.nan, "continuous", (0.0, 2.0), B, rng) == (None, "none")


def test_a_per_model_accuracy_and_brier_table_is_judged_with_flags_only(tmp_path):
    """The fourth shape: accuracy (an argmax share: the sharp side) and Brier (its smooth partner) per model with
    the number of questions, in the lab's own column names. Both get intervals (the binomial of the questions; the
    range bound), the flat task is no real rise, and accuracy pairs with Brier, never with another argmax metric."""
    rows = []
    for fam, sizes in {"alpha": SIZES, "beta": SIZES[:4]}.items():
        for task in ("rises", "flat"):
            for n in sizes:
                p = 0.25 + 0.7 * (np.log10(n) - 8) / 2 if task == "rises" else 0.52
                rows.append({"model_family": fam, "model_name": f"{fam}-{n:.0e}", "params": n, "benchmark": task,
                             "accuracy": min(p, 0.95), "brier": 0.75 * (1 - min(p, 0.95)), "questions": 500})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    main(["verdicts", str(tmp_path / "t.csv"), "--column", "family=model_family", "--column", "model=model_name",
          "--column", "task=benchmark", "--column", "n_items=questions", "--wide", "accuracy,brier",
          "--n-resamples", "300", "--out", str(out)])  # fmt: skip
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["metric"]) == {"accuracy", "brier"}
    src = curves.set_index("metric")["interval_source"]
    assert set(src.loc["accuracy"]) == {"binomial"} and set(src.loc["brier"]) == {"range bound"}
    assert set(curves.loc[curves["task"] == "flat", "verdict"]) == {"no real rise"}
    pairs = pd.read_csv(out / "pairs.csv")
    assert set(zip(pairs["sharp"], pairs["smooth"], strict=True)) == {("accuracy", "brier")}


def test_metrics_pair_only_as_readings_of_the_same_outputs():
    """Exact match of the first L digits pairs with the edit distance of the first L digits, never with another L
    nor with a whole-answer metric; K of K pairs with accuracy and cross-entropy; pass@k with pass@1."""
    from src.analysis.core.vocab import pairs_of

    def pairs(levels: dict[str, int]) -> set[tuple[str, str]]:
        return set(
            pairs_of(pd.DataFrame({"metric": list(levels), "level": list(levels.values()), "partner": ""}))
        )

    arith = {"exact_match": 2, "exact_match_l=2": 2, "exact_match_l=3": 2, "edit_distance": 0,
             "edit_distance_l=2": 0, "edit_distance_l=3": 0, "ce": 0}  # fmt: skip
    assert pairs(arith) == {("exact_match", "edit_distance"), ("exact_match", "ce"),
                            ("exact_match_l=2", "edit_distance_l=2"), ("exact_match_l=3", "edit_distance_l=3")}  # fmt: skip
    assert pairs({"subset_acc_k=3": 2, "acc": 1, "ce": 0}) == {
        ("subset_acc_k=3", "acc"), ("subset_acc_k=3", "ce"), ("acc", "ce")}  # fmt: skip
    assert pairs({"pass@1": 1, "pass@10": 2}) == {("pass@10", "pass@1")}
