"""`sandbox watch`: headless recording, the panels' arithmetic, the P2 slot, bundled agents and
``action_probs``, and one-line errors for bad agents and checkpoints. (The real window: test_watch_window.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageSequence

from experiments.cli import main
from experiments.watch.widgets import DuelTally, EmpiricalPolicy, duel_heads, rolling_rate, value_heat


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def distinct(frames) -> int:
    return len({f.tobytes() for f in frames})


# ---- headless runs ------------------------------------------------------------------------------------
def test_headless_duel_records_a_moving_gif(tmp_path, capsys):
    out = tmp_path / "out.gif"
    assert main(["watch", "duel", "--seconds", "3", "--record", str(out), "--seed", "1"]) == 0
    frames = gif_frames(out)
    assert frames[0].shape == (656, 800, 3)
    assert distinct(frames) > 1
    printed = capsys.readouterr().out
    assert f"to {out}" in printed and "60 frames" in printed  # 3 s at 20 fps
    assert not list(tmp_path.glob(".out.gif.*"))  # no temporary file left behind


def test_headless_stealth_records_a_moving_gif(tmp_path):
    out = tmp_path / "out.gif"
    assert main(["watch", "stealth", "--seconds", "3", "--record", str(out), "--seed", "0"]) == 0
    frames = gif_frames(out)
    assert frames[0].shape == (640, 900, 3)
    assert distinct(frames) > 1


def test_no_display_records_a_default_gif_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["watch", "--seconds", "1"]) == 0
    printed = capsys.readouterr().out
    assert "no display: recorded 1.0 s of the duel" in printed and "runs/watch/duel.gif" in printed
    assert (tmp_path / "runs" / "watch" / "duel.gif").is_file()


def test_mp4_recording(tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "duel.mp4"
    assert main(["watch", "duel", "--seconds", "1", "--record", str(out), "--p1", "scripted:easy"]) == 0
    reader = imageio.get_reader(str(out))
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == 20 and frames[0].shape == (656, 800, 3)


def test_same_seed_same_recording(tmp_path):
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    for path in (a, b):
        assert main(["watch", "--seconds", "1", "--seed", "3", "--record", str(path)]) == 0
    assert [f.tobytes() for f in gif_frames(a)] == [f.tobytes() for f in gif_frames(b)]


def test_stealth_shows_every_bundled_level_in_turn():
    from envs.stealth import bundled_levels
    from experiments.watch import Config, StealthSession

    session = StealthSession(Config(game="stealth", p1="planner", rounds=1, seed=0))
    seen = [session.level_name]
    while not session.finished:
        session.advance()
        if session.level_name != seen[-1]:
            seen.append(session.level_name)
    assert seen == bundled_levels()
    assert session.results == {"goal": len(seen), "caught": 0, "time": 0}  # the planner is never seen


def test_stealth_overlays_include_value_heat_for_the_optimal_agent():
    import pygame

    from experiments.watch import Config, StealthSession

    session = StealthSession(Config(game="stealth", p1="optimal", level="tutorial", seed=0))
    assert "V* (optimal)" not in session.overlays  # nothing solved yet
    session.advance()
    assert "V* (optimal)" in session.overlays
    canvas = pygame.Surface(session.size)
    for _ in session.overlays:  # every overlay draws
        session.draw(canvas, 1.0, False)
        session.cycle_overlay()


def test_stealth_draws_the_agents_drives_as_bars():
    import pygame

    from experiments.watch import Config, StealthSession

    session = StealthSession(Config(game="stealth", p1="planner", level="courtyard", seed=0, drives="default"))
    for _ in range(12):
        session.advance()
    labels, levels = session.drive_bars()
    assert labels == ["fear", "fatigue"]
    np.testing.assert_array_equal(levels, session.base.drives.state.levels()[0])
    assert levels[1] > 0.0  # the planner has been walking: fatigue
    assert "fear map" in session.overlays
    canvas = pygame.Surface(session.size)
    for _ in session.overlays:  # every overlay draws, the fear map too
        session.draw(canvas, 1.0, False)
        session.cycle_overlay()
    plain = StealthSession(Config(game="stealth", p1="planner", level="courtyard", seed=0))
    assert plain.drive_bars() is None and "fear map" not in plain.overlays


def test_duel_draws_p1s_drives_as_bars_and_a_scripted_p1_plays_on():
    import pygame

    from experiments.watch import Config, DuelSession

    session = DuelSession(Config(p1="scripted:hard", p2="scripted:normal", seed=0, rounds=1, drives="default",
                                 director="rule"))
    for _ in range(200):
        session.advance()
    labels, levels = session.drive_bars()
    assert labels == ["pain", "boredom"]
    np.testing.assert_array_equal(levels, session.base.drives.state.levels()[0])
    assert session.obs.shape == (78,) and not session.p1_sees_drives  # the scripted P1 reads 76 of them
    session.draw(pygame.Surface(session.size), 1.0, False)


# ---- the watcher shows the env's own decision steps, one tick per frame ------------------------------------
def test_the_watcher_shows_every_tick_of_the_envs_decision_steps():
    """The session steps the env a decision at a time (the one decision step) and shows its ticks one by
    one: after k frames the screen shows tick k, and P1 decides only at decision boundaries."""
    from experiments.watch import Config, DuelSession

    session = DuelSession(Config(p1="scripted:hard", p2="scripted:zoner", seed=5, rounds=1))
    assert session.base.frame_skip == session.skip == 4
    calls = []
    predict = session.p1.predict
    session.p1.predict = lambda obs, *a, **k: calls.append(session.count) or predict(obs, *a, **k)
    for k in range(1, 4 * session.skip + 1):
        session.advance()
        assert session.view.tick == k and session.count == k
    assert session.base.state.tick == 4 * session.skip  # the env is at the end of the decision shown
    assert len(session.ticks) == 0
    assert calls == [0, 4, 8, 12]  # P1 decided before ticks 1, 5, 9, 13 and held its input in between


def test_director_drives_the_scripted_opponent():
    from experiments.watch import Config, DuelSession

    session = DuelSession(Config(p1="scripted:hard", p2="scripted:normal", director="rule", seed=0,
                                 round_seconds=2, rounds=3))
    while not session.finished:
        session.advance()
    from agents.character import CharacterParams

    assert len(session.outcomes) == 3 and len(session.difficulties) == 3
    assert session.difficulties[0] == pytest.approx(0.5)  # the RuleDirector's prior
    # the opponent played the last round at the difficulty the director chose for it
    assert session.slot.agent.params == CharacterParams.from_difficulty(session.difficulties[-1])
    assert session.director.episodes == 3


def test_learned_director_from_the_bundle():
    from agents.bundled import BUNDLED_DIR
    from agents.meta import LearnedDirector
    from experiments.watch import Config, DuelSession

    if not (BUNDLED_DIR / "director.zip").is_file():
        pytest.skip("agents/bundled/director.zip is not shipped")
    session = DuelSession(Config(p1="scripted:hard", p2="scripted:normal", director="learned", seed=0,
                                 round_seconds=1, rounds=2))
    assert isinstance(session.director, LearnedDirector)
    while not session.finished:
        session.advance()
    assert session.difficulties[0] == pytest.approx(0.5) and session.director.episodes == 2


# ---- panels' arithmetic -------------------------------------------------------------------------------
def test_duel_heads_marginalises_flat_actions():
    joint = np.zeros(36)
    joint[3 * 4 + 2] = 0.5  # forward + heavy
    joint[7 * 4 + 0] = 0.25  # back
    joint[7 * 4 + 2] = 0.25  # back + heavy
    stick, button = duel_heads([joint])
    assert stick[3] == 0.5 and stick[7] == 0.5 and stick.sum() == 1.0
    assert button.tolist() == [0.25, 0.0, 0.75, 0.0]
    s, b = duel_heads([np.full(9, 1 / 9), np.full(4, 0.25)])
    assert s.shape == (9,) and b.shape == (4,)
    with pytest.raises(ValueError, match="stick"):
        duel_heads([np.ones(5)])


def test_empirical_policy_counts_the_recent_window():
    emp = EmpiricalPolicy((9, 4), window=4)
    assert [p.sum() for p in emp.probs()] == [0.0, 0.0]
    for a in [(1, 0), (1, 2), (3, 2), (3, 2), (3, 1)]:  # the first falls out of the window
        emp.add(a)
    stick, button = emp.probs()
    assert stick[1] == 0.25 and stick[3] == 0.75
    assert button.tolist() == [0.0, 0.25, 0.75, 0.0]


def test_tally_counts_hits_blocks_and_move_starts():
    from envs.duel import rules

    tally = DuelTally()
    state = rules.initial_state(600)
    tally.update(state, [{"type": "hit", "by": 0}, {"type": "block", "by": 1}, {"type": "throw", "by": 0},
                         {"type": "ko", "by": None}])
    assert tally.hits == [2, 0] and tally.blocks == [0, 1]
    f = state.fighters[1]
    for move, frame in [(1, 1), (1, 2), (1, 3), (2, 1), (0, 0), (2, 1)]:  # jab, heavy, then heavy again
        f.move, f.frame = move, frame
        tally.update(state, [])
    assert list(tally.moves[1]) == ["jab", "heavy", "heavy"] and not tally.moves[0]
    tally.round_over(1)
    tally.new_round()
    assert tally.score == {0: 0, 1: 1, None: 0} and tally.hits == [0, 0] and tally.total_hits == [2, 0]


def test_rolling_rate_by_hand():
    assert rolling_rate([True, False, True, True], 2) == [1.0, 0.5, 0.5, 1.0]
    assert rolling_rate([], 5) == []


def test_value_heat_scales_the_states_of_one_phase():
    from envs.stealth.mdp import StateIndex

    # 2 cells, period 2; live states: (cell 0, phase 0), (cell 1, phase 0), (cell 1, phase 1)
    codes = np.array([0, 1, 3])
    slot = np.array([0, 1, -1, 2])
    index = StateIndex(codes=codes, slot=slot, period=2, width=2, n_cells=2, start_cell=0, goal_cell=1)
    v = np.array([-1.0, 1.0, 0.0, -1.0, 1.0])  # live values, then caught and goal
    assert value_heat(v, index, 0).tolist() == [0.05, 1.0]  # scaled within the phase
    assert value_heat(v, index, 1).tolist() == [0.0, 0.05]  # cell 0 is no state at phase 1
    v3 = np.array([0.0, 0.5, 1.0, 0.0, 0.0])
    index3 = StateIndex(codes=np.array([0, 1, 2]), slot=np.array([0, 1, 2, -1]), period=1, width=4, n_cells=4,
                        start_cell=0, goal_cell=2)
    assert value_heat(v3, index3, 0).tolist() == [0.05, 0.525, 1.0, 0.0]
    v4 = np.array([-1.0, 0.8, 0.9, 0.0, 0.0])  # by rank: the outlier at -1 does not squash the others
    assert value_heat(v4, index3, 0).tolist() == [0.05, 0.525, 1.0, 0.0]
    v5 = np.array([0.3, 0.3, 0.9, 0.0, 0.0])  # ties share their mean rank
    assert value_heat(v5, index3, 0).tolist() == [pytest.approx(0.2875), pytest.approx(0.2875), 1.0, 0.0]


# ---- SB3 policies, bundled agents ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ppo(tmp_path_factory):
    """A PPO duel agent trained for 64 steps, saved with a sidecar as the lead's checkpoints are."""
    from stable_baselines3 import PPO

    from agents.opponents import make_duel_env

    folder = tmp_path_factory.mktemp("bundled")
    model = PPO("MlpPolicy", make_duel_env(opponent="random", round_seconds=2), n_steps=64, batch_size=64, n_epochs=1,
                seed=0, device="cpu", policy_kwargs={"net_arch": [16]})
    model.learn(64)
    model.save(folder / "duel-ppo.zip")
    sidecar = {"algo": "PPO", "env": "duel", "env_id": "sandbox/Duel-v0",
               "env_kwargs": {"frame_skip": 4, "round_seconds": 2}, "nav_features": False, "steps": 64, "seed": 0}
    (folder / "duel-ppo.json").write_text(json.dumps(sidecar))
    from agents.navigation import NavFeatures
    from envs.stealth.env import StealthEnv

    model = PPO("MlpPolicy", NavFeatures(StealthEnv(level="tutorial")), n_steps=64, batch_size=64, n_epochs=1,
                seed=0, device="cpu", policy_kwargs={"net_arch": [16]})
    model.learn(64)
    model.save(folder / "stealth-ppo.zip")
    sidecar = {"algo": "PPO", "env": "stealth", "env_id": "sandbox/Stealth-v0",
               "env_kwargs": {"level": "tutorial", "obs_mode": "grid"}, "nav_features": True, "steps": 64, "seed": 0}
    (folder / "stealth-ppo.json").write_text(json.dumps(sidecar))
    return folder


