"""Training configuration: the algorithms, the env ids, and the defaults in ``train_configs.toml``."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from envs.stealth.features import nav_spec

SB3_ALGOS = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}
PG_ALGOS = {"reinforce": "Reinforce", "a2c-pg": "A2C", "ppo-pg": "PPO"}  # classes of nets (nets.PPO, ...)
ALGOS = (*SB3_ALGOS, *PG_ALGOS)
RLLIB_ALGOS = {"ppo": "PPO"}  # --backend rllib: RLlib's algorithms (new API stack); tables [ENV.rllib-ALGO]
BACKENDS = ("native", "rllib")
ENV_IDS = {"stealth": "sandbox/Stealth-v0", "duel": "sandbox/Duel-v0"}
RUN_KEYS = ("steps", "n_envs", "eval_every", "eval_episodes")
ENV_KEYS = ("env_kwargs", "nav_features", "shaping", "exploring_starts")  # an [ENV] table's own settings
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


def table_name(algo: str, backend: str = "native") -> str:
    """The TOML table of ``algo`` under ``backend``: ``ppo`` (native) or ``rllib-ppo``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    valid = ALGOS if backend == "native" else tuple(RLLIB_ALGOS)
    if algo not in valid:
        raise ValueError(f"unknown algorithm {algo!r} for the {backend} backend; valid: {', '.join(valid)}")
    return algo if backend == "native" else f"rllib-{algo}"


def load_config_file(path: str | Path) -> dict:
    """A user's TOML file laid out like ``train_configs.toml`` (``[ENV.ALGO]`` tables, e.g. what
    ``sandbox tune`` writes); a ValueError naming the file when it cannot be read."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--config {p}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--config {p}: not valid TOML ({exc})") from None
    for name, value in data.items():
        if not isinstance(value, dict):
            raise ValueError(f"--config {p}: top-level key {name!r} must be a table such as [stealth.ppo]")
    return data


def resolve_config(env: str, algo: str, overrides: dict | None = None, backend: str = "native",
                   file_tables: dict | None = None) -> dict:
    """Defaults for ``env`` and ``algo`` merged from the TOML (``default.ALGO`` then ``ENV.ALGO``; with
    ``backend="rllib"`` the ``rllib-ALGO`` tables), then the same tables of ``file_tables`` (a ``--config``
    file), then ``overrides``. Returns ``{"steps", "n_envs", "eval_every", "eval_episodes", "env_kwargs",
    "nav_features", "hyper": {...}}``."""
    name = table_name(algo, backend)
    kind = env_kind(env)
    merged: dict = {}
    for table in (load_defaults(), file_tables or {}):
        merged.update(table.get("default", {}).get(name, {}))
        env_table = table.get(kind, {}) if kind in ENV_IDS else {}
        merged.update(env_table.get(name, {}))
    env_table: dict = {}  # the env's own settings ([ENV] keys that are not algorithm tables)
    for table in (load_defaults(), file_tables or {}):
        source = table.get(kind, {}) if kind in ENV_IDS else {}
        env_table.update({k: v for k, v in source.items() if k in ENV_KEYS})
    merged.update(overrides or {})
    cfg = {key: merged.pop(key) for key in RUN_KEYS}
    cfg["env_kwargs"] = dict(env_table.get("env_kwargs", {}))
    cfg["nav_features"] = nav_spec(env_table.get("nav_features", False))
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


def search_space(env: str, algo: str, backend: str = "native") -> dict:
    """The Tune search space of ``env`` and ``algo``: the ``[search.default.ALGO]`` then ``[search.ENV.ALGO]``
    tables of ``train_configs.toml`` (``rllib-ALGO`` for the rllib backend), ``{key: {"loguniform": [a, b]}
    | {"uniform": [a, b]} | {"randint": [a, b]} | {"choice": [...]}}``."""
    name = table_name(algo, backend)
    search = load_defaults().get("search", {})
    space = dict(search.get("default", {}).get(name, {}))
    space.update(search.get(env_kind(env), {}).get(name, {}))
    if not space:
        raise ValueError(f"train_configs.toml has no search space for {env} {name}; add a "
                         f"[search.{env_kind(env)}.{name}] table")
    return space


def toml_value(value) -> str:
    """One TOML value (numbers, strings, booleans, lists and tables of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else ("nan" if value != value else
                                                                                  ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if hasattr(value, "item"):  # numpy scalars
        return toml_value(value.item())
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_table(header: str, values: dict, comment: str = "") -> str:
    """``[header]`` then ``key = value`` lines (a comment line first when given)."""
    lines = [f"# {line}" for line in comment.splitlines()] + [f"[{header}]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"
