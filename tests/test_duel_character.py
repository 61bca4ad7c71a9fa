"""Characters (frame data and physics as a validated TOML table) and the duel's one configuration: the
shipped table is the rules as they were, a character file changes the game it says it changes, and
every form of the duel refuses the same bad input with the same one-line error."""

from __future__ import annotations

import dataclasses
import re

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.duel import layout as L
from envs.duel import parallel_env, rules
from envs.duel.character import (
    CharacterError,
    character_arrays,
    character_table,
    default_character,
    load_character,
    parse_character,
    shipped_characters,
)
from envs.duel.config import DuelConfig
from envs.duel.layout import Move
from envs.duel.vector import DuelVectorEnv

# The frame-data table the duel shipped with before it became a file (name, startup, active, recovery,
# damage, chip, hitstun, blockstun, knockback, reach, box_low, box_high): written out here by hand.
SHIPPED_TABLE = {
    Move.JAB: (4, 3, 8, 5, 0, 14, 10, 8, 40, 50, 85),
    Move.HEAVY: (10, 4, 18, 12, 2, 20, 14, 20, 65, 45, 90),
    Move.LOW: (6, 3, 12, 6, 1, 15, 11, 10, 50, 0, 30),
    Move.OVERHEAD: (18, 3, 16, 10, 2, 18, 12, 14, 45, 50, 110),
    Move.ANTI_AIR: (5, 6, 24, 11, 1, 24, 12, 14, 35, 60, 190),
    Move.AIR_KICK: (5, 8, 6, 8, 1, 16, 12, 10, 35, -30, 40),
    Move.THROW: (5, 2, 22, 14, 0, 30, 0, 40, 25, 0, 100),
    Move.PROJECTILE: (16, 1, 28, 7, 1, 18, 12, 10, 30, 55, 80),
}


def test_the_shipped_file_is_the_old_table():
    ch = default_character()
    for m, row in SHIPPED_TABLE.items():
        assert tuple(ch.frame_data[m])[1:12] == row, m
    assert (ch.max_health, ch.half_width, ch.jump_speed, ch.gravity, ch.tech_window) == (200, 20, 16, 1, 7)
    assert ch.max_jump_height == 16 * 17 // 2  # 136, the apex the observation divides y by
    assert ch.max_stun == 30
    assert "default" in shipped_characters()


def test_max_jump_height_is_the_apex_the_rules_reach():
    """Known answers (16 + 15 + ... + 1 = 136; with gravity 3: 16 + 13 + 10 + 7 + 4 + 1 = 51), and the
    kernels' jump reaches exactly that apex."""
    ch = default_character()
    assert ch.max_jump_height == 136
    heavy = dataclasses.replace(ch, gravity=3).validate()
    assert heavy.max_jump_height == 51
    for c in (ch, heavy):
        s = rules.initial_state(600, (c, c))
        apex = 0
        for _ in range(60):
            s, _ = rules.step(s, ((1, 0), (0, 0)))
            apex = max(apex, s.fighters[0].y)
        assert apex == c.max_jump_height


def test_a_file_changes_only_what_it_says(tmp_path):
    path = tmp_path / "slow_jab.toml"
    path.write_text('name = "slow jab"\n[moves.jab]\nstartup = 9\n\n[body]\nwalk_forward_speed = 6\n')
    ch = load_character(path)
    base = default_character()
    assert ch.name == "slow jab" and ch.move(Move.JAB).startup == 9 and ch.walk_forward_speed == 6
    assert ch.move(Move.HEAVY) == base.move(Move.HEAVY) and ch.max_health == base.max_health


def test_a_character_changes_the_game(tmp_path):
    """A faster walk reaches the other fighter sooner; a jab of 50 damage takes 50 health: the kernels read
    the table of each fighter."""
    path = tmp_path / "fast.toml"
    path.write_text("[body]\nwalk_forward_speed = 8\n[moves.jab]\ndamage = 50\n")
    env = gym.make("sandbox/Duel-v0", opponent="random", character=(str(path), "default")).unwrapped
    env.reset(seed=0)
    x0 = env.state.fighters[0].x
    env.step(np.array([3, 0]))  # forward, 4 ticks
    assert env.state.fighters[0].x - x0 == 4 * 8
    s = rules.initial_state(600, (load_character(path), default_character()))
    s.fighters[0].x, s.fighters[1].x = 380, 430
    for _ in range(5):
        s, events = rules.step(s, ((0, 1), (0, 0)))  # jab into a standing opponent
        if events:
            break
    assert events[0]["type"] == "hit" and events[0]["damage"] == 50 and s.fighters[1].health == 150


@pytest.mark.parametrize(("text", "where", "words"), [
    ("[moves.jab]\nstartup = -3\n", ":2:", "moves.jab.startup must be in [1, 120]; got -3"),
    ("[moves.heavy]\nrecovery = 240\nstartup = 120\nactive = 60\n", ":1:", "lasts 420 ticks"),
    ("[moves.low]\nreach = 1000000000\n", ":2:", "moves.low.reach must be in [0, 800]"),
    ("[body]\nmax_health = 2.5\n", ":2:", "body.max_health must be an integer"),
    ("[body]\nwalk_forward_speed = 12\n", ":2:", "[0, 8]"),
    ("[moves.jab]\nchip = 9\n", ":2:", "chip (9) must be at most its damage (5)"),
    ("[moves.jab]\nbox_low = 90\n", ":2:", "box_low (90) must be below box_high (85)"),
    ("[moves.jab]\nlevel = \"overhead\"\n", ":2:", "level must be one of high, mid, low"),
    ("[moves.throw]\nlevel = \"mid\"\n", ":2:", "unknown key 'level' in [moves.throw]"),
    ("[moves.uppercut]\nstartup = 3\n", ":1:", "unknown move 'uppercut'"),
    ("[body]\nspeed = 3\n", ":2:", "unknown body key 'speed'"),
    ("gravity = 2\n", ":1:", "unknown key 'gravity'"),
    ("[body\nx = 1\n", ":1:", "not valid TOML"),
])
def test_bad_character_files_name_the_file_line_and_limit(tmp_path, text, where, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CharacterError) as info:
        load_character(path)
    message = str(info.value)
    assert message.startswith(str(path) + where) and words in message and "\n" not in message


