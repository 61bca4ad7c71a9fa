"""Traces and replay pages without a browser: round trips against the envs, the size limit, one-line refusals,
and the page's embedding of untrusted text. (The page in a real browser: test_replay_browser.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.cli import main
from experiments.replay import trace as T
from experiments.replay.page import build_page, embed_json, page_html


def duel_env_ticks(p1_spec: str, p2_spec: str, seed: int, round_seconds: float):
    """Every tick's fighters ``(x, y, health)`` of one round of the single DuelEnv, the agents set up as the
    watcher sets them up, with no watcher and no trace involved."""
    from agents import make_agent
    from envs.duel.env import DuelEnv, duel_spaces

    action_space, observation_space = duel_spaces()
    context = dict(action_space=action_space, observation_space=observation_space, frame_skip=4)
    p1 = make_agent(p1_spec, **context, player=1)
    p2 = make_agent(p2_spec, **context, player=2)
    env = DuelEnv(opponent=p2, frame_skip=4, round_seconds=round_seconds, side="left")
    seen = []
    env.on_tick = lambda state, events: seen.append([(f.x, f.y, f.health) for f in state.fighters])
    obs, _ = env.reset(seed=seed)
    start = [(f.x, f.y, f.health) for f in env.state.fighters]
    if hasattr(p1, "rng"):
        p1.rng = env.np_random
    if hasattr(p1, "reset"):
        p1.reset()
    done = False
    while not done:
        action, _ = p1.predict(obs)
        obs, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return [start, *seen]


@pytest.fixture(scope="module")
def duel_trace(tmp_path_factory):
    """One 5-second round of two scripted fighters, written by ``sandbox watch --trace --html`` (headless)."""
    folder = tmp_path_factory.mktemp("duel")
    trace, page = folder / "duel.json", folder / "duel.html"
    assert main(["watch", "duel", "--p1", "scripted:hard", "--p2", "scripted:zoner", "--seed", "7",
                 "--round-seconds", "5", "--trace", str(trace), "--html", str(page)]) == 0
    return trace, page


def test_duel_trace_replays_the_envs_positions(duel_trace):
    data = T.load_trace(duel_trace[0])
    assert data["format"] == T.FORMAT and data["version"] == T.VERSION
    (episode,) = data["episodes"]  # headless, no --seconds: one round
    assert episode["game"] == "duel" and episode["seed"] == 7 and "unfinished" not in episode
    x, y, health = (T.FIGHTER_FIELDS.index(k) for k in ("x", "y", "health"))
    traced = [[(row[x], row[y], row[health]) for row in frame["f"]] for frame in episode["frames"]]
    expected = duel_env_ticks("scripted:hard", "scripted:zoner", 7, 5.0)
    assert traced == expected
    assert [frame["t"] for frame in episode["frames"]] == list(range(len(expected)))
    assert "o" in episode["frames"][-1]  # the round's end is in the trace


def test_duel_trace_poses_are_the_renderers(duel_trace):
    from envs.duel import poses
    from envs.duel.rules import Fighter

    episode = T.load_trace(duel_trace[0])["episodes"][0]
    fields = T.FIGHTER_FIELDS
    for frame in episode["frames"][::37]:
        for row in frame["f"]:
            f = Fighter(x=row[0], y=row[1], facing=row[2], health=row[fields.index("health")],
                        state=row[fields.index("state")], move=row[fields.index("move")],
                        frame=row[fields.index("frame")], guard=row[fields.index("guard")],
                        connected=bool(row[fields.index("connected")]))
            local = poses.local_pose(f)
            pose = episode["poses"][row[fields.index("pose")]]
            assert pose == [round(c) for name in poses.JOINTS for c in local[name]]


def test_duel_decisions_carry_both_sides_distributions(duel_trace):
    episode = T.load_trace(duel_trace[0])["episodes"][0]
    decisions = [f["d"] for f in episode["frames"] if "d" in f]
    assert len(decisions) == (len(episode["frames"]) - 1 + 3) // 4  # one every frame_skip ticks
    for d in decisions:
        for side in (0, 1):
            stick, button = d["p"][side]
            assert len(stick) == 9 and len(button) == 4
            assert abs(sum(stick) - 1000) <= 9 and abs(sum(button) - 1000) <= 4
            assert stick[d["c"][side][0]] > 0  # the chosen input is among what it has done
            assert d["s"][side].startswith("empirical")  # scripted fighters: their recent decisions


def test_stealth_trace_replays_the_envs_cells(tmp_path):
    from agents import make_agent
    from envs.stealth.env import StealthEnv

    out = tmp_path / "stealth.json"
    assert main(["watch", "stealth", "--p1", "planner", "--level", "courtyard", "--seed", "3",
                 "--trace", str(out)]) == 0
    (episode,) = T.load_trace(out)["episodes"]
    assert episode["game"] == "stealth" and episode["level_name"] == "courtyard"
    env = StealthEnv(level="courtyard")
    agent = make_agent("planner", env=env)
    obs, _ = env.reset(seed=3)
    cells, done = [(int(env.cell), int(env.phase))], False
    while not done:
        action, _ = agent.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        cells.append((int(env.cell), int(env.phase)))
    assert [(f["c"], f["ph"]) for f in episode["frames"]] == cells
    assert episode["result"] == ("goal" if info["at_goal"] else "caught" if info["caught"] else "time")
    level = episode["level"]
    assert np.array_equal(np.array([[ch == "#" for ch in row] for row in level["walls"]]).reshape(-1), env.world.walls)
    assert episode["frames"][0]["path"][0] == cells[0][0]  # the planner's path starts where the player stands
    assert len(level["watched"]) == level["period"] == env.world.period


def test_several_traces_make_one_page(duel_trace, tmp_path, capsys):
    page = tmp_path / "two.html"
    assert main(["replay", str(duel_trace[0]), str(duel_trace[0]), "--html", str(page)]) == 0
    text = page.read_text()
    assert "wrote the replay page of 2 episode(s)" in capsys.readouterr().out
    payload = text.split('<script type="application/json" id="trace">', 1)[1].split("</script>", 1)[0]
    assert len(json.loads(payload)["episodes"]) == 2
    assert "http://" not in text and "https://" not in text and "src=" not in text  # nothing fetched


def test_a_trace_over_the_size_limit_is_refused_in_one_line(duel_trace, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(T, "MAX_TRACE_BYTES", 1000)
    with pytest.raises(ValueError, match=r"duel\.json: the file is larger than the limit of 1000 bytes"):
        T.load_trace(duel_trace[0])
    assert main(["replay", str(duel_trace[0]), "--html", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "larger than the limit of 1000 bytes" in err and "duel.json" in err
    assert not (tmp_path / "p.html").exists()


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"format": "something else"}', "'format' is not 'game-ai-sandbox-trace'"),
    ('{"format": "game-ai-sandbox-trace", "version": 9, "episodes": []}', "version 9 is not supported"),
    ('{"format": "game-ai-sandbox-trace", "version": 1, "episodes": [{"game": "chess", "frames": [{}]}]}',
     "'game' must be one of duel, stealth"),
    ("[1, 2]", "a JSON object expected"),
])
def test_corrupt_traces_are_refused_in_one_line(tmp_path, capsys, text, words):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["replay", str(bad), "--html", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err and str(bad) in err


def test_replay_never_overwrites_a_file_it_did_not_create(duel_trace, tmp_path, capsys):
    page = tmp_path / "mine.html"
    page.write_text("keep me")
    assert main(["replay", str(duel_trace[0]), "--html", str(page)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert page.read_text() == "keep me"
    assert main(["watch", "--p1", "scripted:easy", "--seconds", "0.2", "--html", str(page)]) == 2
    assert page.read_text() == "keep me"


def test_markup_in_a_trace_stays_text_in_the_page(duel_trace):
    data = T.load_trace(duel_trace[0])
    evil = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    data["episodes"][0]["names"] = [evil, "&lt;b&gt;"]
    data["episodes"][0]["title"] = evil
    page = build_page(data, title="<b>title</b>")
    body = page.split('<script type="application/json" id="trace">', 1)[1].split("</script>", 1)[0]
    assert "<" not in body and ">" not in body  # nothing in the payload can close its element
    assert json.loads(body)["episodes"][0]["names"][0] == evil  # and it reads back as the same text
    assert "<b>title</b>" not in page and "&lt;b&gt;title&lt;/b&gt;" in page
    assert page.count("<script") == 2  # the payload and the renderer, nothing else


def test_the_renderer_never_evaluates_or_injects_html():
    from experiments.replay.page import asset

    js = asset("replay.js")
    for banned in ("eval(", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "new Function",
                   "setTimeout(\"", "http://", "https://", "fetch(", "XMLHttpRequest", "import("):
        assert banned not in js, banned


def test_embed_json_round_trips_every_character():
    text = json.dumps({"s": "a<b>&c</script>\u2028"})
    assert json.loads(embed_json(text)) == json.loads(text)
    assert "<" not in page_html(embed_json(text)).split('id="trace">', 1)[1].split("</script>", 1)[0]


def test_record_duel_round_without_a_session():
    from agents import make_agent
    from envs.duel.env import duel_spaces

    action_space, observation_space = duel_spaces()
    ctx = dict(action_space=action_space, observation_space=observation_space, frame_skip=4)
    episode = T.record_duel_round(make_agent("scripted:hard", **ctx, player=1),
                                  make_agent("scripted:zoner", **ctx, player=2), seed=7, round_seconds=5.0,
                                  names=("scripted:hard", "scripted:zoner"))
    traced = [[(r[0], r[1], r[8]) for r in f["f"]] for f in episode["frames"]]
    assert traced == duel_env_ticks("scripted:hard", "scripted:zoner", 7, 5.0)
    T.check_trace(T.make_trace([episode]), "<test>")
