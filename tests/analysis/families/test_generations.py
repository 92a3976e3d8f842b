"""Format ``generations``: per-sample generation tables scored into evidence and items.

Small synthetic tables in tmp (never the shared data): four models of one family answer a*b for a, b < 15 with a
per-digit error rate that falls with size; the scores are checked against a brute-force reference written here
(plain-Python Levenshtein, digit places compared one by one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core.readers import ReadOptions, detect_format, read_inputs
from src.analysis.core.shaping import Shaping
from src.analysis.families.readers.generations import detect
from src.results.errors import InputError
from tests.metrics.test_text import levenshtein_dp  # the textbook DP reference, one copy

SIZES = {"tiny": 1e6, "small": 1e7, "mid": 1e8, "big": 1e9}
ERR = {"tiny": 0.6, "small": 0.35, "mid": 0.15, "big": 0.03}
NAME = r"mult_(?P<model>[a-z]+)_run"


def _answer(target: str, err: float, rng: np.random.Generator) -> str:
    digits = [d if rng.random() > err else str((int(d) + rng.integers(1, 10)) % 10) for d in target]
    r = rng.random()
    if r < 0.1 * err and len(digits) > 1:
        digits = digits[1:]  # a dropped digit
    elif r < 0.2 * err:
        digits = [*digits, "7"]  # an extra one
    return "".join(digits)


def write_family(folder, n=15, empty=3, latin1=False, seed=0):
    """One CSV per model, columns a, b, completion (the upstream shape), names mult_<model>_run.csv, plus a
    prompt.csv of the same columns that is not a model. The smallest model has ``empty`` empty answers."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for model, err in ERR.items():
        rows = []
        for a in range(n):
            for b in range(n):
                rows.append({"a": a, "b": b, "completion": _answer(str(a * b), err, rng)})
        df = pd.DataFrame(rows)
        if model == "tiny":
            df.loc[: empty - 1, "completion"] = ""
            df.loc[5, "completion"] = f" {df.loc[5, 'completion']} "  # surrounding spaces are not part of it
        path = folder / f"mult_{model}_run.csv"
        if latin1 and model == "tiny":
            df.loc[7, "completion"] = "\x92"  # a byte that is not UTF-8 (as in the upstream ada file)
            path.write_bytes(df.to_csv(index=False).encode("latin-1"))
        else:
            df.to_csv(path, index=False)
    pd.DataFrame({"a": [4], "b": [7], "completion": ["28"]}).to_csv(folder / "prompt.csv", index=False)
    (folder / "sizes.yaml").write_text("".join(f"{m}: {s}\n" for m, s in SIZES.items()))
    return folder


def _options(folder, **extra):
    from src.analysis.core.inputs import read_size_map_file

    x = {"target_rule": "a*b", "model_from_name": NAME, **extra}
    return ReadOptions(size_map=read_size_map_file(folder / "sizes.yaml"), family="sim", extra=x)


def _read(folder, **extra):
    return read_inputs([folder], "generations", _options(folder, **extra), Shaping())


# ------------------------------------------------------------------------------------------ brute force
def _reference(output: str, target: str, max_len: int) -> dict:
    o, t = output.strip(), target.strip()
    ro, rt = o[::-1], t[::-1]
    out = {
        ("", "exact_match"): float(o == t),
        ("", "token_acc"): sum(k < len(ro) and ro[k] == rt[k] for k in range(len(rt))) / len(rt),
        ("", "edit_distance"): float(levenshtein_dp(o, t)),
    }
    for L in range(1, max_len + 1):
        if len(t) < L:
            continue
        po, pt = o[:L], t[:L]
        out[(f"/L={L}", "exact_match")] = float(po == pt)
        out[(f"/L={L}", "token_acc")] = sum(k < len(po) and po[k] == pt[k] for k in range(L)) / L
        out[(f"/L={L}", "edit_distance")] = float(levenshtein_dp(po, pt))
    return out


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    return write_family(tmp_path_factory.mktemp("gen") / "data")


