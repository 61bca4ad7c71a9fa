"""The director reading drives (docs/drives.md): ``DirectedEnv`` passes each episode's mean drive levels, and
``DriveDirector`` raises the challenge for a bored player and lowers it for one who is not."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.meta.director import DriveDirector
from agents.meta.wrapper import DirectedEnv


def directed_run(inputs: list[np.ndarray], episodes: int) -> tuple[list[float], list[dict]]:
    env = DirectedEnv(gym.make("sandbox/Duel-v0", opponent="scripted:normal", drives="default", round_seconds=4),
                      DriveDirector("boredom", high=0.5, low=0.2, step=0.1, start=0.5))
    reports = []
    for episode in range(episodes):
        env.reset(seed=episode)
        done, t, levels = False, 0, []
        while not done:
            _, _, terminated, truncated, info = env.step(inputs[t % len(inputs)])
            levels.append(info["drives"])
            done, t = terminated or truncated, t + 1
        report = info["director"]
        assert report["drives"]["boredom"] == pytest.approx(float(np.mean([h[1] for h in levels])))
        assert report["drives"]["pain"] == pytest.approx(float(np.mean([h[0] for h in levels])))
        reports.append(report)
    return env.applied, reports


def test_a_bored_player_gets_a_harder_game_and_a_varied_one_an_easier() -> None:
    same = [np.array([0, 0])]  # the same input every decision: boredom climbs
    varied = [np.array([0, 0]), np.array([5, 0]), np.array([7, 0])]  # a new input every decision: none
    applied, reports = directed_run(same, 3)
    assert [round(r["drives"]["boredom"], 2) > 0.5 for r in reports] == [True] * 3
    assert applied == pytest.approx([0.5, 0.6, 0.7])
    assert reports[-1]["next_difficulty"] == pytest.approx(0.8)
    applied, reports = directed_run(varied, 3)
    assert all(r["drives"]["boredom"] == 0.0 for r in reports)
    assert applied == pytest.approx([0.5, 0.4, 0.3])


def test_drive_director_rules_and_refusals() -> None:
    d = DriveDirector("fear", high=0.6, low=0.3, step=0.25, start=0.5, sign=-1)
    d.observe(True, drives={"fear": 0.9})  # afraid: easier
    assert d.difficulty == 0.25
    d.observe(False, drives={"fear": 0.4})  # in the band: hold
    assert d.difficulty == 0.25
    d.observe(False, drives={"fear": 0.1})  # calm: harder
    assert d.difficulty == 0.5
    again = DriveDirector()
    again.load_state_dict(d.state_dict())
    assert again.state_dict() == d.state_dict()
    with pytest.raises(ValueError, match="reads the drive 'fear'; the episode reported drives none"):
        d.observe(True, caught=False)
    with pytest.raises(ValueError, match="low"):
        DriveDirector(low=0.6, high=0.5)
