"""Maps of a stealth level for a navigation AI: who sees where, how often, and where to hide.

The pure computations live in :mod:`envs.stealth.features` (the env computes the same maps as
observation channels, and ``envs`` imports no ``agents``); this module re-exports them. All of them read
the level's compiled per-phase tables (:func:`envs.stealth.rules.compile_world`), so they agree with
what the env detects.
"""

from __future__ import annotations

from envs.stealth.features import distances as _distances
from envs.stealth.features import hiding_spots, threat_map, visibility

__all__ = ["_distances", "hiding_spots", "threat_map", "visibility"]
