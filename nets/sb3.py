"""Glue so stable-baselines3's PPO, A2C and DQN can use :class:`nets.mlp.MLP` on the sandbox envs.

``MLPExtractor`` is an SB3 features extractor (flatten the observation, then an MLP). The helpers
return ``policy_kwargs`` for each algorithm::

    from stable_baselines3 import PPO
    from nets.sb3 import mlp_policy_kwargs
    model = PPO("MlpPolicy", env, policy_kwargs=mlp_policy_kwargs("ppo", hidden=(64, 64)))

The features extractor carries the whole MLP; SB3's own ``net_arch`` is left empty by default, so
the actor, critic (or Q) heads are single linear layers on top of our features. Models saved with
``model.save`` load back with :func:`load_sb3_zip` (below), which never unpickles anything from the file;
``PPO.load`` would work too, but it unpickles, so the sandbox never calls it.

:class:`GymnasiumVecEnv` lets SB3 train on any ``gymnasium.vector.VectorEnv`` (a natively batched env
from ``gym.make_vec``, or Gymnasium's Sync/Async vector envs)::

    from stable_baselines3.common.vec_env import VecMonitor
    vec = VecMonitor(GymnasiumVecEnv(gym.make_vec("CartPole-v1", num_envs=64)))
    PPO("MlpPolicy", vec).learn(100_000)
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from nets.mlp import MLP

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.policies import BasePolicy
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

#: A value read from a checkpoint's JSON ``data`` member, before it is checked: anything JSON holds.
JSONValue: TypeAlias = Any
#: A file a checkpoint is read from, as error messages name it.
PathLike: TypeAlias = "str | os.PathLike[str]"

__all__ = ["MLPExtractor", "mlp_policy_kwargs", "ALGOS", "load_sb3_zip", "CheckpointError", "GymnasiumVecEnv",
           "supports_same_step_reset"]

ALGOS = ("ppo", "a2c", "dqn")


class MLPExtractor(BaseFeaturesExtractor):
    """Flatten the observation and run it through ``nets.MLP``; features are the last hidden layer."""

    def __init__(
        self,
        observation_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        init: str = "orthogonal",
    ) -> None:
        hidden = tuple(int(h) for h in hidden)
        if not hidden:
            raise ValueError("MLPExtractor needs at least one hidden layer")
        super().__init__(observation_space, features_dim=hidden[-1])
        self.flatten = torch.nn.Flatten()
        n_in = get_flattened_obs_dim(observation_space)
        self.mlp = MLP(n_in, hidden, None, activation=activation, init=init)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.flatten(observations).float())


def mlp_policy_kwargs(
    algo: str,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    init: str = "orthogonal",
    head_arch: Sequence[int] = (),
) -> dict[str, Any]:
    """``policy_kwargs`` that put ``nets.MLP`` under SB3's ``algo`` (``"ppo"``, ``"a2c"`` or ``"dqn"``).

    ``head_arch`` adds SB3 layers after the shared MLP features (actor and critic alike for PPO/A2C,
    the Q network for DQN); empty means linear heads."""
    algo = algo.lower()
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    kwargs: dict[str, Any] = {
        "features_extractor_class": MLPExtractor,
        "features_extractor_kwargs": {"hidden": tuple(hidden), "activation": activation, "init": init},
    }
    head = [int(h) for h in head_arch]
    if algo == "dqn":
        kwargs["net_arch"] = head
    else:
        kwargs["net_arch"] = {"pi": head, "vf": list(head)}
        kwargs["share_features_extractor"] = True
    return kwargs


# ---- loading SB3 zips without unpickling -------------------------------------------------------------------
#
# SB3's own ``Algo.load`` unpickles (cloudpickle) every entry of the zip's ``data`` JSON that it could not write
# as plain JSON: the policy class, the spaces, the schedules, buffers... Unpickling a file runs whatever code it
# names, so a shared checkpoint could run anything. :func:`load_sb3_zip` never calls SB3's deserialiser: it reads
# the zip itself, keeps the plain JSON fields, rebuilds every pickled field from an allow-list (or from the env /
# the training config it is given), loads the ``.pth`` members with ``torch.load(weights_only=True)`` and
# checks what they hold, then builds the model the way ``Algo.load`` does.

SB3_ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")
MAX_ZIP_BYTES = 512 * 2**20  # the whole checkpoint file
MAX_DATA_BYTES = 32 * 2**20  # the ``data`` JSON member
MAX_MEMBER_BYTES = 512 * 2**20  # any one ``.pth`` member, uncompressed
MAX_TOTAL_BYTES = 1024 * 2**20  # all members read, uncompressed
MAX_MEMBERS = 64
MAX_SPACE_SIZE = 2**20  # elements of an observation / action space rebuilt from the JSON description
MAX_LAYER = 8192  # widths in net_arch / features_extractor_kwargs
MAX_LAYERS = 32
MAX_COUNT = 10**7  # n_steps * n_envs, batch_size, buffer_size, ...

# Fields SB3 pickles that are rebuilt here (the rest of a model's pickled state: see _rebuild).
_RESET_TO_NONE = ("_last_obs", "_last_episode_starts", "_last_original_obs", "ep_info_buffer",
                  "ep_success_buffer", "action_noise", "rollout_buffer_class", "replay_buffer_class")
_BOUNDED_INTS = ("n_steps", "batch_size", "n_epochs", "buffer_size", "n_envs", "gradient_steps",
                 "learning_starts", "_stats_window_size", "target_update_interval", "policy_delay")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded safely; the message is one line naming the file."""


