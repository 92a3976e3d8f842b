"""outputs.jsonl loader: every bad line is reported with file, line number and field; nothing partial is returned."""

import json

import pytest

from src.results.outputs import OutputsError, load_outputs, read_outputs_file, write_outputs

GOOD = {
    "model": "m1",
    "family": "f",
    "num_params": 10,
    "task": "t",
    "prompt": "Q: 1+1?",
    "target": " 2",
    "output": "2",
}


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_round_trip_with_defaults_and_extras(tmp_path):
    rows = [
        {**GOOD, "item": 1, "extra_field": "kept"},
        {**GOOD, "item": 0, "target_tokens": ["2"], "target_logprobs": [-0.5]},
    ]
    df = load_outputs([_write(tmp_path / "o.jsonl", rows)])
    assert list(df["item"]) == [0, 1] and set(df["subset"]) == {"test"}
    assert df.loc[df["item"] == 1, "extra_field"].item() == "kept"
    path = write_outputs(
        tmp_path / "w" / "outputs.jsonl",
        {"prompt": ["p"], "target": ["3"], "output": ["4"]},
        model="m",
        family="f",
        num_params=5,
        task="t",
    )
    back = load_outputs([tmp_path / "w"])
    assert back[["model", "target", "output", "num_params"]].values.tolist() == [["m", "3", "4", 5]]
    assert path.name == "outputs.jsonl"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({k: v for k, v in GOOD.items() if k != "output"}, "output"),
        ({**GOOD, "num_params": "10"}, "num_params"),
        ({**GOOD, "num_params": 0}, "num_params"),
        ({**GOOD, "num_params": True}, "num_params"),
        ({**GOOD, "target": "  "}, "target"),
        ({**GOOD, "item": -1}, "item"),
        ({**GOOD, "target_tokens": ["2"]}, "target_logprobs"),
        ({**GOOD, "target_tokens": ["3"], "target_logprobs": [-1.0]}, "target_tokens"),
        ({**GOOD, "target_tokens": ["2"], "target_logprobs": [0.5]}, "target_logprobs"),
        ({**GOOD, "target_tokens": ["2"], "target_logprobs": [-1.0, -2.0]}, "target_logprobs"),
        ("{not json", "<line>"),
        ("[1, 2]", "<line>"),
    ],
)
def test_bad_line_names_line_and_field(tmp_path, bad, field):
    path = _write(tmp_path / "o.jsonl", [GOOD, {**GOOD, "model": "m2"}, bad])
    with pytest.raises(OutputsError, match=rf"o\.jsonl:3: field '{field}'"):
        read_outputs_file(path)


def test_missing_empty_and_duplicate_inputs(tmp_path):
    with pytest.raises(OutputsError, match=r"absent\.jsonl: no outputs file here"):
        read_outputs_file(tmp_path / "absent.jsonl")
    with pytest.raises(OutputsError, match="holds no lines"):
        read_outputs_file(_write(tmp_path / "empty.jsonl", []))
    (tmp_path / "sweep").mkdir()
    with pytest.raises(OutputsError, match=r"no outputs\.jsonl below this directory"):
        load_outputs([tmp_path / "sweep"])
    path = _write(tmp_path / "dup.jsonl", [{**GOOD, "item": 0}, {**GOOD, "item": 0}])
    with pytest.raises(OutputsError, match="appears more than once"):
        load_outputs([path])
    path = _write(tmp_path / "np.jsonl", [{**GOOD, "item": 0}, {**GOOD, "item": 1, "num_params": 11}])
    with pytest.raises(OutputsError, match="more than one num_params"):
        load_outputs([path])
