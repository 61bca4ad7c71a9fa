"""The duel league's plumbing (experiments.train.duel_league): the pool as one batched opponent, the
result recorder, and a tiny end-to-end league run whose gate, forced low, adds snapshots."""

import csv
import json

import numpy as np
import pytest

from agents.character.batched import make_batched_opponent
from envs.duel.vector import DuelVectorEnv
from experiments.train.duel_league import LeagueRecorder, PoolOpponent
from experiments.train.league import MAIN, League


class Constant:
    """A batched agent that always presses the same (stick, button)."""

    def __init__(self, stick, button):
        self.action = (stick, button)

    def bind(self, num_envs):
        pass

    def reset_envs(self, idx, seeds, difficulty=None):
        pass

    def act(self, obs, active, out):
        out[active] = self.action


def test_pool_of_one_plays_exactly_like_that_opponent():
    league = League(self_play=0.0)
    league.add("scripted:hard", "scripted", make_batched_opponent("scripted:hard"))
    pooled = DuelVectorEnv(num_envs=6, opponent=PoolOpponent(league, seed=5), round_seconds=2, side="random")
    direct = DuelVectorEnv(num_envs=6, opponent=make_batched_opponent("scripted:hard"), round_seconds=2,
                           side="random")
    rng = np.random.default_rng(0)
    a, _ = pooled.reset(seed=11)
    b, _ = direct.reset(seed=11)
    ends = 0
    for _ in range(150):  # several rounds each (a 2 s round is 30 decisions)
        np.testing.assert_array_equal(a, b)
        act = np.stack([rng.integers(0, 9, 6), rng.integers(0, 4, 6)], axis=1)
        a, ra, ta, _, _ = pooled.step(act)
        b, rb, tb, _, _ = direct.step(act)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta, tb)
        ends += int(ta.sum())
    assert ends >= 12


def test_pool_hands_each_member_its_rows():
    league = League(self_play=0.0)
    league.add("left", "exploiter", Constant(3, 2))
    league.add("right", "exploiter", Constant(5, 1))
    pool = PoolOpponent(league)
    pool.bind(5)
    pool.assigned[:] = np.array(["left", "right", "left", "right", "right"], dtype=object)
    out = np.full((5, 2), -1, dtype=np.int64)
    active = np.array([True, True, False, True, True])
    pool.act(np.zeros((5, 76), np.float32), active, out)
    np.testing.assert_array_equal(out, [[3, 2], [5, 1], [-1, -1], [5, 1], [5, 1]])
    # reset draws members by PFSP probability: all weight on the one the main agent loses to
    for _ in range(5):
        league.record("left", 1.0)
        league.record("right", 0.0)
    league.p = 50.0  # x_left = 5.5/6, x_right = 0.5/6: (1/12)^50 against (11/12)^50, practically all "right"
    pool.reset_envs(np.arange(5), np.arange(5), np.full(5, np.nan))
    assert list(pool.assigned) == ["right"] * 5
    assert pool.counts() == {"right": 5}


def test_recorder_books_every_round_with_its_result():
    league = League(self_play=0.0, k=32)
    league.add("random", "scripted", make_batched_opponent("random"))
    pool = PoolOpponent(league)
    env = LeagueRecorder(DuelVectorEnv(num_envs=8, opponent=pool, round_seconds=1, side="random"), league, pool)
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    counts = {"agent": 0, "opponent": 0, "draw": 0}
    for _ in range(100):
        _, _, term, _, info = env.step(np.stack([rng.integers(0, 9, 8), rng.integers(0, 4, 8)], axis=1))
        for i in np.flatnonzero(term):
            counts[info["winner"][i]] += 1
    assert sum(counts.values()) >= 16
    assert league.games == sum(counts.values())
    assert league.results[(MAIN, "random")] == [counts["agent"], counts["opponent"], counts["draw"]]
    assert league.members["random"].games == league.games


LEAGUE = {"league.pool": "random,scripted:easy", "league.gate": 0.0, "league.window": 2,
          "n_steps": 32, "hidden": [16, 16], "n_epochs": 1}