def _fail(path: PathLike, what: str | Exception) -> CheckpointError:
    what = " ".join(str(what).split())  # one line
    return CheckpointError(f"{path}: {what[:400]}")


def _read_members(path: PathLike) -> tuple[str, dict[str, bytes]]:
    """``(data JSON text, {member name: bytes of each .pth})`` after the size checks."""
    size = os.path.getsize(path)
    if size > MAX_ZIP_BYTES:
        raise _fail(path, f"{size} bytes, more than the {MAX_ZIP_BYTES} a checkpoint may have")
    with open(path, "rb") as f:
        raw = f.read(MAX_ZIP_BYTES + 1)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"not a stable-baselines3 model zip ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _fail(path, f"{len(infos)} zip members, more than {MAX_MEMBERS}")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _fail(path, "the zip holds two members with one name")
        if "data" not in names:
            raise _fail(path, "no 'data' member: not a stable-baselines3 model zip")
        wanted = [i for i in infos if i.filename == "data" or i.filename.endswith(".pth")]
        total = 0
        blobs: dict[str, bytes] = {}
        for info in wanted:
            limit = MAX_DATA_BYTES if info.filename == "data" else MAX_MEMBER_BYTES
            if info.file_size > limit or total + info.file_size > MAX_TOTAL_BYTES:
                raise _fail(path, f"zip member {info.filename!r} unpacks to {info.file_size} bytes (limit {limit}, "
                                  f"{MAX_TOTAL_BYTES} in all)")
            try:
                with archive.open(info) as member:
                    blob = member.read(limit + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise _fail(path, f"zip member {info.filename!r} is unreadable ({exc})") from None
            if len(blob) > limit:
                raise _fail(path, f"zip member {info.filename!r} unpacks to more than {limit} bytes")
            total += len(blob)
            blobs[info.filename] = blob
    try:
        text = blobs.pop("data").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"the 'data' member is not UTF-8 JSON ({exc})") from None
    return text, blobs


def _parse_data(path: PathLike, text: str) -> dict[str, JSONValue]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"the 'data' member is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise _fail(path, f"the 'data' member must be a JSON object, got {type(data).__name__}")
    return data


def _is_pickled(value: JSONValue) -> bool:
    return isinstance(value, dict) and ":serialized:" in value


def guess_algo(data: dict[str, JSONValue]) -> str | None:
    """The SB3 algorithm whose fields ``data`` holds, from keys only PPO, DQN, TD3, SAC or A2C writes."""
    for key, algo in (("clip_range", "PPO"), ("exploration_fraction", "DQN"), ("policy_delay", "TD3"),
                      ("target_entropy", "SAC"), ("normalize_advantage", "A2C")):
        if key in data:
            return algo
    return None


# -- spaces ---------------------------------------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)"
_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "bool")


def _numbers(text: JSONValue, what: str) -> list[float]:
    """The numbers of a NumPy array's ``str`` (``'[-1. -1.]'``); refuses a summarised (``...``) one."""
    if not isinstance(text, str) or "..." in text or len(text) > 64 * MAX_SPACE_SIZE:
        raise ValueError(f"{what} is not written out in full")
    body = text.replace("[", " ").replace("]", " ").replace(",", " ").split()
    if not all(re.fullmatch(_NUM, tok) for tok in body):
        raise ValueError(f"{what} is not a list of numbers")
    return [float(tok) for tok in body]


def _ints(text: JSONValue, what: str) -> list[int]:
    if isinstance(text, int | list):
        values = [text] if isinstance(text, int) else text
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{what} is not a list of integers")
        return list(values)
    values = _numbers(text, what)
    if not all(math.isfinite(v) and v == int(v) for v in values):
        raise ValueError(f"{what} is not a list of integers")
    return [int(v) for v in values]