def test_sb3_action_probs_are_the_policy_distribution(tiny_ppo):
    import torch

    from agents.opponents import make_duel_env
    from agents.sb3_agent import SB3Agent, load_sb3

    agent = SB3Agent(load_sb3(tiny_ppo / "duel-ppo.zip", "cpu"))
    obs, _ = make_duel_env(opponent="random").reset(seed=0)
    stick, button = agent.action_probs(obs)
    assert stick.shape == (9,) and button.shape == (4,)
    assert stick.sum() == pytest.approx(1.0) and button.sum() == pytest.approx(1.0)
    policy = agent.model.policy
    obs_t, _ = policy.obs_to_tensor(obs)
    for s, b in [(0, 0), (3, 2), (8, 3)]:  # P(s, b) = P(s) P(b): the two heads are independent
        _, log_prob, _ = policy.evaluate_actions(obs_t, torch.tensor([[s, b]]))
        assert float(log_prob.detach().exp()) == pytest.approx(stick[s] * button[b], rel=1e-5)


def test_bundled_agent_loads_with_its_sidecar(tiny_ppo, monkeypatch):
    import agents.bundled as bundled
    from agents import make_agent

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tiny_ppo)
    assert bundled.bundled_names() == ["duel-ppo", "stealth-ppo"]
    agent = make_agent("bundled:duel-ppo")
    assert agent.info["env_kwargs"]["round_seconds"] == 2
    with pytest.raises(ValueError, match="no bundled agent 'nope'; shipped: duel-ppo, stealth-ppo"):
        make_agent("bundled:nope")
    with pytest.raises(ValueError, match="needs a name"):
        make_agent("bundled")


