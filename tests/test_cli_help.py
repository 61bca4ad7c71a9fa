"""``--help`` of every verb and sub-verb prints and exits 0 (a stray ``%`` in a help text once made argparse
crash with a traceback), and every verb module is reachable from ``sandbox --help``."""

from __future__ import annotations

import argparse

import pytest

from experiments.cli import VERBS, build_parser, main


def commands() -> list[list[str]]:
    """Every verb, and every sub-verb of a verb that has them, as argv prefixes."""
    out: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in subs:
            for name, child in action.choices.items():
                out.append([*prefix, name])
                walk(child, [*prefix, name])

    walk(build_parser(), [])
    return out


def test_every_verb_is_listed():
    assert {c[0] for c in commands()} == set(VERBS)


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv))
def test_help_of_every_command_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr()
    assert "usage: sandbox" in out.out and "Traceback" not in out.err


def test_help_is_plain_text_with_its_lines_kept(capsys):
    """Docstring markup (``x``, :func:`a.b`) does not reach --help, and a description keeps its lines."""
    with pytest.raises(SystemExit):
        main(["eval", "exploit", "--help"])
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out and ":mod:" not in out
    assert "experiments.evaluate.stats.wilson_interval" in out  # the role's target, as plain text
    assert "\nA fresh learner trains" in out  # the docstring's paragraphs stay paragraphs


def test_sandbox_list_names_what_a_command_line_can_name(capsys):
    import json as json_

    from agents.bundled import bundled_names
    from envs.stealth.level import bundled_levels

    assert main(["list", "bundled", "--json"]) == 0
    names = [item["name"] for item in json_.loads(capsys.readouterr().out)["bundled"]]
    assert names == [f"bundled:{n}" for n in bundled_names()]
    assert main(["list", "levels"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in bundled_levels()) and "7x11" in out  # tutorial's size
    assert main(["list", "envs"]) == 0
    assert {"sandbox/Duel-v0", "sandbox/Stealth-v0", "sandbox/Director-v0"} <= set(capsys.readouterr().out.split())
    assert main(["list", "recipes"]) == 0
    assert "sandbox train duel --recipe duel-ppo" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("sandbox ")
