"""Training configuration: the algorithms, the env ids, and the defaults in ``train_configs.toml``."""

from __future__ import annotations

import tomllib
from importlib import resources

SB3_ALGOS = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}
PG_ALGOS = {"reinforce": "Reinforce", "a2c-pg": "A2C", "ppo-pg": "PPO"}  # classes of nets (nets.PPO, ...)
ALGOS = (*SB3_ALGOS, *PG_ALGOS)
ENV_IDS = {"stealth": "sandbox/Stealth-v0", "duel": "sandbox/Duel-v0"}
RUN_KEYS = ("steps", "n_envs", "eval_every", "eval_episodes")
EVAL_SEED = 1_000_000  # held-out evaluation seeds start here; training envs use seed, seed+1, ...
METRIC_FIELDS = ("steps", "eval_return", "eval_success", "train_return", "seconds")


def load_defaults() -> dict:
    """The parsed ``train_configs.toml``."""
    text = resources.files("experiments.train").joinpath("train_configs.toml").read_text()
    return tomllib.loads(text)


def env_kind(env: str) -> str:
    """``stealth``/``duel`` for the sandbox envs (by short name or id), else the Gymnasium id itself."""
    for kind, env_id in ENV_IDS.items():
        if env in (kind, env_id):
            return kind
    return env


def resolve_config(env: str, algo: str, overrides: dict | None = None) -> dict:
    """Defaults for ``env`` and ``algo`` merged from the TOML (``default.ALGO`` then ``ENV.ALGO``), then
    ``overrides``. Returns ``{"steps", "n_envs", "eval_every", "eval_episodes", "env_kwargs",
    "nav_features", "hyper": {...}}``."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    table = load_defaults()
    kind = env_kind(env)
    merged = dict(table["default"][algo])
    env_table = table.get(kind, {}) if kind in ENV_IDS else {}
    merged.update(env_table.get(algo, {}))
    merged.update(overrides or {})
    cfg = {key: merged.pop(key) for key in RUN_KEYS}
    cfg["env_kwargs"] = dict(env_table.get("env_kwargs", {}))
    cfg["nav_features"] = bool(env_table.get("nav_features", False))
    cfg["shaping"] = bool(env_table.get("shaping", False))
    cfg["exploring_starts"] = float(env_table.get("exploring_starts", 0.0))
    cfg["hyper"] = merged
    return cfg


def parse_set(items: list[str] | None, option: str = "--set") -> dict:
    """``["lr=1e-3", "hidden=[32, 32]"]`` -> ``{"lr": 0.001, "hidden": [32, 32]}`` (values read as TOML;
    a bare word is a string)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError as exc:
            if value.strip()[:1] in ("[", "{", '"', "'", "-", "+", ".") or value.strip()[:1].isdigit():
                raise ValueError(f"{option} {item!r}: not a valid TOML value ({exc})") from None
            out[key.strip()] = value.strip()  # a bare word is a string
    return out
