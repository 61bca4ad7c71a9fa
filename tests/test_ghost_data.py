"""Issue 6, data side: the demo format, bad files, the split by round, TBPTT windows and the fidelity maths."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

import agents.ghost as ghost
from experiments.play.record import RecordConfig, record_rounds
from nets import imitation as im


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demos") / "rushdown"
    record_rounds(RecordConfig(player="scripted:rushdown", vs="scripted:easy,scripted:normal", rounds=4, out=str(out),
                               seed=3, round_seconds=4), echo=lambda *_: None)
    return out


def test_recorded_round_format(demo_dir):
    files = sorted(demo_dir.glob("round_*.npz"))
    assert [f.name for f in files] == [f"round_{i:04d}.npz" for i in range(1, 5)]
    r = ghost.load_round(files[0])
    meta = json.loads(files[0].with_suffix(".json").read_text())
    for key in ("env_id", "env_version", "obs_layout_hash", "frame_skip", "player", "date", "opponent"):
        assert key in meta
    assert meta["env_id"] == "sandbox/Duel-v0" and meta["env_version"] == 0 and meta["frame_skip"] == 4
    assert r.obs.shape == (len(r), 76) and r.obs.dtype == np.float32 and r.actions.shape == (len(r), 2)
    assert r.opponent == "scripted:easy" and r.winner in ("player", "opponent", "draw")
    assert len(r) == meta["steps"] == 60  # 4 s at 60 ticks/s, 4 ticks per decision (unless a KO)
    with np.load(files[0], allow_pickle=False) as z:  # plain arrays only: loads without pickle
        assert z["obs"].shape == r.obs.shape
    # the recorded actions are what the scripted player chooses on these observations
    from agents import make_agent

    assert {int(a) for a in r.actions[:, 0]} <= set(range(9))
    assert make_agent("scripted:rushdown").predict(r.obs[0])[0].shape == (2,)


def test_recording_is_reproducible_and_appends(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        record_rounds(RecordConfig(player="scripted:zoner", vs="scripted:normal", rounds=2, out=str(out), seed=5,
                                   round_seconds=3), echo=lambda *_: None)
    for name in ("round_0001.npz", "round_0002.npz"):
        ra, rb = ghost.load_round(a / name), ghost.load_round(b / name)
        np.testing.assert_array_equal(ra.obs, rb.obs)
        np.testing.assert_array_equal(ra.actions, rb.actions)
    record_rounds(RecordConfig(player="scripted:zoner", vs="scripted:normal", rounds=1, out=str(a), seed=6,
                               round_seconds=3), echo=lambda *_: None)
    assert ghost.next_round_index(a) == 4  # numbering continues; earlier rounds are kept


def test_layout_hash_tracks_the_layout(monkeypatch):
    from envs.duel import layout as E  # the layout is defined once, in envs.duel.layout

    h = ghost.obs_layout_hash()
    assert h == ghost.obs_layout_hash() and len(h) == 16
    monkeypatch.setattr(E, "OBS_GAP", E.OBS_GAP + 1)  # a feature moved
    assert ghost.obs_layout_hash() != h
    monkeypatch.undo()
    monkeypatch.setattr(E, "OBS_NEW_FEATURE", 76, raising=False)  # a feature added
    assert ghost.obs_layout_hash() != h


def test_env_version_from_registered_id():
    assert ghost.env_version("sandbox/Duel-v0") == 0
    assert ghost.env_version("sandbox/Duel-v3") == 3


def _copy(demo_dir, tmp_path):
    d = tmp_path / "demos"
    shutil.copytree(demo_dir, d)
    return d


def test_truncated_npz_is_rejected_by_name(demo_dir, tmp_path):
    d = _copy(demo_dir, tmp_path)
    bad = d / "round_0002.npz"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(ghost.DemoError, match=r"round_0002\.npz: corrupt or truncated"):
        ghost.DemoDataset(d)
    with pytest.warns(UserWarning, match="round_0002"):
        ds = ghost.DemoDataset(d, skip_bad=True)
    assert len(ds) == 3 and [p.name for p, _ in ds.skipped] == ["round_0002.npz"]


def test_mismatched_layout_hash_is_rejected_by_name(demo_dir, tmp_path):
    d = _copy(demo_dir, tmp_path)
    side = d / "round_0003.json"
    meta = json.loads(side.read_text())
    meta["obs_layout_hash"] = "0123456789abcdef"
    side.write_text(json.dumps(meta))
    with pytest.raises(ghost.DemoError, match=r"round_0003\.npz: observation layout hash '0123456789abcdef'"):
        ghost.DemoDataset(d)
    with pytest.warns(UserWarning):
        ds = ghost.DemoDataset(d, skip_bad=True)
    assert len(ds) == 3


def test_missing_sidecar_is_rejected_by_name(demo_dir, tmp_path):
    d = _copy(demo_dir, tmp_path)
    (d / "round_0001.json").unlink()
    with pytest.raises(ghost.DemoError, match=r"round_0001\.npz: missing sidecar round_0001\.json"):
        ghost.DemoDataset(d)
    with pytest.warns(UserWarning):
        ds = ghost.DemoDataset(d, skip_bad=True)
    assert sorted(r.path.name for r in ds.rounds) == ["round_0002.npz", "round_0003.npz", "round_0004.npz"]


def test_other_bad_contents(demo_dir, tmp_path):
    d = _copy(demo_dir, tmp_path)
    r = ghost.load_round(d / "round_0004.npz")
    meta = dict(r.meta)
    acts = r.actions.copy()
    acts[0, 0] = 9  # no such stick direction
    ghost.save_round(d / "round_0004.npz", r.obs, acts, r.rewards, opponent=r.opponent, winner=r.winner,
                  final_health=r.final_health, meta=meta)
    with pytest.raises(ghost.DemoError, match=r"round_0004\.npz: actions out of range"):
        ghost.load_round(d / "round_0004.npz")
    meta["env_id"] = "sandbox/Stealth-v0"
    (d / "round_0001.json").write_text(json.dumps(meta))
    with pytest.raises(ghost.DemoError, match=r"round_0001\.npz: recorded in env 'sandbox/Stealth-v0'"):
        ghost.load_round(d / "round_0001.npz")
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        ghost.DemoDataset(tmp_path / "no_such_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ghost.DemoError, match="no demo rounds"):
        ghost.DemoDataset(tmp_path / "empty")


def test_split_is_by_round_known_answer():
    train, val = im.split_rounds(10, 0.2, seed=0)
    assert len(val) == 2 and len(train) == 8  # round(0.2 * 10) = 2
    assert sorted(train + val) == list(range(10)) and not set(train) & set(val)
    assert (train, val) == im.split_rounds(10, 0.2, seed=0)  # seeded
    assert sorted(np.random.default_rng(0).permutation(10)[:2].tolist()) == val
    assert im.split_rounds(2, 0.01) [1] != [] and len(im.split_rounds(3, 0.99)[0]) == 1  # clipped to [1, n-1]
    with pytest.raises(ValueError, match="at least 2 rounds"):
        im.split_rounds(1, 0.2)


def _fake_round(n, start):
    obs = np.zeros((n, 76), np.float32)
    obs[:, 0] = np.arange(start, start + n)  # step ids
    acts = np.stack([np.arange(n) % 9, np.arange(n) % 4], 1)
    return ghost.Round(None, obs, acts, np.zeros(n, np.float32), "x", "draw", np.zeros(2, np.int64), {})


def test_tbptt_windows_cover_each_round_once_in_order():
    rounds = [_fake_round(n, 1000 * i) for i, n in enumerate([7, 3, 5])]
    wins = list(im.tbptt_windows(rounds, window=2, batch_size=2))
    # group 1: rounds of length 7 and 3 (longest first); group 2: the round of length 5
    assert [w.first for w in wins] == [True, False, False, False, True, False, False]
    assert [w.rows for w in wins] == [2, 2, 1, 1, 1, 1, 1]
    seen = {}
    for w in wins:
        for b in range(w.rows):
            ids = w.obs[b, w.mask[b], 0]
            seen.setdefault(int(ids[0]) // 1000, []).extend(ids.tolist())
    assert seen == {0: list(range(7)), 1: list(range(1000, 1003)), 2: list(range(2000, 2005))}


def test_js_divergence_known_answers():
    assert im.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert im.js_divergence([0.3, 0.7], [0.3, 0.7]) == pytest.approx(0.0)
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4); KL(p||m) = 0.5 log2(2/3) + 0.5 log2(2), KL(q||m) = log2(4/3)
    expected = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert im.js_divergence([0.5, 0.5], [1, 0]) == pytest.approx(expected) == pytest.approx(0.311278, abs=1e-6)
    assert im.js_divergence([2, 2], [3, 0]) == pytest.approx(expected)  # counts are normalised
    assert im.js_divergence([0.5, 0.5], [1, 0]) == pytest.approx(im.js_divergence([1, 0], [0.5, 0.5]))


def test_behaviour_stats_known_answer():
    from envs.duel import layout as E  # the layout is defined once, in envs.duel.layout

    obs = np.zeros((4, 76), np.float32)
    obs[:, E.OBS_GAP] = np.array([5, 15, 300, 500]) / 800  # one gap per bin 0, 1, 9, 10
    move = [0, 1, 1, 8]  # none, jab (starts), jab (continues), projectile (starts)
    obs[np.arange(4), E.SELF + E.F_MOVE + np.array(move)] = 1
    obs[1, E.SELF + E.F_GUARD_STAND] = 1
    acts = np.array([[0, 0], [7, 0], [7, 1], [5, 3]])
    st = ghost.behaviour_stats([obs], [acts])
    assert st["stick"][7] == pytest.approx(0.5) and st["stick"][0] == st["stick"][5] == pytest.approx(0.25)
    assert st["button"] == pytest.approx([0.5, 0.25, 0, 0.25])
    assert st["moves"] == pytest.approx([0.5, 0, 0, 0, 0, 0, 0, 0.5])  # jab once, projectile once
    assert np.nonzero(st["gap"])[0].tolist() == [0, 1, 9, 10]
    assert st["guard_rate"] == pytest.approx(0.25) and st["mean_gap"] == pytest.approx(205.0)
    d = ghost.stats_divergence(st, st)
    assert d["divergence"] == pytest.approx(0.0) and d["guard_rate_diff"] == 0
