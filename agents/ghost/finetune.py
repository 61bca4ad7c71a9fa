"""Fine-tune a behaviour-cloned ghost with KL-regularised RL until it wins as often as its demonstrator.

The cloned ghost plays the opponents its demonstrator faced in the batched duel
(:func:`agents.ghost.batched.play_batched`), and :class:`nets.kl_ppo.KLRegularisedPPO` updates it on
the duel's reward (health difference, +-1 for the round) minus ``lambda * KL(pi || pi_BC)``, the cloned
policy being the reference: the penalty keeps its style, the reward restores its strength.

**Matching, not exceeding.** The target is the demonstrator's win rate against each opponent (from
the demo rounds). After each iteration's rounds:

* with ``lam="auto"``, lambda is a dual variable: it grows x``lam_step`` when the ghost wins more often
  than its demonstrator on average over the opponents, shrinks /``lam_step`` when it wins less;
* with ``gate`` on, the reward of the rounds against an opponent the ghost already beats as often as
  its demonstrator is set to 0 for the next update, so the KL alone pulls that part of its play back
  to the clone;
* every iterate is scored by its largest per-opponent gap ``max_o |win_o - target_o|`` on the rounds it
  played (seeds of its own, never those of the evaluation); the ``finalists`` best replay
  ``final_rounds`` more rounds per opponent and the best of them is kept (the clone itself is iterate 0,
  so fine-tuning never ends further from the targets than the clone measured on those rounds).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from agents.ghost.batched import BatchedGhost, play_batched
from envs.duel.config import DuelConfig

if TYPE_CHECKING:
    import torch

    from agents.ghost.demos import Round
    from envs.protocols import BatchedAgent
    from nets.imitation import GhostModel

__all__ = ["FinetuneConfig", "FinetuneResult", "check_opponents", "finetune_ghost", "ghost_log_probs",
           "target_win_rates"]


@dataclass
class FinetuneConfig:
    """KL-regularised fine-tuning of a ghost (``sandbox train ghost --finetune``)."""

    iterations: int = 12  # rollout + update rounds
    rounds: int = 32  # rounds per opponent per iteration
    lam: float | str = "auto"  # the KL weight lambda, or "auto": adapted towards the demonstrator's win rate
    lam_init: float = 0.5  # lambda's start value with "auto"
    lam_step: float = 2.0  # "auto": lambda's factor per iteration
    lam_range: tuple[float, float] = (0.05, 100.0)  # "auto": lambda stays in this range
    gate: bool = True  # no reward against opponents already beaten as often as the demonstrator did
    finalists: int = 3  # the best iterates replayed on `final_rounds` more rounds per opponent to pick one
    final_rounds: int = 0  # rounds per opponent of that replay (0: 3 x rounds)
    lr: float = 3e-4  # policy learning rate (Adam)
    value_lr: float = 1e-3  # value-function learning rate
    n_epochs: int = 3  # PPO passes per iteration
    n_minibatches: int = 4  # minibatches (groups of rounds) per pass
    clip_coef: float = 0.2  # PPO clip
    gamma: float = 0.995  # discount (a round is ~900 decisions)
    gae_lambda: float = 0.95  # GAE lambda
    seed: int = 0  # rollouts and shuffling; rollout seeds are 10**8 + ..., apart from evaluation seeds
    round_seconds: float = 60.0  # round length
    frame_skip: int = DuelConfig.frame_skip  # ticks per decision (the demos')


@dataclass
class FinetuneResult:
    model: object  # the best iterate (eval mode)
    lam: float | None  # the lambda of the update that made the kept iterate (None: the clone itself was kept)
    best_iteration: int  # 0 = the clone itself
    history: list[dict] = field(default_factory=list)  # per iteration: lam, win rates, gaps, score, update logs


def target_win_rates(rounds: Iterable[Round]) -> dict[str, float]:
    """The demonstrator's win rate against each opponent of its demo rounds (``winner == "player"``)."""
    by: dict[str, list[bool]] = {}
    for r in rounds:
        by.setdefault(r.opponent, []).append(r.winner == "player")
    return {o: float(np.mean(v)) for o, v in by.items()}


def check_opponents(opponents: Iterable[str]) -> None:
    """Fine-tuning plays the demos' opponents in the batched duel: every opponent must be a spec that acts for
    many rounds at once (:func:`agents.make_batched_agent`; not ``human``)."""
    from agents.opponents import batched_duel_opponent

    for o in opponents:
        try:
            cast("BatchedAgent", batched_duel_opponent(o)).bind(2)
            ok = True
        except (ValueError, FileNotFoundError):
            ok = False
        if not ok:
            raise ValueError(f"--finetune plays the demos' opponents in the batched duel, which takes any agent spec "
                             f"that acts for many rounds (not human); these demos were played against {o!r}")


