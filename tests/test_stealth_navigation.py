"""The navigation AI: visibility, threat and hiding maps, the safe-path planner and its agents."""

import gymnasium as gym
import numpy as np
import pytest

from agents import make_agent
from agents.navigation import (
    OptimalAgent,
    PlannerAgent,
    hiding_spots,
    plan_safe_path,
    threat_map,
    visibility,
)
from envs.stealth import rules
from envs.stealth.env import OBS_MODES, StealthEnv
from envs.stealth.level import Guard, Level, bundled_levels, generate_level, load_level


def corridor_with_sentry():
    # 1 x 7 corridor, a sentry on (0, 3) looking east then west, two steps each, range 2
    walls = np.zeros((1, 7), bool)
    sentry = Guard("sentry", 2, 90, at=(0, 3), facings=(0.0, 180.0), turn_every=2)
    return Level("c", walls, (0, 0), (0, 6), (sentry,))


def test_visibility_and_threat_known_answer():
    level = corridor_with_sentry()
    assert np.flatnonzero(visibility(level, 0)[0]).tolist() == [3, 4, 5]
    assert np.flatnonzero(visibility(level, 2)[0]).tolist() == [1, 2, 3]
    assert np.flatnonzero(visibility(level, 6)[0]).tolist() == [1, 2, 3]  # phase taken mod period 4
    assert threat_map(level)[0].tolist() == [0.0, 0.5, 0.5, 1.0, 0.5, 0.5, 0.0]


def test_hiding_spots_never_watched_and_ranked_by_detour():
    level = load_level("crossing")
    threat = threat_map(level)
    spots = hiding_spots(level)
    assert spots and all(threat[cell] == 0 and not level.walls[cell] for cell in spots)
    assert len(spots) == int(((threat == 0) & ~level.walls).sum())  # every floor cell is reachable here
    # detours never decrease along the ranking
    from agents.navigation.analysis import _distances

    a, b = _distances(level.walls, level.start), _distances(level.walls, level.goal)
    detours = [a[c] + b[c] for c in spots]
    assert detours == sorted(detours) and detours[0] == a[level.goal]
    assert hiding_spots(level, top=3) == spots[:3]
    # the corridor: the two cells never watched are the ends; the start end ranks first on ties
    # only by threat next door: (0, 0) has a 0.5 neighbour, as has (0, 6)
    assert hiding_spots(corridor_with_sentry()) == [(0, 0), (0, 6)]


def check_path_is_safe(level, path, start_phase=0):
    world = level.world
    for t, (a, b) in enumerate(zip(path, path[1:], strict=False)):
        d = rules.DELTAS.index((b[0] - a[0], b[1] - a[1]))
        new, caught, _ = rules.transition(world, world.flat(a), (start_phase + t) % world.period, d)
        assert new == world.flat(b) and not caught


@pytest.mark.parametrize("name", bundled_levels())
def test_plan_is_safe_and_planner_agent_succeeds(name):
    level = load_level(name)
    path = plan_safe_path(level)
    assert path[0] == level.start and path[-1] == level.goal
    check_path_is_safe(level, path)
    env = gym.make("sandbox/Stealth-v0", level=name)
    agent = make_agent("planner", env=env)
    obs, _ = env.reset(seed=0)
    steps = 0
    while True:
        action, _ = agent.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        if terminated or truncated:
            break
    assert info["at_goal"] and steps == len(path) - 1


def test_plan_from_another_phase_and_cell():
    level = load_level("sentry_hall")
    for phase in range(level.world.period):
        path = plan_safe_path(level, start_phase=phase)
        check_path_is_safe(level, path, phase)
    path = plan_safe_path(level, start=(1, 3))
    assert path[0] == (1, 3) and path[-1] == level.goal


def test_planner_replans_after_slips():
    wins = 0
    env = StealthEnv(level="sentry_hall", slip=0.1)
    agent = PlannerAgent(env)
    for episode in range(10):
        obs, _ = env.reset(seed=episode)
        agent.reset()
        while True:
            obs, _, terminated, truncated, info = env.step(agent.predict(obs)[0])
            if terminated or truncated:
                break
        wins += info["at_goal"]
    assert wins >= 7