def space_from_description(desc: dict[str, JSONValue]) -> gym.Space:
    """Rebuild a Box / Discrete / MultiDiscrete / MultiBinary from the plain fields SB3 writes beside a pickled
    space (its ``__dict__`` as JSON or ``str``). A ValueError if the description is not enough."""
    import numpy as np

    kind = str(desc.get(":type:", ""))
    m = re.fullmatch(r"<class '(?:gymnasium|gym)\.spaces\.[a-z_]+\.(\w+)'>", kind)
    if not m:
        raise ValueError(f"space type {kind[:80]!r} cannot be rebuilt from its description")
    name = m.group(1)
    dtype = str(desc.get("dtype", ""))
    if dtype not in _DTYPES:
        raise ValueError(f"{name} dtype {dtype[:40]!r} not one of {', '.join(_DTYPES)}")
    if name == "Box":
        shape = _ints(desc.get("_shape"), "Box shape")
        size = math.prod(shape)
        if any(s < 0 for s in shape) or size > MAX_SPACE_SIZE:
            raise ValueError(f"Box shape {shape} is negative or larger than {MAX_SPACE_SIZE} elements")
        low, high = _numbers(desc.get("low"), "Box low"), _numbers(desc.get("high"), "Box high")
        if len(low) != size or len(high) != size:
            raise ValueError(f"Box low/high have {len(low)}/{len(high)} numbers for shape {shape}")
        return gym.spaces.Box(np.array(low, dtype).reshape(shape), np.array(high, dtype).reshape(shape),
                              shape=tuple(shape), dtype=np.dtype(dtype).type)
    if name == "Discrete":
        (n,), (start,) = _ints(desc.get("n"), "Discrete n"), _ints(desc.get("start", "0"), "Discrete start")
        if not 0 < n <= MAX_SPACE_SIZE:
            raise ValueError(f"Discrete n = {n} not in [1, {MAX_SPACE_SIZE}]")
        return gym.spaces.Discrete(n, start=start)
    if name == "MultiDiscrete":
        nvec = _ints(desc.get("nvec"), "MultiDiscrete nvec")
        starts = _ints(desc.get("start", str([0] * len(nvec))), "MultiDiscrete start")
        shape = _ints(desc.get("_shape", str([len(nvec)])), "MultiDiscrete shape")
        if not 0 < len(nvec) <= MAX_SPACE_SIZE or len(starts) != len(nvec) or math.prod(shape) != len(nvec) \
                or not all(0 < k <= MAX_SPACE_SIZE for k in nvec):
            raise ValueError(f"MultiDiscrete nvec {nvec[:8]} / start / shape do not fit")
        return gym.spaces.MultiDiscrete(np.array(nvec).reshape(shape), dtype=dtype,
                                        start=np.array(starts).reshape(shape))
    if name == "MultiBinary":
        raw = desc.get("n")
        sizes = _ints(raw, "MultiBinary n")
        if not sizes or math.prod(sizes) > MAX_SPACE_SIZE or any(v <= 0 for v in sizes):
            raise ValueError(f"MultiBinary n = {sizes} does not fit")
        scalar = isinstance(raw, int) or (isinstance(raw, str) and "[" not in raw)
        return gym.spaces.MultiBinary(sizes[0] if scalar and len(sizes) == 1 else sizes)
    raise ValueError(f"a {name} space cannot be rebuilt from its description")


def _space(path: PathLike, data: dict[str, JSONValue], key: str, given: gym.Space | None,
           strict: bool) -> gym.Space:
    """The model's ``key`` space: rebuilt from the JSON description (and equal to ``given`` when ``strict``: the
    env it will learn in); ``given`` alone when the description is not enough (a Dict space, a huge Box...)."""
    desc = data.get(key)
    if not isinstance(desc, dict):
        raise _fail(path, f"'data' has no description of the {key}")
    try:
        rebuilt = space_from_description(desc)
    except (ValueError, TypeError, OverflowError) as exc:
        if given is None:
            raise _fail(path, f"its {key} cannot be read without unpickling ({exc}); load it together with "
                              "the env it was trained on") from None
        if str(desc.get(":type:", "")).rsplit(".", 1)[-1].rstrip("'>") != type(given).__name__:
            raise _fail(path, f"the model's {key} is a {desc.get(':type:')}, the env's is {given}") from None
        return given
    if strict and given is not None and rebuilt != given:
        raise _fail(path, f"the model's {key} {rebuilt} differs from the env's {given}")
    return rebuilt