@pytest.fixture(scope="module")
def read(family):
    return _read(family)


# ----------------------------------------------------------------------------------------------- tests
def test_detection(tmp_path, family):
    assert detect(family) and detect(family / "mult_big_run.csv")
    assert detect_format(family / "mult_big_run.csv") == "generations"
    assert detect_format(family) == "generations"
    pd.DataFrame({"prompt": ["x"], "response": ["1"], "target": ["1"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    assert detect(tmp_path / "t.csv")
    pd.DataFrame({"a": [1], "b": [2], "output": ["2"]}).to_csv(
        tmp_path / "bom.csv", index=False, encoding="utf-8-sig"
    )
    assert detect(tmp_path / "bom.csv")  # a byte-order mark before the header
    pd.DataFrame({"a": [1], "b": [2], "generation": ["2"]}).to_json(
        tmp_path / "g.jsonl", orient="records", lines=True
    )
    assert detect(tmp_path / "g.jsonl")
    ev = read_inputs(
        [tmp_path / "g.jsonl"], None, ReadOptions(size_map={"g": 5}, extra={"target_rule": "a*b"})
    )
    assert ev.formats == {str(tmp_path / "g.jsonl"): "generations"}
    assert ev.table.query("task == 'generations' and metric == 'exact_match'")["value"].tolist() == [1.0]
    pd.DataFrame({"model": ["m"], "value": [0.1]}).to_csv(tmp_path / "ev.csv", index=False)
    assert not detect(tmp_path / "ev.csv")  # an evidence table: no output column
    pd.DataFrame({"completion": ["1"], "x": [1]}).to_csv(tmp_path / "no_target.csv", index=False)
    assert not detect(tmp_path / "no_target.csv")  # an output but neither a target nor operands


def test_target_rule_makes_the_targets_and_a_target_column_works_without_it(tmp_path, read):
    items = read.items
    whole = items[items["task"] == "generations"]
    a = whole["item"].str.extract(r"a=(\d+),b=(\d+)").astype(int)
    assert (whole["target"] == (a[0] * a[1]).astype(str)).all()
    # a table that holds its target: no rule needed; a rule given anyway is used and the difference counted
    df = pd.DataFrame({"model": ["m1"] * 3, "prompt": ["p1", "p2", "p3"], "output": ["5", "6", ""],
                       "target": ["5", "7", "8"], "num_params": [10] * 3})  # fmt: skip
    df.to_csv(tmp_path / "t.csv", index=False)
    ev = read_inputs([tmp_path / "t.csv"], "generations", ReadOptions(), Shaping())
    em = ev.table.query("task == 'generations' and metric == 'exact_match'")["value"]
    assert em.tolist() == pytest.approx([1 / 3])
    ruled = read_inputs([tmp_path / "t.csv"], "generations", ReadOptions(extra={"target_rule": "num_params - 5"}),
                        Shaping())  # fmt: skip
    assert any("2 of 3 rows differ from the rule" in n for n in ruled.notices)
    pd.DataFrame({"a": [1], "b": [2], "completion": ["2"]}).to_csv(tmp_path / "ab.csv", index=False)
    with pytest.raises(InputError, match="no target column and no --target-rule"):
        read_inputs([tmp_path / "ab.csv"], "generations", ReadOptions(size_map={"ab": 5}), Shaping())


@pytest.mark.parametrize(
    "rule, what",
    [
        ("__import__('os').system('echo hi')", "Call"),
        ("a.real * b", "Attribute"),
        ("a / b", "operator Div"),
        ("a * c", "name 'c'"),
        ("a ** b", "exponent"),
        ("'x' * 3", "constant"),
        ("a > b", "true or false"),
    ],
)
def test_unsafe_or_wrong_rules_are_one_line_errors(family, rule, what):
    with pytest.raises(InputError) as err:
        _read(family, target_rule=rule)
    assert what in str(err.value) and "\n" not in str(err.value)


def test_latin1_fallback_says_so(tmp_path):
    folder = write_family(tmp_path / "d", latin1=True)
    ev = _read(folder)
    note = [n for n in ev.notices if "not UTF-8" in n]
    assert len(note) == 1 and "mult_tiny_run.csv" in note[0] and "0x92" in note[0] and "Latin-1" in note[0]
    row = ev.items.query("model == 'tiny' and task == 'generations' and item == 'a=0,b=7'")
    assert row["output"].iloc[0] == "\x92" and row["exact_match"].iloc[0] == 0.0


def test_empty_outputs_are_wrong_and_counted(read):
    note = [n for n in read.notices if n.startswith("empty outputs")]
    assert note == ["empty outputs, scored as wrong answers: tiny 3 of 225"]
    first = read.items.query("model == 'tiny' and task == 'generations' and item in ['a=0,b=0', 'a=0,b=1']")
    assert (first["exact_match"] == 0).all() and (first["token_acc"] == 0).all()
    assert (first["edit_distance"] == 1).all()  # the target "0" against nothing


def test_scores_match_a_brute_force_reference(read, family):
    items = read.items
    n_checked = 0
    for model in SIZES:
        raw = pd.read_csv(family / f"mult_{model}_run.csv", dtype=str, keep_default_na=False)
        for _, r in raw.iterrows():
            ref = _reference(r["completion"], str(int(r["a"]) * int(r["b"])), 3)
            key = f"a={r['a']},b={r['b']}"
            got = items[(items["model"] == model) & (items["item"] == key)].set_index("task")
            for (suffix, metric), value in ref.items():
                assert got.loc["generations" + suffix, metric] == pytest.approx(value), (
                    model,
                    key,
                    suffix,
                    metric,
                )
                n_checked += 1
    assert n_checked > 4 * 225 * 6
    # the whole answer aligns digits from the units place, the first-L scores from the left (as the stream)
    one = items.query("model == 'tiny' and item == 'a=0,b=5'")  # output ' 0 ' stripped
    assert one.set_index("task").loc["generations", "output"] == one["output"].iloc[0].strip()


def test_items_reproduce_the_evidence_and_levels_are_set(read):
    t, items = read.table, read.items
    assert set(t["metric"]) == {"exact_match", "token_acc", "edit_distance"}
    for _, r in t.iterrows():
        part = items[(items["model"] == r["model"]) & (items["task"] == r["task"])][r["metric"]]
        assert part.mean() == pytest.approx(r["value"]) and len(part) == r["n_items"]
    lv = t.drop_duplicates(["task", "metric"]).set_index(["task", "metric"])["level"]
    assert lv[("generations", "exact_match")] == 2 and lv[("generations", "token_acc")] == 1
    assert lv[("generations", "edit_distance")] == 0 and lv[("generations/L=2", "exact_match")] == 2
    assert lv[("generations/L=1", "exact_match")] == 1  # one digit right is that digit's accuracy
    # products of a, b < 15 have 1 to 3 digits: L = 1..3, each on the items whose target is that long
    n2 = t.query("task == 'generations/L=2' and metric == 'exact_match'")["n_items"]
    assert (n2 == sum(len(str(a * b)) >= 2 for a in range(15) for b in range(15))).all()


def test_exclusions_filters_and_names(tmp_path, family):
    ev = _read(family, exclude_items=["a=4,b=7", "a=0"], keep_items="b >= 1")
    whole = ev.table.query("task == 'generations' and metric == 'exact_match'")
    assert (whole["n_items"] == 225 - 15 - 1 - 14).all()  # b=0 column, (4, 7), then a=0 rows with b >= 1
    assert any("items left out" in n for n in ev.notices)
    assert any("prompt.csv" in n for n in _read(family).notices)  # skipped: its name is not a model's
    with pytest.raises(InputError, match="without a size: mult_big_run, .*, prompt"):
        _read(family, model_from_name=None)  # the whole stem: prompt.csv is read as a model with no size
    with pytest.raises(InputError, match="no named group 'model'"):
        _read(family, model_from_name="mult_.*")
    with pytest.raises(InputError, match="exclude-items expects"):
        _read(family, exclude_items=["a41"])


def test_verdict_engine_resamples_the_items(read):
    from src.analysis.stats.engine import Settings, run_engine

    v = run_engine(read, Settings(n_resamples=60, n_width_resamples=0), progress=False)
    assert set(v.curves["interval_source"]) == {"items"}
    assert (v.curves["n_sizes"] == 4).all()
    pair = v.pairs.query("task == 'generations' and sharp == 'exact_match' and smooth == 'edit_distance'")
    assert len(pair) == 1 and pair["paired"].iloc[0]


def test_verdicts_command_reads_generation_folders(tmp_path, family, capsys):
    out = tmp_path / "v"
    flags = ["--format", "generations", "--target-rule", "a*b", "--model-from-name", NAME,
             "--size-map", str(family / "sizes.yaml"), "--family", "sim", "--n-resamples", "40"]  # fmt: skip
    assert main(["verdicts", str(family), *flags, "--out", str(out)]) == 0
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["interval_source"]) == {"items"} and curves["family"].eq("sim").all()


def test_arith_commands_read_generation_tables(tmp_path, family, capsys):
    flags = ["--target-rule", "a*b", "--model-from-name", NAME, "--size-map", str(family / "sizes.yaml"),
             "--family", "sim", "--exclude-items", "a=4,b=7"]  # fmt: skip
    assert main(["arith-fig3", str(family), *flags, "--intervals", "20", "--out", str(tmp_path / "f3")]) == 0
    table = pd.read_csv(tmp_path / "f3" / "arithmetic_table.csv")
    em = table.query("metric == 'test/exact_match' and model == 'big'")
    assert em["n_items"].iloc[0] == 224 and (tmp_path / "f3" / "fig3_sim_generations.png").is_file()
    assert (
        main(["arith-fig4", str(family), *flags, "--sizes", "20,100,224", "--out", str(tmp_path / "f4")]) == 0
    )
    res = pd.read_csv(tmp_path / "f4" / "resolution.csv")
    assert set(res["n_items"]) == {20, 100, 224}
    full = res.query("n_items == 224 and L == 1 and model == 'mid'")["n_correct"].iloc[0]
    assert full == table.query("metric == 'test/exact_match_l=1' and model == 'mid'")["value"].iloc[0] * 224
    assert main(["arith-pred3", str(family), *flags, "--out", str(tmp_path / "p3")]) == 0
    pred = pd.read_csv(tmp_path / "p3" / "prediction3.csv")
    assert len(pred) == 4 and (pred["max_L"] == 3).all()
    assert "--model-from-name" in capsys.readouterr().out  # the skipped prompt.csv is said


def test_ingest_writes_evidence_and_items(tmp_path, family, capsys):
    flags = ["--target-rule", "a*b", "--model-from-name", NAME, "--size-map", str(family / "sizes.yaml"),
             "--family-map", str(tmp_path / "families.yaml")]  # fmt: skip
    (tmp_path / "families.yaml").write_text("'[tm]*': [sim, small-ones]\n'[bs]*': sim\n")  # tiny/mid in two
    assert main(["ingest", str(family), *flags, "--out", str(tmp_path / "ev")]) == 0
    ev = pd.read_parquet(tmp_path / "ev" / "evidence.parquet")
    items = pd.read_parquet(tmp_path / "ev" / "evidence.items.parquet")
    assert sorted(ev.query("family == 'small-ones'")["model"].unique()) == ["mid", "tiny"]
    mean = items.query("family == 'small-ones' and model == 'mid' and task == 'generations'")[
        "exact_match"
    ].mean()
    row = ev.query(
        "family == 'small-ones' and model == 'mid' and task == 'generations' and metric == 'exact_match'"
    )
    assert row["value"].iloc[0] == pytest.approx(mean) and row["format"].iloc[0] == "generations"
    assert "family 'sim'" not in capsys.readouterr().out  # no same-size warning: sizes differ within families
