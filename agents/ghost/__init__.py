"""The ghost: a behaviour-cloned copy of a duel player, and everything about it that knows the duel.

* :mod:`agents.ghost.demos`: the demo format (one round per ``round_NNNN.npz`` + JSON sidecar),
  :func:`save_round` / :func:`load_round` and :class:`DemoDataset`;
* :mod:`agents.ghost.checkpoint`: ghost checkpoints (``ghost.pt`` ``state_dict`` + ``ghost.json``),
  :func:`save_ghost`, :func:`load_ghost`, :func:`find_checkpoint`;
* :mod:`agents.ghost.fidelity`: play-style statistics and their divergence (:func:`behaviour_stats`,
  :func:`stats_divergence`, :data:`GAP_BINS`);
* :mod:`agents.ghost.agent`: :class:`GhostAgent`, the spec ``ghost:PATH[@T|@greedy]``;
* :mod:`agents.ghost.batched`: ghosts and scripted demonstrators over hundreds of rounds at once;
* :mod:`agents.ghost.finetune`: KL-regularised RL fine-tuning of a cloned ghost (``--finetune``).

The learning itself (windows over sequences, the two-head recurrent policy, the training loop) is
game-free and lives in :mod:`nets.imitation`. May import ``envs`` and ``nets``, never ``experiments``.
"""

from agents.ghost.agent import GhostAgent, make_ghost, parse_ghost_arg
from agents.ghost.checkpoint import GHOST_FORMAT, find_checkpoint, load_ghost, save_ghost
from agents.ghost.demos import (
    DEMO_FORMAT,
    ENV_ID,
    DemoDataset,
    DemoError,
    Round,
    demo_metadata,
    env_version,
    load_round,
    next_round_index,
    obs_layout_hash,
    round_path,
    save_round,
)
from agents.ghost.fidelity import (
    GAP_BINS,
    add_counts,
    behaviour_counts,
    behaviour_stats,
    fidelity,
    js_divergence,
    stats_divergence,
    stats_from_counts,
    strength_gap,
    win_counts,
)

__all__ = [
    "DEMO_FORMAT", "ENV_ID", "GAP_BINS", "GHOST_FORMAT", "add_counts", "behaviour_counts", "DemoDataset", "DemoError",
    "GhostAgent", "Round",
    "behaviour_stats", "demo_metadata", "fidelity", "env_version", "find_checkpoint", "js_divergence", "load_ghost",
    "load_round", "make_ghost", "next_round_index", "obs_layout_hash", "parse_ghost_arg", "round_path",
    "save_ghost", "save_round", "stats_divergence", "stats_from_counts", "strength_gap", "win_counts",
]
