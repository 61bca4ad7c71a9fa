"""DAgger from the exact optimum: the warm start of ``sandbox train stealth --algo ppo-pg --curriculum
--set warm_start=dagger``.

Dataset aggregation (Ross, Gordon and Bagnell 2011) with the level's exact MDP as the expert
(:class:`agents.navigation.expert.ExpertTables`, played by :class:`agents.navigation.expert.ExpertAgent`).
Round r runs the batched stealth env for ``steps`` steps through the batched harness
(:func:`agents.harness.run_steps`, the expert as the oracle); each env acts with the expert's action with
probability ``beta_r = beta ** r`` (round 0: the expert alone) and with the learner's sampled action
otherwise (:class:`agents.batched.Mixture`), so later rounds visit the states the learner's own mistakes
lead to. Every visited state is labelled with the expert's action and V*. After
each round the learner's policy is fitted to all labels so far by cross-entropy, and its value head to
V* by squared error (so PPO, which follows, starts from a critic that already knows the optimum's
values; the unshaped rewards, the same discount).

Nothing here knows PPO's internals beyond ``learner.policy`` (obs -> logits, values) and
``learner.device``; the env is the curriculum's, so the director keeps moving difficulties as episodes
end (round 0's expert succeeds everywhere and pushes them up; the learner's rounds pull them back).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def _base(env):
    """The batched stealth env under the wrappers."""
    return env.unwrapped


def dagger(learner, env, *, rounds: int = 6, steps: int = 512, epochs: int = 4, beta: float = 0.5,
           lr: float = 1e-3, batch: int = 1024, value_coef: float = 0.5, gamma: float = 0.99, seed: int = 0,
           log: Callable[[dict], None] | None = None) -> dict:
    """Warm-start ``learner`` (a ``nets.ppo.PPO`` on ``env``) by DAgger; returns the last round's figures.

    ``env``: the (curriculum-wrapped) batched stealth env the learner trains on. Rows whose episode ended on
    the previous step (next-step autoreset: this step only resets them) are not labelled."""
    import torch

    from agents.batched import Mixture, make_batched_agent
    from agents.harness import run_steps
    from agents.navigation.expert import ExpertAgent, ExpertTables

    base = _base(env)
    if base.slip:
        raise ValueError("DAgger's expert solves the deterministic level; train with slip 0")
    tables = ExpertTables(gamma=gamma, slip=base.slip, rewards=base.rewards)
    oracle = ExpertAgent(tables, base)
    mixture = Mixture(ExpertAgent(tables, base), make_batched_agent(learner, deterministic=False), p=0.0)
    rng = np.random.default_rng(seed)
    policy, device = learner.policy, learner.device
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    obs_shape = base.single_observation_space.shape
    data_obs: list[np.ndarray] = []
    data_act: list[np.ndarray] = []
    data_val: list[np.ndarray] = []
    obs, _ = env.reset(seed=seed)
    pending = None
    figures: dict = {}
    for r in range(rounds):
        t0 = time.time()
        mix = beta**r
        mixture.p = 1.0 - mix  # the learner's share
        count = {"episodes": 0, "successes": 0, "agree": 0, "labelled": 0}

        def collect(step, count=count, mix=mix) -> None:
            rows = np.flatnonzero(step.live)
            data_obs.append(np.asarray(step.obs, dtype=np.float16)[rows].reshape(len(rows), *obs_shape))
            data_act.append(step.labels[rows].copy())
            data_val.append(oracle.values[rows].astype(np.float32))
            count["labelled"] += len(rows)
            if mix < 1.0:
                count["agree"] += int((mixture.last_b[rows] == step.labels[rows]).sum())
            ended = np.asarray(step.terminated) | np.asarray(step.truncated)
            if ended.any():
                count["episodes"] += int(ended.sum())
                success = step.info.get("is_success", np.zeros(len(ended), bool))
                count["successes"] += int(np.asarray(success)[ended].sum())

        obs, pending = run_steps(env, mixture, steps, obs, seed=seed + r, oracle=oracle, on_step=collect,
                                 fresh=r == 0, pending=pending)
        episodes, successes, agree, labelled = (count[k] for k in ("episodes", "successes", "agree", "labelled"))
        # ---- fit the policy (cross-entropy) and the value (to V*) to every label so far
        x_all = torch.as_tensor(np.concatenate(data_obs))
        a_all = torch.as_tensor(np.concatenate(data_act))
        v_all = torch.as_tensor(np.concatenate(data_val))
        size = len(a_all)
        loss_sum = acc_sum = 0.0
        count = 0
        for _ in range(epochs):
            order = torch.as_tensor(rng.permutation(size))
            for start in range(0, size, batch):
                idx = order[start : start + batch]
                x = x_all[idx].to(device=device, dtype=torch.float32).reshape(len(idx), -1)  # as PPO flattens
                a = a_all[idx].to(device)
                v = v_all[idx].to(device)
                logits, values, _ = policy(x)
                logits = logits[0]
                ce = torch.nn.functional.cross_entropy(logits, a)
                loss = ce + value_coef * torch.mean((values - v) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss_sum += float(ce.detach()) * len(idx)
                acc_sum += float((logits.argmax(-1) == a).float().sum())
                count += len(idx)
        figures = {"round": r, "beta": mix, "labels": size, "new_labels": labelled, "episodes": episodes,
                   "success": successes / episodes if episodes else float("nan"),
                   "agreement": agree / labelled if mix < 1.0 and labelled else float("nan"),
                   "cross_entropy": loss_sum / max(count, 1), "accuracy": acc_sum / max(count, 1),
                   "levels_solved": tables.solved, "seconds": round(time.time() - t0, 1)}
        if log is not None:
            log(figures)
    return figures