def test_optimal_agent_matches_the_planner_and_handles_batches():
    env = StealthEnv(level="crossing")
    agent = make_agent("optimal:0.95", env=env)
    assert isinstance(agent, OptimalAgent)
    obs, _ = env.reset(seed=0)
    batched, _ = agent.predict(obs[None])
    assert batched.shape == (1,)
    steps = 0
    while True:
        obs, _, terminated, truncated, info = env.step(agent.predict(obs)[0])
        steps += 1
        if terminated or truncated:
            break
    assert info["at_goal"] and steps == len(plan_safe_path(env.level)) - 1


def test_agent_specs_need_a_stealth_env():
    with pytest.raises(ValueError, match="need env="):
        make_agent("planner")
    with pytest.raises(ValueError, match="optimal:GAMMA"):
        make_agent("optimal:2", env=StealthEnv())


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped")
@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_nav_features_channels(obs_mode):
    from gymnasium.utils.env_checker import check_env

    env = StealthEnv(level="tutorial", obs_mode=obs_mode, nav_features=True)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    if obs_mode == "grid":
        level = env.unwrapped.level
        assert obs.shape == (9, *level.shape)
        assert np.allclose(obs[6], threat_map(level))
        hiding = np.zeros(level.shape)
        hiding[tuple(np.array(hiding_spots(level)).T)] = 1
        assert np.array_equal(obs[7], hiding)


def test_nav_features_danger_marks_the_caught_moves():
    # the blind guard pacing (0,3) <-> (0,2): from (0,2) at phase 0, east swaps and stay is walked on
    walls = np.zeros((1, 6), bool)
    level = Level("c", walls, (0, 0), (0, 5), (Guard("patrol", 0, 1, route=((0, 3), (0, 2))),))
    from stealth_oracle import danger_next

    env = StealthEnv(level=level, nav_features="danger_next")
    env.reset(seed=0)
    env.cell = env.world.flat((0, 2))
    danger = env._obs()[6, 0]  # the observation of that state, as the kernel writes it
    assert np.flatnonzero(danger).tolist() == [2, 3]
    assert np.array_equal(danger, danger_next(env.world, env.cell, 0))


def test_generated_levels_plan_safely():
    for seed in range(10):
        level = generate_level(0.8, seed)
        check_path_is_safe(level, plan_safe_path(level))


def _pacing_level():
    """3x5 open floor, start (1, 0), goal (1, 4); a blind guard (it sees its own cell) pacing (0, 2) -> (2, 2)
    and back: period 4, so (0, 2) and (2, 2) are watched 1/4 of the time and (1, 2) 2/4."""
    guard = Guard("patrol", 0, 1, route=((0, 2), (2, 2)), mode="pingpong")
    return Level("pacing", np.zeros((3, 5), bool), (1, 0), (1, 4), (guard,))


def test_flow_costs_worked_by_hand():
    from stealth_oracle import flow_view

    from envs.stealth.features import flow_costs

    level = _pacing_level()
    assert np.allclose(threat_map(level)[:, 2], [0.25, 0.5, 0.25])
    # entering a cell costs 1 + 4 * threat: 2 for (0, 2) and (2, 2), 3 for (1, 2), 1 elsewhere. From (1, 1)
    # the middle costs 3 + 1 + 1 = 5, round the top 1 + 2 + 1 + 1 + 1 = 6: the middle wins.
    want = [[6, 5, 3, 2, 1],
            [6, 5, 2, 1, 0],
            [6, 5, 3, 2, 1]]
    assert np.array_equal(flow_costs(level), want)
    view = flow_view(flow_costs(level), (1, 0))  # from the start, C = 6
    assert view[1, 0] == 0.5 and view[1, 1] == pytest.approx(0.5 + 0.5 / 8) and view[1, 4] == pytest.approx(0.875)
    assert np.array_equal(StealthEnv(level=level, nav_features="flow").reset(seed=0)[0][6], view)  # the env's own


