"""The batched harness (agents.harness): its known answers. A round is the single env's round at its seed;
the two-player and one-player forms agree; seeded runs repeat exactly whatever the chunking; records come one
per episode; scripted against itself is even, random against scripted:hard loses; the optimum crosses a
level with V*(start); oracles label and hooks see every step."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents import make_agent
from agents.harness import AGENT, duel_summary, play_duel, play_episodes, run_steps, side_seed


def single_round(agent_spec: str, opponent: str, seed: int, side: str, round_seconds: float):
    """Round ``seed`` in the single env: ``gym.make`` reset with ``seed``, the agent a single scripted fighter
    drawing its seed from the harness's agent stream."""
    env = gym.make("sandbox/Duel-v0", opponent=opponent, side=side, round_seconds=round_seconds)
    obs, _ = env.reset(seed=seed)
    me = make_agent(agent_spec, rng=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(AGENT,))))
    me.reset()
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, term, trunc, info = env.step(me.predict(obs)[0])
        total, steps, done = total + reward, steps + 1, term or trunc
    return info["winner"], info["tick"], total, steps, env.unwrapped.me


@pytest.mark.parametrize("sides", ["left", "right", "random", "alternate"])
def test_each_round_is_the_single_envs_round_at_its_seed(sides):
    a, b, seed, n = "scripted:zoner-hard", "scripted:rushdown", 3, 6
    records = play_duel(a, b, n, seed=seed, sides=sides, round_seconds=8)
    for r in records:
        side = {"alternate": "left" if r.index % 2 == 0 else "right"}.get(sides, sides)
        winner, ticks, total, steps, me = single_round(a, b, seed + r.index, side, 8)
        assert (r.seed, r.winner, r.ticks, r.length, r.side) == (seed + r.index, winner, ticks, steps, me)
        assert r.ret == pytest.approx(total, abs=1e-9)


def test_the_two_player_and_one_player_forms_agree():
    """The opponent inside a one-player batched duel (side drawn) plays the rounds play_duel plays."""
    kw = {"round_seconds": 5}
    two = play_duel("scripted:normal", "scripted:hard", 8, seed=20, sides="random", **kw)
    one = play_episodes(lambda n: gym.make_vec("sandbox/Duel-v0", num_envs=n, opponent="scripted:hard",
                                               side="random", **kw), "scripted:normal", 8, seed=20, deterministic=False)
    for x, y in zip(two, one, strict=True):
        assert (x.winner, x.length, x.health, x.success) == (y.winner, y.length, y.health, y.success)
        assert x.ret == pytest.approx(y.ret, abs=1e-9)


def test_seeded_runs_repeat_exactly_whatever_the_chunks():
    for a, b in (("random", "scripted:hard"), ("bundled:duel-ppo", "scripted:turtle")):
        whole = play_duel(a, b, 9, seed=7, round_seconds=3)
        assert [r.as_dict() for r in whole] == [r.as_dict() for r in play_duel(a, b, 9, seed=7, round_seconds=3)]
        chunked = play_duel(a, b, 9, seed=7, round_seconds=3, chunk=4)
        assert [(r.winner, r.length, r.health) for r in chunked] == [(r.winner, r.length, r.health) for r in whole]
        other = play_duel(a, b, 9, seed=8, round_seconds=3)
        assert [r.length for r in other] != [r.length for r in whole] or [r.health for r in other] != [
            r.health for r in whole]


def test_one_record_per_round_in_order():
    records = play_duel("random", "scripted:easy", 13, seed=100, round_seconds=2, chunk=5)
    assert [r.index for r in records] == list(range(13)) and [r.seed for r in records] == list(range(100, 113))
    assert [r.side for r in records] == [i % 2 for i in range(13)]
    for r in records:
        assert r.winner in ("agent", "opponent", "draw") and r.success == (r.winner == "agent")
        assert 1 <= r.length <= 2 * 60 // 4 + 1 and 0 <= min(r.health) and r.ticks <= 120
        if r.winner == "draw":
            assert r.health[0] == r.health[1]
        elif r.ticks == 120 and r.winner == "agent":  # a time-out goes to the healthier fighter
            assert r.health[0] > r.health[1]
    assert duel_summary(records)["wins"] + duel_summary(records)["losses"] + duel_summary(records)["draws"] == 13