def test_watch_uses_the_bundled_agent_by_default(tiny_ppo, monkeypatch, tmp_path, capsys):
    import agents.bundled as bundled
    from experiments.watch import Config, DuelSession

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tiny_ppo)
    session = DuelSession(Config(seed=0))
    assert session.names == ("bundled:duel-ppo", "scripted:hard")
    assert session.base.round_ticks == 120  # the sidecar's round_seconds
    session.advance()
    assert session.probs[0] is not None  # P1 shows its policy, P2 (scripted) its recent decisions
    assert session.probs[1] is None
    assert "not shipped" not in capsys.readouterr().out


def test_bundled_stealth_agent_plays_the_levels_it_can_read(tiny_ppo, monkeypatch, capsys):
    """The bundled stealth agent (trained on the 7x11 tutorial with NavFeatures) plays the tutorial in
    the env its sidecar describes, showing its action probabilities; on levels of another size the
    planner stands in, labelled so, with one notice."""
    import pygame

    import agents.bundled as bundled
    from experiments.watch import Config, StealthSession

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tiny_ppo)
    session = StealthSession(Config(game="stealth", rounds=1, seed=0))
    assert session.level_name == "tutorial" and session.agent_label == "bundled:stealth-ppo"
    assert session.obs.shape == (9, 7, 11)  # the nav-feature channels of its training env
    session.advance()
    assert session.probs.shape == (5,) and session.probs.sum() == pytest.approx(1.0)
    session.draw(pygame.Surface(session.size), 1.0, False)
    while session.level_name == "tutorial" and not session.finished:
        session.advance()
    assert session.level_name == "sentry_hall" and session.agent_label == "planner (for bundled:stealth-ppo)"
    assert capsys.readouterr().out.count("do not fit") == 1


