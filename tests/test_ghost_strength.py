"""Issue 18: the ghost's strength beside its style. The strength gap and its interval against hand-worked
numbers, batched play of ghosts and demonstrators, and the one-flag fine-tuning path end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from agents.ghost import fidelity, strength_gap, win_counts
from experiments.evaluate.stats import difference_interval


def _r(opp, winner, obs=None, actions=None):
    return SimpleNamespace(opponent=opp, winner=winner, obs=obs, actions=actions)


def test_difference_interval_hand_worked():
    # Newcombe (1998), method 10, example 56/70 - 48/80: 0.2000 in (0.0524, 0.3339)
    lo, hi = difference_interval(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    # 100/200 each: Wilson half-width 1.96 sqrt(1/800 + 1.96²/160000) / (1 + 1.96²/200) = 0.06864,
    # the difference's sqrt(2) x 0.06864 = 0.09707 on both sides
    lo, hi = difference_interval(100, 200, 100, 200)
    assert lo == pytest.approx(-0.09707, abs=1e-5) and hi == pytest.approx(0.09707, abs=1e-5)
    # 800 rounds each resolve +-0.05 at any rate
    lo, hi = difference_interval(400, 800, 400, 800)
    assert hi - lo < 0.1


def test_strength_gap_hand_worked():
    ghost = [_r("easy", "player")] * 3 + [_r("easy", "draw")] + [_r("hard", "opponent")] * 2
    demos = [_r("easy", "player"), _r("easy", "opponent")] + [_r("hard", "player")] + [_r("hard", "opponent")] * 3
    assert win_counts(ghost) == {"easy": (3, 4), "hard": (0, 2)}  # a draw is not a win
    gap = strength_gap(ghost, demos)
    assert gap["easy"]["gap"] == pytest.approx(0.75 - 0.5)
    assert gap["hard"]["gap"] == pytest.approx(0.0 - 0.25)
    assert (gap["hard"]["ghost_wins"], gap["hard"]["ghost_rounds"], gap["hard"]["demo_wins"],
            gap["hard"]["demo_rounds"]) == (0, 2, 1, 4)
    assert strength_gap([], demos)["easy"]["gap"] is None  # an opponent the ghost never met


def test_fidelity_of_a_player_against_itself_is_zero():
    from agents.ghost.batched import play_batched

    rounds = play_batched("scripted:zoner", "scripted:easy", 4, seed=0, round_seconds=3)
    f = fidelity(rounds, rounds)
    assert f["style"]["divergence"] == 0.0 and f["strength"]["scripted:easy"]["gap"] == 0.0


def test_strength_table_in_the_report():
    from experiments.studies.ghost import strength_table

    t = strength_table({"scripted:easy": (56, 70)}, {"scripted:easy": (48, 80)})["scripted:easy"]
    assert t["gap"] == pytest.approx(0.2) and t["interval"] == [0.0524, 0.3339] and t["rounds"] == [70, 80]


def test_batched_scripted_player_is_seeded_and_plays_its_style():
    from agents.ghost.batched import play_batched

    a = play_batched("scripted:rushdown", "scripted:normal", 3, seed=10, round_seconds=4)
    b = play_batched("scripted:rushdown", "scripted:normal", 3, seed=10, round_seconds=4)
    assert all(np.array_equal(x.actions, y.actions) and x.winner == y.winner for x, y in zip(a, b, strict=True))
    c = play_batched("scripted:rushdown", "scripted:normal", 3, seed=11, round_seconds=4)
    assert any(not np.array_equal(x.actions, y.actions) for x, y in zip(a, c, strict=True))
    assert all(len(r) == len(r.obs) == len(r.rewards) <= 4 * 60 // 4 + 1 for r in a)


def test_batched_ghost_plays_like_the_ghost_agent():
    """A greedy ghost in the batched duel makes the same decisions as the one-round GhostAgent in the single
    env seeded alike (round i of the batch = the single env reset with seed + i)."""
    import torch

    from agents.ghost import GhostAgent
    from agents.ghost.batched import BatchedGhost, play_batched
    from agents.opponents import make_duel_env
    from nets.imitation import make_policy

    torch.manual_seed(0)
    model = make_policy(obs_size=76, hidden=24, periods=(1, 2, 4), fc=16).eval()
    batched = play_batched(BatchedGhost(model, greedy=True), "scripted:hard", 2, seed=40, round_seconds=3)
    # round i is seeded seed + i however the rounds are split into chunks
    chunked = play_batched(BatchedGhost(model, greedy=True), "scripted:hard", 2, seed=40, round_seconds=3, chunk=1)
    assert all(np.array_equal(a.actions, b.actions) for a, b in zip(batched, chunked, strict=True))
    agent = GhostAgent(model, {"frame_skip": 4}, greedy=True)
    for i, r in enumerate(batched):
        env = make_duel_env(opponent="scripted:hard", round_seconds=3)
        obs, _ = env.reset(seed=40 + i)
        agent.reset()
        acts, done = [], False
        while not done:
            a = agent.predict(obs)[0]
            acts.append(a)
            obs, _, done, _, info = env.step(a)
        assert np.array_equal(np.stack(acts), r.actions)
        assert {"agent": "player", "opponent": "opponent"}.get(info["winner"], "draw") == r.winner


def _tiny_demos(folder, rounds=6, seconds=3.0):
    from agents.ghost import demo_metadata, round_path, save_round
    from agents.ghost.batched import play_batched

    k = 0
    for opp in ("scripted:easy", "scripted:hard"):
        for r in play_batched("scripted:rushdown", opp, rounds // 2, seed=7, round_seconds=seconds):
            k += 1
            meta = demo_metadata(player="scripted:rushdown", opponent=opp, frame_skip=4, round_seconds=seconds,
                                 steps=len(r), player_spec="scripted:rushdown")
            save_round(round_path(folder, k), r.obs, r.actions, r.rewards, opponent=opp, winner=r.winner,
                       final_health=r.final_health, meta=meta)


def test_one_flag_finetune_end_to_end(tmp_path, capsys):
    """record (here: a scripted player's rounds) -> `sandbox train ghost --finetune` -> fight the ghost."""
    from agents import make_agent
    from agents.ghost import load_ghost
    from agents.opponents import make_duel_env
    from experiments.cli import main

    demos, run = tmp_path / "demos", tmp_path / "run"
    _tiny_demos(demos)
    assert main(["train", "ghost", "--demos", str(demos), "--epochs", "1", "--device", "cpu", "--out", str(run),
                 "--quiet", "--finetune", "--finetune-iterations", "1", "--finetune-rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "finetune 1/1" in out and "finalist" in out
    for name in ("checkpoints/ghost.pt", "checkpoints/ghost.json", "checkpoints/ghost-bc.pt",
                 "checkpoints/ghost-bc.json", "metrics.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    ft = metrics["finetune"]
    assert set(ft["targets"]) == {"scripted:easy", "scripted:hard"} and ft["best_iteration"] in (0, 1)
    assert [h["iteration"] for h in ft["history"]] == [0, 1]
    _, meta = load_ghost(run)
    assert meta["finetune"]["lambda"] == ft["lambda"]
    # fight it
    env = make_duel_env(opponent=f"ghost:{run}", round_seconds=2)
    player = make_agent("scripted:normal", rng=np.random.default_rng(0))
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        obs, _, done, _, info = env.step(player.predict(obs)[0])
    assert info["winner"] in ("agent", "opponent", "draw")


def test_finetune_refuses_opponents_outside_the_batched_duel(tmp_path, capsys):
    from agents.ghost.finetune import check_opponents
    from experiments.cli import main

    with pytest.raises(ValueError, match="batched duel"):
        check_opponents(["human"])
    check_opponents(["scripted:hard", "scripted:zoner-easy", "random", "bundled:duel-ppo"])
    assert main(["train", "ghost", "--demos", str(tmp_path), "--finetune-rounds", "3"]) == 2
    assert "need --finetune" in capsys.readouterr().err


def test_compare_styles_reports_both_measures(tmp_path, capsys):
    from experiments.cli import main

    assert main(["compare", "ghost", "--styles", "--style-rounds", "6", "--rounds", "3", "--epochs", "1",
                 "--round-seconds", "3", "--finetune", "--finetune-iterations", "1", "--finetune-rounds", "2",
                 "--out", str(tmp_path / "cmp")]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    styles, opps = ("rushdown", "zoner", "turtle"), ("scripted:easy", "scripted:normal", "scripted:hard")
    assert set(last["style_matrix"]) == set(styles) and set(last["strength_gap"]) == set(styles)
    assert all(set(last["strength_gap"][s]) == set(opps) for s in styles)
    assert last["method"] == "finetune" and set(last["methods"]) == {"bc", "finetune"}
    cell = last["methods"]["bc"]["strength"]["zoner"]["scripted:easy"]
    assert cell["rounds"] == [3, 3] and cell["gap"] == pytest.approx(cell["ghost"] - cell["demos"])
    assert cell["interval"][0] <= cell["gap"] <= cell["interval"][1]
