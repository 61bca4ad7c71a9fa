"""Training configuration: the algorithms, the env ids, and the defaults in ``train_configs.toml``."""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from envs.stealth.features import nav_spec

SB3_ALGOS = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}
PG_ALGOS = {"reinforce": "Reinforce", "a2c-pg": "A2C", "ppo-pg": "PPO"}  # classes of nets (nets.PPO, ...)
ALGOS = (*SB3_ALGOS, *PG_ALGOS)
RLLIB_ALGOS = {"ppo": "PPO"}  # --backend rllib: RLlib's algorithms (new API stack); tables [ENV.rllib-ALGO]
BACKENDS = ("native", "rllib")
ENV_IDS = {"stealth": "sandbox/Stealth-v0", "duel": "sandbox/Duel-v0", "director": "sandbox/Director-v0"}
RUN_KEYS = ("steps", "n_envs", "eval_every", "eval_episodes")
# the run keys' defaults for every env and algorithm; an [ENV.ALGO] table overrides them
RUN_DEFAULTS = {"steps": 200_000, "n_envs": 8, "eval_every": 20_000, "eval_episodes": 20}
ENV_KEYS = ("env_kwargs", "nav_features", "shaping", "exploring_starts")  # an [ENV] table's own settings
EVAL_SEED = 1_000_000  # held-out evaluation seeds start here; training envs use seed, seed+1, ...
METRIC_FIELDS = ("steps", "eval_return", "eval_success", "train_return", "seconds")
DEFAULT_POOL = ("random,scripted:easy,scripted:normal,scripted:hard,scripted:rushdown,scripted:zoner,"
                "scripted:turtle,scripted:rushdown-hard,scripted:zoner-hard,scripted:turtle-hard")


# ---- the loop's parts: their settings, typed (``--league.gate 0.8``, ``--set league.gate=0.8``, a
# ``league = { gate = 0.8 }`` key of an [ENV.ALGO] table) ------------------------------------------------------

@dataclass
class LeagueSettings:
    """``sandbox train duel --algo ppo-pg --league``: self-play against a league (experiments/train/duel_league.py)."""

    pool: str = DEFAULT_POOL  # the fixed members, comma-separated agent specs
    weighting: str = "hard"  # PFSP: hard (1-x)^p, variance x(1-x), linear, uniform
    p: float = 2.0  # the exponent of hard PFSP
    self_play: float = 0.2  # share of rounds against the live main agent itself
    window: int = 20  # the snapshot gate's window (games of the main agent)
    gate: float = 0.9  # a snapshot joins when the window's score rate is strictly above this
    opp_window: int = 50  # games per opponent its win rate is estimated from
    k: float = 32.0  # Elo's k-factor
    exploiter_every: int = 0  # train an exploiter against the frozen main agent every N steps (0: never)
    exploiter_steps: int = 100_000  # each exploiter's training budget
    max_snapshots: int = 50  # stop adding snapshots beyond this many
    traces: int = 10  # replay traces of the milestone matches: a round of main vs each of the first N snapshots


@dataclass
class CurriculumSettings:
    """``sandbox train stealth --algo ppo-pg --curriculum``: generated levels, the director as teacher."""

    bundled: str = "all"  # bundled levels mixed in (comma-separated names, "all", or "" for none)
    bundled_share: float = 0.25  # share of the envs that play bundled levels
    mode: str = "env"  # env: a director per env; batch: one director for all generated envs
    target: float = 0.7  # the success rate each director aims at
    band: float = 0.1  # ... within target +- band
    grid: float = 0.05  # difficulties reach the env rounded to this grid (bounded level-pool cache)
    floor_share: float = 0.125  # share of the generated-level envs kept at floor_difficulty whatever the director says
    floor_difficulty: float = 0.1  # the easy levels that floor keeps in the mix
    warm_start: str = ""  # "dagger": first imitate the exact optimum (experiments/train/dagger.py), then PPO
    init: str = ""  # start from this checkpoint's policy (a ppo-pg .pt with the same observation and network)
    dagger_rounds: int = 6  # DAgger rounds (round r follows the expert with probability 0.5 ** r)
    dagger_steps: int = 512  # batch steps per DAgger round (times n_envs states labelled)


PART_SETTINGS = {"league": LeagueSettings, "curriculum": CurriculumSettings}


