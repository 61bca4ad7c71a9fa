"""Load a stable-baselines3 model zip as an agent (spec ``sb3:PATH``).

The algorithm is read from a sidecar ``PATH.json`` (``{"algo": "PPO"}``) when there is one;
otherwise each of SB3's algorithms is tried in turn until one loads the zip.
"""

from __future__ import annotations

import json
from pathlib import Path

ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")


def _sidecar_algo(path: Path) -> str | None:
    for side in (path.with_suffix(".json"), Path(str(path) + ".json")):
        if side.is_file():
            try:
                algo = json.loads(side.read_text()).get("algo")
            except (OSError, ValueError, AttributeError) as exc:
                raise ValueError(
                    f"{side}: cannot read the sidecar ({exc}); expected {{\"algo\": \"PPO\"}}") from None
            if algo is not None and str(algo).upper() not in ALGOS:
                raise ValueError(f"{side}: unknown algo {algo!r}; valid: {', '.join(ALGOS)}")
            return None if algo is None else str(algo).upper()
    return None


def load_sb3(path: str | Path, device: str = "auto"):
    """The SB3 model saved at ``path`` (``.zip`` optional), its algorithm found as described above."""
    import stable_baselines3 as sb3

    from nets.device import resolve_device

    p = Path(path)
    if not p.exists() and p.with_suffix(".zip").exists():
        p = p.with_suffix(".zip")
    if not p.is_file():
        raise FileNotFoundError(f"sb3 model {str(path)!r} not found (expected a stable-baselines3 .zip)")
    dev = resolve_device(device)
    algo = _sidecar_algo(p)
    errors = []
    for name in [algo] if algo else list(ALGOS):
        try:
            return getattr(sb3, name).load(p, device=dev)
        except Exception as exc:  # a wrong class fails in many ways; try the next
            errors.append(f"{name}: {type(exc).__name__}")
    raise ValueError(
        f"{p}: not a stable-baselines3 model zip loadable as {'/'.join(ALGOS)} ({'; '.join(errors)})")


class SB3Agent:
    """An SB3 model behind the agent protocol (it already speaks it; this adds ``reset`` and the
    deterministic default)."""

    def __init__(self, model, deterministic: bool = True):
        self.model = model
        self.deterministic = deterministic

    def predict(self, observation, state=None, episode_start=None, deterministic=None):
        det = self.deterministic if deterministic is None else deterministic
        return self.model.predict(observation, state=state, episode_start=episode_start, deterministic=det)

    def action_probs(self, observation) -> list | None:
        """One probability vector per action head for one observation: ``[p(n)]`` for ``Discrete``,
        one per dimension for ``MultiDiscrete`` (duel: ``[stick(9), button(4)]``). None for policies
        without a categorical distribution (DQN's Q-network, continuous actions)."""
        import numpy as np
        import torch

        policy = self.model.policy
        if not hasattr(policy, "get_distribution"):
            return None
        obs_tensor, _ = policy.obs_to_tensor(observation)
        with torch.no_grad():
            dist = policy.get_distribution(obs_tensor).distribution
        heads = dist if isinstance(dist, list | tuple) else [dist]
        if not all(hasattr(d, "probs") for d in heads):
            return None
        return [np.asarray(d.probs[0].cpu().numpy(), dtype=np.float64) for d in heads]

    def reset(self) -> None:
        pass


def make_sb3(arg: str | None, **kwargs) -> SB3Agent:
    if not arg:
        raise ValueError("agent spec 'sb3' needs a path: sb3:PATH/TO/model.zip")
    return SB3Agent(load_sb3(arg, kwargs.get("device", "auto")))
