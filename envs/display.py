"""Whether a real window can open here. Every window-opening code path asks this one function."""

from __future__ import annotations

import os
import sys


def display_available() -> bool:
    """True when a display server is reachable and SDL is not forced to a headless driver."""
    if os.environ.get("SDL_VIDEODRIVER", "") in ("dummy", "offscreen"):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True
