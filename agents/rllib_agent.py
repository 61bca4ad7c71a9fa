"""An RLlib policy as an agent (spec ``rllib:PATH``), for inference, with no unpickling.

RLlib's own checkpoints (``Algorithm.save_to_path``) are pickles: ``class_and_ctor_args.pkl`` always, and
the state files unless written with msgpack. Loading one runs whatever code it names, so the sandbox never
loads them here. Beside each RLlib checkpoint, ``sandbox train --backend rllib`` writes two data files:

* ``sandbox_policy.json``: the RLModule's recipe: ``module`` (only ``ppo`` is known: RLlib's
  ``DefaultPPOTorchRLModule``), ``model_config`` (``fcnet_hiddens``, ...), the observation and action spaces
  as plain JSON, and how the env was built (``env``, ``env_kwargs``, ...);
* ``sandbox_policy.pt``: the module's weights, a torch ``state_dict`` of tensors, read as data by
  :func:`nets.torchfile.load_tensors` (zip format, stored records, sizes, ``weights_only``); the names and shapes
  must be those of the module the recipe builds.

``rllib:PATH`` accepts a run folder (its ``checkpoints/final``, else ``checkpoints/latest``), one of its
checkpoint folders, or a ``sandbox_policy.json`` itself. The module is rebuilt from the recipe with RLlib's
classes (the ``ray`` extra), the weights are loaded, and ``forward_inference`` gives the action logits:
greedy per action head when ``deterministic``, else sampled from the agent's generator.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.protocol import PolicyRows
from envs.protocols import RecurrentState

if TYPE_CHECKING:
    from gymnasium import spaces

POLICY_JSON = "sandbox_policy.json"
POLICY_WEIGHTS = "sandbox_policy.pt"
# recipe "module" -> (RLModule class, its catalog): the only classes a recipe can name
MODULES = {"ppo": ("ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module:DefaultPPOTorchRLModule",
                   "ray.rllib.algorithms.ppo.ppo_catalog:PPOCatalog")}
MAX_WEIGHTS_BYTES = 256 * 2**20  # a sandbox policy is a few MB at most; refuse anything far larger
MAX_RECIPE_BYTES = 2**20  # as every sidecar (docs/trust.md)
INSTALL_HINT = "pip install -e '.[ray]'"


# ---- spaces as plain JSON ------------------------------------------------------------------------------------

def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A Box, Discrete or MultiDiscrete space as a JSON-friendly dict."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist()}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": float(np.min(space.low)), "high": float(np.max(space.high))}
    raise TypeError(f"cannot describe {space!r} as JSON (Box, Discrete, MultiDiscrete only)")


def space_from_json(data: dict[str, Any], where: str = "space") -> spaces.Space:
    """The space :func:`space_to_json` wrote; a ValueError naming ``where`` for anything else."""
    from gymnasium import spaces

    try:
        kind = data["type"]
        if kind == "Discrete":
            return spaces.Discrete(_count(data["n"], where), start=int(data.get("start", 0)))
        if kind == "MultiDiscrete":
            nvec = [_count(n, where) for n in data["nvec"]]
            if not 0 < len(nvec) <= 64:
                raise ValueError(f"{where}: MultiDiscrete needs 1..64 dimensions")
            return spaces.MultiDiscrete(nvec)
        if kind == "Box":
            shape = tuple(_count(n, where) for n in data["shape"])
            if not 0 < math.prod(shape) <= 10_000_000:
                raise ValueError(f"{where}: Box shape {shape} is empty or too large")
            if str(data["dtype"]) not in ("float32", "float64"):
                raise ValueError(f"{where}: Box dtype must be float32 or float64, got {data['dtype']!r}")
            return spaces.Box(float(data["low"]), float(data["high"]), shape=shape, dtype=np.dtype(data["dtype"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{where}: malformed space description ({type(exc).__name__}: {exc})") from None
    raise ValueError(f"{where}: unknown space type {data.get('type')!r}; valid: Box, Discrete, MultiDiscrete")


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1_000_000:
        raise ValueError(f"{where}: expected a positive integer size, got {value!r}")
    return value


# ---- the agent -----------------------------------------------------------------------------------------------

def _heads(action_space) -> list[int]:
    """The sizes of the categorical heads the module's logits hold, in order."""
    if hasattr(action_space, "nvec"):
        return [int(n) for n in np.asarray(action_space.nvec).ravel()]
    return [int(action_space.n)]


