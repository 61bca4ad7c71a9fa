"""Quick taps in a real window reach the recorded demo: ``sandbox record duel`` under an Xvfb X server,
with key events from ``xdotool`` (XTEST: the same path as a keyboard). Skipped with a reason where
Xvfb or xdotool is not installed (.ci/run installs them: apt-get install xvfb x11-apps xdotool)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_watch_window import xserver  # noqa: F401  (the fixture: an Xvfb display)

TAPS, DOWN_S, GAP_S = 30, 0.03, 0.27  # 30 taps of Z, each 30 ms down and 270 ms apart


@pytest.fixture
def xdotool():
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool; .ci/run does it)")
    return shutil.which("xdotool")


def test_quick_taps_reach_the_recorded_demo(xserver, xdotool, tmp_path):  # noqa: F811
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env["DISPLAY"] = xserver
    sandbox = Path(sys.executable).with_name("sandbox")
    cmd = [str(sandbox)] if sandbox.exists() else [sys.executable, "-m", "experiments.cli"]
    # P2 is a second keyboard player nobody plays (it stands still), so P1's jabs are never interrupted
    proc = subprocess.Popen([*cmd, "record", "duel", "--vs", "human", "--input", "keyboard", "--rounds", "1",
                             "--round-seconds", "14", "--seed", "0", "--out", str(tmp_path / "demos")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found = subprocess.run([xdotool, "search", "--sync", "--onlyvisible", "--pid", str(proc.pid)], env=env,
                               capture_output=True, text=True, timeout=60)
        window = found.stdout.split()[0]
        taps = []
        for _ in range(TAPS):
            taps += ["keydown", "z", "sleep", str(DOWN_S), "keyup", "z", "sleep", str(GAP_S)]
        subprocess.run([xdotool, "windowfocus", "--sync", window, *taps], env=env, check=True, timeout=60)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    meta = json.loads((tmp_path / "demos" / "round_0001.json").read_text())
    actions = np.load(tmp_path / "demos" / "round_0001.npz")["actions"]
    assert meta["presses"] == TAPS  # every tap was read, though each was shorter than a decision (67 ms)
    out = int((actions[:, 1] != 0).sum())
    assert out == meta["presses_out"]  # each press that came out is in the demo, once, as a light button
    assert set(actions[:, 1].tolist()) <= {0, 1}
    # at 60 ticks per second taps 300 ms apart are 18 ticks apart and a jab takes 16: all 30 come out
    # (30/30 here). On a loaded machine the game runs slower than the wall clock, two taps can fall
    # inside one jab, and the later one is dropped by the buffer as it should be; the old per-decision
    # polling of held keys got 16-18 of 30 even unloaded.
    assert out >= TAPS - 5
