"""Options written once: every field of a config dataclass becomes one CLI option, and back."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from experiments.options import add_config_args, config_from_args, field_help


@dataclass
class Example:
    game: str = "duel"  # which game
    rounds: int = 3  # rounds to play
    speed: float = 1.0  # playback speed
    seed: int | None = None  # seed of the first round
    fast: bool = False  # go fast
    bundled: bool = True  # include the bundled agents
    periods: tuple[int, ...] = (1, 2, 4)  # clock periods
    algos: list[str] = field(default_factory=lambda: ["ppo", "a2c"])  # learners


def parse(argv, **kwargs):
    parser = argparse.ArgumentParser()
    add_config_args(parser, Example, **kwargs)
    return parser, config_from_args(Example, parser.parse_args(argv))


def test_defaults_round_trip():
    _, cfg = parse([])
    assert cfg == Example()


def test_every_type_parses():
    _, cfg = parse(["--game", "stealth", "--rounds", "7", "--speed", "0.5", "--seed", "11", "--fast",
                    "--no-bundled", "--periods", "1,3,9", "--algos", "ppo,dqn", "reinforce"])
    assert cfg == Example(game="stealth", rounds=7, speed=0.5, seed=11, fast=True, bundled=False,
                          periods=(1, 3, 9), algos=["ppo", "dqn", "reinforce"])


def test_help_comes_from_the_field_comments():
    assert field_help(Example)["rounds"] == "rounds to play"
    parser, _ = parse([])
    text = parser.format_help()
    assert "--round" in text and "rounds to play (default: 3)" in text
    assert "--no-bundled" in text and "clock periods (default: 1,2,4)" in text


def test_positional_choices_and_skip():
    parser, cfg = parse(["stealth"], positional=("game",), choices={"game": ("duel", "stealth")}, skip=("seed",))
    assert cfg.game == "stealth" and cfg.seed is None
    assert "--seed" not in parser.format_help()
    with pytest.raises(SystemExit):
        parse(["chess"], positional=("game",), choices={"game": ("duel", "stealth")})


def test_bad_values_are_argparse_errors(capsys):
    for argv in (["--rounds", "x"], ["--periods", "1,a"], ["--speed", "fast"]):
        with pytest.raises(SystemExit) as exc:
            parse(argv)
        assert exc.value.code == 2
    assert "--periods" in capsys.readouterr().err


def test_every_verb_config_has_a_help_line_per_field():
    """The real configs follow the one-line-per-field convention, so no option is left without help."""
    from experiments.cli.play import PlayConfig
    from experiments.play.record import RecordConfig
    from experiments.studies.director import DirectorCompareConfig
    from experiments.studies.duel import DuelCompareConfig
    from experiments.studies.ghost import GhostCompareConfig
    from experiments.studies.stealth import StealthCompareConfig
    from experiments.watch.config import Config as WatchConfig
    from nets.imitation import GhostTrainConfig

    for cls in (PlayConfig, RecordConfig, DirectorCompareConfig, DuelCompareConfig, GhostCompareConfig,
                StealthCompareConfig, WatchConfig, GhostTrainConfig):
        names = {f for f in cls.__dataclass_fields__}
        assert names <= set(field_help(cls)), (cls.__name__, names - set(field_help(cls)))
