"""The drive model's known answers (docs/drives.md): the update by hand, the telescoping identity, the tabular
drive MDP solved exactly (the drive-difference reward and -D(h') give one policy, V = D + (1 - gamma) V'),
a stimulus cycle summing to zero, creatures mode at zero, and bad tables refused in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs.drives.state import DriveState
from envs.drives.table import (
    EVENTS,
    MAX_DRIVES,
    DriveError,
    drive_value,
    load_drives,
    parse_drives,
    shipped_drives,
)
from nets.bellman import TabularMDP, policy_iteration, value_iteration

STEALTH = EVENTS["stealth"]


def table(mode: str = "homeostatic", drives: str = "", **top: object) -> str:
    head = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in top.items())
    return f'game = "stealth"\nmode = "{mode}"\n{head}\n{drives}'


ONE = """
[drives.fear]
half_life = 1.0
low = -1.0
high = 1.0
set_point = 0.0
[drives.fear.doses]
near_cone = 0.3
still = -0.3
"""


def events(*names: str) -> np.ndarray:
    x = np.zeros((1, len(STEALTH)))
    for name in names:
        x[0, STEALTH.index(name)] = 1.0
    return x


def test_shipped_defaults_load() -> None:
    for game in ("stealth", "duel"):
        assert "default" in shipped_drives(game)
        t = load_drives("default", game)
        assert t.game == game and 1 <= len(t.drives) <= MAX_DRIVES


def test_update_by_hand() -> None:
    s = DriveState(parse_drives(table(drives=ONE, m=1.0, n=1.0)), 1)
    s.h[:] = 0.5
    r = s.step(events("near_cone"))  # half-life 1: 0.5 -> 0.25, then +0.3
    assert s.h[0, 0] == pytest.approx(0.55)
    assert r[0] == pytest.approx(0.5 - 0.55)  # D = |h|: D(h) - D(h')
    s.h[:] = 0.9
    s.step(events("near_cone"))  # 0.45 + 0.3
    assert s.h[0, 0] == pytest.approx(0.75)
    s.h[:] = -0.9
    s.step(events("still"))  # -0.45 - 0.3
    assert s.h[0, 0] == pytest.approx(-0.75)
    s.h[:] = 0.1
    s.step(np.full((1, len(STEALTH)), 1.0) * events("near_cone") * 10)  # 0.05 + 3: clipped at high = 1
    assert s.h[0, 0] == 1.0
    assert s.levels()[0, 0] == 1.0 and s.levels().dtype == np.float32  # (h - low) / (high - low)


def test_telescoping_by_hand_and_on_a_trajectory() -> None:
    # D = |h|, h = 0, 0.5, 0.25, 0, gamma = 0.5: sum gamma^t (D_t - D_t+1) = -0.5 + 0.125 + 0.0625 = -0.3125
    h = np.array([0.0, 0.5, 0.25, 0.0])[:, None]
    d = drive_value(h, np.zeros(1), np.ones(1), 1.0, 1.0)
    g = 0.5
    lhs = sum(g**t * (d[t] - d[t + 1]) for t in range(3))
    assert lhs == pytest.approx(-0.3125)
    rhs = d[0] - (1 - g) * sum(g**t * d[t + 1] for t in range(3)) - g**3 * d[3]
    assert rhs == pytest.approx(-0.3125)
    # a long random trajectory of the shipped stealth table: the identity holds to rounding
    s = DriveState(load_drives("default", "stealth"), 1)
    rng = np.random.default_rng(0)
    g, total, tail, d0 = 0.9, 0.0, 0.0, float(s.value()[0])
    for t in range(400):
        total += g**t * float(s.step((rng.random((1, len(STEALTH))) < 0.4).astype(float))[0])
        tail += g**t * float(s.value()[0])
    assert total == pytest.approx(d0 - (1 - g) * tail, abs=1e-12)  # g^400 D(h_400) < 1e-18


def drive_mdp(gamma: float) -> tuple[TabularMDP, TabularMDP, np.ndarray, np.ndarray]:
    """Two resources, hunger levels 0..4 each (25 states): eat A (A -2, B +1), eat B (B -2, A +1), wait (both
    +1, or with probability 0.5 only A); D = (2 |hA| ** 2 + |hB| ** 2) ** (1/2). The MDP under the
    drive-difference reward and under -D(h')."""
    K = 5
    levels = np.array([(a, b) for a in range(K) for b in range(K)], dtype=float)
    d = drive_value(levels, np.zeros(2), np.array([2.0, 1.0]), 2.0, 2.0)
    moves = [[(1.0, (-2, 1))], [(1.0, (1, -2))], [(0.5, (1, 1)), (0.5, (1, 0))]]
    P = np.zeros((3, K * K, K * K))
    for a, outcomes in enumerate(moves):
        for s, (ha, hb) in enumerate(levels):
            for p, (da, db) in outcomes:
                s2 = int(np.clip(ha + da, 0, K - 1) * K + np.clip(hb + db, 0, K - 1))
                P[a, s, s2] += p
    next_d = np.einsum("ast,t->sa", P, d)  # E[D(h') | s, a]
    diff = TabularMDP(P, d[:, None] - next_d, gamma)
    neg = TabularMDP(P, -next_d, gamma)
    return diff, neg, d, levels


def test_drive_mdp_difference_reward_equals_minus_next_drive() -> None:
    gamma = 0.9
    diff, neg, d, levels = drive_mdp(gamma)
    a, b = policy_iteration(diff), policy_iteration(neg)
    np.testing.assert_array_equal(a.policy, b.policy)
    np.testing.assert_allclose(a.V, d + (1 - gamma) * b.V, atol=1e-9)  # V = D(h0) + (1 - gamma) V'
    np.testing.assert_allclose(a.Q, d[:, None] + (1 - gamma) * b.Q, atol=1e-9)
    vi = value_iteration(diff, tol=1e-10)
    np.testing.assert_array_equal(vi.policy, a.policy)
    # the two-resource choice: hungrier for A than B (below A's cap, where eating B would cost A nothing),
    # the optimal policy eats A: states (1,0) (2,0) (2,1) (3,0) (3,1) (3,2)
    hungrier_a = (levels[:, 0] > levels[:, 1]) & (levels[:, 0] < 4)
    assert hungrier_a.sum() == 6 and np.all(a.policy[hungrier_a] == 0)


def test_a_stimulus_cycle_sums_to_zero() -> None:
    for mode in ("homeostatic", "creatures"):
        drives = ONE.replace("half_life = 1.0", "half_life = inf")  # no decay: the doses alone move h
        s = DriveState(parse_drives(table(mode, drives, n=2.0)), 1)
        cycle = ["near_cone", "near_cone", "still", "near_cone", "still", "still"]  # 0 .3 .6 .3 .6 .3 0
        total = sum(float(s.step(events(e))[0]) for e in cycle)
        assert s.h[0, 0] == pytest.approx(0.0, abs=1e-15)
        assert total == pytest.approx(0.0, abs=1e-12)


def test_creatures_mode_gives_nothing_for_lowering_a_drive_at_zero() -> None:
    s = DriveState(parse_drives(table("creatures", ONE.replace("half_life = 1.0", "half_life = inf"),
                                      lam=0.5)), 1)
    assert s.step(events("still"))[0] == 0.0  # 0 -> -0.3: nothing (the drive was at zero)
    assert s.h[0, 0] == pytest.approx(-0.3)
    assert s.step(events("still"))[0] == 0.0  # -0.3 -> -0.6: still nothing
    s.h[:] = 0.0
    assert s.step(events("near_cone"))[0] == pytest.approx(-0.3)  # a rise is punished
    assert s.step(events("still"))[0] == pytest.approx(0.3)  # a fall rewarded
    homeo = DriveState(parse_drives(table("homeostatic", ONE.replace("half_life = 1.0", "half_life = inf"))), 1)
    assert homeo.step(events("still"))[0] == pytest.approx(-0.3)  # homeostatic: away from the set point costs


def test_mix_and_vectorised_rows() -> None:
    t = parse_drives(table("mix", ONE, lam=0.25, mix="creatures"))
    s = DriveState(t, 3)
    x = np.zeros((3, len(STEALTH)))
    x[1, STEALTH.index("near_cone")] = 1.0
    x[2, STEALTH.index("still")] = 1.0
    drive = s.step(x)
    np.testing.assert_allclose(drive, [0.0, -0.3, 0.0])
    np.testing.assert_allclose(s.reward(np.array([1.0, 1.0, -1.0]), drive), [0.25, 0.25 - 0.75 * 0.3, -0.25])
    s.reset(np.array([1]))
    np.testing.assert_allclose(s.h[:, 0], [0.0, 0.0, -0.3])


@pytest.mark.parametrize("text, line, says", [
    (table(drives=ONE.replace("near_cone", "sneezed")), 11, "unknown event 'sneezed'"),
    (table(drives=ONE.replace("half_life = 1.0", "half_life = nan")), 6, "half_life must be a number; got nan"),
    (table(drives=ONE.replace("half_life = 1.0", "half_life = -2.0")), 6, "half_life must be in (0.0"),
    (table(drives=ONE.replace("half_life = 1.0", "half_life = 0")), 6, "half_life must be in (0.0"),
    (table(drives=ONE.replace("low = -1.0", "low = 2.0")), 7, "low (2.0) must be below high (1.0)"),
    (table(drives="".join(f"[drives.d{i}]\n" for i in range(MAX_DRIVES + 1))), None, "9 drives; the limit is 8"),
    (table(drives=ONE, loud=1), 3, "unknown key 'loud'"),
    (table(drives=ONE.replace("weight", "x").replace("low = -1.0", "weight = -1")), 7, "weight must be in [0.0"),
    ('game = "chess"\n' + ONE, 1, "game must be one of stealth, duel"),
    (table(drives=""), None, "at least one drive"),
    (table(drives=ONE) + "[oops\n", 13, "not valid TOML"),
])
def test_bad_tables_are_refused_in_one_line_naming_the_file(tmp_path, text: str, line: int | None,
                                                            says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DriveError) as err:
        load_drives(path, "stealth")
    message = str(err.value)
    assert "\n" not in message and says in message
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_other_refusals() -> None:
    with pytest.raises(DriveError, match="for the stealth game; the duel env needs"):
        parse_drives(table(drives=ONE), source="t.toml", game="duel")
    with pytest.raises(DriveError, match="not the duel game"):
        load_drives(load_drives("default", "stealth"), "duel")
    with pytest.raises(DriveError, match="no such drive table file or shipped stealth table; shipped: default"):
        load_drives("nope", "stealth")
    big = "# " + "x" * 20_000
    with pytest.raises(DriveError, match="longer than the limit"):
        parse_drives(big)
    assert math.isinf(parse_drives(table(drives="[drives.a]\n")).drives[0].half_life)  # no half-life: no decay


class TwoResources:
    """A body with two hungers, levels 0..5 each: eat A (A -2, B +1), eat B (B -2, A +1) or wait (both +1),
    clipped; the reward is the drive-difference D(h) - D(h') with D = (hA^2 + hB^2)^(1/2). Episodes of 20
    steps from a random internal state (a gymnasium env for nets.tabular's Q-learning)."""

    K = 6

    def __init__(self) -> None:
        from gymnasium import spaces

        K = self.K
        self.observation_space, self.action_space = spaces.Discrete(K * K), spaces.Discrete(3)
        self.levels = np.array([(a, b) for a in range(K) for b in range(K)], dtype=float)
        self.d = drive_value(self.levels, np.zeros(2), np.ones(2), 2.0, 2.0)
        self.rng = np.random.default_rng(0)
        self.s = self.t = 0

    def next(self, s: int, a: int) -> int:
        da, db = ((-2, 1), (1, -2), (1, 1))[a]
        ha, hb = self.levels[s]
        return int(np.clip(ha + da, 0, self.K - 1) * self.K + np.clip(hb + db, 0, self.K - 1))

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.s, self.t = int(self.rng.integers(self.K * self.K)), 0
        return self.s, {}

    def step(self, a: int) -> tuple[int, float, bool, bool, dict]:
        s2 = self.next(self.s, int(a))
        r = float(self.d[self.s] - self.d[s2])
        self.s, self.t = s2, self.t + 1
        return s2, r, False, self.t >= 20, {}


def test_two_resources_the_more_deprived_is_eaten_exactly_and_by_a_trained_agent() -> None:
    from nets.tabular import q_learning

    env = TwoResources()
    S, K = env.K * env.K, env.K
    P = np.zeros((3, S, S))
    for a in range(3):
        for s in range(S):
            P[a, s, env.next(s, a)] = 1.0
    mdp = TabularMDP(P, env.d[:, None] - np.einsum("ast,t->sa", P, env.d), 0.9)
    optimal = value_iteration(mdp, tol=1e-10).policy
    # the internal states where one resource is more deprived, below the cap (20 of them)
    unequal = (env.levels[:, 0] != env.levels[:, 1]) & (env.levels.max(axis=1) < K - 1)
    deprived = np.where(env.levels[:, 0] > env.levels[:, 1], 0, 1)
    assert unequal.sum() == 20 and np.all(optimal[unequal] == deprived[unequal])
    learned = q_learning(env, S, lambda e: e.s, 60_000, alpha=0.5, gamma=0.9, seed=0).policy  # about 3 s
    sampled = np.random.default_rng(1).choice(np.flatnonzero(unequal), size=1000)
    assert np.mean(learned[sampled] == deprived[sampled]) >= 0.95
