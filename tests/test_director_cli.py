"""`sandbox compare director`: a tiny end-to-end run (table, plot, CSV, JSON line) and bad input."""

from __future__ import annotations

import json
import os

import pytest

from experiments.cli import main


def test_compare_director_small_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may appear outside --out (no docs/ copy unless --docs)
    out, policy = tmp_path / "run", tmp_path / "policy.zip"
    code = main(["compare", "director", "--episodes", "24", "--round-seconds", "1", "--train-steps", "512",
                 "--policy", str(policy), "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    lines = text.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["compare"] == "director" and figures["episodes"] == 24
    players = set(figures["results"])
    assert {"random", "scripted:easy", "scripted:hard", "improving", "synthetic"} <= players
    for by in figures["results"].values():
        assert set(by) == {"fixed 0.5", "rule", "learned"}
        for r in by.values():
            assert 0.0 <= r["in_band"] <= 1.0 and 0.0 <= r["win_rate"] <= 1.0
    assert figures["results"]["random"]["rule"]["mean_abs_health_diff"] is not None
    assert figures["results"]["synthetic"]["rule"]["mean_abs_health_diff"] is None
    # the fixed setting really is fixed; the rule director moves
    assert figures["results"]["scripted:hard"]["fixed 0.5"]["mean_difficulty"] == 0.5
    assert "player" in text and "in 0.5+-0.1" in text
    assert policy.is_file() and (out / "plots" / "director.png").is_file()
    assert (out / "metrics.csv").read_text().count("\n") == 1 + 24 * 3 * len(players)
    assert os.path.getsize(out / "plots" / "director.png") < 300_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.zip", "run"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--episodes", "10"], "must exceed --warmup"),
        (["--band", "0.7"], "--band"),
        (["--ppo", "/nonexistent/model.zip"], "no such file"),
    ],
)
def test_compare_director_bad_input_is_one_line(args, message, capsys):
    assert main(["compare", "director", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_sandbox_train_director_is_an_ordinary_run_that_resumes(tmp_path, capsys):
    """The learned director trains through the one pipeline: [director.ppo] settings, a run folder, --resume."""
    from experiments.train.run import read_metrics

    out = tmp_path / "director"
    args = ["train", "director", "--envs", "2", "--set", "n_steps=64", "--set", "batch_size=64", "--eval-every",
            "256", "--eval-episodes", "2", "--out", str(out), "--quiet", "--device", "cpu"]
    assert main([*args, "--steps", "512"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["env"] == "director" and config["hyper"]["gamma"] == 0.9  # the [director.ppo] table
    first = read_metrics(out)
    assert [r["steps"] for r in first] == [256.0, 512.0] and (out / "checkpoints" / "final.zip").is_file()
    assert main([*args, "--steps", "1024", "--resume"]) == 0
    rows = read_metrics(out)
    key = [(r["steps"], r["eval_return"], r["seconds"]) for r in first]
    assert [(r["steps"], r["eval_return"], r["seconds"]) for r in rows[:2]] == key  # kept as they were
    assert [r["steps"] for r in rows[2:]] == [768.0, 1024.0]
    from agents.meta import LearnedDirector

    assert 0.0 <= LearnedDirector.load(out / "checkpoints" / "final.zip").difficulty <= 1.0
