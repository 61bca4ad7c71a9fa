"""The balance probe's known answers: rock-paper-scissors by hand, a dominant row, a small real population of
scripted fighters, the planted infinite found within a stated budget, and no false alarm on the shipped table."""

from __future__ import annotations

import numpy as np
import pytest

from agents.balance import dominance, exploitability, find_combo, meta_summary, move_entropy, nash, planted_infinite
from agents.balance.meta import Payoff, play_payoff

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])  # rock, paper, scissors


def test_rock_paper_scissors_nash_is_uniform_with_zero_exploitability():
    x, y, v = nash(RPS)
    np.testing.assert_allclose(x, [1 / 3] * 3, atol=1e-9)
    np.testing.assert_allclose(y, [1 / 3] * 3, atol=1e-9)
    assert abs(v) < 1e-9
    assert abs(exploitability(RPS, y)) < 1e-9 and abs(exploitability(RPS, x, as_column=False)) < 1e-9
    # a pure strategy is exploited by its counter by the full payoff
    assert exploitability(RPS, np.array([1.0, 0, 0])) == pytest.approx(1.0)
    assert dominance(RPS)["dominant"] == [] and dominance(RPS)["beats_all"] == []


def test_a_hand_worked_asymmetric_game():
    # matching pennies with a bias: row's value (ad - bc) / (a + d - b - c) = (2*1 - 0) / 3 = 2/3, x = (1/3, 2/3)
    A = np.array([[2.0, 0.0], [0.0, 1.0]])
    x, y, v = nash(A)
    np.testing.assert_allclose(x, [1 / 3, 2 / 3], atol=1e-9)
    np.testing.assert_allclose(y, [1 / 3, 2 / 3], atol=1e-9)
    assert v == pytest.approx(2 / 3)


def test_a_strictly_dominant_row_is_flagged():
    A = np.array([[0.0, 0.5, 0.3], [-0.5, 0.0, 0.1], [-0.3, -0.1, 0.0]])
    flags = dominance(A, margin=0.2)
    assert flags["dominant"] == [0] and flags["beats_all"] == [0]
    assert flags["strictly_dominates"] == {0: [1, 2]}  # row 1 loses more to row 0 than row 2 does
    x, _, v = nash(A)
    np.testing.assert_allclose(x, [1, 0, 0], atol=1e-9)
    assert v == pytest.approx(0.0)
    payoff = Payoff(["a", "b", "c"], np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3)))
    assert payoff.matrix.shape == (3, 3)


def test_move_entropy():
    usage = np.zeros((2, 8))
    usage[0, 0] = 10  # only jabs
    usage[1, :] = 1  # every move alike
    assert move_entropy(usage, np.array([1.0, 0.0]))[0] == pytest.approx(0.0)
    assert move_entropy(usage, np.array([0.0, 1.0]))[0] == pytest.approx(3.0)


def test_a_small_population_of_scripted_fighters():
    specs = ["scripted:easy", "scripted:hard", "scripted:zoner-hard"]
    payoff = play_payoff(specs, 6, seed=0, round_seconds=15)
    A = payoff.matrix
    np.testing.assert_allclose(A, -A.T)
    assert (payoff.rounds[~np.eye(3, dtype=bool)] == 6).all()
    lo_hi = payoff.intervals()
    wr = payoff.win_rate()
    assert ((lo_hi[..., 0] <= wr + 1e-12) & (wr <= lo_hi[..., 1] + 1e-12)).all()
    assert A[1, 0] > 0  # hard beats easy
    summary = meta_summary(payoff)
    assert sum(summary["nash"]) == pytest.approx(1.0, abs=1e-3)
    assert summary["population_exploitability"] < 1e-6
    assert payoff.usage.sum() > 0 and 0.0 < summary["move_entropy_bits"] <= 3.0
    again = play_payoff(specs, 6, seed=0, round_seconds=15)  # seeded: it repeats
    np.testing.assert_array_equal(again.wins, payoff.wins)
    from agents.balance.meta import extend_payoff

    grown = extend_payoff(payoff, "scripted:normal", "normal", 6, specs, seed=0, round_seconds=15)
    assert grown.names[-1] == "normal" and grown.matrix.shape == (4, 4)
    np.testing.assert_allclose(grown.matrix, -grown.matrix.T)
    np.testing.assert_array_equal(grown.wins[:3, :3], payoff.wins)
    assert grown.matrix[3, 0] > 0  # normal beats easy


def test_the_planted_infinite_is_found_within_budget():
    ch = planted_infinite()
    jab = ch.moves[0]
    assert jab.hitstun >= jab.recovery + jab.startup + 1
    result = find_combo(ch, seed=0)
    assert result.loops and result.damage >= ch.max_health and result.share == 1.0
    assert {m for _, m in result.period} == {"jab"}
    assert result.evaluations <= 1000  # the stated budget: strings played, each against all 36 defender inputs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_alarm_on_the_shipped_table(seed):
    result = find_combo(None, seed=seed)
    assert not result.loops
    assert 0 < result.damage < 200 // 2


def test_sandbox_balance_writes_its_report(tmp_path, capsys):
    import json

    from experiments.cli import main

    out = tmp_path / "report"
    argv = ["balance", "--out", str(out), "--rounds", "2", "--population", "scripted:easy,scripted:hard",
            "--combo-seeds", "1", "--depth", "2", "--round-seconds", "5", "--probe-steps", "0"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["meta"]["names"] == ["scripted:easy", "scripted:hard"] and "combo" in result
    assert result["probes"][0]["parameter"] == "jab.hitstun" and result["probes"][0]["breaks_at"] is None
    assert {p.name for p in out.iterdir()} >= {"report.md", "payoff.png", "balance.json", ".sandbox.json"}
    assert "payoff.png" in (out / "report.md").read_text()
    argv[argv.index("--combo-seeds") + 1] = "0"
    assert main(argv) == 0  # its own folder is written again
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main([*argv[:2], str(other), *argv[3:]]) == 2  # a folder it did not create is refused
    assert "not empty" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[moves.jab]\nhitstun = -1\n")
    assert main([*argv[:2], str(tmp_path / "r2"), *argv[3:], "--character", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml:2" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r2").exists()  # refused before anything was written
    assert main([*argv[:2], str(tmp_path / "r3"), *argv[3:], "--probe", "jab.speed"]) == 2
    assert "unknown frame-data parameter" in capsys.readouterr().err and not (tmp_path / "r3").exists()


def test_the_planted_file_is_the_planted_character():
    from pathlib import Path

    from envs.duel.character import load_character

    path = Path(__file__).parent / "data" / "duel_planted_infinite.toml"
    assert load_character(path) == planted_infinite()


def test_the_jab_hitstun_probe_finds_the_planted_loop_one_step_away():
    import dataclasses

    from agents.balance.frames import parse_parameter, probe_parameter
    from envs.duel.character import default_character

    base = default_character()
    ch = planted_infinite()
    near = dataclasses.replace(ch, moves=(ch.moves[0]._replace(hitstun=ch.moves[0].hitstun - 1), *ch.moves[1:]))
    probe = probe_parameter(near.validate(), "jab.hitstun", steps=3)
    assert probe["breaks_at"] is not None and probe["distance"] <= 1 and probe["trail"][-1]["loops"]
    assert parse_parameter("body.gravity") == ("body", "gravity")
    with pytest.raises(ValueError, match="unknown frame-data parameter"):
        parse_parameter("jab.speed")
    assert probe_parameter(base, "jab.hitstun", steps=0)["trail"][0]["value"] == base.moves[0].hitstun
