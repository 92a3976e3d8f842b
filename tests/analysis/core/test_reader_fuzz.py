"""Every reader of the registry fed mutated copies of its fixtures (cut short, NaN/inf/huge/non-numbers in number
fields, undecodable bytes, a key given twice): the command exits 2 with one line, or reads exactly what it read
before (or drops rows it says it dropped); never a traceback, never a different number."""

from __future__ import annotations

import json
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import run
from tests.analysis.families.test_inverse_scaling_reader import _task
from tests.analysis.families.test_olmo_ladder_reader import _run as ladder_run

FIXTURES = Path(__file__).parents[1] / "families" / "fixtures" / "lm_eval_0.4.13"
BAD_NUMBERS = ["nan", "inf", "1e400", "abc", "", "-inf"]
_NUMBER = re.compile(rb"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


def _table(d: Path) -> Path:
    rows = [{"family": "F", "model": f"m{j}", "scale": 10.0 ** (7 + j), "task": "t", "seed": s, "metric": "acc",
             "value": round(0.1 + 0.15 * j + 0.01 * s, 4), "n_items": 500, "stderr": 0.0123}
            for j in range(5) for s in range(2)]  # fmt: skip
    pd.DataFrame(rows).to_csv(d / "runs.csv", index=False)
    return d / "runs.csv"


def _counts(d: Path) -> Path:
    rows = [{"model": f"m{j}", "problem": f"p{i}", "n": 200, "c": (i * j) % 37, "scale": 10.0 ** (7 + j)}
            for j in range(4) for i in range(6)]  # fmt: skip
    pd.DataFrame(rows).assign(weight=1.5).to_csv(d / "counts.csv", index=False)
    return d / "counts.csv"


def _ladder(d: Path) -> Path:
    (d / "ladder").mkdir()
    for size, seed in (("190M", 0), ("370M", 1), ("760M", 2)):
        ladder_run([100, 200, 300], seed=seed).round(6).to_csv(d / "ladder" / f"{size}-1xC.csv", index=False)
    return d / "ladder"


def _inverse(d: Path) -> Path:
    _task(d / "inv", "boolq-0shot-gpt3", 2, ["ada", "babbage", "curie", "davinci"])
    return d / "inv"


def _lm_eval(d: Path) -> Path:
    shutil.copytree(FIXTURES, d / "lmeval")
    return d / "lmeval"


def _lm_eval_results(d: Path) -> Path:
    (d / "results").mkdir()
    for f in sorted(FIXTURES.rglob("results_*.json")):
        (d / "results" / f.parent.name).mkdir()
        shutil.copy(f, d / "results" / f.parent.name / f.name)
    return d / "results"


def _generations(d: Path) -> Path:
    rows = [{"model": f"m{j}", "scale": 10.0 ** (7 + j), "a": a, "b": b, "target": a * b,
             "completion": str(a * b if (a + b + j) % 3 else a * b + 1)}
            for j in range(4) for a in range(10, 16) for b in range(20, 24)]  # fmt: skip
    pd.DataFrame(rows).to_csv(d / "generations.csv", index=False)
    return d / "generations.csv"


MAKERS = {"table": _table, "repeated-sampling": _counts, "olmo-ladder": _ladder, "inverse-scaling": _inverse,
          "lm-eval-samples": _lm_eval, "lm-eval-results": _lm_eval_results, "generations": _generations}  # fmt: skip


def _ingest(path: Path, out: Path, capsys) -> tuple[int, pd.DataFrame | None, str]:
    try:
        code = run(["ingest", str(path), "--out", str(out)], raise_errors=False)
    except SystemExit as err:
        code = int(err.code)
    captured = capsys.readouterr()
    if code != 0:
        return code, None, captured.err
    cols = ["family", "model", "task", "metric", "replicate", "checkpoint", "value", "n_items", "stderr"]
    ev = pd.read_csv(out / "evidence.csv", keep_default_na=False, na_values=[""])
    return code, ev[cols].sort_values(cols[:6]).reset_index(drop=True), captured.out


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".jsonl"))


