"""Issue 23, findings 1 and 6 (analysis side): no write outside --out whatever the data names, figures written
atomically, one analysis per --out at a time, and an unwritable --out as one line."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from src.analysis.__main__ import main, run  # noqa: E402
from src.analysis.core.saving import save_figure  # noqa: E402
from src.results.errors import InputError  # noqa: E402
from tests.analysis.sweep_factory import make_sweep  # noqa: E402
from tests.conftest import REPO  # noqa: E402

HOSTILE = [
    "../../../../../x",
    "/etc/passwd",
    "..",
    ".",
    "",
    ".hidden",
    "a/b",
    "a b",
    "a_b",
    "tab\there",
    "nul\x00byte",
    "new\nline",
    "é" * 40,
    "x" * 250,
    "x" * 249 + "y",
    "C:\\windows\\x",
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_safe_names_stay_inside_out_short_and_distinct(tmp_path):
    from src.analysis.core.saving import MAX_NAME, output_path, safe_name

    out = tmp_path / "out"
    paths = [output_path(out, f"resolution_{name}_k5_n100", ".csv") for name in HOSTILE]
    for name, path in zip(HOSTILE, paths, strict=True):
        assert path.parent == out, name
        assert len(path.name.encode()) <= MAX_NAME and not path.name.startswith("."), name
        assert "\x00" not in path.name and "/" not in path.name, name
    assert len(set(paths)) == len(HOSTILE)  # "a b" and "a_b", the two long names: never one file
    assert safe_name("lenet_mnist") == "lenet_mnist" and safe_name("a/b") == "a__b"  # readable names kept
    stem = safe_name("x" * 250)
    assert len(stem) == 120 and safe_name(stem) == stem  # cut with a hash, then stable
    assert output_path(out, f"{stem}_test_smooth_vs_sharp_premise", ".csv").name.startswith(stem)


@pytest.mark.parametrize("task", ["../../../../../x", "y" * 250, "nul\x00and/slash"])
def test_resolution_with_a_hostile_task_name_writes_only_inside_out(tmp_path, task):
    """Finding 1: a task name ../../../../../x wrote x_k5_n100.{csv,png,pdf} five levels above --out; a
    250-character one ended in 'File name too long' with a traceback."""
    root = tmp_path / "a" / "b" / "c" / "d" / "e" / "f"
    sweep = make_sweep(root, widths=(1, 2, 4), seeds=(0,), n=60)
    for rec in sweep.rglob("metrics.json"):
        record = json.loads(rec.read_text())
        record["task_name"] = task
        rec.write_text(json.dumps(record))
    out = root / "out"
    before = _files(tmp_path)
    assert main(["resolution", str(sweep), "--small-n", "20", "--draws", "3", "--out", str(out)]) == 0
    written = _files(tmp_path) - before
    assert written and all(out in p.parents for p in written), sorted(map(str, written))
    assert {p.suffix for p in written if p.name != ".lock"} == {".csv", ".png", ".pdf"}


def test_a_failed_figure_write_keeps_the_old_file(tmp_path, monkeypatch):
    """Finding 6: a kill during a rerun replaced a good PDF with 0 bytes (figures were not written atomically).
    A write that dies half way (as a kill does) must leave the old file and no temp file."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp_path, "fig")
    good = {p.name: p.read_bytes() for p in tmp_path.glob("fig.*")}
    assert set(good) == {"fig.png", "fig.pdf"} and all(len(b) > 100 for b in good.values())

    from matplotlib.figure import Figure

    real = Figure.savefig

    def dies_half_way(self, fname, *args, **kwargs):
        real(self, fname, *args, **kwargs)
        if isinstance(fname, str | os.PathLike):  # the old code's direct write into the final file
            with open(fname, "r+b") as fh:
                fh.truncate(10)
        else:
            fname.truncate(10)
        raise KeyboardInterrupt("killed while writing")

    fig2, ax2 = plt.subplots()
    ax2.plot([0, 1], [1, 0])
    monkeypatch.setattr(Figure, "savefig", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_figure(fig2, tmp_path, "fig")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("fig.*")} == good
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _hold(out: Path) -> subprocess.Popen:
    """Another process holding ``out`` as an analysis does, until killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from src.analysis.core.saving import out_dir_lock\n"
            "with out_dir_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("default_out", [False, True])
def test_a_second_analysis_into_the_same_out_is_refused(tmp_path, default_out):
    """Finding 6: two analyses into one --out left a mixed set of files and both exited 0. Also for a command's
    default output dir (<sweep>/analysis when --out is not given)."""
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), n=60)
    out = sweep / "analysis" if default_out else tmp_path / "out"
    argv = ["claims", str(sweep)] + ([] if default_out else ["--out", str(out)])
    holder = _hold(out)
    try:
        with pytest.raises(InputError, match=rf"out dir in use by PID {holder.pid}"):
            main(argv)
        assert [p.name for p in out.iterdir()] == [".lock"]  # nothing written beside the other analysis
    finally:
        holder.kill()
        holder.wait()
    assert main(argv) == 0  # the lock went with its process
    assert (out / "claims_test.csv").is_file()


def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, capsys):
    """Finding 2 (the --out items): a full or unwritable --out ended in a traceback."""
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), n=60)
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(SystemExit) as exc:
        run(["claims", str(sweep), "--out", str(blocker / "out")], raise_errors=False)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "cannot lock this --out" in err

    # a disk that fills while a figure is written: the write fails with EFBIG past the file-size limit
    fig, ax = plt.subplots()
    ax.plot(range(1000), range(1000))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))
    try:
        with pytest.raises(InputError, match=r"big\.png: cannot write this output \(File too large\).*--out"):
            save_figure(fig, tmp_path, "big")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert not (tmp_path / "big.png").exists() and not list(tmp_path.glob(".big*"))
    assert os.listdir(tmp_path)  # (the sweep is still there)
