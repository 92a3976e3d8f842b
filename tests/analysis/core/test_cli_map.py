"""The command line as a map: --help groups the commands by question, every flag has help text, one name per
idea across commands (old names accepted, not shown), --out a directory, W&B opt-in by one switch everywhere."""

from __future__ import annotations

import argparse
import re

import pytest

from src.analysis.__main__ import ALIASES, GROUPS, build_parser

# Flags of modules another engineer is editing now (issue 20's lead owns core/cli.py): their --out is still a
# stem or a file. Remove an entry when its module changes; the test then holds it to the rule.
OUT_NOT_YET_A_DIRECTORY: set[str] = set()  # every command's --out is a directory now (ingest's too)


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def flags(p: argparse.ArgumentParser):
    return [a for a in p._actions if not isinstance(a, argparse._HelpAction)]


def test_every_flag_and_argument_has_help_text():
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in commands().items()
               for a in flags(p) if not (a.help and a.help != argparse.SUPPRESS)
               and not all(s in ALIASES for s in a.option_strings or ["x"])]  # fmt: skip
    assert missing == []


def test_one_name_per_idea_old_names_accepted_not_shown():
    for name, p in commands().items():
        for a in flags(p):
            for old in set(a.option_strings) & set(ALIASES):
                if old != "--no-wandb":
                    assert ALIASES[old] in a.option_strings, f"{name}: {old} without {ALIASES[old]}"
        shown = set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", p.format_help(), flags=re.M))
        assert not shown & set(ALIASES), f"{name} shows old names {shown & set(ALIASES)}"
    # the resampling count has one name, whatever each command called it before
    names = {s for p in commands().values() for a in flags(p) for s in a.option_strings
             if a.dest in {"bootstrap", "intervals", "n_boot", "draws", "n_sims", "n_resamples"}}  # fmt: skip
    assert names - set(ALIASES) == {"--n-resamples"}


@pytest.mark.parametrize(
    "argv, dest",
    [(["figure", "s", "--bootstrap", "7"], "bootstrap"), (["figure", "s", "--n-resamples", "7"], "bootstrap"),
     (["claims", "s", "--intervals", "7"], "intervals"), (["claims", "s", "--n-resamples", "7"], "intervals"),
     (["real-fig6", "--n-boot", "7"], "n_boot"), (["real-fig6", "--n-resamples", "7"], "n_boot"),
     (["bigbench-null", "--n-draws", "7"], "n_draws"), (["bigbench-null", "--n-null-draws", "7"], "n_draws")],
)  # fmt: skip
def test_old_and_new_names_reach_the_same_setting(argv, dest):
    assert getattr(build_parser().parse_args(argv), dest) == 7


def test_wandb_is_one_opt_in_switch_everywhere():
    with_wandb = {name: p for name, p in commands().items() if any("wandb" in a.dest for a in flags(p))}
    assert {"figure", "claims", "real-fig6", "real-all"} <= set(with_wandb)
    for name, p in with_wandb.items():
        (on,) = [a for a in flags(p) if "--wandb" in a.option_strings]
        assert on.dest == "wandb" and on.default is False, name
        assert p.parse_args([*_required(name), "--no-wandb"]).wandb is False
        assert p.parse_args([*_required(name), "--wandb"]).wandb is True


def _required(name: str) -> list[str]:
    if name in ("audit", "verdicts"):
        return ["s", "--out", "d"]
    return ["s"] if name in {"figure", "claims", "backtest", "resolution"} else []


def test_out_is_a_directory_everywhere():
    for name, p in commands().items():
        for a in flags(p):
            if "--out" in a.option_strings and name not in OUT_NOT_YET_A_DIRECTORY:
                assert re.search(r"\b(dir|directory|folder)\b", a.help), f"{name} --out: {a.help}"


def test_help_is_a_map_grouped_by_question():
    text = build_parser().format_help()
    heads = [text.index(title) for title in GROUPS if any(c in commands() for c in GROUPS[title])]
    assert heads == sorted(heads)
    for name in commands():
        assert re.search(rf"^    {re.escape(name)}\s", text, flags=re.M), f"{name} missing from the map"
    assert text.index("read data") < text.index("    ingest ") < text.index("verdicts (")
