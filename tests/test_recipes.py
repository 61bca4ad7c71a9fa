"""``sandbox train ENV --recipe NAME``: one command per bundled agent. A dry run (``--show-config``) builds each
recipe's configuration without training, and it equals what the bundled agent's sidecar recorded."""

from __future__ import annotations

import json
import shlex

import pytest

from agents.bundled import bundled_info
from experiments.cli import main
from experiments.train.config import load_recipe, recipe_names


def dry_run(capsys, *argv: str) -> dict:
    assert main(["train", *argv, "--show-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_bundled_agent_has_a_recipe():
    assert set(recipe_names()) == {"stealth-ppo", "duel-ppo", "director"}


@pytest.mark.parametrize("name", ["stealth-ppo", "duel-ppo"])
def test_a_recipe_builds_the_configuration_the_bundled_agent_was_trained_with(capsys, name):
    recipe, side = load_recipe(name), bundled_info(name)
    config = dry_run(capsys, recipe["env"], "--recipe", name)
    assert config["algo"] == recipe["algo"] == "ppo-pg" and side["class"] == "PPO"  # our PPO made both
    assert config["hyper"] == side["hyper"]  # every hyper-parameter of the learner that made it
    recorded = shlex.split(side["command"])
    assert config["steps"] == int(recorded[recorded.index("--steps") + 1])
    assert config["n_envs"] == int(recorded[recorded.index("--envs") + 1])
    assert config["seed"] == int(recorded[recorded.index("--seed") + 1])
    for key in ("obs_mode", "local_size"):
        if key in side["env_kwargs"]:
            assert config["env_kwargs"][key] == side["env_kwargs"][key]
    assert (config["nav_features"] or False) == (side["nav_features"] or False)
    assert set(config["parts"]) == {"curriculum" if side.get("curriculum") else "league"}


def test_the_stealth_recipe_keeps_the_recorded_curriculum(capsys):
    config = dry_run(capsys, "stealth", "--recipe", "stealth-ppo")
    curriculum = config["parts"]["curriculum"]
    assert curriculum["warm_start"] == "dagger" and curriculum["dagger_rounds"] == 6
    assert curriculum["floor_share"] == 0.0  # trained before the floor of easy levels existed
    assert config["shaping"] is False and config["exploring_starts"] == 0.0


def test_options_beside_a_recipe_override_it_and_bad_recipes_are_one_line(capsys, tmp_path):
    config = dry_run(capsys, "duel", "--recipe", "duel-ppo", "--steps", "1000", "--league.self-play", "0.5")
    assert config["steps"] == 1000 and config["parts"]["league"]["self_play"] == 0.5
    assert config["parts"]["league"]["exploiter_every"] == 1_000_000  # the rest is the recipe's
    assert main(["train", "stealth", "--recipe", "duel-ppo", "--show-config"]) == 2
    assert "trains duel, not stealth" in capsys.readouterr().err
    assert main(["train", "stealth", "--recipe", "nonesuch", "--show-config"]) == 2
    assert "no such recipe; shipped: director, duel-ppo, stealth-ppo" in capsys.readouterr().err
    bad = tmp_path / "mine.toml"
    bad.write_text('env = "stealth"\nalgo = "ppo-pg"\nstep = 5\n')
    assert main(["train", "stealth", "--recipe", str(bad), "--show-config"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: 'step' is not a recipe key" in err and len(err.strip().splitlines()) == 1


def test_a_run_records_the_command_that_made_it(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "stealth", "--algo", "ppo-pg", "--steps", "256", "--envs", "4", "--eval-every", "256",
            "--eval-episodes", "1", "--out", str(out), "--quiet", "--set", "n_steps=32"]
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["command"] == shlex.join(["sandbox", *argv])
    assert json.loads((out / "checkpoints" / "final.json").read_text())["command"] == shlex.join(["sandbox", *argv])
