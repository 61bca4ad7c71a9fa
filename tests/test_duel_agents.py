"""Duel agents: the scripted character AI (specs, knobs, styles, strength order), the keyboard
mapping, the sb3:PATH loader and the `sandbox play` verb."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from gymnasium import spaces

from agents import make_agent, valid_specs
from agents.character import PRESETS, CharacterParams, Intent, ScriptedFighter
from agents.character.arena import match, play_round
from agents.opponents import make_duel_env
from envs.duel import env as E
from envs.duel import rules
from envs.duel.controls import button_from_keys, stick_from_keys
from envs.duel.env import observe
from envs.duel.rules import Button, Stick

MD = spaces.MultiDiscrete([9, 4])


def test_specs_are_registered():
    forms = valid_specs()
    for prefix in ("scripted:", "sb3:PATH", "human"):
        assert prefix in forms
    for name in ("easy", "normal", "hard", "rushdown", "zoner", "turtle", "zoner-hard", "0.3"):
        agent = make_agent(f"scripted:{name}", action_space=MD, rng=np.random.default_rng(0))
        assert isinstance(agent, ScriptedFighter)
    assert make_agent("scripted:zoner-hard").params.style == "zoner"
    assert make_agent("scripted:0.3").params == CharacterParams.from_difficulty(0.3)
    for bad in ("scripted:boss", "scripted:zoner-insane", "scripted:1.5"):
        with pytest.raises(ValueError, match="valid"):
            make_agent(bad)


def test_presets_order_the_knobs():
    easy, normal, hard = (CharacterParams.from_difficulty(PRESETS[k]) for k in ("easy", "normal", "hard"))
    assert easy.reaction_ticks > normal.reaction_ticks > hard.reaction_ticks
    assert easy.error_rate > normal.error_rate > hard.error_rate
    assert easy.guard_prob < normal.guard_prob < hard.guard_prob
    assert CharacterParams.from_difficulty(0.0).reaction_ticks == 28
    assert CharacterParams.from_difficulty(1.0).reaction_ticks == 4


def test_predict_speaks_both_action_forms_and_is_seeded():
    obs = observe(rules.initial_state(), 0)
    md = make_agent("scripted:hard", action_space=MD, rng=np.random.default_rng(1))
    flat = make_agent("scripted:hard", action_space=spaces.Discrete(36), rng=np.random.default_rng(1))
    a, state = md.predict(obs)
    b, _ = flat.predict(obs)
    assert MD.contains(a) and state is None and 0 <= b < 36 and b == a[0] * 4 + a[1]
    runs = []
    for _ in range(2):
        agent = make_agent("scripted:normal", action_space=MD, rng=np.random.default_rng(9))
        runs.append(play_round(agent, make_agent("scripted:normal", rng=np.random.default_rng(10)),
                               round_seconds=10))
    assert runs[0] == runs[1]


def test_reaction_delay_is_measured_in_ticks():
    """A fighter with reaction_ticks=16 at frame_skip 4 sees the opponent 4 decisions late."""
    params = CharacterParams(reaction_ticks=16, error_rate=0.0, guard_prob=1.0)
    agent = ScriptedFighter(params, rng=np.random.default_rng(0), frame_skip=4)
    s = rules.initial_state()
    s.fighters[1].x = s.fighters[0].x + 2 * rules.HALF_WIDTH + 70  # inside the heavy's reach + margin
    calm = observe(s, 0)
    s.fighters[1].state, s.fighters[1].move, s.fighters[1].frame = rules.FState.ATTACK, rules.Move.HEAVY, 2
    threat = observe(s, 0)
    agent.predict(calm)
    intents = []
    for _ in range(6):
        agent.predict(threat)
        intents.append(agent.last_intent)
    assert Intent.GUARD not in intents[:3] and intents[4] == Intent.GUARD


def test_scripted_guards_a_low_crouching_and_an_overhead_standing():
    params = CharacterParams(reaction_ticks=0, error_rate=0.0, guard_prob=1.0)
    for move, stick in ((rules.Move.LOW, Stick.DOWN_BACK), (rules.Move.OVERHEAD, Stick.BACK)):
        s = rules.initial_state()
        s.fighters[1].x = s.fighters[0].x + 2 * rules.HALF_WIDTH + 20
        s.fighters[1].state, s.fighters[1].move, s.fighters[1].frame = rules.FState.ATTACK, move, 2
        agent = ScriptedFighter(params, rng=np.random.default_rng(0))
        action, _ = agent.predict(observe(s, 0))
        assert tuple(action) == (stick, Button.NONE)


def test_styles_fight_differently():
    """Zoners throw projectiles from afar, rushdowns stay close, turtles guard the most."""
    stats = {}
    for style in ("rushdown", "zoner", "turtle"):
        intents, gaps = Counter(), []
        for k in range(6):
            env = make_duel_env(opponent="scripted:normal", round_seconds=20)
            obs, _ = env.reset(seed=k)
            me = make_agent(f"scripted:{style}", action_space=env.action_space, rng=np.random.default_rng(k))
            done = False
            while not done:
                action, _ = me.predict(obs)
                intents[me.last_intent] += 1
                obs, _, done, _, _ = env.step(action)
                gaps.append(obs[E.OBS_GAP])
        total = sum(intents.values())
        stats[style] = {"zone": intents[Intent.ZONE] / total, "guard": intents[Intent.GUARD] / total,
                        "away": intents[Intent.KEEP_DISTANCE] / total, "gap": float(np.mean(gaps))}
    assert stats["zoner"]["zone"] > 2 * stats["rushdown"]["zone"]
    assert stats["zoner"]["away"] > 2 * stats["rushdown"]["away"]
    assert stats["zoner"]["gap"] > 1.2 * stats["rushdown"]["gap"]
    assert stats["turtle"]["guard"] > stats["rushdown"]["guard"]


@pytest.mark.slow
def test_strength_order_over_200_seeded_rounds():
    """hard beats normal, normal beats easy, easy beats random, each over 200 seeded rounds."""
    for strong, weak in (("scripted:hard", "scripted:normal"), ("scripted:normal", "scripted:easy"),
                         ("scripted:easy", "random")):
        result = match(strong, weak, rounds=200, seed=2026, round_seconds=20)
        assert result["wins"] > result["losses"] + 20, result


@pytest.mark.slow
def test_difficulty_range_spans_an_even_match_for_a_random_player():
    """At difficulty 0 the scripted fighter (idling) loses to random; at easy it wins. So somewhere in
    [0, easy] a director finds an even match even for the weakest player."""
    floor = match("random", "scripted:0.0", rounds=80, seed=5, round_seconds=10)
    easy = match("random", "scripted:easy", rounds=80, seed=5, round_seconds=10)
    assert floor["wins"] > floor["losses"] + 20, floor
    assert easy["losses"] > easy["wins"] + 10, easy


def test_presets_never_idle_and_idling_grows_below_easy():
    from agents.character.scripted import CharacterParams

    assert CharacterParams.from_difficulty(0.15).idle_prob == 0.0
    assert CharacterParams.from_difficulty(0.5).idle_prob == 0.0
    assert CharacterParams.from_difficulty(0.0).idle_prob == pytest.approx(0.95)
    assert CharacterParams.from_difficulty(0.075).idle_prob == pytest.approx(0.475)


def test_match_alternates_sides_and_counts():
    result = match("scripted:hard", "scripted:hard", rounds=6, seed=0, round_seconds=5)
    assert result["wins"] + result["losses"] + result["draws"] == 6


def test_keyboard_mapping_is_relative_to_facing():
    # facing right: right arrow is forward; facing left it is back
    assert stick_from_keys(False, False, False, True, facing=1) == Stick.FORWARD
    assert stick_from_keys(False, False, False, True, facing=-1) == Stick.BACK
    assert stick_from_keys(False, True, True, False, facing=1) == Stick.DOWN_BACK
    assert stick_from_keys(True, False, True, False, facing=-1) == Stick.UP_FORWARD
    assert stick_from_keys(True, True, True, True, facing=1) == Stick.NEUTRAL
    assert button_from_keys(True, False, False) == Button.LIGHT
    assert button_from_keys(True, True, True) == Button.SPECIAL


def test_human_agent_reads_the_keyboard(monkeypatch):
    import pygame

    from envs.duel.controls import HumanAgent

    env = make_duel_env(opponent="scripted:easy", render_mode="human", frame_skip=1)
    obs, _ = env.reset(seed=0)
    held = {pygame.K_LEFT, pygame.K_x}

    class Keys:
        def __getitem__(self, code):
            return code in held

    monkeypatch.setattr(pygame.key, "get_pressed", lambda: Keys())
    agent = HumanAgent(player=1, input="keyboard")
    action, _ = agent.predict(obs)
    assert tuple(action) == (Stick.BACK, Button.NONE)  # the stick is held; a held button is not a press
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_x))
    action, _ = agent.predict(obs)
    assert tuple(action) == (Stick.BACK, Button.HEAVY)  # fighter 0 faces right: left is back
    env.close()
    with pytest.raises(RuntimeError, match="render_mode='human'"):
        HumanAgent().predict(obs)


@pytest.fixture(scope="module")
def sb3_zips(tmp_path_factory):
    from stable_baselines3 import DQN, PPO

    folder = tmp_path_factory.mktemp("sb3")
    ppo = PPO("MlpPolicy", make_duel_env(opponent="random"), n_steps=32, batch_size=32, n_epochs=1, seed=0,
              device="cpu")
    ppo.learn(32)
    ppo.save(folder / "ppo_duel")
    dqn = DQN("MlpPolicy", make_duel_env(opponent="random", flat_actions=True), learning_starts=0, seed=0,
              buffer_size=100, device="cpu")
    dqn.learn(16)
    dqn.save(folder / "dqn_duel")
    return folder, ppo


def test_sb3_spec_loads_any_algorithm_and_plays(sb3_zips):
    folder, ppo = sb3_zips
    agent = make_agent(f"sb3:{folder / 'ppo_duel.zip'}")
    obs = observe(rules.initial_state(), 1)
    np.testing.assert_array_equal(agent.predict(obs)[0], ppo.predict(obs, deterministic=True)[0])
    dqn_agent = make_agent(f"sb3:{folder / 'dqn_duel'}")  # no suffix, found as DQN by trying
    assert type(dqn_agent.model).__name__ == "DQN"
    env = make_duel_env(opponent=f"sb3:{folder / 'ppo_duel.zip'}")
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())
    env = make_duel_env(opponent=f"sb3:{folder / 'dqn_duel.zip'}", flat_actions=True)
    env.reset(seed=0)
    env.step(5)


def test_sb3_spec_errors(sb3_zips, tmp_path):
    folder, _ = sb3_zips
    with pytest.raises(FileNotFoundError, match="not found"):
        make_agent(f"sb3:{tmp_path / 'missing.zip'}")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a stable-baselines3 model"):
        make_agent(f"sb3:{junk}")
    (folder / "ppo_duel.json").write_text(json.dumps({"algo": "Q-learning"}))
    with pytest.raises(ValueError, match="unknown algo"):
        make_agent(f"sb3:{folder / 'ppo_duel.zip'}")
    (folder / "ppo_duel.json").write_text(json.dumps({"algo": "ppo"}))
    assert type(make_agent(f"sb3:{folder / 'ppo_duel.zip'}").model).__name__ == "PPO"
    (folder / "ppo_duel.json").unlink()


def test_play_without_a_display_is_one_clear_line(capsys, monkeypatch):
    from experiments.cli import main

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert main(["play", "duel", "--vs", "scripted:normal"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "xvfb-run" in err


def test_play_loop_runs_a_round_headless(capsys, monkeypatch):
    """With the window forced onto SDL's dummy driver, an idle player loses a short round to hard."""
    import envs.display
    from experiments.cli import main

    monkeypatch.setattr(envs.display, "display_available", lambda: True)
    assert main(["play", "duel", "--vs", "scripted:hard", "--rounds", "1", "--round-seconds", "1.5",
                 "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "round 1:" in out and "you 0 - 1 scripted:hard" in out
    with pytest.raises(SystemExit):
        main(["play", "chess"])
