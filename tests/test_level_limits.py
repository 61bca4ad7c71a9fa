"""Issue 19, defect 2 (levels): bounded resources from a bounded level file.

A level's world period, its period x cells tables, its grid, its guards and their vision work have
documented limits (``envs.stealth.level``), checked before anything is allocated and reported as a
``LevelError`` naming the file and the limit. Also (defect 8, level side): NaN/inf/booleans where
numbers are asked for, and a non-UTF-8 file, are refused by name.
"""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.stealth import rules
from envs.stealth.level import (
    MAX_FILE_BYTES,
    MAX_PERIOD,
    MAX_SIDE,
    MAX_TABLE,
    MAX_VISION_WORK,
    Guard,
    Level,
    LevelError,
    bundled_levels,
    generate_level,
    load_level,
    parse_level,
)

GRID = """grid = '''
###########
#.........#
S.........G
#.........#
###########
'''
"""


def sentry(at=(1, 5), facings='["N", "S"]', turn_every=1, view_range=1, fov_deg=90) -> str:
    return (f'\n[[guard]]\nkind = "sentry"\nat = [{at[0]}, {at[1]}]\nfacings = {facings}\n'
            f"turn_every = {turn_every}\nview_range = {view_range}\nfov_deg = {fov_deg}\n")


def write(tmp_path, text: str, name: str = "bad.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_sentry_with_a_huge_turn_every_is_refused_by_name(tmp_path):
    # the 190-byte file took 16 GB with turn_every = 100000000; 20000 shows the old acceptance
    for turn_every in (20_000, 100_000_000):
        path = write(tmp_path, GRID + sentry(turn_every=turn_every))
        with pytest.raises(LevelError, match=rf"bad\.toml:\d+: guard 0: period {2 * turn_every} .*exceeds the "
                                             rf"limit of {MAX_PERIOD}"):
            load_level(path)


def test_coprime_periods_are_refused_before_the_tables_are_built(tmp_path):
    text = GRID + sentry((1, 2), '["N"]', 31) + sentry((3, 5), '["S"]', 37) + sentry((1, 8), '["N"]', 41)
    with pytest.raises(LevelError, match=rf"bad\.toml:\d+: the world period .* is {31 * 37 * 41}; the limit is "
                                         rf"{MAX_PERIOD}"):
        load_level(write(tmp_path, text))


def test_a_level_built_in_code_is_checked_when_its_world_is_compiled():
    walls = np.zeros((3, 5), dtype=bool)
    level = Level("big", walls, (1, 0), (1, 4), guards=(Guard("sentry", 1.0, 90.0, at=(0, 2), facings=(90.0,),
                                                              turn_every=10**9),))
    with pytest.raises(LevelError, match=r"<level 'big'>: guard 0: period 1000000000 exceeds the limit"):
        rules.compile_world(level)


def test_grid_and_table_limits(tmp_path):
    wide = "grid = '''\n" + "S" + "." * MAX_SIDE + "G\n'''\n"
    with pytest.raises(LevelError, match=rf"wide\.toml:\d+: the grid is 1 rows x {MAX_SIDE + 2} columns; the limit "
                                         rf"is {MAX_SIDE} x {MAX_SIDE}"):
        load_level(write(tmp_path, wide, "wide.toml"))
    # 200 x 200 open cells at period 30: 1.2M table entries > 2**20
    rows = ["S" + "." * 198 + "G"] + ["." * 200] * 199
    text = "grid = '''\n" + "\n".join(rows) + "\n'''\n" + sentry((150, 100), '["N", "S", "E"]', 10, 1, 30)
    assert 30 * 200 * 200 > MAX_TABLE
    with pytest.raises(LevelError, match=rf"table\.toml: period x cells = 30 x 40000 = 1200000 exceeds the limit "
                                         rf"of {MAX_TABLE}"):
        load_level(write(tmp_path, text, "table.toml"))


def test_vision_work_limit(tmp_path):
    rows = ["S" + "." * 62 + "G"] + ["." * 64] * 63
    patrol = ('\n[[guard]]\nkind = "patrol"\nroute = [[{r}, 2], [{r}, 62]]\nmode = "pingpong"\n'
              "view_range = 100\nfov_deg = 360\n")
    text = "grid = '''\n" + "\n".join(rows) + "\n'''\n" + "".join(patrol.format(r=r) for r in (20, 40, 60))
    work = 3 * 120 * 64 * 64 * 64  # states x cells in view x line-of-sight length (range 100, clipped to 64)
    assert work > MAX_VISION_WORK
    with pytest.raises(LevelError, match=rf"vision\.toml: vision work .* is {work}; the limit is {MAX_VISION_WORK}"):
        load_level(write(tmp_path, text, "vision.toml"))


@pytest.mark.parametrize("value", ["inf", "1e300", "nan", "-1"])
def test_view_range_must_be_finite_and_bounded(tmp_path, value):
    with pytest.raises(LevelError, match=r"bad\.toml:\d+: guard 0: view_range must be a finite number in \[0, 512\]"):
        load_level(write(tmp_path, GRID + sentry(view_range=value)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GRID + sentry(facings="[nan]"), r"guard 0: unknown facing nan"),
        (GRID + sentry(facings="[inf]"), r"guard 0: unknown facing inf"),
        ("max_steps = true\n" + GRID, r"bad\.toml:1: max_steps must be a positive integer, got True"),
        ("max_steps = 2.5\n" + GRID, r"max_steps must be a positive integer, got 2.5"),
        ("max_steps = 0\n" + GRID, r"max_steps must be a positive integer, got 0"),
        ("difficulty = true\n" + GRID, r"difficulty must be a number in \[0, 1\], got True"),
        ("difficulty = nan\n" + GRID, r"difficulty must be a number in \[0, 1\], got nan"),
        ("name = 5\n" + GRID, r"bad\.toml:1: name must be a string, got 5"),
    ],
)
def test_nan_inf_and_booleans_are_refused(tmp_path, text, message):
    with pytest.raises(LevelError, match=message):
        load_level(write(tmp_path, text))


