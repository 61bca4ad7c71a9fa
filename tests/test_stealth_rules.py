"""Known-answer tests of the stealth rules: guard motion, supercover vision, detection."""

import itertools

import numpy as np
import pytest

from envs.stealth import rules
from envs.stealth.level import Guard, Level
from envs.stealth.rules import Action


def seen(walls, cell, facing, view_range, fov):
    mask = rules.visible_cells(np.asarray(walls, bool), cell, facing, view_range, fov)
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=False)}


OPEN = np.zeros((5, 7), bool)
# guard on (2, 0) facing east, 90-degree cone, range 3: worked by hand (the 45-degree edges count,
# (1, 3) is at distance sqrt(10) > 3)
EAST_CONE = {(2, 0), (2, 1), (2, 2), (2, 3), (1, 1), (3, 1), (1, 2), (3, 2), (0, 2), (4, 2)}


def test_open_cone_exact_cells():
    assert seen(OPEN, (2, 0), 0.0, 3, 90) == EAST_CONE


def test_wall_blocks_sight_behind_it_only():
    walls = OPEN.copy()
    walls[2, 2] = True
    # (2, 2) is a wall, (2, 3) is behind it; the segments to (1, 2) and (0, 2) miss the wall
    assert seen(walls, (2, 0), 0.0, 3, 90) == EAST_CONE - {(2, 2), (2, 3)}


def test_corner_rule_blocks_diagonals_past_a_wall():
    walls = OPEN.copy()
    walls[2, 1] = True
    # every line out of the cone touches (2, 1): the diagonals pass exactly through its corners
    assert seen(walls, (2, 0), 0.0, 3, 90) == {(2, 0)}


def test_outside_cone_and_range():
    assert seen(OPEN, (4, 3), 90.0, 2, 60) == {(4, 3), (3, 3), (2, 3)}  # (3, 2) is 45 deg off: unseen
    assert seen(OPEN, (4, 3), 90.0, 1.5, 60) == {(4, 3), (3, 3)}  # (2, 3) is 2 cells away
    assert seen(OPEN, (4, 3), 90.0, 1.5, 360) == {(4, 3), (3, 3), (3, 2), (3, 4), (4, 2), (4, 4)}


def test_guard_sees_own_cell_even_with_zero_range():
    assert seen(OPEN, (1, 1), 0.0, 0, 10) == {(1, 1)}


def test_supercover_known_and_symmetric():
    assert rules.supercover((2, 0), (2, 3)) == [(2, 0), (2, 1), (2, 2), (2, 3)]
    assert rules.supercover((2, 0), (1, 2)) == [(2, 0), (2, 1), (1, 1), (1, 2)]
    assert rules.supercover((2, 0), (0, 2)) == [(2, 0), (2, 1), (1, 0), (1, 1), (1, 2), (0, 1), (0, 2)]
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = tuple(rng.integers(0, 9, 2)), tuple(rng.integers(0, 9, 2))
        assert set(rules.supercover(a, b)) == set(rules.supercover(b, a))


def test_line_of_sight_is_symmetric_on_random_walls():
    rng = np.random.default_rng(1)
    walls = rng.random((9, 9)) < 0.3
    floor = list(zip(*np.nonzero(~walls), strict=False))
    for a, b in itertools.islice(itertools.combinations(floor, 2), 800):
        assert rules.line_of_sight(walls, a, b) == rules.line_of_sight(walls, b, a)


def test_patrol_cells_and_facings():
    assert rules.patrol_cells([(0, 0), (0, 3)], "pingpong") == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 2),
        (0, 1),
    ]
    loop = rules.patrol_cells([(0, 0), (0, 2), (2, 2), (2, 0)], "loop")
    assert loop == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
    track = rules.guard_track(Guard("patrol", 3, 90, route=((0, 0), (0, 2)), mode="pingpong"))
    assert track == [((0, 0), 0.0), ((0, 1), 0.0), ((0, 2), 180.0), ((0, 1), 180.0)]
    sentry = Guard("sentry", 3, 90, at=(1, 1), facings=(90.0, 0.0), turn_every=2)
    assert rules.guard_track(sentry) == [((1, 1), 90.0), ((1, 1), 90.0), ((1, 1), 0.0), ((1, 1), 0.0)]
    guards = [Guard("patrol", 1, 90, route=((0, 0), (0, 3))), Guard("patrol", 1, 90, route=((0, 0), (0, 2)))]
    assert rules.world_period(guards) == 12  # lcm(6, 4)


