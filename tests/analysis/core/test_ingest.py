"""Ingest of lab tables into the evidence table, on fixture tables written here (wide, long, sentinels, composite
task keys, replicates, size maps, Parquet/JSON), and metric declarations."""

from __future__ import annotations

import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core import evidence, metrics
from src.analysis.core.ingest import IngestSpec, ingest_table
from src.results.errors import InputError
from tests.analysis.core.evidence_factory import (
    DECLARE_FLAGS,
    FAMILIES,
    INGEST_FLAGS,
    N_ROWS,
    SEEDS,
    TASKS,
    per_run_rows,
    write_per_run_table,
)

SPEC = IngestSpec(
    columns={"model": "model_name", "family": "model_family", "scale": "params_b", "replicate": "seed"},
    wide=["exact_match,edit_*", "bertscore*"],
    task_columns=["task", "prompt_type", "n_shots"],
    na_values=["-100"],
    size_scale=1e9,
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".jsonl"])
def test_wide_per_run_table_with_sentinels_composite_keys_and_replicates(tmp_path, suffix):
    ev = ingest_table(write_per_run_table(tmp_path / f"runs{suffix}"), SPEC)
    assert len(ev) == N_ROWS  # the -100 cells are dropped, nothing else
    assert ev["value"].min() > -1 and ev["value"].notna().all()
    assert set(ev["task"]) == {f"{t}/{p}/{s}" for t, p, s in TASKS}
    assert set(ev["metric"]) == {"exact_match", "edit_distance_char", "bertscore_f1"}
    assert set(ev["replicate"]) == {str(s) for s in SEEDS}
    # replicates are kept as rows (bands), not refused as duplicates
    per_point = ev.groupby(["family", "model", "task", "metric"]).size()
    assert per_point.max() == len(SEEDS)
    row = ev[(ev.model == "alpha-1.0b") & (ev.task == "add/plain/0") & (ev.metric == "exact_match")]
    src = [
        r
        for r in per_run_rows()
        if r["model_name"] == "alpha-1.0b" and r["task"] == "add" and r["n_shots"] == 0
    ]
    assert sorted(row["value"]) == pytest.approx(sorted(r["exact_match"] for r in src))
    assert (row["scale"] == 1e9).all() and (row["family"] == "Alpha").all()
    assert list(ev.columns[: len(evidence.COLUMNS)]) == evidence.COLUMNS


def test_the_same_table_in_every_format_gives_the_same_evidence(tmp_path):
    frames = [ingest_table(write_per_run_table(tmp_path / f"runs{s}"), SPEC).drop(columns="source")
              for s in (".csv", ".parquet", ".json")]  # fmt: skip
    key = ["family", "model", "task", "metric", "replicate"]
    a, b, c = (f.sort_values(key).reset_index(drop=True)[[*key, "scale", "value"]] for f in frames)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_long_table_with_a_size_map_file(tmp_path):
    long = pd.DataFrame({"model": ["m1", "m2", "m3"] * 2, "task": "t", "metric": ["acc"] * 3 + ["brier"] * 3,
                         "score": [0.1, 0.5, 0.9, 0.8, 0.5, 0.2]})  # fmt: skip
    long.to_csv(tmp_path / "long.csv", index=False)
    pd.DataFrame({"Model": ["m1", "m2", "m3"], "Fam": "F", "B": [1, 2, 4]}).to_csv(
        tmp_path / "sizes.csv", index=False
    )
    spec = IngestSpec(size_map=tmp_path / "sizes.csv", size_map_columns={"model": "Model", "family": "Fam",
                      "scale": "B"}, size_scale=1e9)  # fmt: skip
    ev = ingest_table(tmp_path / "long.csv", spec)
    assert dict(zip(ev.model, ev.scale, strict=False)) == {"m1": 1e9, "m2": 2e9, "m3": 4e9}
    assert (ev.family == "F").all() and ev.loc[ev.metric == "brier", "value"].tolist() == [0.8, 0.5, 0.2]
    (tmp_path / "sizes.yaml").write_text("m1: 1.0e9\nm2: 2.0e9\n")
    with pytest.raises(InputError, match=r"sizes.yaml: model\(s\) \['m3'\] have no size"):
        ingest_table(
            tmp_path / "long.csv", IngestSpec(size_map=tmp_path / "sizes.yaml", constants={"family": "F"})
        )