def test_scripted_against_itself_is_even_and_random_loses_to_hard():
    s = duel_summary(play_duel("scripted:hard", "scripted:hard", 400, seed=0, round_seconds=20))
    decided = s["wins"] + s["losses"]
    assert abs(s["wins"] - s["losses"]) <= 3.29 * math.sqrt(decided) + 1, s  # a fair coin, 99.9%
    r = duel_summary(play_duel("random", "scripted:hard", 100, seed=0, round_seconds=20))
    assert r["losses"] >= 90, r


def test_arena_match_is_the_harness_with_sides_alternating():
    from agents.character.arena import match

    assert match("scripted:normal", "random", 10, seed=4, round_seconds=3) == duel_summary(
        play_duel("scripted:normal", "random", 10, seed=4, round_seconds=3))


def test_one_agent_object_cannot_play_both_sides():
    agent = make_agent("bundled:duel-ppo")
    from agents import make_batched_agent

    batched = make_batched_agent(agent)
    with pytest.raises(ValueError, match="both sides"):
        play_duel(batched, batched, 2)
    play_duel(agent, "bundled:duel-ppo", 2, round_seconds=1)  # one loaded object, wrapped once per side


def test_oracle_labels_and_the_hook_sees_every_step():
    """A greedy ghost as player and as oracle: the labels are its own actions; the hook sees every decision
    of every recorded round once."""
    import torch

    from agents.ghost.batched import BatchedGhost, play_batched
    from nets.imitation import make_policy

    torch.manual_seed(0)
    model = make_policy(obs_size=76, hidden=24, periods=(1, 2, 4), fc=16).eval()
    played = play_batched(BatchedGhost(model, greedy=True), "scripted:hard", 3, seed=5, round_seconds=2,
                          oracle=BatchedGhost(model, greedy=True))
    plain = play_batched(BatchedGhost(model, greedy=True), "scripted:hard", 3, seed=5, round_seconds=2)
    for x, y in zip(played, plain, strict=True):
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.obs, y.obs)
    seen = []
    records = play_duel("random", "scripted:easy", 4, seed=0, round_seconds=1,
                        on_step=lambda s: seen.append(s.live.copy()))
    assert np.sum(seen, axis=0).tolist() == [r.length for r in records]


def test_stealth_episodes_of_the_optimum_reach_v_star():
    from agents.navigation.mdp import build_mdp
    from envs.stealth.level import load_level
    from nets.bellman import value_iteration

    level = load_level("courtyard")
    mdp, index = build_mdp(level, gamma=0.99)
    v_star = value_iteration(mdp, tol=1e-8).V[index.start_state]
    records = play_episodes(lambda n: gym.make_vec("sandbox/Stealth-v0", num_envs=n, level="courtyard"), "optimal",
                            5, seed=3, gamma=0.99, chunk=2)
    assert [r.index for r in records] == list(range(5)) and all(r.success and r.terminated for r in records)
    assert all(r.discounted == pytest.approx(v_star, abs=1e-9) for r in records)
    assert len({r.length for r in records}) == 1


def test_run_steps_continues_a_stream_and_restarts_agents_after_autoresets():
    from agents.batched import Mixture
    from agents.navigation.expert import ExpertAgent, ExpertTables

    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=4, level=["tutorial", "courtyard"], obs_mode="local")
    tables = ExpertTables()
    expert, labeller = ExpertAgent(tables, vec), ExpertAgent(tables, vec)
    agent = Mixture(expert, make_agent_batched_random(vec), p=0.0)
    obs, _ = vec.reset(seed=0)
    rows, ends = [], []

    def hook(step):
        live = step.live
        assert np.array_equal(step.actions[live], step.labels[live])  # p = 0: the expert alone
        rows.append(int(live.sum()))
        ends.append(int((np.asarray(step.terminated) | np.asarray(step.truncated)).sum()))

    obs, pending = run_steps(vec, agent, 30, obs, oracle=labeller, on_step=hook)
    assert sum(ends) >= 4 and min(rows) < 4  # episodes ended, and their restart steps were not live
    agent.p = 1.0  # the other member from now on, continuing the same stream
    obs, pending = run_steps(vec, agent, 5, obs, oracle=labeller, fresh=False, pending=pending)
    assert obs.shape[0] == 4


def make_agent_batched_random(vec):
    from agents import make_batched_agent

    return make_batched_agent("random", action_space=vec.single_action_space)


def test_side_seed_streams():
    assert side_seed(5, 0) == int(np.random.default_rng(5).integers(2**63))
    assert len({side_seed(5, k) for k in range(3)}) == 3