def corridor(guard: Guard, length: int = 6) -> Level:
    walls = np.zeros((1, length), bool)
    return Level("corridor", walls, (0, 0), (0, length - 1), (guard,))


def test_swap_with_a_guard_is_caught():
    # a blind guard (sees only its own cell) paces (0,3) <-> (0,2); period 2
    level = corridor(Guard("patrol", 0, 1, route=((0, 3), (0, 2))))
    world = level.world
    assert world.period == 2
    at = world.flat((0, 2))
    # phase 0: guard on (0,3) about to step to (0,2). The player steps (0,2) -> (0,3): they swap.
    new, caught, goal = rules.transition(world, at, 0, Action.EAST)
    assert new == world.flat((0, 3)) and not world.watched[1, new] and caught and not goal
    # staying on (0,2): the guard walks onto the player (a guard sees its own cell)
    assert rules.transition(world, at, 0, Action.STAY)[1]
    # stepping away west is safe
    assert not rules.transition(world, at, 0, Action.WEST)[1]
    # from (0,4) stepping onto (0,3) while the guard leaves it: following a guard is safe
    assert not rules.transition(world, world.flat((0, 4)), 0, Action.WEST)[1]


def test_caught_on_watched_cell_and_goal_while_seen_is_caught():
    # a sentry on (0,2) looks east two cells: (0,3), (0,4) are watched at every phase
    level = corridor(Guard("sentry", 2, 90, at=(0, 2), facings=(0.0,)), length=5)
    world = level.world
    assert set(np.flatnonzero(world.watched[0])) == {2, 3, 4}
    new, caught, goal = rules.transition(world, world.flat((0, 3)), 0, Action.EAST)
    assert new == world.goal and caught and not goal
    assert not rules.transition(world, world.flat((0, 1)), 0, Action.WEST)[1]


def test_blocked_moves_stay_and_transition_is_vectorised():
    walls = np.array([[0, 1, 0], [0, 0, 0]], bool)
    move = rules.move_table(walls)
    assert move[0, Action.EAST] == 0 and move[0, Action.NORTH] == 0 and move[0, Action.SOUTH] == 3
    level = Level("tiny", walls, (1, 0), (1, 2), ())
    cells = np.array([0, 3, 4, 5])
    new, caught, goal = rules.transition(level.world, cells, np.zeros(4, int), np.full(4, Action.EAST))
    assert new.tolist() == [0, 4, 5, 5] and not caught.any() and goal.tolist() == [False, False, True, True]


def test_action_outcomes():
    assert rules.action_outcomes(Action.NORTH, 0.0) == ((Action.NORTH, 1.0),)
    assert rules.action_outcomes(Action.STAY, 0.5) == ((Action.STAY, 1.0),)
    out = rules.action_outcomes(Action.EAST, 0.2)
    assert out == ((Action.EAST, 0.8), (Action.NORTH, 0.1), (Action.SOUTH, 0.1))
    assert sum(p for _, p in out) == pytest.approx(1.0)


def test_compiled_vision_equals_the_reference_rule():
    """The numba vision is the Python rule (in_cone + supercover line of sight), cell for cell, on random
    walls, cells, facings (the 45-degree edges included), ranges and cones (360 included)."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(400):
        h, w = int(rng.integers(3, 14)), int(rng.integers(3, 14))
        walls = rng.random((h, w)) < rng.uniform(0.0, 0.4)
        cell = (int(rng.integers(h)), int(rng.integers(w)))
        walls[cell] = bool(rng.random() < 0.05)  # now and then a guard "on" a wall sees nothing there
        facing = float(rng.choice([0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0, rng.uniform(0, 360)]))
        view_range = float(rng.choice([1.0, 2.5, 3.0, 5.0, np.sqrt(8.0), rng.uniform(0.5, 9.0)]))
        fov = float(rng.choice([45.0, 90.0, 120.0, 180.0, 270.0, 360.0, rng.uniform(10, 360)]))
        got = rules.visible_cells(walls, cell, facing, view_range, fov)
        want = rules.visible_cells_reference(walls, cell, facing, view_range, fov)
        assert np.array_equal(got, want), (walls.astype(int), cell, facing, view_range, fov)
        checked += int(want.sum())
    assert checked > 2000  # the cases see something