def test_missing_bundled_agent_falls_back_with_a_notice(tmp_path, monkeypatch, capsys):
    import agents.bundled as bundled
    from experiments.watch import Config, DuelSession, StealthSession

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    assert DuelSession(Config(seed=0)).names[0] == "scripted:zoner-hard"
    assert StealthSession(Config(game="stealth", seed=0, level="tutorial")).spec == "planner"
    out = capsys.readouterr().out
    assert "bundled:duel-ppo is not shipped" in out and "bundled:stealth-ppo is not shipped" in out


# ---- errors ------------------------------------------------------------------------------------------------
def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("spec", ["sb3", "ghost"])
def test_missing_checkpoint_is_one_line(capsys, tmp_path, spec):
    err = one_line_error(capsys, ["watch", "--p1", f"{spec}:{tmp_path}/missing.zip", "--seconds", "1"])
    assert "missing" in err


@pytest.mark.parametrize("spec", ["sb3", "ghost", "bundled"])
def test_corrupt_checkpoint_is_one_line(capsys, tmp_path, monkeypatch, spec):
    import agents.bundled as bundled

    for name in ("bad.zip", "bad.pt", "bad.json"):
        (tmp_path / name).write_bytes(b"this is not a checkpoint")
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    target = "bad" if spec == "bundled" else str(tmp_path / "bad.zip")
    err = one_line_error(capsys, ["watch", "--p1", f"{spec}:{target}", "--seconds", "1"])
    assert "bad" in err