def ghost_log_probs(model: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """Log-probabilities (B, T, sticks * buttons) of the ghost's (stick, button) pairs over whole rounds
    ``obs`` (B, T, D) from a zero state; the pair (s, b) is index ``s * buttons + b``."""
    from nets.imitation import pair_log_probs

    stick, button, _ = model(obs)
    return pair_log_probs(stick, button).flatten(-2)


def _value_net(obs_size: int) -> torch.nn.Module:
    """A value MLP over one observation, applied along (B, T, D)."""
    import torch

    from nets.mlp import MLP

    class Value(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = MLP(obs_size, (128, 128), 1, activation="tanh")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)[..., 0]

    return Value()


def _pad(rounds, weights):
    """Rounds -> (B, T, D) obs, (B, T) flat actions, rewards (times the round's weight) and mask."""
    T = max(len(r) for r in rounds)
    B, D = len(rounds), rounds[0].obs.shape[1]
    obs, act = np.zeros((B, T, D), np.float32), np.zeros((B, T), np.int64)
    rew, mask = np.zeros((B, T), np.float32), np.zeros((B, T), bool)
    for i, (r, w) in enumerate(zip(rounds, weights, strict=True)):
        n = len(r)
        obs[i, :n], act[i, :n] = r.obs, r.actions[:, 0] * 4 + r.actions[:, 1]
        rew[i, :n], mask[i, :n] = r.rewards * w, True
    return obs, act, rew, mask


def finetune_ghost(model: GhostModel, targets: dict[str, float], cfg: FinetuneConfig | None = None,
                   echo: Callable[[str], object] = print) -> FinetuneResult:
    """Fine-tune a copy of ``model`` (a ghost policy) against the opponents of ``targets`` (opponent spec
    -> the demonstrator's win rate) as the module docstring says; returns the best iterate."""
    import torch

    from nets.device import threads
    from nets.kl_ppo import KLRegularisedPPO

    cfg = cfg or FinetuneConfig()
    check_opponents(targets)
    if cfg.iterations < 0 or cfg.rounds < 1:
        raise ValueError(f"fine-tuning needs iterations >= 0 and rounds >= 1; got {cfg.iterations}, {cfg.rounds}")
    auto = isinstance(cfg.lam, str)
    if auto and cfg.lam != "auto":
        raise ValueError(f"lam must be a number >= 0 or 'auto'; got {cfg.lam!r}")
    lam = float(cfg.lam_init if auto else cfg.lam)
    opponents = list(targets)
    policy = copy.deepcopy(model).train()
    with threads(1):
        torch.manual_seed(cfg.seed)
        learner = KLRegularisedPPO(cast("torch.nn.Module", policy), _value_net(policy.obs_size), ghost_log_probs,
                                   lam=lam, lr=cfg.lr, value_lr=cfg.value_lr, gamma=cfg.gamma,
                                   gae_lambda=cfg.gae_lambda, n_epochs=cfg.n_epochs,
                                   n_minibatches=cfg.n_minibatches, clip_coef=cfg.clip_coef, seed=cfg.seed)
        # (score, iteration, lambda of the update that made it, state_dict)
        snapshots: list[tuple[float, int, float | None, dict[str, Any]]] = []
        history = []
        made_by: float | None = None  # the lambda of the last update (None before the first)
        for it in range(cfg.iterations + 1):
            # ---- rollouts: the current policy against every opponent (seeds apart from evaluation's)
            policy.eval()
            played = [play_batched(BatchedGhost(policy), opp, cfg.rounds,
                                   seed=10**8 + cfg.seed * 10**6 + it * 1000 + j * 100,
                                   frame_skip=cfg.frame_skip, round_seconds=cfg.round_seconds)
                      for j, opp in enumerate(opponents)]
            wins = {o: float(np.mean([r.winner == "player" for r in rs]))
                    for o, rs in zip(opponents, played, strict=True)}
            gaps = {o: wins[o] - targets[o] for o in opponents}
            score = max(abs(g) for g in gaps.values())
            row = {"iteration": it, "lam": lam, "made_by_lam": made_by, "win_rate": wins, "gap": gaps, "score": score}
            snapshots.append((score, it, made_by, {k: v.detach().clone() for k, v in policy.state_dict().items()}))
            echo(f"  finetune {it}/{cfg.iterations}: lambda {lam:.3g}  " + "  ".join(
                f"{o.split(':')[-1]} {wins[o]:.2f}/{targets[o]:.2f}" for o in opponents) + f"  max|gap| {score:.2f}")
            if it == cfg.iterations:
                history.append(row)
                break
            # ---- one KL-regularised PPO update on these rounds (only the KL where every reward is gated)
            weights = [0.0 if cfg.gate and gaps[o] >= 0 else 1.0 for o in opponents]
            rounds = [r for rs in played for r in rs]
            w = [weights[j] for j, rs in enumerate(played) for _ in rs]
            learner.lam = lam if any(weights) else math.inf
            policy.train()
            row["update"] = learner.update(*_pad(rounds, w))
            made_by = learner.lam
            history.append(row)
            # ---- lambda follows the mean gap (auto)
            if auto:
                lam = lam * cfg.lam_step if np.mean(list(gaps.values())) > 0 else lam / cfg.lam_step
                lam = min(max(lam, cfg.lam_range[0]), cfg.lam_range[1])
        # ---- the finalists (best rollout scores) replayed on more rounds; the best of them is kept
        final_rounds = cfg.final_rounds or 3 * cfg.rounds
        finalists = sorted(snapshots, key=lambda x: (x[0], x[1]))[:max(1, cfg.finalists)]
        best: tuple[float, dict[str, Any], int, float | None] | None = None
        for _score, it, lam_it, sd in finalists:
            policy.load_state_dict(sd)
            policy.eval()
            wins = {o: float(np.mean([r.winner == "player" for r in play_batched(
                BatchedGhost(policy), o, final_rounds, seed=10**8 + cfg.seed * 10**6 + 900_000 + j * 1000,
                frame_skip=cfg.frame_skip, round_seconds=cfg.round_seconds)])) for j, o in enumerate(opponents)}
            final = max(abs(wins[o] - targets[o]) for o in opponents)
            echo(f"  finalist: iteration {it} (made with lambda {lam_it}) on {final_rounds} rounds: " + "  ".join(
                f"{o.split(':')[-1]} {wins[o]:.2f}/{targets[o]:.2f}" for o in opponents) + f"  max|gap| {final:.2f}")
            if best is None or final < best[0] - 1e-9:
                best = (final, sd, it, lam_it)
    assert best is not None  # there is always a finalist
    policy.load_state_dict(best[1])
    policy.eval()
    return FinetuneResult(policy, best[3], best[2], history)
