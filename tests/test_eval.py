"""`sandbox eval`: the interval arithmetic, and known answers on tiny budgets."""

from __future__ import annotations

import json
import math

import pytest

from experiments.cli import main
from experiments.evaluate.stats import wilson_interval
from experiments.evaluate.stealth import optimal_ratio


def test_wilson_interval_known_values():
    # Worked by hand (z = 1.96): 5 of 10 -> centre 0.5, half-width 1.96 * sqrt(0.025 + 0.0096) / 1.3841 = 0.2634.
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    # 0 of 10: the upper end is z^2 / (n + z^2) = 3.8415 / 13.8415.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_optimal_ratio():
    assert optimal_ratio(0.5, 0.5) == 1.0 and optimal_ratio(0.25, 0.5) == 0.5
    assert optimal_ratio(-0.6, -0.3) == 0.5  # long levels: V* < 0, a worse (more negative) return scores lower
    assert math.isnan(optimal_ratio(0.1, 0.0))


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_optimal_agent_is_optimal_on_bundled_levels(capsys):
    assert main(["eval", "stealth", "--agent", "optimal", "--level", "tutorial,sentry_hall", "--episodes", "2"]) == 0
    out = last_json(capsys)
    assert out["eval"] == "stealth" and [r["level"] for r in out["rows"]] == ["tutorial", "sentry_hall"]
    for row in out["rows"]:
        assert set(row) >= {"level", "difficulty", "episodes", "success", "mean_return", "optimal_return",
                            "optimal_ratio"}
        assert row["success"] == 1.0 and row["optimal_ratio"] == pytest.approx(1.0, abs=1e-9)
        assert row["difficulty"] is None
    assert out["by_difficulty"] == {}


def test_random_walker_is_far_from_optimal(capsys):
    assert main(["eval", "stealth", "--agent", "random", "--level", "sentry_hall", "--episodes", "4"]) == 0
    row = last_json(capsys)["rows"][0]
    assert row["success"] == 0.0 and row["optimal_ratio"] < 0.5


def test_generated_levels_are_held_out_and_grouped_by_difficulty(capsys):
    from envs.stealth.level import POOL_SEED_BASE, POOL_SIZE

    # the held-out pool's generator seeds never meet the training pool's
    assert POOL_SEED_BASE["heldout"] >= POOL_SEED_BASE["random"] + POOL_SIZE
    assert main(["eval", "stealth", "--agent", "planner", "--generated", "0.1,0.6", "--levels", "2",
                 "--episodes", "1", "--size", "10"]) == 0
    out = last_json(capsys)
    assert [r["difficulty"] for r in out["rows"]] == [0.1, 0.1, 0.6, 0.6]
    assert set(out["by_difficulty"]) == {"0.1", "0.6"}
    for summary in out["by_difficulty"].values():
        assert summary["levels"] == 2 and 0.0 <= summary["success"] <= 1.0
    # the planner never enters a watched cell, so it crosses every (solvable) generated level
    assert all(r["success"] == 1.0 for r in out["rows"])


def test_random_against_hard_sits_near_zero(capsys):
    assert main(["eval", "duel", "--agent", "random", "--vs", "scripted:hard", "--rounds", "20"]) == 0
    row = last_json(capsys)["rows"][0]
    assert row["wins"] + row["draws"] + row["losses"] == 20
    assert row["win_rate"] <= 0.1 and row["win_low"] == 0.0 and 0.0 < row["win_high"] < 0.3


def test_hard_against_random_wins_nearly_always(capsys):
    assert main(["eval", "duel", "--agent", "scripted:hard", "--vs", "random", "--rounds", "20"]) == 0
    row = last_json(capsys)["rows"][0]
    assert row["win_rate"] >= 0.9 and row["win_low"] > 0.6


@pytest.mark.parametrize("argv, message", [
    (["eval", "stealth", "--agent", "optimal"], "exactly one of --level"),
    (["eval", "stealth", "--agent", "optimal", "--generated", "1.5"], "difficulties in [0, 1]"),
    (["eval", "stealth", "--agent", "optimal", "--level", "nope"], "nope"),
    (["eval", "duel", "--agent", "nope:x", "--vs", "random"], "nope"),
    (["eval", "duel", "--agent", "random", "--rounds", "0"], "--rounds"),
])
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_eval_duel_writes_replays_of_its_pairs_and_never_overwrites(tmp_path, capsys):
    from experiments.replay.trace import load_trace

    trace, page = tmp_path / "eval.json", tmp_path / "eval.html"
    argv = ["eval", "duel", "--agent", "scripted:normal", "--vs", "scripted:easy,random", "--rounds", "2",
            "--round-seconds", "3", "--trace", str(trace), "--html", str(page)]
    assert main(argv) == 0
    episodes = load_trace(trace)["episodes"]
    assert [e["names"] for e in episodes] == [["scripted:normal", "scripted:easy"], ["scripted:normal", "random"]]
    assert page.read_text().startswith("<!DOCTYPE html>") and "<script src" not in page.read_text()
    capsys.readouterr()
    assert main(argv) == 2  # the files exist: refused before any round is played
    err = capsys.readouterr()
    assert "--trace" in err.err and "already exists" in err.err and "opponent" not in err.out


def test_an_agent_of_another_game_is_refused_before_anything_is_printed(capsys):
    assert main(["eval", "stealth", "--agent", "bundled:duel-ppo", "--level", "tutorial", "--episodes", "1"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "bundled:duel-ppo acts in the duel env, not in the stealth env" in out.err
    assert main(["eval", "duel", "--agent", "bundled:director", "--vs", "random", "--rounds", "2"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "bundled:director acts in the director env, not in the duel env" in out.err
    assert main(["eval", "duel", "--agent", "scripted:easy", "--vs", "planner", "--rounds", "2"]) == 2
    assert "planner acts in the stealth env" in capsys.readouterr().err