@pytest.mark.parametrize("argv, words", [
    (["watch", "--speed", "9"], "--speed must be in [0.25, 8]"),
    (["watch", "--record", "x.avi"], ".gif or .mp4"),
    (["watch", "--p1", "nosuch:thing"], "valid: random"),
    (["watch", "--p1", "human"], "needs a window"),
    (["watch", "stealth", "--level", "nowhere"], "nowhere"),
    (["watch", "--seconds", "0"], "--seconds must be > 0"),
    (["watch", "--p2", "planner"], "plays the stealth grid, not the duel"),
    (["watch", "stealth", "--p1", "scripted:hard", "--seconds", "1"], "cannot play the stealth grid"),
])
def test_bad_arguments_are_one_line(capsys, argv, words):
    assert words in one_line_error(capsys, argv)


# ---- every agent spec resolves, or says what is valid -------------------------------------------------------
def test_every_agent_spec_resolves_or_lists_valid_forms(tiny_ppo, monkeypatch):
    import agents
    import agents.bundled as bundled
    from agents.opponents import make_duel_env
    from envs.stealth.env import StealthEnv

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tiny_ppo)
    duel = make_duel_env(opponent="random")
    stealth = StealthEnv(level="tutorial")
    duel_ctx = dict(action_space=duel.action_space, observation_space=duel.observation_space, rng=duel.np_random)
    examples = {  # prefix -> (spec, context, an observation it must act on)
        "random": ("random", duel_ctx, duel.reset(seed=0)[0]),
        "scripted": ("scripted:zoner-hard", duel_ctx, duel.reset(seed=0)[0]),
        "sb3": (f"sb3:{tiny_ppo / 'duel-ppo.zip'}", duel_ctx, duel.reset(seed=0)[0]),
        "bundled": ("bundled:duel-ppo", duel_ctx, duel.reset(seed=0)[0]),
        "planner": ("planner", {"env": stealth}, stealth.reset(seed=0)[0]),
        "optimal": ("optimal:0.9", {"env": stealth}, stealth.reset(seed=0)[0]),
    }
    for prefix, (_, arg_help, _) in agents.AGENT_SPECS.items():
        if prefix in examples:
            spec, ctx, obs = examples[prefix]
            agent = agents.make_agent(spec, **ctx)
            action, _ = agent.predict(obs)
            assert np.asarray(action).size in (1, 2), prefix
        else:  # needs a window or a file this test does not have: a one-line error, or an agent
            spec = prefix + (":" + str(tiny_ppo / "missing") if arg_help else "")
            try:
                agent = agents.make_agent(spec, **duel_ctx)
            except (ValueError, FileNotFoundError) as exc:
                assert "\n" not in str(exc) and str(exc), prefix
            else:
                assert hasattr(agent, "predict"), prefix
    with pytest.raises(ValueError) as info:
        agents.make_agent("telepath:x")
    for prefix in agents.AGENT_SPECS:  # the message lists every valid form
        assert prefix in str(info.value)