# -- classes named in the JSON (only from these lists) ---------------------------------------------------------
def _allowed_classes() -> dict[str, type]:
    from stable_baselines3.common import torch_layers

    classes = [torch.nn.Tanh, torch.nn.ReLU, torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.GELU, torch.nn.SiLU,
               torch.nn.Sigmoid, torch.nn.Identity, torch.nn.Softplus, torch.nn.SELU,
               torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.SGD,
               torch_layers.FlattenExtractor, torch_layers.NatureCNN, torch_layers.CombinedExtractor, MLPExtractor]
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


def _class_from(text: JSONValue, key: str) -> type:
    m = re.fullmatch(r"<class '([\w.]+)'>", str(text))
    allowed = _allowed_classes()
    if not m or m.group(1) not in allowed:
        names = ", ".join(sorted(n.rsplit(".", 1)[-1] for n in allowed))
        raise ValueError(f"policy_kwargs {key} = {str(text)[:80]!r} is not one of the classes the safe loader "
                         f"rebuilds ({names})")
    return allowed[m.group(1)]


def _plain(value: JSONValue, key: str, depth: int = 0) -> JSONValue:
    """A JSON value made only of numbers, strings, booleans, None, lists and dicts (checked, bounded)."""
    if depth > 8:
        raise ValueError(f"policy_kwargs {key} is nested too deeply")
    if isinstance(value, dict):
        return {str(k): _plain(v, key, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, key, depth + 1) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**9:
            raise ValueError(f"policy_kwargs {key} holds the number {value}, too large")
        return value
    raise ValueError(f"policy_kwargs {key} is not plain JSON")


def _widths(value: JSONValue, key: str) -> None:
    """Every integer inside ``value`` (net_arch, hidden sizes) is a layer width in [1, MAX_LAYER]."""
    flat = [value] if not isinstance(value, dict | list) else \
        [w for v in (value.values() if isinstance(value, dict) else value) for w in
         ([v] if not isinstance(v, dict | list) else (v.values() if isinstance(v, dict) else v))]
    ints = [w for w in flat if isinstance(w, int) and not isinstance(w, bool)]
    if len(ints) > MAX_LAYERS * 4 or any(not 1 <= w <= MAX_LAYER for w in ints):
        raise ValueError(f"policy_kwargs {key} asks for layers outside [1, {MAX_LAYER}] or more than "
                         f"{MAX_LAYERS * 4} of them")


_POLICY_KWARGS_CLASS = ("activation_fn", "optimizer_class", "features_extractor_class")


def _plain_policy_keys(policy_cls: type[BasePolicy]) -> tuple[str, ...]:
    """The policy constructor's arguments that take plain values (the class-valued ones are allow-listed)."""
    import inspect

    names = inspect.signature(policy_cls.__init__).parameters
    skip = {"self", "observation_space", "action_space", "lr_schedule", "args", "kwargs", *_POLICY_KWARGS_CLASS}
    return tuple(n for n in names if n not in skip)


def _policy_kwargs(raw: JSONValue, policy_cls: type[BasePolicy]) -> dict[str, Any]:
    """SB3's ``policy_kwargs``, plain JSON or (when it held classes) the readable fields beside the pickle;
    only the arguments ``policy_cls`` takes, classes only from the allow-list."""
    plain_keys = _plain_policy_keys(policy_cls)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"policy_kwargs must be an object, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in (":type:", ":serialized:"):
            continue
        if key in _POLICY_KWARGS_CLASS:
            out[key] = _class_from(value, key)
        elif key in plain_keys:
            if isinstance(value, str) and key != "net_arch":
                raise ValueError(f"policy_kwargs {key} = {value[:60]!r} was pickled; the safe loader cannot "
                                 "rebuild it")
            out[key] = _plain(value, key)
        else:
            raise ValueError(f"policy_kwargs {key!r} is not an argument of {policy_cls.__name__} "
                             f"({', '.join(plain_keys + _POLICY_KWARGS_CLASS)})")
    if isinstance(out.get("net_arch"), str):  # a pickled policy_kwargs writes a list of ints as its str
        out["net_arch"] = _ints(out["net_arch"], "policy_kwargs net_arch")
    for key in ("net_arch", "features_extractor_kwargs"):
        if key in out:
            _widths(out[key], key)
    if "n_critics" in out and not (isinstance(out["n_critics"], int) and 1 <= out["n_critics"] <= 16):
        raise ValueError(f"policy_kwargs n_critics = {out['n_critics']!r} not in [1, 16]")
    return out


# -- schedules and other pickled fields -------------------------------------------------------------------------
def _default(cls: type[BaseAlgorithm], name: str) -> Any:
    import inspect

    param = inspect.signature(cls.__init__).parameters.get(name)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def _schedule_value(desc: JSONValue, hyper: dict[str, Any], name: str, cls: type[BaseAlgorithm]) -> Any:
    """A float schedule SB3 pickled: from our run's config (``hyper``), else the constant the description
    states (``ConstantSchedule(val=0.2)``), else the algorithm's default."""
    if isinstance(hyper.get(name), int | float) and not isinstance(hyper.get(name), bool):
        return float(hyper[name])
    if isinstance(desc, int | float) and not isinstance(desc, bool):
        return float(desc)
    if isinstance(desc, dict):
        m = re.fullmatch(rf"ConstantSchedule\(val=({_NUM})\)", str(desc.get("value_schedule", "")))
        if m:
            return float(m.group(1))
    return _default(cls, name)


def _check_int(path: PathLike, data: dict[str, JSONValue], key: str) -> None:
    value = data.get(key)
    if value is None:
        return
    low = -1 if key == "gradient_steps" else 0  # SAC/TD3: -1 means as many as the env steps taken
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_COUNT:
        raise _fail(path, f"'data' field {key} = {str(value)[:40]} is not an integer in [0, {MAX_COUNT}]")


def _rebuild(path: PathLike, data: dict[str, JSONValue], cls: type[BaseAlgorithm], policy_cls: type[BasePolicy],
             obs_space: gym.Space, act_space: gym.Space, hyper: dict[str, Any],
             tensorboard_log: str | None) -> dict[str, Any]:
    """The fields to set on a fresh ``cls`` instance: the plain JSON fields it has attributes for, and a
    rebuilt value for every field SB3 pickled."""
    # (SB3 annotates env as required and _init_setup_model on each algorithm, not on BaseAlgorithm)
    build = cast("Callable[..., BaseAlgorithm]", cls)
    probe = build(policy=cls.policy_aliases["MlpPolicy"], env=None, _init_setup_model=False)
    fresh = vars(probe)
    excluded = set(probe._excluded_save_params()) | {"policy_class", "tensorboard_log"}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in excluded or key in _RESET_TO_NONE or (key not in fresh and key not in ("n_envs",)):
            continue
        if _is_pickled(value) or key == "policy_kwargs":
            continue  # rebuilt below
        out[key] = value
    for key in _BOUNDED_INTS:
        _check_int(path, out, key)
    if "n_steps" in out and "n_envs" in out and out["n_steps"] * out["n_envs"] > MAX_COUNT:
        raise _fail(path, f"n_steps * n_envs = {out['n_steps'] * out['n_envs']} is more than {MAX_COUNT}")
    for key in _RESET_TO_NONE:
        if key in fresh:
            out[key] = None
    out["observation_space"], out["action_space"] = obs_space, act_space
    out["tensorboard_log"] = tensorboard_log
    try:
        out["policy_kwargs"] = _policy_kwargs(data.get("policy_kwargs"), policy_cls)
    except (ValueError, TypeError) as exc:
        raise _fail(path, exc) from None
    out["policy_kwargs"].pop("device", None)
    if "learning_rate" in data and not isinstance(data["learning_rate"], int | float):
        out["learning_rate"] = _schedule_value(data["learning_rate"], hyper, "learning_rate", cls)
    if "clip_range" in data:
        out["clip_range"] = _schedule_value(data["clip_range"], hyper, "clip_range", cls)
    if data.get("clip_range_vf") is not None:
        out["clip_range_vf"] = _schedule_value(data["clip_range_vf"], hyper, "clip_range_vf", cls)
    if "train_freq" in data:
        freq = hyper.get("train_freq", _default(cls, "train_freq"))
        out["train_freq"] = tuple(freq) if isinstance(freq, list) else freq
    for key, value in out.items():  # what is left must be plain JSON or rebuilt here
        if isinstance(value, dict) and key != "policy_kwargs" and any(str(k).startswith(":") for k in value):
            raise _fail(path, f"'data' field {key} was pickled; the safe loader cannot rebuild it")
    for key in ("learning_rate", "gamma"):
        if key in out and not (isinstance(out[key], int | float) and math.isfinite(out[key])):
            raise _fail(path, f"'data' field {key} = {str(out[key])[:40]} is not a finite number")
    return out


def _chain(n_in: int, widths: JSONValue) -> int:
    """Weights of a stack of linear layers of these widths on ``n_in`` inputs."""
    total = 0
    for w in widths if isinstance(widths, list | tuple) else []:
        if isinstance(w, int) and not isinstance(w, bool):
            total, n_in = total + n_in * w, w
    return total


def _check_policy_size(path: PathLike, policy_kwargs: dict[str, Any], obs_space: gym.Space,
                       state: dict[str, torch.Tensor]) -> None:
    """Refuse, before anything is allocated, a ``policy_kwargs`` that asks for more weights than ``policy.pth``
    holds: every layer it describes has its weights in the file, so an honest file always passes."""
    from stable_baselines3.common.torch_layers import FlattenExtractor

    obs_dim = gym.spaces.utils.flatdim(obs_space)
    extractor = policy_kwargs.get("features_extractor_class")
    kwargs = policy_kwargs.get("features_extractor_kwargs") or {}
    asked = 0
    if extractor is MLPExtractor:
        hidden = list(kwargs.get("hidden", (64, 64))) if isinstance(kwargs, dict) else []
        asked += _chain(obs_dim, hidden)
        features = hidden[-1] if hidden and isinstance(hidden[-1], int) else 1
    elif extractor in (None, FlattenExtractor):
        features = obs_dim
    else:  # a CNN / combined extractor: only its output width is known here
        features = kwargs.get("features_dim", 1) if isinstance(kwargs, dict) else 1
        features = features if isinstance(features, int) else 1
    arch = policy_kwargs.get("net_arch")
    for widths in (arch.values() if isinstance(arch, dict) else [arch]):
        asked += _chain(features, widths)
    held = sum(t.numel() for t in state.values())
    if asked > held:
        raise _fail(path, f"policy_kwargs describe {asked} weights but policy.pth holds {held} numbers")


def _policy_alias(cls: type[BaseAlgorithm], params: dict[str, dict[str, Any]]) -> str:
    keys = params.get("policy", {}).keys()
    if any(k.startswith("features_extractor.cnn.") or ".features_extractor.cnn." in k for k in keys):
        return "CnnPolicy"
    if any(".extractors." in k or k.startswith("features_extractor.extractors.") for k in keys):
        return "MultiInputPolicy"
    return "MlpPolicy"


def _load_tensors(path: PathLike, name: str, blob: bytes, device: torch.device) -> object:
    from nets.torchfile import load_tensors

    try:
        return load_tensors(blob, max_bytes=MAX_MEMBER_BYTES, map_location=device)
    except ValueError as exc:
        raise _fail(path, f"zip member {name!r}: {exc}") from None


def load_sb3_zip(path: PathLike, algo: str | None = None, *, env: gym.Env | VecEnv | None = None,
                 device: torch.device | str = "auto", hyper: dict[str, Any] | None = None,
                 tensorboard_log: str | None = None, observation_space: gym.Space | None = None,
                 action_space: gym.Space | None = None) -> BaseAlgorithm:
    """An SB3 model (``PPO``, ``A2C``, ``DQN``, ``SAC``, ``TD3``, ``DDPG``) from a zip that SB3's ``save`` wrote,
    without unpickling anything from the file.

    ``algo`` names the class (else it is guessed from the fields, :func:`guess_algo`). ``env`` (to continue
    ``learn``) must have the model's spaces. Otherwise the spaces are rebuilt from the description SB3 writes
    beside their pickle (Box, Discrete, MultiDiscrete, MultiBinary; a Box of at most 1000 numbers, which NumPy
    writes out in full); where that is not enough (a Dict space, a larger Box), ``observation_space`` and
    ``action_space`` (the env the agent will act in) are taken instead. ``hyper``
    (the run's constructor arguments) gives the schedules SB3 pickled (``clip_range``, ``train_freq``...); without
    it they come from the description when it states a constant, else the algorithm's default. Every problem
    raises a :class:`CheckpointError` (a ValueError) of one line naming the file."""
    import stable_baselines3 as sb3
    from stable_baselines3.common.utils import get_device

    hyper = dict(hyper or {})
    text, blobs = _read_members(path)
    data = _parse_data(path, text)
    name = (algo or guess_algo(data) or "").upper()
    if name not in SB3_ALGOS:
        raise _fail(path, f"cannot tell which algorithm saved it (give a sidecar {{\"algo\": \"PPO\"}}); "
                          f"valid: {', '.join(SB3_ALGOS)}" if not algo else
                    f"unknown algorithm {algo!r}; valid: {', '.join(SB3_ALGOS)}")
    cls = getattr(sb3, name)
    dev = get_device(device)

    # the tensors: .pth members, each loaded with weights_only (plain tensors and containers only)
    params: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    for member, blob in blobs.items():
        obj = _load_tensors(path, member, blob, dev)
        if member in ("pytorch_variables.pth", "tensors.pth"):
            if not isinstance(obj, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, torch.Tensor))
                                                    for k, v in obj.items()):
                raise _fail(path, f"zip member {member!r} must map names to tensors")
            variables = obj
        else:
            if not isinstance(obj, dict):
                raise _fail(path, f"zip member {member!r} is not a state dict")
            params[member[:-len(".pth")]] = obj
    if "policy" not in params or not all(isinstance(v, torch.Tensor) for v in params["policy"].values()):
        raise _fail(path, "no 'policy.pth' state dict of tensors")

    # the model: the fields, then SB3's own setup, then the tensors
    wrapped = None
    if env is not None:
        wrapped = cls._wrap_env(env, int(data.get("verbose", 0)) if isinstance(data.get("verbose"), int) else 0)
        observation_space, action_space = wrapped.observation_space, wrapped.action_space
    obs_space = _space(path, data, "observation_space", observation_space, strict=wrapped is not None)
    act_space = _space(path, data, "action_space", action_space, strict=wrapped is not None)
    try:
        policy_cls = cls.policy_aliases[_policy_alias(cls, params)]
        fields = _rebuild(path, data, cls, policy_cls, obs_space, act_space, hyper, tensorboard_log)
        if wrapped is not None:
            fields["n_envs"] = wrapped.num_envs
        _check_policy_size(path, fields["policy_kwargs"], obs_space, params["policy"])
        model = cls(policy=policy_cls, env=wrapped, device=dev, _init_setup_model=False)
        model.__dict__.update(fields)
        model._setup_model()
        state_names, variable_names = model._get_torch_save_params()
        if set(params) != set(state_names):
            raise ValueError(f"the zip holds state dicts {sorted(params)}, {name} expects {sorted(state_names)}")
        model.set_parameters(params, exact_match=True, device=dev)
        for var, value in variables.items():
            if var not in variable_names:
                raise ValueError(f"pytorch_variables.pth names {var!r}; {name} has {variable_names}")
            if value is not None:
                target = _recursive_getattr(model, var)
                if not isinstance(target, torch.Tensor) or target.shape != value.shape:
                    raise ValueError(f"pytorch variable {var!r} has the wrong shape")
                target.data = value.data
        if model.use_sde:
            model.policy.reset_noise()
    except CheckpointError:
        raise
    except Exception as exc:  # SB3 / torch reject mismatched fields and tensors in many ways
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(path, f"does not load as {name} ({type(exc).__name__}: {first})") from None
    return model