def test_non_utf8_and_oversized_files_are_refused_by_name(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(("name = 'caf\u00e9'\n" + GRID).encode("latin-1"))
    with pytest.raises(LevelError, match=r"latin1\.toml:1: not UTF-8 text \(byte 0xe9 at offset 11\)"):
        load_level(path)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(LevelError, match=rf"big\.toml: the file is larger than the limit of {MAX_FILE_BYTES} bytes"):
        load_level(big)


def test_guard_period_is_the_track_length():
    levels = [load_level(name) for name in bundled_levels()] + [generate_level(0.8, s) for s in range(5)]
    guards = [g for level in levels for g in level.guards]
    assert {g.kind for g in guards} == {"patrol", "sentry"} and {g.mode for g in guards} == {"pingpong", "loop"}
    for g in guards:
        assert rules.guard_period(g) == len(rules.guard_track(g))
    for level in levels:
        assert level.world.period == math.lcm(*(len(rules.guard_track(g)) for g in level.guards))


def test_generator_size_is_bounded():
    with pytest.raises(ValueError, match=rf"size must be from 3x3 to {MAX_SIDE}x{MAX_SIDE}, got 10000x10000"):
        generate_level(0.5, 0, size=10_000)


# ---- the property: any level file of at most 4 KB loads within the limits or is refused --------------

_QUOTES = "'" * 3


def _mostly(valid, hostile):
    """``valid`` nine times in ten, ``hostile`` the tenth."""
    return st.integers(0, 9).flatmap(lambda k: hostile if k == 0 else valid)


_number = _mostly(st.integers(1, 9).map(str), st.sampled_from(
    ["0", "-1", "1e300", "inf", "-inf", "nan", "true", '"3"', "2.5", "100000000", "999999937", "[1]"]))
_view = _mostly(st.integers(0, 9).map(str), st.one_of(st.integers(10, 200).map(str), _number))
_fov = _mostly(st.sampled_from(["90", "360", "60", "180"]), st.sampled_from(["0", "nan", "1e9", "-90"]))
_facing = _mostly(st.sampled_from(['"N"', '"SW"', "45", '"E"', "270"]),
                  st.sampled_from(["nan", "1e308", '"up"', "true"]))
_turn_every = _mostly(st.one_of(st.integers(1, 9).map(str), st.sampled_from(["7", "11", "13", "97", "4999"])),
                      _number)


def _line(a, b):
    (r0, c0), (r1, c1) = a, b
    return [(r, c) for r in range(min(r0, r1), max(r0, r1) + 1) for c in range(min(c0, c1), max(c0, c1) + 1)]


@st.composite
def level_texts(draw) -> str:
    """Level files of at most 4 KB: random grids and guards, mostly well formed, with hostile values
    (huge, coprime or non-finite periods and ranges, wrong types) mixed in."""
    h, w = draw(st.integers(1, 40)), draw(st.integers(2, 60))
    cells = draw(st.lists(st.sampled_from(".........#"), min_size=h * w, max_size=h * w))
    grid = [cells[r * w : (r + 1) * w] for r in range(h)]
    guards, floor = [], []
    for _ in range(draw(st.integers(0, 5))):
        r, c = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        common = f"view_range = {draw(_view)}\nfov_deg = {draw(_fov)}\n"
        if draw(st.booleans()):
            facings = draw(st.lists(_facing, min_size=1, max_size=4))
            guards.append(f'\n[[guard]]\nkind = "sentry"\nat = [{r}, {c}]\nfacings = [{", ".join(facings)}]\n'
                          f"turn_every = {draw(_turn_every)}\n{common}")
            floor.append((r, c))
        else:  # straight legs along alternating axes, so that most routes are valid
            route = [(r, c)]
            for k in range(draw(st.integers(0, 4))):
                r, c = (r, draw(st.integers(0, w - 1))) if k % 2 == 0 else (draw(st.integers(0, h - 1)), c)
                floor += _line(route[-1], (r, c))
                route.append((r, c))
            mode = draw(st.sampled_from(["pingpong", "loop"]))
            guards.append('\n[[guard]]\nkind = "patrol"\nroute = [' + ", ".join(f"[{a}, {b}]" for a, b in route)
                          + f']\nmode = "{mode}"\n{common}')
    for r, c in floor:
        grid[r][c] = "."
    sr, gr = draw(st.integers(0, h - 1)), draw(st.integers(0, h - 1))
    grid[sr][0], grid[gr][w - 1] = "S", "G"
    head = [f"max_steps = {draw(_number)}\n"] if draw(st.booleans()) else []
    head.append(f"grid = {_QUOTES}\n" + "\n".join("".join(row) for row in grid) + f"\n{_QUOTES}\n")
    return "".join(head + guards)[:4096]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(level_texts(), st.text(alphabet=string.printable, max_size=400)))
def test_any_small_level_file_loads_within_limits_or_is_refused(text):
    assert len(text.encode("utf-8")) <= 4096
    try:
        level = parse_level(text, source="fuzz.toml", allow_unsolvable=True)
    except LevelError as exc:
        assert str(exc).startswith("fuzz.toml")
        return
    world = level.world
    h, w = level.shape
    assert h <= MAX_SIDE and w <= MAX_SIDE
    assert world.period <= MAX_PERIOD and world.period * h * w <= MAX_TABLE
    assert world.watched.shape == (world.period, h * w)