def _kind_ok(value: Any, kind: Any) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def typed_settings(cls: type, values: dict, where: str) -> Any:
    """``cls(**values)`` for a settings dataclass, refusing an unknown key or an ill-typed value in one line
    naming the key (after the prefix ``where``, e.g. ``--league.``) and what is valid."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    out = {}
    for key, value in values.items():
        if key not in hints:
            raise ValueError(f"{where}{key}: not a setting; valid: {', '.join(names)}")
        kind = hints[key]
        kinds = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
        if not any(_kind_ok(value, k) for k in kinds if k is not type(None)) \
                and not (value is None and type(None) in kinds):
            shown = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
            raise ValueError(f"{where}{key}={value!r}: expected {shown}")
        out[key] = float(value) if kind is float else value
    return cls(**out)


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
    tables = (*ENV_IDS, "search")
    for name, value in data.items():
        if not isinstance(value, dict):
            raise ValueError(f"--config {p}: top-level key {name!r} must be a table such as [stealth.ppo]")
        if name not in tables:
            raise ValueError(f"--config {p}: [{name}] is not a table of the sandbox; valid: "
                             f"{', '.join(f'[{t}]' for t in tables)} and [ENV.ALGO] under them")
        if name == "search":
            continue
        for key, sub in value.items():
            names = (*ALGOS, *(f"rllib-{a}" for a in RLLIB_ALGOS))
            if key not in ENV_KEYS and key not in names:
                raise ValueError(f"--config {p}: [{name}] {key}: neither an env setting ({', '.join(ENV_KEYS)}) nor "
                                 f"an algorithm table ({', '.join(names)})")
            if key in names and not isinstance(sub, dict):
                raise ValueError(f"--config {p}: [{name}] {key} must be a table such as [{name}.{key}]")
    data["__path__"] = str(p)
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
    parts: dict[str, dict] = {}
    for name in PART_SETTINGS:  # a table's `league = { ... }` sub-table, then `--set league.KEY=VALUE`
        sub = merged.pop(name, {})
        if not isinstance(sub, dict):
            raise ValueError(f"{name} in a [{kind}.{name}] table must be a table such as {name} = {{ ... }}")
        parts[name] = dict(sub)
    for key, value in (overrides or {}).items():
        head, dot, rest = key.partition(".")
        if dot and head in PART_SETTINGS:
            parts[head][rest] = value
        elif dot:
            raise ValueError(f"--set {key}: {head!r} is not a part of the loop; valid: {', '.join(PART_SETTINGS)}")
        else:
            merged[key] = value
    cfg = {key: merged.pop(key, RUN_DEFAULTS[key]) for key in RUN_KEYS}
    cfg["env_kwargs"] = dict(env_table.get("env_kwargs", {}))
    cfg["nav_features"] = nav_spec(env_table.get("nav_features", False))
    cfg["shaping"] = bool(env_table.get("shaping", False))
    cfg["exploring_starts"] = float(env_table.get("exploring_starts", 0.0))
    cfg["hyper"] = merged
    cfg["parts"] = parts
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


# ---- recipes: the exact settings that made a bundled agent (``sandbox train ENV --recipe NAME``) -------------

RECIPE_KEYS = {"env": str, "algo": str, "parts": list, "steps": int, "n_envs": int, "seed": int, "eval_every": int,
               "eval_episodes": int, "nav_features": (bool, str), "shaping": bool, "exploring_starts": (int, float),
               "env_kwargs": dict, "hyper": dict, "league": dict, "curriculum": dict}
MAX_RECIPE_BYTES = 1 << 16


def recipe_names() -> list[str]:
    """The recipes shipped in ``experiments/train/recipes/`` (one per bundled agent)."""
    folder = resources.files("experiments.train").joinpath("recipes")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_recipe(name: str) -> dict:
    """The recipe ``name`` (a shipped one, or a TOML file laid out the same way), checked: unknown keys,
    ill-typed values and unknown parts are one-line ValueErrors naming the file and what is valid."""
    from envs.fileio import FileFormatError, read_text_limited, toml_line

    if name in recipe_names():
        where = f"recipe {name}"
        text = resources.files("experiments.train").joinpath("recipes", f"{name}.toml").read_text(encoding="utf-8")
    elif name.endswith(".toml"):
        where = name
        text = read_text_limited(name, MAX_RECIPE_BYTES, lambda reason, file, line: FileFormatError(reason, file, line),
                                 "recipe")
    else:
        raise ValueError(f"--recipe {name}: no such recipe; shipped: {', '.join(recipe_names())} (or a .toml file)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML ({exc})") from None
    for key, value in data.items():
        if key not in RECIPE_KEYS:
            line = toml_line(text, None, key)
            raise ValueError(f"{where}{f':{line}' if line else ''}: {key!r} is not a recipe key; valid: "
                             f"{', '.join(RECIPE_KEYS)}")
        kind = RECIPE_KEYS[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: {key} = {value!r} has the wrong type")
    for part in data.get("parts", []):
        if part not in PART_SETTINGS:
            raise ValueError(f"{where}: unknown part {part!r}; valid: {', '.join(PART_SETTINGS)}")
    for key in ("env", "algo"):
        if key not in data:
            raise ValueError(f"{where}: a recipe names its env and algo ({key!r} missing)")
    return data