def _mutations(data: bytes, rng: np.random.Generator, suffix: str) -> list[tuple[str, bytes]]:
    out = []
    body = data.rstrip(b"\n")
    # cut inside a line, before at least one of its separators (a cut inside the last number of a line is a
    # different file, not a detectable one: some upstream files end without a newline)
    seps = [i for i, b in enumerate(body) if b in b",\t" and i > len(body) // 2]
    cut = seps[int(rng.integers(len(seps)))] if seps else int(rng.integers(len(body) // 2, len(body) - 1))
    out.append(("cut short", body[:cut]))
    numbers = list(_NUMBER.finditer(data))
    for bad in BAD_NUMBERS:
        if numbers:
            m = numbers[int(rng.integers(len(numbers)))]
            rep = bad.encode()
            if suffix in (".json", ".jsonl") and bad in ("abc", ""):
                rep = b'"' + rep + b'"'
            elif suffix in (".json", ".jsonl") and bad in ("nan", "inf", "-inf"):
                rep = {"nan": b"NaN", "inf": b"Infinity", "-inf": b"-Infinity"}[bad]
            out.append((f"number -> {bad!r}", data[: m.start()] + rep + data[m.end() :]))
    pos = int(rng.integers(len(data) // 3, len(data)))
    out.append(("bad bytes", data[:pos] + b"\xff\xfe\x9d" + data[pos:]))
    if suffix in (".json", ".jsonl"):
        m = re.search(rb'("[A-Za-z_,]+": *-?[\d.]+)(,)', data)
        if m:
            out.append(("key given twice", data[: m.end(1)] + b", " + m.group(1) + data[m.end(1) :]))
    return out


@pytest.mark.parametrize("fmt", sorted(MAKERS))
def test_mutated_inputs_exit_2_with_one_line_or_read_the_same(tmp_path, capsys, fmt):
    src = MAKERS[fmt](tmp_path)
    code, base, _ = _ingest(src, tmp_path / "base", capsys)
    assert code == 0, f"{fmt}: the unmutated fixture must read"
    rng = np.random.default_rng(zlib.crc32(fmt.encode()))
    checked = 0
    for k, f in enumerate(_files(src)):
        if k > 2:
            break  # the first few files of a folder: every format's shapes are in them
        original = f.read_bytes()
        for what, mutated in _mutations(original, rng, f.suffix):
            f.write_bytes(mutated)
            try:
                code, ev, said = _ingest(src, tmp_path / f"out{checked}", capsys)
            finally:
                f.write_bytes(original)
            checked += 1
            where = f"{fmt}, {f.name}, {what}"
            if code != 0:
                lines = [ln for ln in said.strip().splitlines() if ln.strip()]
                assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (where, said)
                assert "Traceback" not in said, where
                continue
            if ev.equals(base):
                continue
            # the only other honest outcome: rows dropped as missing, and said so
            assert "dropped" in said, (where, "a different result without a word")
            merged = base.merge(ev, how="left", indicator=True)
            assert len(ev) < len(base) and (merged["_merge"] == "both").sum() == len(ev), (
                where,
                "changed numbers",
            )
    assert checked >= 6


def test_json_with_a_key_twice_and_lm_eval_string_scores_are_one_line(tmp_path):
    from src.analysis.families.readers.lm_eval import read_lm_eval_results
    from src.results.errors import InputError

    doc = {"results": {"arc": {"acc": 0.5, "acc_stderr": 0.01}}, "config": {"model_args": "pretrained=x-1b"}}
    (tmp_path / "a.json").write_text(json.dumps(doc).replace('"acc": 0.5', '"acc": 0.5, "acc": 0.9'))
    with pytest.raises(InputError, match="'acc' is given twice"):
        read_lm_eval_results(tmp_path / "a.json")
    doc["results"]["arc"]["acc"] = "abc"
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"results\['arc'\]\['acc'\] is 'abc', not a finite number"):
        read_lm_eval_results(tmp_path / "a.json")
    doc["results"]["arc"]["acc"], doc["n-shot"] = 0.5, {"arc": [0, 5]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="the shots of 'arc' are"):
        read_lm_eval_results(tmp_path / "a.json")


def test_values_outside_their_metric_are_named(tmp_path):
    from src.analysis.core.readers import read_inputs
    from src.results.errors import InputError

    path = _table(tmp_path)
    df = pd.read_csv(path)
    df.loc[3, "value"] = 5.0  # an accuracy of 5
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"acc of m1 on t is 5, outside its bounds \[0, 1\]"):
        read_inputs([path])
    df.loc[3, "value"], df.loc[4, "scale"] = 0.3, float("inf")
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match="scale must be a positive number"):
        read_inputs([path])
    rows = [{"model": "m", "problem": "p", "n": 2e10, "c": 1, "scale": 1e9}]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(InputError, match="0 <= c <= n <= 1e"):
        read_inputs([tmp_path / "c.csv"])