# ---- window keys (posted to pygame's dummy display) ------------------------------------------------------
def test_window_keys_pause_step_overlay_restart_and_quit():
    import pygame

    from experiments.watch import Config, DuelSession, play

    session = DuelSession(Config(p1="scripted:easy", seed=0))
    pygame.display.init()
    try:
        window = pygame.display.set_mode(session.size)
        keys = [pygame.K_SPACE, pygame.K_RIGHT, pygame.K_RIGHT, pygame.K_TAB, pygame.K_ESCAPE]
        for key in keys:  # all read in the first frame, in order: pause, two decisions, next overlay, quit
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        assert play(session, window=window, seconds=5, speed=1.0, recorder=None) == 0
        assert session.count == 2 * session.skip and session.overlay == 1
        for key in (pygame.K_r, pygame.K_TAB, pygame.K_TAB, pygame.K_ESCAPE):  # restart; overlays wrap around
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        play(session, window=window, seconds=5, speed=1.0, recorder=None)
        assert session.count == 0 and session.overlay == 0
        frames = play(session, window=window, seconds=0.5, speed=1.0, recorder=None)  # runs unpaused
        assert frames >= 1 and session.count > 0
    finally:
        pygame.display.quit()


def test_recorder_is_atomic_and_caps_gifs(tmp_path):
    from envs.fileio import atomic_target
    from experiments.watch.widgets import Recorder

    with pytest.raises(RuntimeError), atomic_target(tmp_path / "v.bin") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []  # neither the target nor the temporary file
    frame = np.zeros((8, 10, 3), np.uint8)
    rec = Recorder(tmp_path / "a.mp4", fps=20)
    rec.add(frame + 50)
    rec.abort()
    assert list(tmp_path.iterdir()) == []
    rec = Recorder(tmp_path / "b.gif", fps=20, max_gif_frames=3)
    for k in range(5):
        rec.add(frame + 40 * k)
    assert rec.close() == tmp_path / "b.gif" and (rec.frames, rec.dropped) == (3, 2)
    assert distinct(gif_frames(tmp_path / "b.gif")) == 3
    with pytest.raises(ValueError, match=".gif or .mp4"):
        Recorder(tmp_path / "c.avi", fps=20)
