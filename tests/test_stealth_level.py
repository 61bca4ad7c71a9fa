"""Level files: every LevelError case, the bundled maps, the generator."""

import numpy as np
import pytest

from envs.stealth import rules
from envs.stealth.level import (
    LevelError,
    bundled_levels,
    generate_level,
    load_level,
    parse_level,
    save_level,
)

GOOD = """name = "t"
grid = '''
#######
S.....G
#.....#
#######
'''

[[guard]]
kind = "sentry"
at = [2, 3]
facings = ["S"]
view_range = 2
fov_deg = 90
"""


def parse_error(text: str) -> LevelError:
    with pytest.raises(LevelError) as info:
        parse_level(text, source="bad.toml")
    return info.value


def test_good_level_parses():
    level = parse_level(GOOD, source="good.toml")
    assert level.shape == (4, 7) and level.start == (1, 0) and level.goal == (1, 6)
    assert level.guards[0].facings == (270.0,)


def test_unknown_character_names_file_line_and_cell():
    e = parse_error(GOOD.replace("#.....#", "#..x..#"))
    assert e.file == "bad.toml" and e.line == 5
    assert str(e).startswith("bad.toml:5: unknown character 'x' at row 2, col 3")


@pytest.mark.parametrize(
    "old,new,line,words",
    [
        ("S.....G", "......G", 2, "no start 'S'"),
        ("S.....G", "S......", 2, "no goal 'G'"),
        ("#.....#\n#######", "S.....#\n#######", 5, "2 start 'S' cells"),
        ("#.....#\n#######", "#.....G\n#######", 5, "2 goal 'G' cells"),
        ("S.....G", ".S....G", 4, "must be on the left edge"),
        ("#.....#", "#.....", 5, "row 2 has 6 cells"),
    ],
)
def test_grid_errors(old, new, line, words):
    e = parse_error(GOOD.replace(old, new, 1))
    assert words in e.reason
    assert e.line == line


PATROL = """grid = '''
########
S......G
#......#
#......#
########
'''

[[guard]]
kind = "patrol"
route = ROUTE
view_range = 1
fov_deg = 90
"""


def test_route_through_a_wall():
    e = parse_error(
        PATROL.replace("ROUTE", "[[3, 1], [3, 6]]").replace("#......#\n########", "#...#..#\n########")
    )
    assert "goes through the wall at [3, 4]" in e.reason and e.line == 11


def test_route_step_not_between_adjacent_cells():
    e = parse_error(PATROL.replace("ROUTE", "[[2, 1], [3, 2]]"))
    assert "not a straight horizontal or vertical segment" in e.reason and e.line == 11
    # a loop's closing leg, last waypoint -> first, must be straight too
    e = parse_error(PATROL.replace("ROUTE", '[[2, 1], [2, 3], [3, 3]]\nmode = "loop"'))
    assert "from [3, 3] to [2, 1]" in e.reason


def test_guard_off_the_map():
    e = parse_error(PATROL.replace("ROUTE", "[[2, 1], [2, 9]]"))
    assert "(row 2, col 9) is off the 5x8 map" in e.reason and e.line == 11
    e = parse_error(GOOD.replace("at = [2, 3]", "at = [7, 3]"))
    assert "off the 4x7 map" in e.reason and e.line == 11


def test_guard_on_a_wall_and_bad_values():
    assert "is a wall" in parse_error(GOOD.replace("at = [2, 3]", "at = [0, 3]")).reason
    assert "fov_deg must be in (0, 360]" in parse_error(GOOD.replace("fov_deg = 90", "fov_deg = 400")).reason
    assert "unknown facing 'UP'" in parse_error(GOOD.replace('["S"]', '["UP"]')).reason
    assert "kind must be 'patrol' or 'sentry'" in parse_error(GOOD.replace('"sentry"', '"ninja"')).reason
    assert "unknown key 'speed'" in parse_error(GOOD + "speed = 2\n").reason


def test_toml_syntax_error_has_line():
    e = parse_error(GOOD.replace("view_range = 2", "view_range = = 2"))
    assert e.line == 13 and "not valid TOML" in e.reason


def test_no_safe_path_unless_allowed():
    # a sentry in the only corridor, looking all around: nobody gets past
    text = (
        GOOD.replace("#.....#", "#######")
        .replace("at = [2, 3]", "at = [1, 3]")
        .replace("fov_deg = 90", "fov_deg = 360")
    )
    e = parse_error(text)
    assert "no safe path" in e.reason and "allow_unsolvable=True" in e.reason
    level = parse_level(text, allow_unsolvable=True)
    assert rules.safe_path(level.world, level.world.start) is None


def test_load_by_path_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace("S.....G", "S.....?"))
    with pytest.raises(LevelError, match=r"broken\.toml:4: unknown character '\?'"):
        load_level(path)
    with pytest.raises(LevelError, match="bundled levels: tutorial"):
        load_level("no_such_level")


def test_bundled_levels_rise_in_difficulty_up_to_64x64():
    names = bundled_levels()
    assert len(names) >= 8 and names[0] == "tutorial"
    levels = [load_level(n) for n in names]  # loading checks that each has a safe path
    assert [lv.difficulty for lv in levels] == sorted(lv.difficulty for lv in levels)
    assert len(levels[0].guards) == 1
    biggest = max(levels, key=lambda lv: lv.walls.size)
    assert biggest.shape == (64, 64)
    kinds = {g.kind for g in biggest.guards}
    assert kinds == {"patrol", "sentry"} and len(biggest.guards) >= 4


def test_save_and_reload_round_trip(tmp_path):
    level = generate_level(0.7, 3)
    path = save_level(level, tmp_path / "sub" / "gen.toml")
    again = load_level(path)
    assert np.array_equal(again.walls, level.walls) and again.guards == level.guards
    assert (again.start, again.goal, again.max_steps) == (level.start, level.goal, level.max_steps)
    assert not list(path.parent.glob("*.tmp"))


def test_generator_is_deterministic():
    a, b, c = generate_level(0.6, 11), generate_level(0.6, 11), generate_level(0.6, 12)
    assert np.array_equal(a.walls, b.walls) and a.guards == b.guards and a.start == b.start
    assert not (np.array_equal(a.walls, c.walls) and a.guards == c.guards)
    assert generate_level(0.3, 5, size=(9, 13)).shape == (9, 13)
    with pytest.raises(ValueError, match="difficulty"):
        generate_level(1.5, 0)


def test_difficulty_raises_guards_and_size():
    easy = [generate_level(0.0, s) for s in range(5)]
    hard = [generate_level(1.0, s) for s in range(5)]
    assert max(len(lv.guards) for lv in easy) < min(len(lv.guards) for lv in hard)
    assert all(lv.shape == (8, 8) for lv in easy) and all(lv.shape == (24, 24) for lv in hard)


@pytest.mark.parametrize("seed", range(50))
def test_generated_levels_are_solvable(seed):
    level = generate_level((seed % 11) / 10, seed)
    world = level.world
    assert 24 % world.period == 0
    path = rules.safe_path(world, world.start, 0)
    assert path is not None and path[0] == world.start and path[-1] == world.goal


def test_documented_example_level_parses_and_is_solvable():
    import textwrap

    import envs.stealth.level as level_module

    doc = level_module.__doc__
    example = textwrap.dedent(doc.split("::\n", 1)[1].split("Bad files raise")[0])
    level = parse_level(example, source="docstring")
    assert level.shape == (5, 12) and [g.kind for g in level.guards] == ["patrol", "sentry"]
    assert len(rules.safe_path(level.world, level.world.start)) - 1 == 19
