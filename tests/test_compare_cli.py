"""`sandbox compare stealth` and `sandbox compare duel` end to end with tiny budgets, and their bad input."""

import csv
import json
import math

import pytest
from stealth_levels import ALCOVE  # the corridor where the optimum waits in the alcove

from experiments.cli import main
from experiments.train.elo import fit_ratings


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("argv,message", [
    (["compare", "stealth", "--levels", "no_such_level"], "no_such_level"),
    (["compare", "stealth", "--algos", "ppo,sarsa"], "unknown 'sarsa'; valid: ppo-nav, ppo, ppo-pg, dqn"),
    (["compare", "stealth", "--steps", "0"], "--steps must be >= 1"),
    (["compare", "stealth", "--levels", " , "], "--levels: expected a comma-separated list"),
    (["compare", "duel", "--algos", "dqn"], "unknown 'dqn'; valid: ppo-pg, ppo, a2c, a2c-pg, reinforce"),
    (["compare", "duel", "--opponent", "scripted:godlike"], "unknown scripted"),
    (["compare", "duel", "--steps", "10", "--checkpoints", "20"], "--checkpoints (20) cannot exceed --steps (10)"),
    (["compare", "duel", "--rounds", "0"], "--rounds must be >= 1"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists()  # nothing trained or written


def test_compare_stealth_q_learning_reaches_the_optimum(capsys, tmp_path):
    """Tabular Q-learning reaches the optimum of the tutorial level: return 0.85 (= 1 - 15 steps x 0.01,
    the optimal path), V*(start) = 0.728804; the planner is optimal too."""
    out = tmp_path / "cs"
    assert main(["compare", "stealth", "--levels", "tutorial", "--algos", "q-learning", "--steps", "40000",
                 "--eval-points", "4", "--eval-episodes", "1", "--out", str(out)]) == 0
    fig = last_json(capsys.readouterr().out)["levels"]["tutorial"]
    assert fig["v_star_start"] == pytest.approx(0.728804, abs=1e-6)
    assert fig["optimal_return"] == pytest.approx(0.85)
    assert fig["value iteration"]["success"] == 1.0 and fig["planner"]["ratio"] == pytest.approx(1.0)
    q = fig["q-learning"]
    assert q["success"] == 1.0 and q["return"] == pytest.approx(0.85) and q["ratio"] == pytest.approx(1.0)
    assert q["steps_to_95"] in (10_000, 20_000, 30_000, 40_000)  # an evaluation point
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["agent"] for r in rows] == ["value iteration", "planner", "q-learning"]
    assert float(rows[2]["return_ratio"]) == pytest.approx(1.0)
    assert (out / "plots" / "tutorial.png").stat().st_size > 0
    assert (out / "plots" / "compare_stealth.png").stat().st_size > 0


@pytest.mark.slow
def test_compare_stealth_trains_through_train_run_and_reuses_runs(capsys, tmp_path):
    out = tmp_path / "cs"
    argv = ["compare", "stealth", "--levels", "tutorial", "--algos", "ppo,a2c-pg", "--steps", "1024",
            "--eval-points", "2", "--eval-episodes", "1", "--out", str(out)]
    assert main(argv) == 0
    fig = last_json(capsys.readouterr().out)["levels"]["tutorial"]
    for name, ckpt in (("ppo", "final.zip"), ("a2c-pg", "final.pt")):
        assert (out / "runs" / "tutorial" / f"{name}-s0" / "checkpoints" / ckpt).is_file()
        assert fig[name]["steps_per_second"] > 0 and -2.0 <= fig[name]["return"] <= 0.85
    # a second run reuses the finished runs instead of training again, with the same figures
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.count("reusing the finished run") == 2
    again = last_json(text)["levels"]["tutorial"]
    assert again["ppo"]["return"] == fig["ppo"]["return"] and again["a2c-pg"]["return"] == fig["a2c-pg"]["return"]
    # the same folder with other settings is refused, not silently mixed
    assert main([*argv[:-4], "--steps", "2048", "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_duel_end_to_end(capsys, tmp_path):
    out = tmp_path / "cd"
    argv = ["compare", "duel", "--algos", "a2c-pg", "--steps", "512", "--checkpoints", "2", "--eval-rounds", "1",
            "--rounds", "2", "--round-seconds", "4", "--no-bundled", "--ghosts", str(tmp_path / "no_ghost"),
            "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "skipping ghost:" in captured.err  # a ghost that does not load is skipped with a warning
    fig = last_json(captured.out)
    assert [r["steps"] for r in fig["win_rates"]["a2c-pg"]] == [256, 512]
    for r in fig["win_rates"]["a2c-pg"]:
        assert all(0.0 <= r[k] <= 1.0 for k in ("easy", "normal", "hard"))
    elo = fig["elo"]
    assert elo["random"] == 1000.0
    assert set(elo) == {"random", "easy", "normal", "hard", "rushdown", "zoner", "turtle", "a2c-pg@512"}
    # the ladder is the maximum-likelihood fit of the recorded matches
    with open(out / "matches.csv") as fh:
        matches = [(r["a"], r["b"], int(r["wins_a"]), int(r["wins_b"]), int(r["draws"])) for r in csv.DictReader(fh)]
    assert len(matches) == 8 * 7 // 2 and all(w + l + d == 2 for _, _, w, l, d in matches)
    refit = fit_ratings(list(elo), matches, anchor="random")
    assert all(math.isclose(refit[n], elo[n], abs_tol=0.06) for n in elo)
    for name in ("elo.png", "elo.csv", "winrate.png", "winrates.csv"):
        assert (out / name).stat().st_size > 0
    # a second run reuses the snapshots, their win rates and every pairing, and gives the same ladder
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "28 pairs reused" in again and "trained in" not in again
    assert last_json(again)["elo"] == elo and last_json(again)["win_rates"] == fig["win_rates"]


def test_compare_stealth_on_a_level_file(capsys, tmp_path):
    """A level given as a file (not bundled): the optimum waits in the alcove, Q-learning finds it."""
    level = tmp_path / "alcove.toml"
    level.write_text(ALCOVE)
    out = tmp_path / "cs"
    assert main(["compare", "stealth", "--levels", str(level), "--algos", "q-learning", "--steps", "6000",
                 "--eval-points", "2", "--eval-episodes", "1", "--out", str(out)]) == 0
    fig = last_json(capsys.readouterr().out)["levels"][str(level)]
    opt = fig["optimal_return"]
    assert opt < 1.0 - 0.01 * 6 and fig["planner"]["ratio"] == pytest.approx(1.0)  # waiting: longer than 6 steps
    assert fig["q-learning"]["return"] == pytest.approx(opt) and fig["q-learning"]["success"] == 1.0
    assert (out / "plots" / "alcove.png").is_file()