class RLlibAgent:
    """An RLlib RLModule behind the agent protocol. Observations are flattened (the module was trained on
    flat observations); the action is one int (Discrete) or an int array (MultiDiscrete)."""

    def __init__(self, module, action_space, *, rng: np.random.Generator | None = None, info: dict | None = None):
        self.module = module
        self.action_space = action_space
        self.heads = _heads(action_space)
        self.start = int(getattr(action_space, "start", 0)) if not hasattr(action_space, "nvec") else 0
        self.rng = rng if rng is not None else np.random.default_rng()
        self.info = info or {}

    def logits(self, observation: np.ndarray) -> np.ndarray:
        """The action-distribution inputs for a batch of observations, shape (batch, sum(heads))."""
        import torch
        from ray.rllib.core.columns import Columns

        from nets.device import inference

        obs = np.asarray(observation, dtype=np.float32)
        single = obs.size == self._obs_size()
        batch = obs.reshape(1 if single else -1, self._obs_size())
        with inference(len(batch)):
            out = self.module.forward_inference({Columns.OBS: torch.from_numpy(batch)})
        return out[Columns.ACTION_DIST_INPUTS].cpu().numpy().astype(np.float64)

    def _obs_size(self) -> int:
        return int(math.prod(self.module.observation_space.shape))

    def action_probs(self, observation: np.ndarray) -> list[np.ndarray]:
        """One probability vector per action head for one observation (as :class:`SB3Agent`)."""
        logits = self.logits(observation)[0]
        out, at = [], 0
        for n in self.heads:
            z = logits[at:at + n] - logits[at:at + n].max()
            p = np.exp(z)
            out.append(p / p.sum())
            at += n
        return out

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray | int, RecurrentState]:
        logits = self.logits(observation)
        actions = np.empty((logits.shape[0], len(self.heads)), dtype=np.int64)
        at = 0
        for h, n in enumerate(self.heads):
            part = logits[:, at:at + n]
            if deterministic:
                actions[:, h] = part.argmax(axis=1)
            else:
                p = np.exp(part - part.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                actions[:, h] = [self.rng.choice(n, p=row) for row in p]
            at += n
        single = np.asarray(observation).size == self._obs_size()
        if hasattr(self.action_space, "nvec"):
            return (actions[0] if single else actions), state
        flat = actions[:, 0] + self.start
        return (int(flat[0]) if single else flat), state

    def reset(self) -> None:
        pass


class BatchedRLlib(PolicyRows):
    """An :class:`RLlibAgent` acting for N rows: one ``forward_inference`` over the active rows, then the
    arg-max of each head's logits or a draw per row (:class:`agents.batched.PolicyRows`)."""

    def __init__(self, agent: RLlibAgent, *, deterministic: bool = False, target: spaces.Space | None = None,
                 spec: str = "rllib"):
        super().__init__(agent.action_space, deterministic=deterministic, target=target, spec=spec)
        self.agent = agent

    def scores(self, obs: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        logits = self.agent.logits(obs.reshape(len(rows), -1))
        return np.split(logits, np.cumsum(self.agent.heads)[:-1], axis=1)


def build_module(recipe: dict, where: str = "rllib policy"):
    """The RLModule a ``sandbox_policy.json`` recipe describes (random weights)."""
    import importlib
    import logging

    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    # RLlib 2.x builds a deprecated RLModuleConfig inside every RLModule and warns about it, each time.
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    kind = recipe.get("module")
    if kind not in MODULES:
        raise ValueError(f"{where}: unknown module {kind!r}; valid: {', '.join(MODULES)}")
    cls, catalog = (getattr(importlib.import_module(m), c) for m, _, c in (t.partition(":") for t in MODULES[kind]))
    model_config = recipe.get("model_config", {})
    if not isinstance(model_config, dict):
        raise ValueError(f"{where}: model_config must be a JSON object")
    known = set(DefaultModelConfig.__dataclass_fields__)
    unknown = sorted(set(model_config) - known)
    if unknown:
        raise ValueError(f"{where}: unknown model_config keys {unknown}")
    spec = RLModuleSpec(module_class=cls,
                        observation_space=space_from_json(recipe.get("observation_space", {}), where),
                        action_space=space_from_json(recipe.get("action_space", {}), where),
                        model_config=dict(model_config), catalog_class=catalog)
    return spec.build()


def find_policy(path: str | Path) -> Path:
    """The ``sandbox_policy.json`` that ``rllib:PATH`` names (see the module docstring)."""
    p = Path(path)
    if p.is_file() and p.name == POLICY_JSON:
        return p
    if not p.exists():
        raise FileNotFoundError(f"rllib:{path}: no such file or folder")
    if p.is_dir():
        for candidate in (p / POLICY_JSON, p / "checkpoints" / "final" / POLICY_JSON,
                          p / "checkpoints" / "latest" / POLICY_JSON):
            if candidate.is_file():
                return candidate
        if (p / "rllib_checkpoint.json").is_file() or (p / "class_and_ctor_args.pkl").is_file():
            raise ValueError(f"rllib:{path}: an RLlib checkpoint without the sandbox's {POLICY_JSON}; RLlib's "
                             "checkpoint files are pickles, which the sandbox never loads (train with `sandbox "
                             "train --backend rllib`, which writes the data-only policy beside them)")
    raise ValueError(f"rllib:{path}: not an RLlib checkpoint of the sandbox (expected a run folder of `sandbox "
                     f"train --backend rllib`, one of its checkpoints/ folders, or a {POLICY_JSON})")


def load_rllib(path: str | Path, rng: np.random.Generator | None = None) -> RLlibAgent:
    """The agent saved at ``path`` (see :func:`find_policy`), weights read as data only."""
    import torch

    from nets.torchfile import load_tensors

    side = find_policy(path)
    from envs.fileio import read_json_object

    recipe = read_json_object(side, MAX_RECIPE_BYTES, "policy recipe")
    weights = side.with_name(POLICY_WEIGHTS)
    if not weights.is_file():
        raise ValueError(f"{side}: its weights {weights.name} are missing")
    try:
        import ray.rllib  # noqa: F401
    except ImportError:
        raise ValueError(f"rllib:{path} needs Ray RLlib; install the extra: {INSTALL_HINT}") from None
    module = build_module(recipe, str(side))
    try:
        state = load_tensors(weights, max_bytes=MAX_WEIGHTS_BYTES)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{weights}: {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{weights}: expected a dict of tensors")
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    bad = sorted(k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape))
    if missing or bad:
        raise ValueError(f"{weights}: does not fit the recipe in {side.name} (missing {missing[:3]}, "
                         f"wrong shape {bad[:3]})")
    module.load_state_dict({k: state[k] for k in own})
    module.eval()
    action_space = space_from_json(recipe["action_space"], str(side))
    return RLlibAgent(module, action_space, rng=rng, info=recipe)


def make_rllib(arg: str | None, **kwargs: Any) -> RLlibAgent:
    if not arg:
        raise ValueError("agent spec 'rllib' needs a path: rllib:RUN_FOLDER (a `sandbox train --backend rllib` run)")
    return load_rllib(arg, rng=kwargs.get("rng"))
