"""Learners and torch modules shared by every environment: exact Bellman solvers for tabular MDPs
(``nets.bellman``), and, as they land, the MLP, the clockwork RNN, controller heads, behaviour cloning
and policy-gradient learners. Device selection lives in one place, ``nets.device``."""

# The torch modules are imported on first use, so ``import nets`` (and ``nets.bellman``) never pays for
# torch. Import them as ``from nets.mlp import MLP``, ``from nets.clockwork import ClockworkRNN``,
# ``from nets.heads import ControllerHead`` and ``from nets.sb3 import mlp_policy_kwargs``; the names
# below also work as ``nets.MLP`` etc.
_LAZY = {
    "MLP": "nets.mlp",
    "ClockworkRNN": "nets.clockwork",
    "ClockworkState": "nets.clockwork",
    "ControllerHead": "nets.heads",
    "ControllerDistribution": "nets.heads",
    "MLPExtractor": "nets.sb3",
    "mlp_policy_kwargs": "nets.sb3",
    "load_sb3_zip": "nets.sb3",
    "A2C": "nets.policy_gradient",
    "Reinforce": "nets.policy_gradient",
    "load_learner": "nets.policy_gradient",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nets' has no attribute {name!r}")
