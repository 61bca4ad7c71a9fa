"""The sidecar of a bundled agent records the figures of `sandbox eval duel` and `sandbox eval exploit`
(experiments/train/bundle.py: read_report, attach_reports, --report)."""

import json

import pytest

from experiments.train.bundle import attach_reports, read_report

DUEL = {"eval": "duel", "agent": "bundled:x", "round_seconds": 60.0,
        "rows": [{"vs": "scripted:hard", "rounds": 200, "wins": 190, "draws": 4, "losses": 6, "win_rate": 0.95,
                  "win_low": 0.91003, "win_high": 0.97261}]}
EXPLOIT = {"agent": "bundled:x", "algo": "ppo-pg", "steps": 1000064, "seed": 0, "round_seconds": 60,
           "held_out_seed": 3000000, "rounds": 200, "wins": 101, "draws": 9, "losses": 90, "win_rate": 0.505,
           "win_interval": [0.436, 0.574], "draw_rate": 0.045, "loss_rate": 0.45,
           "curve": [{"steps": 200000, "win_rate": 0.2}, {"steps": 1000064, "win_rate": 0.505}]}


def test_read_report_takes_the_last_json_line(tmp_path):
    out = tmp_path / "eval.txt"
    out.write_text("bundled:x against 1 opponent(s)\n" + json.dumps({"eval": "old"}) + "\nscripted:hard 190 ...\n"
                   + json.dumps(DUEL) + "\n")
    assert read_report(out) == DUEL
    (tmp_path / "none.txt").write_text("a table\nno json\n")
    with pytest.raises(ValueError, match="none.txt: no JSON line"):
        read_report(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_text("x\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: not a JSON line"):
        read_report(tmp_path / "bad.txt")


def test_attach_reports_records_duel_rows_and_exploits_with_their_commands():
    meta = {"env": "duel", "evaluation": {"random": {"win_rate": 1.0}}}
    out = attach_reports(meta, [DUEL, EXPLOIT], ["sandbox eval duel ...", "sandbox eval exploit ..."])
    assert out["evaluation"] == meta["evaluation"] and "eval_duel" not in meta  # meta itself is not changed
    assert out["eval_duel"] == {"scripted:hard": {"rounds": 200, "wins": 190, "draws": 4, "losses": 6,
                                                  "win_rate": 0.95, "interval": [0.91, 0.9726],
                                                  "round_seconds": 60.0, "command": "sandbox eval duel ..."}}
    assert out["exploit"] == [{"steps": 1000064, "algo": "ppo-pg", "seed": 0, "rounds": 200, "wins": 101,
                               "draws": 9, "losses": 90, "win_rate": 0.505, "win_interval": [0.436, 0.574],
                               "curve": EXPLOIT["curve"], "command": "sandbox eval exploit ..."}]
    # a second duel report adds its opponents; a second exploit report is appended
    again = attach_reports(out, [{**DUEL, "rows": [{**DUEL["rows"][0], "vs": "scripted:zoner-hard"}]}, EXPLOIT])
    assert sorted(again["eval_duel"]) == ["scripted:hard", "scripted:zoner-hard"]
    assert len(again["exploit"]) == 2 and "command" not in again["exploit"][1]
    with pytest.raises(ValueError, match="report 1 is not `sandbox eval duel`"):
        attach_reports(meta, [{"rows": 3}])


def test_attach_reports_records_held_out_stealth_figures():
    report = {"eval": "stealth", "rows": [], "by_difficulty": {
        "0.1": {"levels": 100, "success": 1.0, "optimal_ratio": 0.99412},
        "0.9": {"levels": 100, "success": 0.8, "optimal_ratio": 0.39351}}}
    out = attach_reports({"env": "stealth"}, [report], ["sandbox eval stealth --generated 0.1,0.9 --levels 100"])
    assert out["eval_stealth"] == {"by_difficulty": {"0.1": {"levels": 100, "success": 1.0, "optimal_ratio": 0.9941},
                                                     "0.9": {"levels": 100, "success": 0.8, "optimal_ratio": 0.3935}},
                                   "command": "sandbox eval stealth --generated 0.1,0.9 --levels 100"}
    with pytest.raises(ValueError, match="report 1 is not"):  # bundled levels only: nothing by difficulty
        attach_reports({"env": "stealth"}, [{"eval": "stealth", "rows": [], "by_difficulty": {}}])
