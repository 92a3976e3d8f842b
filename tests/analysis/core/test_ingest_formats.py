"""The ingest-* commands are formats of ingest: each old name, with its old flags, writes exactly the files that
``ingest --format <format>`` with ingest's flags writes, on the registry's fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from src.analysis.__main__ import build_parser, main
from src.analysis.core.cli import FORMAT_COMMANDS, cmd_ingest
from tests.analysis.core.test_reader_fuzz import MAKERS

CASES = [  # old command, its flags, the format, ingest's flags
    ("ingest-olmo-ladder", [], "olmo-ladder", []),
    ("ingest-inverse-scaling", ["--family", "GPT-3"], "inverse-scaling", ["--family", "GPT-3"]),
    ("ingest-lm-eval", ["--tokens-per-step", "2097152"], "lm-eval-results", ["--tokens-per-step", "2097152"]),
    ("ingest-lm-eval", ["--samples"], "lm-eval-samples", []),
    ("ingest-repeated-sampling", ["--k", "1", "5", "--m", "1", "10", "--n-boot", "50", "--task", "T"],
     "repeated-sampling", ["--k", "1,5", "--m", "1", "10", "--n-resamples", "50", "--set", "task=T"]),
]  # fmt: skip


def _written(root: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.suffix in (".csv", ".parquet"):
            out[str(f.relative_to(root))] = pd.read_parquet(f) if f.suffix == ".parquet" else f.read_bytes()
    return out


@pytest.mark.parametrize(("old", "old_flags", "fmt", "flags"), CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_old_command_writes_what_ingest_format_writes(tmp_path, capsys, old, old_flags, fmt, flags):
    src = MAKERS[fmt](tmp_path)
    assert main([old, str(src), *old_flags, "--out", str(tmp_path / "old")]) == 0
    assert main(["ingest", str(src), "--format", fmt, *flags, "--out", str(tmp_path / "new")]) == 0
    old_files, new_files = _written(tmp_path / "old"), _written(tmp_path / "new")
    assert sorted(old_files) == sorted(new_files) and "evidence.csv" in old_files
    for name, content in old_files.items():
        if isinstance(content, pd.DataFrame):
            pd.testing.assert_frame_equal(content, new_files[name])
        else:
            assert content == new_files[name], name
    ev = pd.read_csv(tmp_path / "new" / "evidence.csv")
    assert set(ev["format"]) == {fmt}
    if fmt == "repeated-sampling":
        assert set(ev["task"]) == {"T"} and set(ev["metric"]) == {"pass@1", "pass@5"}
        boot = pd.read_csv(tmp_path / "new" / "pass_at_k_bootstrap.csv")
        assert sorted(set(boot["k"])) == [1, 5] and (boot["lo"] <= boot["value"]).all()
        assert set(pd.read_csv(tmp_path / "new" / "samples_per_problem_view.csv")["m"]) == {1, 10}


def test_every_old_name_runs_ingest_with_its_format():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    for old, (fmt, _) in FORMAT_COMMANDS.items():
        assert sub[old].get_default("func") is cmd_ingest and sub[old].get_default("format") == fmt
    samples = sub["ingest-lm-eval"].parse_args(["x", "--samples", "--out", "o"])
    assert samples.format == "lm-eval-samples"


def test_items_out_and_a_stem_out(tmp_path, capsys):
    src = MAKERS["inverse-scaling"](tmp_path)
    assert main(["ingest-inverse-scaling", str(src), "--out", str(tmp_path / "ev.parquet"), "--items-out",
                 str(tmp_path / "it.csv")]) == 0  # fmt: skip
    assert set(pd.read_parquet(tmp_path / "ev.parquet")["task"]) == {"boolq-0shot"}
    assert len(pd.read_csv(tmp_path / "it.csv")) > 0 and not (tmp_path / "ev.items.csv").exists()


@pytest.mark.parametrize("kind", ["yaml", "json", "csv"])
def test_size_maps_the_old_readers_took(tmp_path, capsys, kind):
    """YAML, JSON and a two-column table whose names say nothing (model, parameters by position)."""
    counts = tmp_path / "counts.csv"
    counts.write_text("model,problem,n,c\na,p1,10,1\na,p2,10,0\nb,p1,10,5\nb,p2,10,4\n")
    sizes = tmp_path / f"sizes.{kind}"
    sizes.write_text({"yaml": "a: 1e6\nb: 2e7\n", "json": '{"a": 1e6, "b": 2e7}',
                      "csv": "name,billions_of_nothing\na,1e6\nb,2e7\n"}[kind])  # fmt: skip
    assert main(["ingest-repeated-sampling", str(counts), "--k", "1", "--size-map", str(sizes), "--n-boot", "20",
                 "--out", str(tmp_path / "o")]) == 0  # fmt: skip
    ev = pd.read_csv(tmp_path / "o" / "evidence.csv")
    assert dict(zip(ev["model"], ev["scale"], strict=True)) == {"a": 1e6, "b": 2e7}


@pytest.mark.parametrize("fmt", ["lm-eval-results", "olmo-ladder", "inverse-scaling"])
def test_set_holds_for_every_format(tmp_path, capsys, fmt):
    """--set gives every row one value whatever reads the file (OPT's lm-eval results carry no token count: --set
    tokens=1.8e11); before, only the table reader applied it and the others dropped it without a word."""
    src = MAKERS[fmt](tmp_path)
    assert (
        main(["ingest", str(src), "--format", fmt, "--set", "tokens=1.8e11", "--out", str(tmp_path / "o")])
        == 0
    )
    ev = pd.read_csv(tmp_path / "o" / "evidence.csv")
    assert (ev["tokens"] == 1.8e11).all()
    assert f"--set tokens=1.8e11: on every row read as {fmt}" in capsys.readouterr().out