def test_one_size_map_reader_for_the_table_and_every_other_reader(tmp_path):
    """--size-map is read by one reader (ingest.read_size_table) for the table join and for the model -> parameters
    map the other readers take: --size-map-column and --size-scale reach both (the map of the other readers ignored
    them and refused a size table whose columns needed mapping, before the table reader could read it)."""
    from src.analysis.core.inputs import read_size_map_file

    long = pd.DataFrame({"model": ["m1", "m2", "m3"] * 2, "task": "t", "metric": ["acc"] * 3 + ["brier"] * 3,
                         "score": [0.1, 0.5, 0.9, 0.8, 0.5, 0.2]})  # fmt: skip
    long.to_csv(tmp_path / "long.csv", index=False)
    pd.DataFrame({"Name": ["m1", "m2", "m3"], "Fam": "F", "B": [1, 2, 4]}).to_csv(
        tmp_path / "sizes.csv", index=False
    )
    cols = {"model": "Name", "family": "Fam", "scale": "B"}
    assert read_size_map_file(tmp_path / "sizes.csv", cols, 1e9) == {"m1": 1e9, "m2": 2e9, "m3": 4e9}
    out = tmp_path / "out"
    flags = [f"--size-map-column={k}={v}" for k, v in cols.items()]
    main(["verdicts", str(tmp_path / "long.csv"), "--size-map", str(tmp_path / "sizes.csv"), *flags,
          "--size-scale", "1e9", "--n-resamples", "20", "--out", str(out)])  # fmt: skip
    assert sorted(set(pd.read_csv(out / "points.csv")["scale"])) == [1e9, 2e9, 4e9]
    # one set of errors: a missing file, a bad size (named), a two-column table read by position
    with pytest.raises(InputError, match="size map does not exist"):
        read_size_map_file(tmp_path / "nope.csv")
    pd.DataFrame({"model": ["a", "b"], "scale": [1e9, "big"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=r"size of 'b' is not a number: 'big'"):
        read_size_map_file(tmp_path / "bad.csv")
    (tmp_path / "neg.yaml").write_text("a: 1.0e9\nb: -5\n")
    with pytest.raises(InputError, match=r"size of 'b' must be a positive finite number, got -5"):
        ingest_table(tmp_path / "long.csv", IngestSpec(size_map=tmp_path / "neg.yaml"))
    pd.DataFrame({"x": ["m1", "m2", "m3"], "y": [1e9, 2e9, 3e9]}).to_csv(tmp_path / "pos.csv", index=False)
    assert read_size_map_file(tmp_path / "pos.csv") == {"m1": 1e9, "m2": 2e9, "m3": 3e9}


def test_columns_whose_names_carry_a_unit_and_model_family_are_read(tmp_path):
    """A lab's per-model table (``model_family, n_params_billion, pretrain_tokens_trillion, train_flops_1e21``)
    reads with no flags; two candidate columns for one quantity are left to --column, and --size-scale is the unit."""
    t = pd.DataFrame({"task": "t", "metric": "acc", "model_family": "F", "model": ["a", "b"], "score": [0.2, 0.4],
                      "n_params_billion": [0.5, 7], "pretrain_tokens_trillion": [0.3, 2.0],
                      "train_flops_1e21": [0.9, 84.0]})  # fmt: skip
    t.to_csv(tmp_path / "t.csv", index=False)
    ev = ingest_table(tmp_path / "t.csv")
    assert (ev.family == "F").all() and ev.scale.tolist() == [5e8, 7e9]
    assert ev.tokens.tolist() == pytest.approx([3e11, 2e12]) and ev.compute.tolist() == pytest.approx(
        [9e20, 8.4e22]
    )
    assert ingest_table(tmp_path / "t.csv", IngestSpec(size_scale=1e6)).scale.tolist() == [5e5, 7e6]
    t.assign(n_params_billion=[-1, 7]).to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(InputError, match=r"row 1: scale must be a positive number, got -1e\+09;"):
        ingest_table(tmp_path / "neg.csv")
    t.assign(params_m=[500, 7000]).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['scale'\]"):
        ingest_table(tmp_path / "two.csv")


def test_a_wide_table_with_a_size_table_in_human_column_names(tmp_path, capsys):
    """ObsScaling's shape: scores wide (``Model, qa_2_acc, ...``) and sizes in another table (``Model, Model Family,
    Model Size (B), FLOPs (1E21)``): --size-map reads the second by its own names, with the unit."""
    sizes = {"Model": ["org/a", "org/b", "org/c", "org/d"], "Model Family": "F", "Model Size (B)": [0.1, 1, 10, 100],
             "FLOPs (1E21)": [1, 2, 3, 4]}  # fmt: skip
    pd.DataFrame(sizes).to_csv(tmp_path / "sizes.csv", index=False)
    scores = {"Model": sizes["Model"], "qa_2_acc": [0.25, 0.3, 0.5, 0.9], "qa_2_bleu": [1, 2, 3, 4]}
    pd.DataFrame(scores).to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "out"
    main(["verdicts", str(tmp_path / "scores.csv"), "--wide", "*_2_*", "--wide-regex",
          r"(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|bleu)", "--size-map", str(tmp_path / "sizes.csv"),
          "--n-resamples", "50", "--out", str(out)])  # fmt: skip
    read = pd.read_csv(out / "points.csv")
    assert set(read["family"]) == {"F"} and sorted(set(read["scale"])) == [1e8, 1e9, 1e10, 1e11]


def test_wide_columns_that_are_tasks_are_named_in_the_error_and_read_with_two_flags(tmp_path):
    """A leaderboard: ``Model, #Params (B), ARC, HellaSwag``, one accuracy per task column."""
    lb = pd.DataFrame(
        {"Model": ["a", "b"], "#Params (B)": [1, 7], "ARC": [0.3, 0.5], "HellaSwag": [0.4, 0.7]}
    )
    lb.to_csv(tmp_path / "lb.csv", index=False)
    with pytest.raises(
        InputError, match=r"if the --wide columns are tasks: --wide-regex '\(\?P<task>\.\+\)' --set"
    ):
        ingest_table(tmp_path / "lb.csv", IngestSpec(wide=["ARC,HellaSwag"], constants={"family": "F"}))
    spec = IngestSpec(
        wide=["ARC,HellaSwag"], wide_regex="(?P<task>.+)", constants={"family": "F", "metric": "acc"}
    )
    ev = ingest_table(tmp_path / "lb.csv", spec)
    assert set(zip(ev.task, ev.metric, ev.scale, strict=True)) == {("ARC", "acc", 1e9), ("ARC", "acc", 7e9),
                                                                   ("HellaSwag", "acc", 1e9), ("HellaSwag", "acc", 7e9)}  # fmt: skip


def test_wide_regex_splits_column_names_into_task_and_metric(tmp_path):
    pd.DataFrame({"Model": ["a", "b", "c"], "size": [1, 2, 3], "qa_2_acc": [0.1, 0.2, 0.3],
                  "qa_2_bleu": [5, 6, float("nan")]}).to_csv(tmp_path / "w.csv", index=False)  # fmt: skip
    spec = IngestSpec(columns={"model": "Model"}, constants={"family": "F"}, wide=["*_2_*"],
                      wide_regex=r"(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|bleu)", task_columns=["task", "shots"])  # fmt: skip
    ev = ingest_table(tmp_path / "w.csv", spec)
    assert set(zip(ev.task, ev.metric, strict=True)) == {("qa/2", "acc"), ("qa/2", "bleu")}
    assert len(ev) == 5  # the empty cell is missing, dropped


def test_infinite_scores_are_refused_unless_declared_missing(tmp_path):
    pd.DataFrame({"family": "F", "model": list("abc"), "scale": [1, 2, 3], "task": "t", "metric": "acc",
                  "value": [0.1, float("inf"), 0.3]}).to_csv(tmp_path / "inf.csv", index=False)  # fmt: skip
    with pytest.raises(InputError, match=r"inf.csv:row 2: value is infinite.*--na-values inf"):
        ingest_table(tmp_path / "inf.csv")
    assert len(ingest_table(tmp_path / "inf.csv", IngestSpec(na_values=["inf"]))) == 2


def test_declarations_from_yaml_and_globs(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "metrics:\n  'bert*': {direction: higher, kind: smooth, chance: 0.5, bounds: [0, 1], label: BERTScore}\n"
        "  solve_rate: {direction: higher, kind: sharp}\n"
    )
    decls = metrics.load_declarations(tmp_path / "m.yaml")
    assert metrics.classify("bertscore_f1") is None and metrics.classify("solve_rate") is None
    with metrics.declared(decls + metrics.declarations_from_flags(lower_is_better=["edit_*"])):
        b = metrics.classify("bertscore_f1")
        assert (b.sharpness, b.kind.higher_is_better, b.kind.chance, b.kind.label) == (
            "smooth",
            True,
            0.5,
            "BERTScore",
        )
        assert metrics.classify("solve_rate").sharpness == "sharp"
        assert metrics.classify("solve_rate").kind.level == 1  # --sharp: a share judged per item unless said
        assert metrics.higher_is_better("edit_whatever") is False
        metrics.require_known(["bertscore_f1", "solve_rate", "test/acc"])
    assert metrics.classify("bertscore_f1") is None  # out of the block, the registry is as before
    with pytest.raises(InputError, match=r"not declared: bertscore_f1 \(direction, kind\), bleu \(kind\)"):
        metrics.require_known(["bertscore_f1", "bleu", "test/acc"])
    (tmp_path / "bad.yaml").write_text("x: {direction: up}\n")
    with pytest.raises(InputError, match=r"bad.yaml: direction of 'x' must be higher or lower"):
        metrics.load_declarations(tmp_path / "bad.yaml")


def test_undeclared_metric_is_one_error_and_unused_ones_are_ignored(tmp_path, capsys):
    table = write_per_run_table(tmp_path / "runs.csv")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"bertscore_f1 \(direction, kind\).*--higher-is-better"):
        main(["claims", str(table), *INGEST_FLAGS, "--out", str(out)])
    # leaving it out with --metric: the command never needs it
    assert (
        main(["claims", str(table), *INGEST_FLAGS, "--metric", "exact_match,edit_*", "--out", str(out)]) == 0
    )
    assert set(pd.read_csv(out / "claims_test.csv").metric) == {"exact_match", "edit_distance_char"}
    assert main(["claims", str(table), *INGEST_FLAGS, *DECLARE_FLAGS, "--out", str(out)]) == 0
    claims = pd.read_csv(out / "claims_test.csv")
    assert set(claims.metric) == {"exact_match", "edit_distance_char", "bertscore_f1"}
    assert len(claims) == 3 * len(TASKS) * len(FAMILIES)
    # seed bands survive: every curve has a per-seed emergence range
    assert claims.loc[claims.n_sizes >= 3, "e_seed_min"].notna().all()


def test_sizes_with_units_and_a_table_without_a_model_column(tmp_path):
    """A lab's per-size table: sizes written 125M / 1.3B, no model column (one model per family and size)."""
    df = pd.DataFrame({"family": ["a", "a", "b", "b"], "size": ["125M", "1.3B", "70k", "2b"],
                       "task": "t", "metric": "acc", "value": [0.3, 0.5, 0.2, 0.4]})  # fmt: skip
    df.to_csv(tmp_path / "t.csv", index=False)
    ev = ingest_table(tmp_path / "t.csv", IngestSpec())
    assert ev["scale"].tolist() == [1.25e8, 1.3e9, 7e4, 2e9]
    assert ev["model"].tolist() == ["a-125M", "a-1.3B", "b-70k", "b-2b"]
    assert ev.attrs["model_from_family_and_scale"]
    df.assign(size=["125M", "big", "70k", "2b"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=r"row 2: scale 'big' is not a number"):
        ingest_table(tmp_path / "bad.csv", IngestSpec())


def test_a_counts_table_in_its_own_names_is_pointed_to_the_counts_reader(tmp_path):
    pd.DataFrame({"model": ["m"], "problem_id": [0], "num_samples": [10], "num_correct": [2]}).to_csv(
        tmp_path / "c.csv", index=False
    )
    with pytest.raises(InputError, match=r"per-problem counts of samples \(num_samples, num_correct\): --format "
                       r"repeated-sampling"):  # fmt: skip
        ingest_table(tmp_path / "c.csv", IngestSpec())