def _recursive_getattr(obj: object, dotted: str) -> object:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# ---- a gymnasium VectorEnv as an SB3 VecEnv ----------------------------------------------------------------
def _autoreset_mode(env: gym.vector.VectorEnv) -> str:
    mode = env.metadata.get("autoreset_mode", getattr(env, "autoreset_mode", None))
    return getattr(mode, "value", mode) or "NextStep"


def supports_same_step_reset(env: gym.vector.VectorEnv) -> bool:
    """Whether :class:`GymnasiumVecEnv` can give SB3 same-step resets from ``env``: it autoresets on the
    same step, or it takes ``reset(options={"reset_mask": ...})``, as Gymnasium's Sync and Async vector envs
    do and a natively batched env says with ``metadata["reset_mask"] = True``."""
    if _autoreset_mode(env) == "SameStep":
        return True
    return isinstance(env.unwrapped, gym.vector.SyncVectorEnv | gym.vector.AsyncVectorEnv) or bool(
        env.metadata.get("reset_mask", False))


class GymnasiumVecEnv(VecEnv):
    """A ``gymnasium.vector.VectorEnv`` as a stable-baselines3 ``VecEnv``.

    SB3 expects *same-step* autoreset: on the step that ends env ``i``'s episode, ``obs[i]`` is already the
    next episode's first observation, the final one is ``infos[i]["terminal_observation"]``, and
    ``infos[i]["TimeLimit.truncated"]`` says the end was a time limit (SB3 then bootstraps from the final
    observation's value). Every Gymnasium autoreset mode is converted to that, with no extra env step:

    * ``NEXT_STEP`` (Gymnasium's default) and ``DISABLED``: the ended envs are reset at once with
      ``reset(options={"reset_mask": ended})``; the env must support that option (Gymnasium's
      Sync/Async vector envs do; a natively batched env must too).
    * ``SAME_STEP``: the final observations come from ``info["final_obs"]``.

    Gymnasium's dict-of-arrays infos become SB3's list of dicts (an entry only where the env set it).
    ``seed(s)`` then ``reset()`` resets env ``i`` with seed ``s + i``, as ``VectorEnv.reset(seed=s)`` does.
    """

    def __init__(self, env: gym.vector.VectorEnv):
        if not isinstance(env, gym.vector.VectorEnv):
            raise TypeError(f"GymnasiumVecEnv wraps a gymnasium.vector.VectorEnv, got {type(env).__name__}")
        mode = _autoreset_mode(env)
        if mode not in ("NextStep", "SameStep", "Disabled"):
            raise ValueError(f"unsupported vector-env autoreset mode {mode!r}; valid: NextStep, SameStep, Disabled")
        self.env, self.autoreset_mode = env, mode
        self._actions: np.ndarray | None = None
        super().__init__(int(env.num_envs), env.single_observation_space, env.single_action_space)

    # ------------------------------------------------------------------ stepping
    def reset(self) -> VecEnvObs:
        seeds = self._seeds
        seed = None
        if seeds[0] is not None:
            if seeds != [seeds[0] + i for i in range(self.num_envs)]:
                raise ValueError(f"per-env seeds must be consecutive (s, s+1, ...) for a vector env, got {seeds}")
            seed = int(seeds[0])
        options = self._options[0] if all(o == self._options[0] for o in self._options) else None
        if options is None:
            raise ValueError("a vector env takes one options dict for all its envs; set_options gave several")
        obs, info = self.env.reset(seed=seed, options=dict(options) or None)
        self.reset_infos = self._split(info)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.env.step(self._actions)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        dones = terminated | truncated
        infos = self._split(info)
        if dones.any():
            ended = np.flatnonzero(dones)
            if self.autoreset_mode == "SameStep":
                finals = {int(i): info["final_obs"][i] for i in ended}
                last = self._split(info.get("final_info", {}))
                for i in ended:  # SB3 keeps the ended episode's last info; the reset's goes to reset_infos
                    self.reset_infos[i] = {k: v for k, v in infos[i].items() if k not in ("final_obs", "final_info")}
                    infos[i] = last[i]
            else:
                finals = {int(i): np.array(obs[i], copy=True) for i in ended}
                kept = ~dones
                before = np.array(obs[kept], copy=True)
                try:
                    fresh, reset_info = self.env.reset(options={"reset_mask": dones.copy()})
                except (TypeError, KeyError, ValueError, AssertionError) as exc:
                    raise ValueError(f"{type(self.env).__name__} does not support reset(options={{'reset_mask': "
                                     f"...}}), which GymnasiumVecEnv needs for {self.autoreset_mode} autoreset "
                                     f"({type(exc).__name__}: {exc})") from None
                if not np.array_equal(np.asarray(fresh)[kept], before):
                    raise ValueError(f"{type(self.env.unwrapped).__name__} reset envs outside reset_mask; "
                                     "GymnasiumVecEnv needs reset(options={'reset_mask': m}) to reset only the "
                                     "envs in m")
                obs = fresh
                split = self._split(reset_info)
                for i in ended:
                    self.reset_infos[i] = split[i]
            for i in ended:
                infos[i]["terminal_observation"] = finals[int(i)]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, np.float32), dones, infos

    def _split(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Gymnasium's ``{key: array, "_key": mask}`` (nested for dicts) -> one dict per env."""
        out: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, values in info.items():
            if key.startswith("_"):
                continue
            mask = info.get(f"_{key}")
            rows = range(self.num_envs) if mask is None else np.flatnonzero(mask)
            if isinstance(values, dict):  # a nested info (e.g. SAME_STEP's final_info)
                values = self._split(values)
            for i in rows:
                out[i][key] = values[i]
        return out

    # ------------------------------------------------------------------ attributes
    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if np.isscalar(indices):
            return [int(cast(int, indices))]
        return [int(i) for i in cast("Iterable[int]", indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if hasattr(self.env, "get_attr"):  # gymnasium's Sync/Async vector envs: one value per env
            values = self.env.get_attr(attr_name)
        else:  # a natively batched env: one value for all
            values = [getattr(self.env, attr_name)] * self.num_envs
        return [values[i] for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if indices is not None and self._indices(indices) != list(range(self.num_envs)):
            raise ValueError("GymnasiumVecEnv sets attributes on every env at once, not on some")
        if hasattr(self.env, "set_attr"):
            self.env.set_attr(attr_name, value)
        else:
            setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        if hasattr(self.env, "call"):
            values = self.env.call(method_name, *method_args, **method_kwargs)
        else:
            values = [getattr(self.env, method_name)(*method_args, **method_kwargs)] * self.num_envs
        return [values[i] for i in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def close(self) -> None:
        self.env.close()
