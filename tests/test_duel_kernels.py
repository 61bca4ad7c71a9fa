"""The duel's one implementation (the kernels, through every form of the env) against the Python oracle
(``tests/duel_oracle.py``), bit for bit: state, both observations, reward and events, across autoresets,
for the shipped character and for several rule sets side by side in one batch."""

from __future__ import annotations

import collections
import dataclasses

import duel_oracle as O
import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.duel import layout as L
from envs.duel.character import MOVE_LIMITS, Character, default_character
from envs.duel.layout import Move, Stick
from envs.duel.vector import DuelVectorEnv


def bits(x) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


class RandomPlayer:
    """Random inputs from its own seed, skewed so that every part of the rules is reached: it walks in
    when far, and close up mixes guards, throws and buttons, holding an input for a few steps."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.p_stick = self.rng.dirichlet(np.ones(9))
        self.p_button = self.rng.dirichlet(np.ones(4))
        self.last = (0, 0)

    def __call__(self, s: O.DuelState) -> tuple[int, int]:
        rng = self.rng
        if rng.random() < 0.4:
            return self.last
        gap = abs(s.fighters[0].x - s.fighters[1].x)
        if gap > 90 and rng.random() < 0.6:
            self.last = (int(Stick.FORWARD), 0)
        else:
            self.last = (int(rng.choice(9, p=self.p_stick)), int(rng.choice(4, p=self.p_button)))
        return self.last


def variant(seed: int) -> Character:
    """A character within the limits, its numbers drawn around the shipped ones (a different rule set)."""
    rng = np.random.default_rng(seed)
    base = default_character()

    def near(v, lo, hi, spread):
        return int(np.clip(v + rng.integers(-spread, spread + 1), lo, hi))

    body = dict(max_health=near(base.max_health, 50, 400, 80), half_width=near(base.half_width, 8, 40, 8),
                stand_height=near(base.stand_height, 80, 140, 20), walk_forward_speed=near(4, 1, 8, 3),
                walk_back_speed=near(3, 1, 8, 2), jump_speed=near(16, 8, 24, 5), jump_drift=near(4, 0, 8, 3),
                gravity=int(rng.integers(1, 3)), air_hit_speed=near(3, 0, 8, 3), projectile_speed=near(6, 2, 12, 4),
                projectile_half_width=near(12, 4, 20, 6), tech_window=near(7, 1, 15, 5),
                tech_pushback=near(30, 0, 60, 20))
    body["crouch_height"] = int(rng.integers(30, body["stand_height"] + 1))
    moves = []
    for fd in base.moves:
        vals = fd._asdict()
        for key in ("startup", "active", "recovery", "damage", "hitstun", "blockstun", "knockback", "reach"):
            lo, hi = MOVE_LIMITS[key]
            vals[key] = near(vals[key], max(lo, 1 if key in ("startup", "active") else 0), min(hi, 80), 4)
        vals["chip"] = int(rng.integers(0, vals["damage"] + 1))
        moves.append(type(fd)(**vals))
    return dataclasses.replace(base, name=f"variant-{seed}", moves=tuple(moves), **body).validate()


def play_against_oracle(env: DuelVectorEnv, pairs, seed: int, steps: int, start_health=None) -> collections.Counter:
    """Random inputs for both players of every round of a two-player ``env``; after every step each round
    must equal the oracle's: state, both observations, rewards, termination, events."""
    n = env.num_envs
    players = [[RandomPlayer([seed, i, p]) for p in (0, 1)] for i in range(n)]
    rt = env.round_ticks

    def fresh(i):
        return O.initial_state(rt, *pairs[i])

    refs = [fresh(i) for i in range(n)]
    env.reset(seed=seed)
    core = env._core
    if start_health is not None:  # some rounds start nearly KO'd, so that KOs happen too
        for i in range(0, n, 2):
            refs[i].fighters[0].health, refs[i].fighters[1].health = start_health(i)
            O.write_arrays(refs[i], core.F[i], core.P[i], core.G[i])
        core.observe()
    for i in range(n):
        assert core.obs[i, 0].tobytes() == O.observe(refs[i], 0).tobytes()
        assert core.obs[i, 1].tobytes() == O.observe(refs[i], 1).tobytes()
    kinds: collections.Counter = collections.Counter()
    done = np.zeros(n, dtype=bool)
    for _ in range(steps):
        actions = np.array([[p(s) for p in pl] for pl, s in zip(players, refs, strict=True)], dtype=np.int64)
        obs, rewards, terminated, truncated, _ = env.step(actions)
        assert not truncated.any()
        for i in range(n):
            if done[i]:  # next-step autoreset: a fresh round, reward 0, the actions ignored
                refs[i] = fresh(i)
                r0, events = 0.0, []
            else:
                r0, events = O.decision_step(refs[i], tuple(actions[i, 0]), tuple(actions[i, 1]), env.frame_skip)
                kinds.update(e["type"] for e in events)
            s = refs[i]
            assert O.same_state(s, core.F[i], core.P[i], core.G[i]), i
            assert bits(rewards[i]) == bits([r0, -r0])
            assert terminated[i] == (s.over and not done[i])
            assert obs[i, 0].tobytes() == O.observe(s, 0).tobytes()
            assert obs[i, 1].tobytes() == O.observe(s, 1).tobytes()
            assert core.events(i) == events
        done = terminated
    return kinds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_rules_equal_the_oracle_bit_for_bit(seed):
    n = 16
    env = DuelVectorEnv(num_envs=n, opponent=None, round_seconds=10)
    env._core = type(env._core)(n, env.config, events=True)  # the same arrays, keeping events
    _rebind(env)
    pairs = [(None, None)] * n
    kinds = play_against_oracle(env, pairs, seed, 300, start_health=lambda i: (20 + i, 30 - i))
    # the inputs exercised every kind of event of the rules
    assert {"hit", "block", "grab", "throw", "projectile", "ko", "timeout"} <= set(kinds), kinds


