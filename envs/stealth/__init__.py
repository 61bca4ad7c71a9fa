"""The stealth grid: cross from the left edge to the right edge without entering any guard's field of
view. ``level`` holds levels (TOML files, bundled maps in ``maps/``, the generator and its seeded pools),
``rules`` the pure rules (guard motion, supercover line-of-sight vision, detection, the step), ``config``
the env's arguments, validated once (:class:`StealthConfig`), ``kernels`` the step and the observation
written once as numba kernels over a batch, ``core`` the batched state and tables both env forms hold,
``env`` the Gymnasium env ``sandbox/Stealth-v0`` (a batch of one), ``vector`` its natively batched form
(``gym.make_vec``), ``features`` the per-level navigation maps the kernels read (observation channels and
the shaping potential), ``mdp`` its exact MDP built from the same rules (as plain arrays, with the state
index and the state function of the env), and ``render`` the drawing.

Imports: only ``envs`` (and numpy, numba, Gymnasium, and pygame for rendering); never ``nets``, ``agents``
or ``experiments``: the solvers take the MDP's arrays in ``nets.bellman.mdp_from_arrays``."""

from envs.stealth.config import StealthConfig
from envs.stealth.level import (
    Guard,
    Level,
    LevelError,
    bundled_levels,
    generate_level,
    load_level,
    parse_level,
)
from envs.stealth.rules import Action, Rewards

__all__ = [
    "Action",
    "StealthConfig",
    "Guard",
    "Level",
    "LevelError",
    "Rewards",
    "bundled_levels",
    "generate_level",
    "load_level",
    "parse_level",
]