def test_oversized_and_missing_files_are_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000)
    with pytest.raises(CharacterError, match="larger than the limit of 65536 bytes"):
        load_character(big)
    with pytest.raises(CharacterError, match="no such character file or shipped character; shipped: default"):
        load_character(tmp_path / "nowhere.toml")


def test_a_move_longer_than_the_limit_is_refused_by_every_form():
    text = "[moves.heavy]\nrecovery = 240\nstartup = 100\n"
    with pytest.raises(CharacterError, match="moves.heavy lasts 344 ticks"):
        parse_character(text)
    slow = dataclasses.replace(default_character(), moves=tuple(
        fd._replace(recovery=240, startup=100) if fd.name == "heavy" else fd for fd in default_character().moves))
    message = "character 'default': moves.heavy lasts 344 ticks (startup + active + recovery); the limit is 300"
    for make in (lambda: gym.make("sandbox/Duel-v0", character=slow),
                 lambda: DuelVectorEnv(num_envs=2, opponent=None, character=slow),
                 lambda: parallel_env(character=slow)):
        with pytest.raises(ValueError, match=re.escape(message)):
            make()


BAD_SETTINGS = [
    ({"frame_skip": 0}, "frame_skip must be in [1, 600]; got 0"),
    ({"frame_skip": 2.5}, "frame_skip must be an integer in [1, 600]; got 2.5"),
    ({"round_seconds": -1}, "round_seconds must be in [0.0166667, 3600]; got -1"),
    ({"round_seconds": float("nan")}, "round_seconds must be a finite number"),
    ({"flat_actions": "yes"}, "flat_actions must be True or False; got 'yes'"),
    ({"side": "middle"}, "side must be one of 'left', 'right', 'random'; got 'middle'"),
    ({"charcter": "default"}, "unknown duel setting 'charcter'; valid: character, drives, flat_actions, frame_skip"),
    ({"drives": "nope"}, "nope: no such drive table file or shipped duel table; shipped: default"),
    ({"character": 3}, "character must be a shipped name"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS, ids=[next(iter(s)) for s, _ in BAD_SETTINGS])
def test_every_form_refuses_bad_settings_with_the_same_line(settings, message):
    forms = {
        "config": lambda: DuelConfig.build(**settings),
        "single": lambda: gym.make("sandbox/Duel-v0", **settings),
        "batch": lambda: gym.make_vec("sandbox/Duel-v0", num_envs=3, **settings),
        "two-player batch": lambda: DuelVectorEnv(num_envs=3, opponent=None, **settings),
    }
    if "side" not in settings:
        forms["pettingzoo"] = lambda: parallel_env(**settings)
    seen = set()
    for name, make in forms.items():
        with pytest.raises(ValueError) as info:
            make()
        assert message in str(info.value), name
        seen.add(str(info.value))
    assert len(seen) == 1, seen  # the same one line everywhere


def test_config_object_and_keywords_are_one_thing():
    cfg = DuelConfig(frame_skip=2, round_seconds=5)
    a = gym.make("sandbox/Duel-v0", config=cfg).unwrapped
    b = gym.make("sandbox/Duel-v0", frame_skip=2, round_seconds=5).unwrapped
    assert a.config == b.config == cfg and a.round_ticks == 300
    v = gym.make_vec("sandbox/Duel-v0", num_envs=2, config=cfg)
    assert v.config == cfg and v.frame_skip == 2


def test_several_rule_sets_per_batch_and_arrays():
    heavy = dataclasses.replace(default_character(), name="heavy", max_health=300).validate()
    env = DuelVectorEnv(num_envs=4, opponent=None, character=["default", heavy, (heavy, "default"), "default"])
    assert len(env._core.characters) == 2
    assert env._core.who.tolist() == [[0, 0], [1, 1], [1, 0], [0, 0]]
    env.reset(seed=0)
    assert env._core.F[:, :, 5].tolist() == [[200, 200], [300, 300], [300, 200], [200, 200]]
    C, D = character_arrays([default_character(), heavy])
    assert C.shape[0] == 2 and D[1, Move.JAB, 0] == 4
    T = character_table([default_character(), heavy])  # what the kernels read: body, then each move's row
    assert T[1, L.C_MAX_HEALTH] == 300 and T[0, L.T_MOVES + Move.HEAVY * L.ND + L.D_STARTUP] == 10
    assert env._core.F[:, :, L.CHARACTER].tolist() == env._core.who.tolist()
    with pytest.raises(ValueError, match="a list of 4"):
        DuelVectorEnv(num_envs=4, opponent=None, character=["default", heavy])


def test_parse_refuses_files_beyond_the_size_limit():
    with pytest.raises(CharacterError, match="longer than the limit"):
        parse_character("#" * 70_000)
