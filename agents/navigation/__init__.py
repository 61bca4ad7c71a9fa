"""The navigation AI of the stealth grid: it extracts what agents need to know about a level. Maps of
where guards can see (``visibility``), how often each cell is watched (``threat_map``) and where one can
hide (``hiding_spots``); the shortest never-seen route (``plan_safe_path``, a time-expanded search over
``(cell, phase)``) and ``PlannerAgent`` that follows it; ``OptimalAgent``, the value-iteration policy of
the level's exact MDP; ``build_mdp`` (the env's MDP arrays turned into the solvers' ``TabularMDP``) and
``TabularAgent``, which plays any state-indexed policy. The maps reach learning agents as the env's own
observation channels (``nav_features=``); ``NavFeatures`` is that keyword's older name.

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from agents.navigation.analysis import hiding_spots, threat_map, visibility
from agents.navigation.features import NavFeatures
from agents.navigation.mdp import TabularAgent, build_mdp
from agents.navigation.planner import OptimalAgent, PlannerAgent, plan_safe_path

__all__ = [
    "NavFeatures",
    "OptimalAgent",
    "PlannerAgent",
    "TabularAgent",
    "build_mdp",
    "hiding_spots",
    "plan_safe_path",
    "threat_map",
    "visibility",
]
