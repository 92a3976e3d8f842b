"""Every input a user can get wrong ends as one line ``error: <file>...: <what>; <fix>`` and exit status 2 from
``python -m src.analysis`` (in process: :func:`src.analysis.__main__.run` with ``raise_errors=False``), with no
traceback; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import run
from src.results.errors import InputError
from tests.analysis.arith_factory import simulate
from tests.analysis.core.evidence_factory import INGEST_FLAGS, write_per_run_table
from tests.analysis.sweep_factory import make_sweep


def one_line_error(argv, capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run(argv, raise_errors=False)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_missing_column(tmp_path, capsys):
    path = tmp_path / "scores.csv"
    pd.DataFrame({"model": ["a"], "task": ["t"], "metric": ["acc"], "value": [0.5]}).to_csv(path, index=False)
    line = one_line_error(["claims", str(path), "--out", str(tmp_path / "o")], capsys)
    assert f"{path}: lacks column(s) ['family', 'scale']" in line and "--column family=YOURS" in line


def test_empty_csv(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty.csv: table file is empty" in one_line_error(
        ["bigbench-fig5a", str(path), "--out", str(tmp_path)], capsys
    )
    path.write_text("family,model,scale,task,metric,value\n")
    assert "empty.csv: table has no data rows" in one_line_error(["figure", str(path)], capsys)


def test_corrupt_parquet(tmp_path, capsys):
    path = tmp_path / "scores.parquet"
    path.write_bytes(b"PAR1 not really")
    line = one_line_error(["claims", str(path), "--out", str(tmp_path / "o")], capsys)
    assert "scores.parquet: cannot read the table" in line


def test_corrupt_metrics_json(tmp_path, capsys):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    bad = sweep / "model.width=2,seed=0" / "metrics.json"
    bad.write_text('{"status": "finished", "metr')
    line = one_line_error(["claims", str(sweep)], capsys)
    assert f"{bad}: run record is not valid JSON" in line and "force=true" in line


def test_truncated_per_item_npz(tmp_path, capsys):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    npz = sweep / "model.width=4,seed=0" / "per_item.npz"
    npz.write_bytes(npz.read_bytes()[:40])
    line = one_line_error(["figure", str(sweep), "--bootstrap", "10"], capsys)
    assert f"{npz}: per-item results file is truncated or corrupt" in line


def test_non_numeric_value_and_duplicate_key(tmp_path, capsys):
    path = tmp_path / "s.csv"
    base = {"family": "F", "model": ["a", "b", "c"], "scale": [1, 2, 3], "task": "t", "metric": "acc"}
    pd.DataFrame({**base, "value": [0.1, "0.2x", 0.3]}).to_csv(path, index=False)
    line = one_line_error(["claims", str(path)], capsys)
    assert "s.csv:row 2: value '0.2x' is not a number; declare it as missing with --na-values" in line
    pd.DataFrame({**base, "model": ["a", "a", "c"], "value": [0.1, 0.2, 0.3]}).to_csv(path, index=False)
    assert "s.csv:row 1: two rows share one key" in one_line_error(["claims", str(path)], capsys)


def test_undeclared_metric_and_bad_flags(tmp_path, capsys):
    table = write_per_run_table(tmp_path / "runs.csv")
    line = one_line_error(["backtest", str(table), *INGEST_FLAGS], capsys)
    assert "not declared: bertscore_f1 (direction, kind)" in line
    line = one_line_error(["claims", str(table), "--column", "family"], capsys)
    assert "--column expects NAME=VALUE, got 'family'" in line
    line = one_line_error(["claims", str(table), *INGEST_FLAGS, "--wide", "nothing_*"], capsys)
    assert "--wide glob(s) ['nothing_*'] match no column" in line
    (tmp_path / "decl.yaml").write_text("x: [unclosed\n")
    line = one_line_error(
        ["claims", str(table), *INGEST_FLAGS, "--metrics-file", str(tmp_path / "decl.yaml")], capsys
    )
    assert "decl.yaml" in line and "not valid YAML" in line


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="table file is empty"):
        run(["--debug", "claims", str(path)], raise_errors=False)


def test_backtest_allow_missing_fits_where_the_metric_exists(tmp_path, capsys):
    """Was: KeyError '[70000000.0] not in index' when a run lacked a metric."""
    sweep = make_sweep(tmp_path, widths=(1, 2, 4, 8, 16, 32), seeds=(0,))
    rec = sweep / "model.width=2,seed=0" / "metrics.json"
    record = json.loads(rec.read_text())
    del record["metrics"]["test/subset_acc_k=3"]
    rec.write_text(json.dumps(record))
    assert "lack metric" in one_line_error(["backtest", str(sweep)], capsys)
    with pytest.warns(UserWarning, match="lack metric"):
        assert run(["backtest", str(sweep), "--allow-missing"], raise_errors=False) == 0
    out = pd.read_csv(sweep / "analysis" / "backtest_lenet_mnist_test.csv")
    k3 = out[(out.metric == "test/subset_acc_k=3") & (out.method == "direct")].iloc[0]
    assert k3.n_fit == 2 and k3.n_pred == 3  # width 2 is missing: fitted on widths 1 and 4
    assert np.isfinite(out["mae"]).all()


def test_arith_pred3_with_one_length(tmp_path, capsys):
    """Was: KeyError on an empty prediction table."""
    outputs = simulate(tmp_path / "outputs.jsonl", n_items=20)
    line = one_line_error(
        ["arith-pred3", str(outputs), "--max-len", "1", "--out", str(tmp_path / "o")], capsys
    )
    assert "--max-len 1 gives one length; pass --max-len 2 or more" in line


def test_raise_at_first_names_the_first_flagged_row_or_cell():
    import numpy as np

    from src.results.errors import ROW, raise_at_first, raise_at_first_cell

    raise_at_first(np.zeros(3, bool), "never", path="t.csv")  # nothing flagged: no error
    with pytest.raises(InputError) as err:
        raise_at_first(np.array([False, True, True]), lambda i: f"value {i} bad", path="t.csv",
                       fix=lambda i: f"fix {i}")  # fmt: skip
    assert str(err.value) == "t.csv:line 3: value 1 bad; fix 1"
    with pytest.raises(InputError, match=r"t.csv:row 1: x"):
        raise_at_first([True], "x", path="t.csv", where=ROW)
    bad = np.array([[False, False], [False, True], [True, False]])
    with pytest.raises(InputError) as err:
        raise_at_first_cell(bad, lambda r, c: f"cell {r},{c}", path="t.csv")
    assert str(err.value) == "t.csv:line 3: cell 1,1"