@pytest.mark.parametrize("seed", [0, 1])
def test_several_rule_sets_in_one_batch_equal_the_oracle(seed):
    chars = [default_character(), variant(10 * seed + 1), variant(10 * seed + 2), variant(10 * seed + 3)]
    n = 12
    items = []
    pairs = []
    for i in range(n):  # symmetric and asymmetric rounds side by side
        a, b = chars[i % 4], chars[(i // 4 + i) % 4]
        items.append((a, b))
        pairs.append((a, b))
    env = DuelVectorEnv(num_envs=n, opponent=None, round_seconds=8, character=items)
    env._core = type(env._core)(n, env.config, events=True)
    _rebind(env)
    assert len(env._core.characters) == 4
    kinds = play_against_oracle(env, pairs, seed, 250, start_health=lambda i: (25, 35))
    assert {"hit", "block", "ko", "timeout"} <= set(kinds), kinds


@pytest.mark.parametrize("frame_skip", [1, 3])
def test_other_frame_skips_equal_the_oracle(frame_skip):
    n = 6
    env = DuelVectorEnv(num_envs=n, opponent=None, round_seconds=3, frame_skip=frame_skip)
    env._core = type(env._core)(n, env.config, events=True)
    _rebind(env)
    play_against_oracle(env, [(None, None)] * n, 5, 200)


def _rebind(env: DuelVectorEnv) -> None:
    core = env._core
    env._F, env._P, env._G, env._me = core.F, core.P, core.G, core.me
    env._obs, env._act = core.obs, core.act
    env._reward, env._terminated, env._restart = core.reward, core.terminated, core.restart


def test_single_env_events_equal_the_oracle():
    """The single env (a batch of one) reports the oracle's events, with roles for ``by``."""
    env = gym.make("sandbox/Duel-v0", opponent="scripted:hard", round_seconds=20).unwrapped
    env.reset(seed=4)
    ref = O.initial_state(env.round_ticks)
    rng = np.random.default_rng(4)
    seen = collections.Counter()
    for _ in range(400):
        action = np.array([rng.integers(9), rng.integers(4)])
        before = env.state
        opp_view = env._core.obs[0, 1].copy()
        _, reward, terminated, _, info = env.step(action)
        theirs = tuple(env._core.act[0, 1].tolist())
        r0, events = O.decision_step(ref, tuple(action.tolist()), theirs, env.frame_skip)
        assert O.same_state(ref, env._core.F[0], env._core.P[0], env._core.G[0])
        assert bits(reward) == bits(r0)
        assert [{**e, "by": ("agent", "opponent")[e["by"]] if e["by"] >= 0 else None} for e in events] == info["events"]
        seen.update(e["type"] for e in events)
        assert before is not None and opp_view.shape == (L.OBS_SIZE,)
        if terminated:
            env.reset()
            ref = O.initial_state(env.round_ticks)
    assert {"hit", "block"} <= set(seen)


def test_rules_api_steps_through_the_kernels():
    """``rules.step`` / ``rules.advance`` on a state value equal the oracle tick by tick."""
    from envs.duel import rules

    s = rules.initial_state(600)
    ref = O.initial_state(600)
    player = [RandomPlayer([9, p]) for p in (0, 1)]
    for _ in range(600):
        inputs = (player[0](ref), player[1](ref))
        s, events = rules.step(s, inputs)
        ref_events: list = []
        if not ref.over:
            O.advance(ref, inputs, ref_events)
        assert events == ref_events
        F, P, G = rules.to_arrays(s)
        assert O.same_state(ref, F[0], P[0], G[0])
        if ref.over:
            break


def test_move_constants_are_the_layout_names():
    """The kernels compare with the layout's names (a renamed or moved move would fail here)."""
    from envs.duel import kernels as K

    assert K.command(int(Stick.DOWN), 3, False) == Move.PROJECTILE
    assert K.command(int(Stick.FORWARD), 2, False) == Move.OVERHEAD
    assert K.command(int(Stick.DOWN_BACK), 1, False) == Move.LOW
    assert K.command(int(Stick.UP), 1, True) == Move.AIR_KICK
    assert K.command(int(Stick.UP), 3, True) == Move.NONE


def test_the_game_is_the_one_before_the_kernels_became_the_only_rules():
    """Fingerprints recorded from the duel as it was before this implementation (Python rules beside a
    numba port, commit 011dc85): seeded random inputs for both players of 32 rounds, 400 steps, at three
    frame skips; every observation, reward, termination and fighter state hashed. The one implementation
    must play the very same game."""
    import hashlib
    import json
    from pathlib import Path

    want = json.loads((Path(__file__).parent / "data" / "duel_fingerprint.json").read_text())
    for frame_skip, secs in ((4, 10), (1, 3), (7, 20)):
        env = DuelVectorEnv(num_envs=32, opponent=None, round_seconds=secs, frame_skip=frame_skip)
        obs, _ = env.reset(seed=1)
        rng = np.random.default_rng(frame_skip)
        h = hashlib.sha256(obs.tobytes())
        total = 0.0
        for _ in range(400):
            far = np.abs(env._F[:, 0, 0] - env._F[:, 1, 0]) > 90
            a = np.stack([rng.integers(0, 9, (32, 2)), rng.integers(0, 4, (32, 2))], axis=2)
            a[far[:, None] & (rng.random((32, 2)) < 0.6)] = [3, 0]
            obs, r, term, _, _ = env.step(a)
            h.update(obs.tobytes())
            h.update(r.tobytes())
            h.update(term.tobytes())
            h.update(np.ascontiguousarray(env._F[:, :, :13]).tobytes())  # the fighter fields recorded then
            total += float(r[:, 0].sum())
        assert h.hexdigest() == want[f"fs{frame_skip}"]["sha256"], frame_skip
        assert total == want[f"fs{frame_skip}"]["reward_sum"]
