"""DAgger from the exact optimum: the warm start of ``sandbox train stealth --algo ppo-pg --curriculum
--set warm_start=dagger``.

Dataset aggregation (Ross, Gordon and Bagnell 2011) with the level's exact MDP as the expert
(:class:`agents.navigation.expert.ExpertTables`). Round r runs the batched stealth env for ``steps``
steps; each env acts with the expert's action with probability ``beta_r = beta ** r`` (round 0: the
expert alone) and with the learner's sampled action otherwise, so later rounds visit the states the
learner's own mistakes lead to. Every visited state is labelled with the expert's action and V*. After
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

    from agents.navigation.expert import ExpertTables

    base = _base(env)
    if base.slip:
        raise ValueError("DAgger's expert solves the deterministic level; train with slip 0")
    expert = ExpertTables(gamma=gamma, slip=base.slip, rewards=base.rewards)
    rng = np.random.default_rng(seed)
    policy, device = learner.policy, learner.device
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    n = base.num_envs
    obs_shape = base.single_observation_space.shape
    data_obs: list[np.ndarray] = []
    data_act: list[np.ndarray] = []
    data_val: list[np.ndarray] = []
    obs, _ = env.reset(seed=seed)
    pending = np.zeros(n, dtype=bool)
    figures: dict = {}
    for r in range(rounds):
        t0 = time.time()
        mix = beta**r
        episodes = successes = agree = labelled = 0
        for _ in range(steps):
            rows = np.flatnonzero(~pending)
            a_exp, v_exp = expert.act(base, rows)
            actions = np.zeros(n, dtype=np.int64)
            actions[rows] = a_exp
            if mix < 1.0:
                own, _ = learner.predict(obs, deterministic=False)
                own = np.asarray(own, dtype=np.int64).reshape(n)
                use_own = rng.random(n) >= mix
                actions = np.where(use_own, own, actions)
                agree += int((own[rows] == a_exp).sum())
            data_obs.append(np.asarray(obs, dtype=np.float16)[rows].reshape(len(rows), *obs_shape))
            data_act.append(a_exp)
            data_val.append(v_exp.astype(np.float32))
            labelled += len(rows)
            obs, _, terminated, truncated, info = env.step(actions)
            pending = np.asarray(terminated) | np.asarray(truncated)
            if pending.any():
                episodes += int(pending.sum())
                successes += int(np.asarray(info.get("is_success", np.zeros(n, bool)))[pending].sum())
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
                   "levels_solved": expert.solved, "seconds": round(time.time() - t0, 1)}
        if log is not None:
            log(figures)
    return figures
