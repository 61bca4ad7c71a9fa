"""Demos and ghosts written before the ghost moved from nets.imitation to agents.ghost (issue 13) still load.

tests/data/pre_redesign/ was written by the old code (commit 1ca3fef): two rounds of scripted:hard vs
scripted:easy recorded with ``nets.imitation.save_round``, a tiny ghost trained on them and saved with
``nets.imitation.save_ghost``, the ghost's greedy actions on the first 20 observations of round 1, and
``nets.imitation.behaviour_stats`` of the two rounds. The new code must read the same files and give the
same answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import agents.ghost as ghost
from agents import make_agent

OLD = Path(__file__).parent / "data" / "pre_redesign"


def test_old_demos_load():
    ds = ghost.DemoDataset(OLD / "demos")
    assert len(ds) == 2 and ds.steps == 90 and ds.frame_skip == 4
    assert ds.rounds[0].meta["obs_layout_hash"] == ghost.obs_layout_hash() == "ac4ea29bc613a29d"
    assert ds.opponents == ["scripted:easy"]


def test_old_ghost_loads_and_plays_the_same_actions():
    expected = json.loads((OLD / "expected.json").read_text())["greedy_actions_round_0001_first20"]
    agent = make_agent(f"ghost:{OLD / 'ghost'}@greedy")
    obs = ghost.load_round(OLD / "demos" / "round_0001.npz").obs[:20]
    assert [agent.predict(o)[0].tolist() for o in obs] == expected


def test_old_fidelity_statistics_are_unchanged():
    ds = ghost.DemoDataset(OLD / "demos")
    got = ghost.behaviour_stats([r.obs for r in ds.rounds], [r.actions for r in ds.rounds])
    want = json.loads((OLD / "stats.json").read_text())
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert np.allclose(got[key], value), key


def test_the_training_config_matches_the_saved_model_config():
    """``sandbox train ghost --resume`` compares the checkpoint's model config with the options' one; the
    two must be written alike (before issue 13 they never were, so every resume was refused)."""
    from nets.imitation import GhostTrainConfig, make_policy

    cfg = GhostTrainConfig(hidden=12, periods=(1, 2), fc=8)
    assert make_policy(**cfg.model_config(76)).config == cfg.model_config(76)
    sizes = ghost.DemoDataset(OLD / "demos").sizes
    assert cfg.model_config(**sizes) == json.loads((OLD / "ghost" / "checkpoints" / "ghost.json").read_text())["model"]