def test_flow_cannot_enter_always_watched_cells_or_walls():
    from stealth_oracle import flow_view

    from envs.stealth.features import flow_costs

    walls = np.zeros((3, 4), bool)
    walls[0, 1] = walls[2, 1] = True
    sentry = Guard("sentry", 0, 1, at=(1, 1), facings=(0.0,))  # always on (1, 1): the only way is shut
    level = Level("shut", walls, (1, 0), (1, 3), (sentry,))
    costs = flow_costs(level)
    assert np.isinf(costs[:, 0]).all() and np.isinf(costs[1, 1]) and costs[1, 2] == 1
    assert not flow_view(costs, (1, 0)).any()  # the player cut off from the goal: the channel reads 0
    assert not StealthEnv(level=level, nav_features="flow").reset(seed=0)[0][6].any()  # and so does the env's


def test_nav_names():
    from envs.stealth.features import NAV_FEATURES, nav_names, nav_spec

    assert nav_names(False) == nav_names(None) == nav_names("") == ()
    assert nav_names(True) == ("threat", "hiding", "danger_next")
    assert nav_names("all") == NAV_FEATURES
    assert nav_spec("all") == "threat,hiding,danger_next,flow,lookahead,trap_next" and nav_spec(True) is True
    assert nav_names("lookahead, flow,threat") == nav_names(["flow", "threat", "lookahead"]) == (
        "threat", "flow", "lookahead")
    with pytest.raises(ValueError, match="unknown nav feature 'flux'; valid: threat"):
        nav_names("flow,flux")


def test_all_nav_channels_in_the_env():
    from stealth_oracle import flow_view

    from envs.stealth.env import channel_names
    from envs.stealth.features import flow_costs

    level = _pacing_level()
    env = StealthEnv(level=level, nav_features="all")
    assert channel_names("all")[6:] == ("threat", "hiding", "danger_next", "flow", "lookahead", "trap_next")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (12, 3, 5)
    obs, *_ = env.step(3)  # east to (1, 1), phase 1
    assert np.array_equal(obs[9], flow_view(flow_costs(level), (1, 1)))
    assert np.array_equal(obs[10], env.world.watched[3].reshape(3, 5))  # watched two steps on: phase 3
    assert obs[10, 1, 2] == 1 and obs[5, 2, 2] == 1  # the guard back in the middle at 3, at the bottom at 2


def test_trap_next_marks_the_dead_ends_in_time():
    """A 1x6 corridor with a sentry on (0, 3) looking east (range 3, 90 degrees) at phases 0-1 and west at 2-3.
    From (0, 0) at phase 0, staying or stepping east is safe, but at phase 1 both cells are dead ends: at
    phase 2 the sentry sees (0, 0), (0, 1) and (0, 2), every cell one action reaches from them."""
    from stealth_oracle import danger_next, trap_next

    sentry = Guard("sentry", 3, 90, at=(0, 3), facings=(0.0, 180.0), turn_every=2)
    level = Level("trap", np.zeros((1, 6), bool), (0, 0), (0, 5), (sentry,))
    world = level.world
    assert np.flatnonzero(world.watched[2]).tolist() == [0, 1, 2, 3]
    assert np.flatnonzero(trap_next(world, 0, 0)).tolist() == [0, 1]
    assert not danger_next(world, 0, 0).any()
    assert not trap_next(world, 0, 2).any() and np.flatnonzero(danger_next(world, 0, 2)).tolist() == [0, 1]
    assert not trap_next(world, 0, 3).any()  # phase 0 and 1 look east: (0, 0) and (0, 1) stay safe
    env = StealthEnv(level=level, nav_features="trap_next,danger_next", obs_mode="local", local_size=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (8, 3, 3) and obs[7, 1].tolist() == [0, 1, 1]  # the window around (0, 0), row 0 in the middle
