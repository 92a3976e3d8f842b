"""BIG-Bench results reader and the stand-in tables as evidence: known tables, bad files named."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from src.analysis.core.saving import safe_name
from src.analysis.families import bigbench, score_tables
from src.analysis.families.bigbench import BigBenchSchemaError
from src.results.errors import InputError

MODELS = {  # model_name: (total, non_embedding, flop_matched)
    "2m": (2.0e6, 1.5e6, 1.6e6),
    "1b": (1.2e9, 1.0e9, 1.1e9),
    "128b": (1.3e11, 1.28e11, 1.29e11),
}


def score_file(task: str, name: str, mcg: float, brier: float, subtasks: tuple[str, ...] = ()) -> dict:
    total, non_emb, flop = MODELS[name]
    entry = {
        "high_score": 1.0,
        "low_score": 0.25,
        "number_of_shots": 0,
        "preferred_score": "multiple_choice_grade",
        "score_dict": {
            "multiple_choice_grade": mcg,
            "calibration_multiple_choice_brier_score": brier,
            "normalized_aggregate_score": 100 * mcg,
        },
        "subtask_description": task,
    }
    scores = [entry, {**copy.deepcopy(entry), "number_of_shots": 1}]
    for sub in subtasks:
        scores.append({**copy.deepcopy(entry), "subtask_description": f"{task}:{sub}"})
    return {
        "model": {
            "model_family": "BIG-G T=0",
            "model_name": name,
            "total_params": int(total),
            "non_embedding_params": int(non_emb),
            "flop_matched_non_embedding_params": int(flop),
            "training_steps": 1000,
        },
        "scores": scores,
        "task": {"task_name": task},
    }


def write_tree(root: Path) -> Path:
    """bigbench/benchmark_tasks/{task_a (2 subtasks), task_b}/results/scores_*.json for 3 models, plus noise."""
    tasks = root / "bigbench" / "benchmark_tasks"
    curves = {
        "task_a": ([0.25, 0.26, 0.70], [0.30, 0.25, 0.15]),
        "task_b": ([0.30, 0.40, 0.50], [0.2, 0.18, 0.1]),
    }
    for task, (mcg, brier) in curves.items():
        res = tasks / task / "results"
        res.mkdir(parents=True)
        for name, m, b in zip(MODELS, mcg, brier, strict=True):
            subs = ("sub1", "sub2") if task == "task_a" else ()
            (res / f"scores_BIG-G_T=0_{name}.json").write_text(json.dumps(score_file(task, name, m, b, subs)))
        (res / "full-log_BIG-G_T=0_2m.json").write_text("not a score file, must be ignored")
    (tasks / "task_c").mkdir()  # a task with no results directory
    return root


def test_reader_reads_every_score_entry_into_a_tidy_table(tmp_path):
    table = bigbench.read_results_tree(write_tree(tmp_path))
    assert list(table.columns) == bigbench.COLUMNS
    # task_a: 3 models x (2 task-level entries + 2 subtasks) x 3 metrics; task_b: 3 x 2 x 3
    assert len(table) == 3 * 4 * 3 + 3 * 2 * 3
    assert set(table.subtask) == {"", "sub1", "sub2"}
    row = table[
        (table.task == "task_a") & (table.model == "128b") & (table.subtask == "") & (table.shots == 0)
    ]
    mcg = row[row.metric == "multiple_choice_grade"].iloc[0]
    assert mcg.score == pytest.approx(0.70) and mcg.preferred and mcg.family == "BIG-G T=0"
    assert mcg.params == 1.28e11 and mcg.total_params == 1.3e11 and mcg.low_score == 0.25
    assert not row[row.metric == "calibration_multiple_choice_brier_score"].iloc[0].preferred
    flop = bigbench.read_results_tree(tmp_path / "bigbench", params="flop_matched_non_embedding_params")
    assert set(flop.params) == {m[2] for m in MODELS.values()}


def test_to_evidence_keeps_task_level_entries_of_one_shot_count(tmp_path):
    table = bigbench.read_results_tree(write_tree(tmp_path) / "bigbench" / "benchmark_tasks")
    ev = bigbench.to_evidence(table, shots=0)
    assert set(ev.metric) == {"multiple_choice_grade", "calibration_multiple_choice_brier_score"}
    assert len(ev) == 2 * 3 * 2 and set(ev.source) == {"bigbench"}  # tasks x models x metrics
    a = ev[(ev.task == "task_a") & (ev.metric == "multiple_choice_grade")].sort_values("scale")
    assert a.value.tolist() == pytest.approx([0.25, 0.26, 0.70])
    assert a.scale.tolist() == [m[1] for m in MODELS.values()]  # non-embedding params by default
    subs = bigbench.to_evidence(table, shots=1, task_level=False)
    assert set(subs.task) == {"task_a", "task_b"}  # subtasks exist at 0 shots only in the fixture
    assert set(bigbench.to_evidence(table, shots=0, task_level=False).task) == {
        "task_a",
        "task_a:sub1",
        "task_a:sub2",
        "task_b",
    }
    with pytest.raises(ValueError, match=r"number_of_shots=5; available: \[0, 1\]"):
        bigbench.to_evidence(table, shots=5)


def _break(tmp_path: Path, edit) -> Path:
    write_tree(tmp_path)
    path = tmp_path / "bigbench/benchmark_tasks/task_b/results/scores_BIG-G_T=0_1b.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["model"].pop("model_family"), r"model lacks field\(s\) \['model_family'\]"),
        (lambda d: d.pop("scores"), r"top level lacks field\(s\) \['scores'\]"),
        (lambda d: d["model"].update(total_params="1B"), r"model.total_params must be int or float, got str"),
        (lambda d: d["scores"][1].pop("score_dict"), r"scores\[1\] lacks field\(s\) \['score_dict'\]"),
        (
            lambda d: d["scores"][0].update(number_of_shots=True),
            r"scores\[0\].number_of_shots must be int, got bool",
        ),
        (
            lambda d: d["scores"][0]["score_dict"].update(multiple_choice_grade=None),
            r"scores\[0\].score_dict\['multiple_choice_grade'\] must be a number, got NoneType",
        ),
        (
            lambda d: d["scores"][0].update(preferred_score="bleu"),
            r"scores\[0\].preferred_score 'bleu' is not a key of score_dict",
        ),
        (
            lambda d: d["scores"][0].update(subtask_description="other_task:x"),
            r"scores\[0\].subtask_description is 'other_task:x'; expected 'task_b'",
        ),
        (lambda d: d.update(scores=[]), r"scores is an empty list"),
    ],
)
def test_bad_score_file_is_named_with_the_field(tmp_path, edit, message):
    path = _break(tmp_path, edit)
    with pytest.raises(BigBenchSchemaError, match=message) as err:
        bigbench.read_results_tree(tmp_path)
    assert str(path) in str(err.value)


def test_invalid_json_and_duplicates_and_missing_tree_are_named(tmp_path):
    write_tree(tmp_path)
    bad = tmp_path / "bigbench/benchmark_tasks/task_a/results/scores_BIG-G_T=0_2m.json"
    good_text = bad.read_text()
    bad.write_text("{not json")
    with pytest.raises(BigBenchSchemaError, match="not valid JSON") as err:
        bigbench.read_results_tree(tmp_path)
    assert str(bad) in str(err.value)
    bad.write_text(good_text)
    (bad.parent / "scores_copy_of_2m.json").write_text(good_text)
    with pytest.raises(BigBenchSchemaError, match="duplicate scores .* model='2m'.*scores_copy_of_2m.json"):
        bigbench.read_results_tree(tmp_path)
    with pytest.raises(InputError, match="bigbench/benchmark_tasks/<task>/results/scores_<model>.json"):
        bigbench.read_results_tree(tmp_path / "nowhere")
    empty = tmp_path / "empty" / "benchmark_tasks"
    (empty / "task_x").mkdir(parents=True)
    with pytest.raises(InputError, match="holds no <task>/results/scores_\\*.json.*google/BIG-bench"):
        bigbench.read_results_tree(empty)


def test_a_lab_table_is_read_by_the_one_table_reader_with_its_column_mapping(tmp_path):
    """What the family commands do with --table lab.csv --column ... --size-scale 1e9 (no reader of their own)."""
    from src.analysis.core.ingest import IngestSpec, ingest_table

    path = tmp_path / "lab.csv"
    pd.DataFrame(
        {
            "benchmark": ["t", "t", "t"],
            "measure": ["acc"] * 3,
            "org": ["F"] * 3,
            "ckpt": ["small", "mid", "big"],
            "billions": [0.1, 1.0, 10.0],
            "points": [0.1, 0.2, None],  # a model without a score on this task: dropped
        }
    ).to_csv(path, index=False)
    mapping = {"task": "benchmark", "metric": "measure", "family": "org", "model": "ckpt", "scale": "billions",
               "value": "points"}  # fmt: skip
    ev = ingest_table(path, IngestSpec(columns=mapping, size_scale=1e9))
    assert ev["scale"].tolist() == [1e8, 1e9] and ev["value"].tolist() == [0.1, 0.2]
    with pytest.raises(InputError, match=r"lacks column\(s\) \['family', 'model', 'scale', 'task', 'metric'"):
        ingest_table(path)
    with pytest.raises(InputError, match=r"nope"):
        ingest_table(path, IngestSpec(columns={**mapping, "value": "nope"}))


def test_parquet_without_engine_says_what_to_install(tmp_path, monkeypatch):
    from src.analysis.core.ingest import read_any

    path = tmp_path / "scores.parquet"
    path.write_bytes(b"PAR1")

    def no_engine(*_, **__):
        raise ImportError("Unable to find a usable engine")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(InputError, match="scores.parquet: reading needs pyarrow; pip install pyarrow"):
        read_any(path)
    with pytest.raises(InputError, match="s.xlsx"):
        (tmp_path / "s.xlsx").write_text("x")
        read_any(tmp_path / "s.xlsx")


def test_obsscaling_wide_table_is_melted_and_joined(tmp_path):
    emergent = tmp_path / "emergent.csv"
    bench = tmp_path / "bench.csv"
    pd.DataFrame(
        {"Model": ["m/a", "m/b"], "arithmetic_2da_2_acc": [0.1, 0.9], "ipa_transliterate_2_bleu": [5.0, None]}
    ).to_csv(emergent, index=False)
    pd.DataFrame(
        {"Model": ["m/a", "m/b"], "Model Family": ["Fam", "Fam"], "Model Size (B)": [1.0, 7.0]}
    ).to_csv(bench, index=False)
    ev = score_tables.read_obsscaling_emergent(emergent, bench)
    assert len(ev) == 3 and set(ev.source) == {"obsscaling"}  # the missing BLEU score is dropped
    row = ev[(ev.task == "arithmetic_2da") & (ev.model == "m/b")].iloc[0]
    assert (row.metric, row.family, row.scale, row.value, row.shots) == ("acc", "Fam", 7e9, 0.9, 2)
    pd.DataFrame({"Model": ["m/a"], "Model Family": ["Fam"], "Model Size (B)": [1.0]}).to_csv(
        bench, index=False
    )
    with pytest.raises(InputError, match=r"bench.csv: model\(s\) \['m/b'\] have no size in the size map"):
        score_tables.read_obsscaling_emergent(emergent, bench)


def test_data_path_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("DATA_DIR", raising=False)
    with pytest.raises(InputError, match="DATA_DIR is not set.*export DATA_DIR="):
        score_tables.data_path(score_tables.EXPEMERGENCE)
    with pytest.raises(InputError, match="should hold llm/standins/expemergence"):
        score_tables.data_path(score_tables.EXPEMERGENCE, tmp_path)


@pytest.mark.skipif(not os.environ.get("DATA_DIR"), reason="needs DATA_DIR with llm/standins")
def test_standins_have_the_triplet_counts_their_provenance_states():
    """PROVENANCE.md: 171 ExpEmergence and 102 ObsScaling triplets have >= 3 models."""
    ev = score_tables.read_standins()
    n_models = ev.groupby(["source", "task", "metric", "family"]).model.nunique()
    assert (n_models >= 3).groupby("source").sum().to_dict() == {"expemergence": 171, "obsscaling": 102}
    assert ev.groupby("source").family.nunique().to_dict()["expemergence"] == 25


def test_cli_bigbench_table_writes_the_tidy_csv(tmp_path, capsys):
    from src.analysis.__main__ import main

    out = tmp_path / "out" / "bigbench.csv"
    assert main(["bigbench-table", str(write_tree(tmp_path / "bb")), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 54 and set(table.task) == {"task_a", "task_b"}
    assert "54 rows from 6 score files, 2 tasks, 1 families" in capsys.readouterr().out


def test_cli_fig6_on_an_official_results_tree(tmp_path):
    from src.analysis.__main__ import main

    out = tmp_path / "out"
    argv = ["bigbench-fig6", "--bigbench-results", str(write_tree(tmp_path / "bb")),
            "--brier-metric", "calibration_multiple_choice_brier_score", "--out-dir", str(out)]  # fmt: skip
    assert main(argv) == 0
    pairs = pd.read_csv(out / "fig6_mcg_vs_brier.csv", keep_default_na=False).set_index("task")
    # task_a, 3 sizes: MCG steps .01, .44 (median of squares = their mean); Brier negated steps .05, .10
    assert pairs.loc["task_a", "emergence_mcg"] == pytest.approx(0.45 / ((0.01**2 + 0.44**2) / 2) ** 0.5)
    assert pairs.loc["task_a", "emergence_brier"] == pytest.approx(0.15 / ((0.05**2 + 0.10**2) / 2) ** 0.5)
    assert pairs.loc["task_a", "brier_note"] == ""  # the real multi-class Brier needs no caveat
    # the family name "BIG-G T=0" made safe: its space replaced, so a hash of the name keeps it apart from a
    # family really named "BIG-G_T=0" (src/analysis/core/saving.py)
    (curves,) = out.glob("fig6_curves_BIG-G_T=0-*.png")
    assert curves.name == f"fig6_curves_{safe_name('BIG-G T=0')}.png"
