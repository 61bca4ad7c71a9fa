"""`sandbox watch` in a real window: an Xvfb X server, the command with DISPLAY set and SDL's dummy
driver removed, and screenshots of the X root window (``xwd``) while it runs. Skipped with a reason
where Xvfb or xwd is not installed (.ci/run installs both: apt-get install xvfb x11-apps)."""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HUD_YELLOW = (240, 200, 60)  # the duel's health bars (envs/duel/render.py)


def xwd_to_rgb(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 from an XWD dump of a TrueColor 24/32-bit screen (the format ``xwd`` writes)."""
    header = struct.unpack(">25I", data[:100])
    header_size, width, height = header[0], header[4], header[5]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = header[7], header[11], header[12], header[19]
    if bits_per_pixel not in (24, 32):
        raise ValueError(f"xwd: {bits_per_pixel} bits per pixel is not supported")
    nbytes = bits_per_pixel // 8
    start = header_size + 12 * ncolors
    rows = np.frombuffer(data[start:start + bytes_per_line * height], dtype=np.uint8).reshape(height, bytes_per_line)
    px = rows[:, : width * nbytes].reshape(height, width, nbytes)
    if byte_order == 0:  # LSBFirst: B, G, R(, X)
        return px[..., 2::-1] if nbytes == 3 else px[..., 2::-1][..., :3]
    return px[..., nbytes - 3:]


def colour_count(img: np.ndarray) -> int:
    packed = (img[..., 0].astype(np.uint32) << 16) | (img[..., 1].astype(np.uint32) << 8) | img[..., 2]
    return len(np.unique(packed))


@pytest.fixture
def xserver():
    if shutil.which("Xvfb") is None or shutil.which("xwd") is None:
        pytest.skip("Xvfb and xwd are not installed (apt-get install xvfb x11-apps; .ci/run does it)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 20)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read_end)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_window_opens_and_shows_the_duel(xserver, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env["DISPLAY"] = xserver
    sandbox = Path(sys.executable).with_name("sandbox")
    cmd = [str(sandbox)] if sandbox.exists() else [sys.executable, "-m", "experiments.cli"]
    proc = subprocess.Popen([*cmd, "watch", "--seconds", "3", "--seed", "0"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shots, deadline = [], time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # screenshots while it runs, read later
        time.sleep(0.25)
        shot = subprocess.run(["xwd", "-root", "-silent", "-display", xserver], capture_output=True, timeout=20)
        if shot.returncode == 0:
            shots.append(shot.stdout)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "recorded" not in out and not (tmp_path / "runs").exists()  # a window, not the headless GIF
    assert shots, "no screenshot was taken while the window was open"
    best = max((colour_count(img), k, img) for k, img in enumerate(map(xwd_to_rgb, shots)))
    colours, _, img = best
    assert colours > 20, f"the screen is blank ({colours} colours)"
    assert (img == HUD_YELLOW).all(axis=-1).sum() > 1000  # the duel's health bars are on screen