def league_run(out, steps, **kw):
    from experiments.train import train_run

    return train_run("duel", "ppo-pg", steps=steps, n_envs=8, seed=0, device="cpu", out=out, progress=False,
                     eval_every=256, eval_episodes=2, env_kwargs={"round_seconds": 1}, parts=("league",), **kw)


def test_tiny_league_run_end_to_end_adds_snapshots(tmp_path):
    res = league_run(tmp_path / "run", 1024,
                     hyper={**LEAGUE, "league.exploiter_every": 512, "league.exploiter_steps": 256})
    out = res.extra
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["parts"]["league"]["gate"] == 0.0 and config["parts"]["league"]["window"] == 2
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {"steps", "eval_return", "elo", "elo_fit", "pool", "snapshots", "games"} <= set(rows[0])
    # the gate (forced to 0 over 2 games) is open after every update that finished two games
    assert out["snapshots"] >= 1
    # an exploiter trained against the frozen main agent joins at 512 steps (and at 1024)
    assert out["opponents"]["exploiter-1"]["kind"] == "exploiter"
    exploiters = sum(o["kind"] == "exploiter" for o in out["opponents"].values())
    assert len(out["opponents"]) == 3 + out["snapshots"] + exploiters  # main, random, scripted:easy, the rest
    assert int(rows[-1]["games"]) > 0
    assert (run / "checkpoints" / "snapshot-1.pt").is_file() and (run / "checkpoints" / "final.pt").is_file()
    from experiments.replay.trace import load_trace  # the milestone match, as a replay trace

    milestone = load_trace(run / "traces" / "snapshot-1.json")["episodes"][0]
    assert milestone["names"] == ["main", "snapshot-1"] and len(milestone["frames"]) > 10
    assert list((run / "tb").glob("events.out.tfevents.*"))
    ladder = json.loads((run / "ladder.json").read_text())
    assert ladder["ladder"]["random"] == 1000.0
    assert "snapshot-1" in ladder["opponents"]


def test_league_resumes_mid_run_with_its_pool_and_step_count(tmp_path):
    run = tmp_path / "run"
    first = league_run(run, 512, hyper=LEAGUE)
    before = [dict(r) for r in first.curve]
    side = json.loads((run / "checkpoints" / "latest.json").read_text())
    state = side["parts"]["league"]["league"]
    snapshots = [n for n, m in state["members"].items() if m["kind"] == "snapshot"] \
        if isinstance(state["members"], dict) else [m["name"] for m in state["members"] if m["kind"] == "snapshot"]
    assert side["steps"] == before[-1]["steps"] >= 512 and snapshots  # the league's state rides in the sidecar
    second = league_run(run, side["steps"] + 512, resume=True)
    rows = second.curve
    assert rows[:len(before)] == before  # the rows up to the checkpoint are kept as they were
    later = [r["steps"] for r in rows[len(before):]]
    assert later and min(later) > side["steps"] and max(later) >= side["steps"] + 512  # on from it, not from 0
    assert second.extra["games"] > first.extra["games"]  # the league's tallies continue
    assert set(first.extra["opponents"]) <= set(second.extra["opponents"])  # snapshots come back frozen


def test_league_settings_are_typed(tmp_path):
    from experiments.train import train_run

    for bad, match in (({"league.weighting": "softest"}, "valid: hard"),
                       ({"league.window": "abc"}, r"--league\.window='abc': expected int"),
                       ({"league.nonsense": 1}, r"--league\.nonsense: not a setting")):
        with pytest.raises(ValueError, match=match):
            train_run("duel", "ppo-pg", out=tmp_path / "never-written", parts=("league",), hyper=bad,
                      progress=False)
        assert not (tmp_path / "never-written").exists()
    with pytest.raises(ValueError, match="add --league"):
        train_run("duel", "ppo-pg", out=tmp_path / "never-written", hyper={"league.gate": 0.5}, progress=False)
