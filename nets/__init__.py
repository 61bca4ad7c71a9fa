"""Second floor: learners and torch modules that know no particular game, sized from spaces and arrays.
Exact Bellman solvers for tabular MDPs (``bellman``), the MLP (``mlp``), the clockwork RNN
(``clockwork``), controller heads (``heads``), policy-gradient learners (``policy_gradient``; PPO in
``ppo``; their public base, :class:`nets.on_policy.OnPolicyLearner`, in ``on_policy``; returns and
advantages in ``returns``), sequence behaviour cloning (``imitation``), tabular Q-learning (``tabular``),
SB3 glue (``sb3``) and the one torch-file loader (``torchfile``). Device and torch threads are chosen in one place,
``nets.device``.

Imports: ``nets`` and third-party libraries, plus the one game-free utility of the ground floor,
``envs.fileio`` (atomic writes); never a game (``envs.duel``, ``envs.stealth``, or ``envs`` itself,
whose import registers the games), ``agents`` or ``experiments``."""

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
    "PPO": "nets.ppo",
    "OnPolicyLearner": "nets.on_policy",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nets' has no attribute {name!r}")
