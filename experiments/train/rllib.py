"""``sandbox train ENV --backend rllib``: PPO on RLlib's new API stack, into the same run folder.

* **Envs.** The env runners build the sandbox env with :func:`experiments.train.envs.make_env` (the same
  options, shaping and exploring starts as the native trainers), observations flattened for RLlib's MLP.
  ``--self-play`` (the duel only) trains through the PettingZoo ``ParallelEnv`` (:mod:`envs.duel.pz`)
  wrapped as an RLlib ``MultiAgentEnv``.
* **Self-play.** Module ``main`` learns; it plays frozen snapshots of itself (``main_v0`` is its initial
  weights). :class:`SelfPlayCallback` counts main's wins in every finished round (a draw scores 0) and feeds
  them to the snapshot gate every trainer uses (:class:`experiments.train.gate.SnapshotGate`): once main's
  score over its last ``snapshot_window`` rounds since the last snapshot is *strictly* above
  ``snapshot_gate``, a new frozen copy ``main_vK`` joins the league (up to ``max_snapshots``; then the oldest
  leaves). RLlib reports only each iteration's sums, so the rounds of one iteration enter the window at
  that iteration's win rate (:meth:`SnapshotGate.record_many`). Each round main takes a random side and
  meets a snapshot drawn uniformly.
* **Run folder.** ``config.json``, ``metrics.csv`` (held-out evaluation through the sandbox's own
  evaluation, every ``eval_every`` env steps: the stealth level from its start, or the duel against the
  ``[duel] env_kwargs`` opponent), TensorBoard under ``tb/``, ``league.json`` for self-play, and
  ``checkpoints/latest`` and ``checkpoints/final``: RLlib checkpoints (``Algorithm.save_to_path``, pickles:
  restore only your own) each with the data-only ``sandbox_policy.json``/``.pt`` that ``rllib:PATH`` loads.
* **Where.** Local Ray unless ``--address`` (see :mod:`experiments.train.raysession`). ``device``
  (``--device auto|cpu|cuda|cuda:N``, as for every trainer) becomes the learner's GPU count
  (:func:`rllib_gpus`); a ``gpus`` key in the ``rllib-ALGO`` table (``--set gpus=0.5``) overrides it for
  fractions or several learners.
* **Resume** (``resume=True``): the run continues from ``checkpoints/latest``, read as data only (RLlib's own
  checkpoint beside it is pickles, never loaded): see :func:`train_rllib`.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from envs.fileio import atomic_write_text, read_json_object
from envs.stealth.features import nav_spec
from experiments.train.config import ENV_IDS, METRIC_FIELDS, RLLIB_ALGOS, env_kind, resolve_config
from experiments.train.gate import SnapshotGate

SINGLE_ENV = "sandbox-rllib-single"
SELF_PLAY_ENV = "sandbox-rllib-duel-selfplay"
RUN_KEYS_RLLIB = ("workers", "gpus")  # run keys of the rllib tables besides steps/n_envs/eval_every/eval_episodes
SELF_PLAY_KEYS = ("snapshot_gate", "snapshot_window", "max_snapshots")
MODEL_KEYS = ("fcnet_hiddens", "fcnet_activation", "vf_share_layers")
MAIN = "main"


# ---- envs, as the env runners build them ---------------------------------------------------------------------

def single_env(env_config: dict):
    """One training env for an RLlib env runner: ``make_env`` with the run's options, observations flat.
    Env number ``worker_index * num_envs + vector_index`` picks its stealth level / duel opponent when the
    options list several."""
    import gymnasium as gym

    from experiments.train.envs import make_env

    index = int(getattr(env_config, "worker_index", 0)) * 1000 + int(getattr(env_config, "vector_index", 0))
    env = make_env(env_config["env"], env_config["env_kwargs"], env_config["nav_features"], index=index,
                   shaping=env_config["shaping"], gamma=env_config["gamma"],
                   exploring_starts=env_config["exploring_starts"])
    return gym.wrappers.FlattenObservation(env) if len(env.observation_space.shape) > 1 else env


def self_play_env(env_config: dict):
    """The duel's PettingZoo ``ParallelEnv`` as an RLlib ``MultiAgentEnv``."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from envs.duel.pz import DuelParallelEnv

    return ParallelPettingZooEnv(DuelParallelEnv(**pz_kwargs(env_config["env_kwargs"])))


def pz_kwargs(env_kwargs: dict) -> dict:
    """The duel settings the two-player env takes (those of ``DuelConfig`` but ``side``: ``frame_skip``,
    ``flat_actions``, ``round_seconds``, ``character``); the others (``opponent``, ``side``, ``difficulty``)
    only shape the held-out evaluation."""
    import dataclasses

    from envs.duel.config import DuelConfig

    accepted = {f.name for f in dataclasses.fields(DuelConfig)} - {"side"}
    return {k: v for k, v in env_kwargs.items() if k in accepted}


def register_envs() -> None:
    from ray.tune.registry import register_env

    register_env(SINGLE_ENV, single_env)
    register_env(SELF_PLAY_ENV, self_play_env)


# ---- self-play -----------------------------------------------------------------------------------------------

def main_side(episode_id: str) -> int:
    """Which player (0 or 1) ``main`` controls in an episode: a stable hash of the episode's id."""
    return zlib.crc32(str(episode_id).encode()) % 2


def league_mapping(opponents: list[str], seed: int = 0):
    """The agent -> module mapping for a league: ``main`` on one side (by :func:`main_side`), the other side
    a snapshot drawn uniformly (by the same hash, so both agents of an episode agree)."""
    opponents = list(opponents)

    def mapping(agent_id, episode, **kwargs):
        side = main_side(episode.id_)
        if agent_id == f"player_{side}":
            return MAIN
        pick = zlib.crc32(f"{episode.id_}/{seed}".encode()) // 2 % len(opponents)
        return opponents[pick]

    return mapping


def main_won(episode) -> float | None:
    """1.0 if ``main`` won the finished round, 0.0 if it lost or drew; None if main did not play."""
    for agent in ("player_0", "player_1"):
        if episode.module_for(agent) == MAIN:
            infos = episode.get_infos(-1)
            info = infos.get(agent, {}) if isinstance(infos, dict) else {}
            winner = info.get("winner")
            if winner is None:  # fall back to the last reward: +1 (+- health) for a win
                rewards = episode.get_rewards(-1)
                return float(rewards.get(agent, 0.0) > 0.5)
            return float(winner == agent)
    return None


def make_self_play_callback(gate: float, window: int, max_snapshots: int, league_file: str, step_offset: int = 0):
    """The :class:`SelfPlayCallback` class of a self-play run (RLlib builds it with no arguments).
    ``step_offset``: the env steps before this segment of the run (a resumed run's checkpoint steps)."""
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS

    class SelfPlayCallback(RLlibCallback):
        """Adds a frozen snapshot of ``main`` when its recent win rate passes the gate (module docstring)."""

        def __init__(self):
            super().__init__()
            self.league = ["main_v0"]
            self.next_version = 1
            self.gate = SnapshotGate(window, gate)  # main's rounds since the last snapshot
            self.history: list[dict] = [{"module": "main_v0", "steps": int(step_offset), "win_rate": None}]

        def on_algorithm_init(self, *, algorithm, **kwargs) -> None:
            # main_v0 starts as main's initial weights: pure self-play from the first round.
            algorithm.set_state({"learner_group": {"learner": {"rl_module": {
                "main_v0": algorithm.learner_group.get_state(
                    components=f"learner/rl_module/{MAIN}")["learner"]["rl_module"][MAIN]}}}})
            algorithm.env_runner_group.sync_weights(from_worker_or_learner_group=algorithm.learner_group,
                                                    inference_only=True)

        def on_episode_end(self, *, episode, metrics_logger, **kwargs) -> None:
            won = main_won(episode)
            if won is not None:
                metrics_logger.log_value("main_wins", won, reduce="sum")
                metrics_logger.log_value("main_rounds", 1, reduce="sum")

        def on_train_result(self, *, algorithm, result, **kwargs) -> None:
            runners = result.get(ENV_RUNNER_RESULTS, {})
            self.record(runners.get("main_wins", 0), runners.get("main_rounds", 0))
            rate = self.win_rate()
            result["self_play"] = {"league_size": len(self.league), "win_rate": rate,
                                   "rounds_since_snapshot": self.gate.games}
            if self.gate.open():
                self.snapshot(algorithm, result, rate)
            steps = step_offset + int(runners.get("num_env_steps_sampled_lifetime", 0) or 0)
            atomic_write_text(Path(league_file), json.dumps(
                {"league": self.league, "snapshots": self.history, "steps": steps,
                 "gate": gate, "window": window, "gate_state": self.gate.state()}, indent=2) + "\n")

        def record(self, wins, rounds) -> None:
            """One iteration's sums: main won ``wins`` of ``rounds`` rounds (order unknown: each enters the gate's
            window at the iteration's rate, :meth:`SnapshotGate.record_many`)."""
            rounds = int(rounds or 0)
            self.gate.record_many(min(max(float(wins or 0), 0.0), rounds), rounds)

        def win_rate(self) -> float | None:
            """Main's score rate over its last ``window`` rounds since the last snapshot (over fewer while the
            window fills), None before any."""
            return self.gate.rate if len(self.gate) else None

        def snapshot(self, algorithm, result, rate: float) -> None:
            new_id = f"main_v{self.next_version}"
            self.next_version += 1
            main_state = algorithm.learner_group.get_state(
                components=f"learner/rl_module/{MAIN}")["learner"]["rl_module"][MAIN]
            algorithm.add_module(module_id=new_id, module_spec=RLModuleSpec.from_module(algorithm.get_module(MAIN)),
                                 new_agent_to_module_mapping_fn=league_mapping(self.league + [new_id]))
            algorithm.set_state({"learner_group": {"learner": {"rl_module": {new_id: main_state}}}})
            algorithm.env_runner_group.sync_weights(from_worker_or_learner_group=algorithm.learner_group,
                                                    inference_only=True)
            self.league.append(new_id)
            if len(self.league) > max_snapshots:
                old = self.league.pop(0)
                algorithm.remove_module(old, new_agent_to_module_mapping_fn=league_mapping(self.league))
            steps = int(result.get(ENV_RUNNER_RESULTS, {}).get("num_env_steps_sampled_lifetime", 0) or 0)
            self.history.append({"module": new_id, "steps": step_offset + steps, "win_rate": rate})
            self.gate.reset()
            result["self_play"]["league_size"] = len(self.league)

    return SelfPlayCallback


# ---- the algorithm -------------------------------------------------------------------------------------------

def build_config(config: dict, step_offset: int = 0):
    """The ``PPOConfig`` of a run's ``config`` dict (as written to ``config.json``). ``step_offset``: the env
    steps of the run before this segment (a resumed run's checkpoint steps): the self-play league counts
    from there, and RLlib is seeded with ``seed + step_offset`` (mod 2**32) so a resumed segment does not replay the
    episodes the run began with."""
    from ray.rllib.algorithms.ppo import PPOConfig
    hyper = dict(config["hyper"])
    model = {k: hyper.pop(k) for k in MODEL_KEYS if k in hyper}
    model.setdefault("vf_share_layers", False)  # PPO's default, stated so every module (and the recipe) agrees
    for key in SELF_PLAY_KEYS:
        hyper.pop(key, None)
    gamma = float(hyper.get("gamma", 0.99))
    workers, per_worker, gpus = int(config["workers"]), int(config["n_envs"]), float(config.get("gpus", 0))
    env_config = {"env": config["env"], "env_kwargs": config["env_kwargs"], "nav_features": config["nav_features"],
                  "shaping": bool(config.get("shaping")), "gamma": gamma,
                  "exploring_starts": float(config.get("exploring_starts", 0.0))}
    ppo = (PPOConfig()
           .framework("torch")
           .environment(SELF_PLAY_ENV if config.get("self_play") else SINGLE_ENV, env_config=env_config)
           .env_runners(num_env_runners=workers, num_envs_per_env_runner=per_worker,
                        rollout_fragment_length="auto", sample_timeout_s=600)
           .learners(num_learners=int(gpus) if gpus > 1 else 0, num_gpus_per_learner=1 if gpus > 1 else gpus)
           .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
           .rl_module(model_config=dict(model))
           .reporting(metrics_num_episodes_for_smoothing=20)
           .debugging(seed=(int(config["seed"]) + int(step_offset)) % 2**32, log_level="ERROR"))
    try:
        ppo = ppo.training(**hyper)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"RLlib PPO does not take these settings ({exc}); see the [default.rllib-ppo] table of "
                         "experiments/train/train_configs.toml") from None
    unknown = sorted(k for k in hyper if not hasattr(ppo, k))
    if unknown:
        raise ValueError(f"RLlib PPO has no settings {unknown}; see the [default.rllib-ppo] table of "
                         "experiments/train/train_configs.toml")
    if config.get("self_play"):
        from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
        from ray.rllib.core.rl_module.rl_module import RLModuleSpec

        sp = config["self_play_settings"]
        ppo = (ppo.multi_agent(policies={MAIN, "main_v0"}, policy_mapping_fn=league_mapping(["main_v0"]),
                               policies_to_train=[MAIN])
               .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={MAIN: RLModuleSpec(),
                                                                            "main_v0": RLModuleSpec()}))
               .callbacks(make_self_play_callback(float(sp["snapshot_gate"]), int(sp["snapshot_window"]),
                                                  int(sp["max_snapshots"]), sp["league_file"], int(step_offset))))
    return ppo, model


def module_id(config: dict) -> str:
    return MAIN if config.get("self_play") else "default_policy"


def policy_recipe(config: dict, model: dict, observation_space, action_space) -> dict:
    from agents.rllib_agent import space_to_json

    return {"module": "ppo", "model_config": model, "observation_space": space_to_json(observation_space),
            "action_space": space_to_json(action_space), "env": config["env"],
            "env_id": ENV_IDS.get(config["env"], config["env"]), "env_kwargs": config["env_kwargs"],
            "nav_features": config["nav_features"], "self_play": bool(config.get("self_play")),
            "seed": config["seed"]}


def learner_weights(algo, mid: str) -> dict:
    """The learner's current weights of module ``mid`` as torch tensors."""
    import torch

    state = algo.learner_group.get_state(components=f"learner/rl_module/{mid}")["learner"]["rl_module"][mid]
    return {k: torch.as_tensor(np.asarray(v)).clone() for k, v in state.items()}


def current_agent(algo, mid: str, recipe: dict):
    """An :class:`agents.rllib_agent.RLlibAgent` with the learner's current weights (for evaluation)."""
    from agents.rllib_agent import RLlibAgent, build_module, space_from_json

    module = build_module(recipe)
    weights = learner_weights(algo, mid)
    module.load_state_dict({k: weights[k] for k in module.state_dict()})
    module.eval()
    return RLlibAgent(module, space_from_json(recipe["action_space"]), info=recipe)


def save_checkpoint(algo, folder: Path, mid: str, recipe: dict, steps: int) -> None:
    """``folder``: RLlib's checkpoint plus the data-only policy, written beside and swapped in whole."""
    import torch

    from agents.rllib_agent import POLICY_JSON, POLICY_WEIGHTS

    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    algo.save_to_path(str(tmp.resolve()))
    torch.save(learner_weights(algo, mid), tmp / POLICY_WEIGHTS)
    atomic_write_text(tmp / POLICY_JSON, json.dumps({**recipe, "steps": int(steps)}, indent=2) + "\n")
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


# ---- the run -------------------------------------------------------------------------------------------------

def resolve_rllib(env: str, algo: str, *, steps=None, workers=None, n_envs=None, gpus=None, seed=0,
                  env_kwargs=None, nav_features=None, shaping=None, exploring_starts=None, eval_every=None,
                  eval_episodes=None, hyper=None, self_play=False, file_tables=None, device=None) -> dict:
    """The ``config.json`` of an RLlib run: the ``rllib-ALGO`` tables, a ``--config`` file, then options
    (``n_envs``: envs per env runner, ``sandbox train --envs``). ``gpus``: a count above 0 overrides the
    device, as a ``gpus`` key in the tables does (``config["gpus_override"]``; ``device`` is mapped to a GPU
    count in :func:`train_rllib`, and only recorded here)."""
    from experiments.train.trainers import MAX_EVALS, check_run_numbers

    kind = env_kind(env)
    if self_play and kind != "duel":
        raise ValueError(f"--self-play needs a two-player env (duel); {env} has one player")
    check_run_numbers(seed=seed, steps=steps, n_envs=n_envs)
    overrides = dict(hyper or {})
    for key, value in (("steps", steps), ("n_envs", n_envs), ("eval_every", eval_every),
                       ("eval_episodes", eval_episodes), ("workers", workers)):
        if value is not None:
            overrides[key] = value
    resolved = resolve_config(env, algo, overrides, backend="rllib", file_tables=file_tables)
    hyper_out = dict(resolved["hyper"])
    config = {
        "env": kind, "algo": algo, "backend": "rllib", "seed": int(seed),
        "steps": int(resolved["steps"]), "n_envs": int(resolved["n_envs"]),
        "workers": int(hyper_out.pop("workers", 1)),
        "gpus_override": _gpus_override(gpus, hyper_out.pop("gpus", None)),
        "eval_every": int(resolved["eval_every"]), "eval_episodes": int(resolved["eval_episodes"]),
        "env_kwargs": {**resolved["env_kwargs"], **(env_kwargs or {})},
        "nav_features": resolved["nav_features"] if nav_features is None else nav_spec(nav_features),
        "shaping": resolved["shaping"] if shaping is None else bool(shaping),
        "exploring_starts": resolved["exploring_starts"] if exploring_starts is None else float(exploring_starts),
        "self_play": bool(self_play),
        "hyper": hyper_out,
    }
    if self_play:
        config["self_play_settings"] = {k: hyper_out[k] for k in SELF_PLAY_KEYS if k in hyper_out}
        missing = [k for k in SELF_PLAY_KEYS if k not in config["self_play_settings"]]
        if missing:
            raise ValueError(f"--self-play needs {missing} in the [duel.rllib-{algo}] table (or --set KEY=VALUE)")
    for key in ("steps", "n_envs", "eval_every", "eval_episodes"):
        if config[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {config[key]}")
    if not 0 <= config["workers"] <= 100_000:
        raise ValueError(f"--workers must be in 0..100000, got {config['workers']}")
    if config["steps"] // config["eval_every"] > MAX_EVALS:
        raise ValueError(f"--steps {config['steps']} / --eval-every {config['eval_every']}: more than {MAX_EVALS} "
                         "evaluations; evaluate less often")
    if device is not None:
        config["device"] = str(device)
    return config


def _gpus_override(argument, table) -> float | None:
    """The learner's GPUs when given as a number (``gpus=`` above 0, else the tables' ``gpus``), None to map
    the device."""
    value = argument if argument else table
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1024:
        raise ValueError(f"gpus must be a number of GPUs in 0..1024 (fractions allowed); got {value!r}")
    return float(value)


def rllib_gpus(device="auto", cluster_gpus: int | None = None) -> int:
    """``--device`` as RLlib's learner GPU count: ``cpu`` 0; ``cuda`` or ``cuda:N`` 1 (Ray assigns the GPU, so
    N is not kept); ``auto`` 1 where a GPU is available, else 0.

    Locally (``cluster_gpus`` None) "available" is ``torch.cuda.is_available()``, and ``cuda`` on a machine
    without it is the ValueError of :func:`nets.device.resolve_device`. Joining a cluster, the learner may run
    on another machine: ``cluster_gpus`` is the cluster's GPU count (Ray's resources); ``auto`` asks for one
    when it has any, and ``cuda`` on a cluster without GPUs is a ValueError."""
    from nets.device import resolve_device

    if cluster_gpus is None:
        return int(resolve_device(device).type == "cuda")
    import torch

    if device is None or device == "auto":
        return int(cluster_gpus > 0)
    try:
        spec = device if isinstance(device, torch.device) else torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from None
    if spec.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!s}; valid: auto, cpu, cuda, cuda:N")
    if spec.type == "cuda" and cluster_gpus < 1:
        raise ValueError(f"device {device!s} was asked for, but the Ray cluster has no GPU; use auto or cpu")
    return int(spec.type == "cuda")


def train_rllib(env: str, algo: str = "ppo", *, out=None, address: str | None = None, progress: bool = True,
                on_eval=None, force: bool = False, resume: bool = False, device="auto", **options):
    """Train with RLlib into a run folder; ``options`` as :func:`resolve_rllib`. ``on_eval(row)`` sees every
    evaluation row (``sandbox tune`` reports them to Tune). The folder is claimed as ``sandbox train`` claims
    its own (:func:`experiments.runfolder.claim_folder`, ``force``). Returns a :class:`TrainResult`.

    ``device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, as for every trainer; RLlib gets it as the learner's
    GPU count (:func:`rllib_gpus`), unless a ``gpus`` count overrides it (:func:`resolve_rllib`).

    ``resume``: continue the run in ``out`` from its ``checkpoints/latest``. RLlib's own checkpoint there is
    pickles, which the sandbox never loads, so the run resumes from the data-only policy beside it
    (``sandbox_policy.pt``, read with ``torch.load(weights_only=True)`` through
    :func:`nets.torchfile.load_tensors`, and the ``steps`` of ``sandbox_policy.json``): the algorithm is
    built anew from the run's ``config.json`` (read and checked; ``steps``, if given, is the new total, and
    the other options are the run's own), the weights go into the learner's module and the env runners, and
    env steps count on from the checkpoint's (RLlib's own counter restarts at 0). ``metrics.csv`` keeps its
    rows up to the checkpoint's steps and continues from there. What restarts: the optimizer's moments
    (Adam's running averages start from zero again), RLlib's seed (``seed + steps``, see
    :func:`build_config`), and for self-play the league: ``main_v0`` is the resumed weights and the earlier
    snapshots are not restored (``league.json`` starts again at the checkpoint's steps). A folder stopped
    before its first checkpoint (marked ``incomplete``) has nothing to resume: the run starts anew."""
    from experiments.train import raysession
    from experiments.train.envs import make_env
    from experiments.train.run import Run, TrainResult
    from experiments.train.trainers import Loop, default_out

    if algo not in RLLIB_ALGOS:
        raise ValueError(f"--backend rllib trains {', '.join(RLLIB_ALGOS)}; not {algo!r}")
    raysession.require_ray()
    if resume and out is None:
        raise ValueError("--resume needs the run folder to continue: --out RUN_FOLDER")
    run_dir = Path(out) if out is not None else default_out(env, f"rllib-{algo}")
    point: dict = {}

    def configure(stored: dict | None) -> dict:
        if stored is not None:
            config = read_rllib_config(run_dir / "config.json")
            if env_kind(env) != config["env"] or algo != config["algo"]:
                raise ValueError(f"{run_dir} holds an RLlib {config['algo']} run on {config['env']}, not {algo} on "
                                 f"{env_kind(env)}")
            if options.get("steps") is not None:
                from experiments.train.trainers import check_run_numbers

                check_run_numbers(steps=options["steps"])
                config["steps"] = int(options["steps"])
            if options.get("gpus"):
                config["gpus_override"] = _gpus_override(options["gpus"], None)
            point["steps"], point["weights"], point["recipe"] = read_resume_point(run_dir / "checkpoints" / "latest")
        else:
            config = resolve_rllib(env, algo, **options)
        _check_evaluations(config)
        rllib_gpus(device, cluster_gpus=None if address is None else 1)  # a bad --device fails before Ray starts
        return config

    if address not in (None, "auto"):  # a head nobody answers fails before any folder is written
        raysession.probe(*raysession.parse_address(address))
    # the folder is claimed (and config.json written) before Ray starts
    run = Run.start(run_dir, "train", configure, METRIC_FIELDS, resume=resume, force=force, progress=progress)
    config = run.config
    start_steps = int(point.get("steps", 0))
    run.rows[:] = [r for r in run.rows if r["steps"] <= start_steps]
    probe = make_env(config["env"], config["env_kwargs"], config["nav_features"])
    try:
        obs_space, act_space = probe.observation_space, probe.action_space
    finally:
        probe.close()
    if config["self_play"]:
        from envs.duel.pz import DuelParallelEnv

        pz = DuelParallelEnv(**pz_kwargs(config["env_kwargs"]))
        if pz.action_space("player_0") != act_space:
            raise ValueError(f"--self-play: the two-player duel acts {pz.action_space('player_0')}, the evaluation "
                             f"duel {act_space}; give both the same flat_actions")
    import gymnasium as gym

    flat_obs = gym.spaces.flatten_space(obs_space) if len(obs_space.shape) > 1 else obs_space
    started = not _ray_up()
    where = raysession.init(address, num_cpus=max(config["workers"], 1) if address is None else None)
    config["device"] = str(device if device is not None else "auto")
    config["gpus"] = config["gpus_override"] if config.get("gpus_override") is not None else float(
        rllib_gpus(device, cluster_gpus=None if where["local"] else where["gpus"]))
    if config["self_play"]:
        config["self_play_settings"]["league_file"] = str((run_dir / "league.json").resolve())
    config["ray"] = {"address": where["address"], "cpus": where["cpus"], "gpus": where["gpus"]}
    register_envs()
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)  # RLlib's deprecation notices, every build
    ppo, model = build_config(config, step_offset=start_steps)
    recipe = policy_recipe(config, model, flat_obs, act_space)
    mid = module_id(config)
    if run.resumed:
        _check_recipe(point["recipe"], recipe, run_dir / "checkpoints" / "latest")
    run.write_json("config.json", config)
    mode = "self-play " if config["self_play"] else ""
    verb = f"resuming at step {start_steps:,}" if run.resumed else "training"
    run.say(f"{verb} RLlib {algo} {mode}on {config['env']} for {config['steps']:,} steps, {config['workers']} env "
            f"runners x {config['n_envs']} envs, {config['gpus']:g} GPU, Ray {where['address']} "
            f"({where['cpus']} CPUs) -> {run_dir}")
    algo_obj = None
    loop = None
    now = {"steps": start_steps}
    try:
        algo_obj = ppo.build_algo()
        if point.get("weights") is not None:
            load_weights(algo_obj, point["weights"], [mid, "main_v0"] if config["self_play"] else [mid],
                         run_dir / "checkpoints" / "latest")

        def save(path: Path) -> None:
            save_checkpoint(algo_obj, path, mid, recipe, now["steps"])

        loop = Loop(run, lambda: current_agent(algo_obj, mid, recipe), save, "", [], start_steps, on_eval)
        steps, t0 = start_steps, time.time()
        while steps < config["steps"]:
            result = algo_obj.train()
            steps = now["steps"] = start_steps + _steps(result)
            ret = _train_return(result, mid)
            loop.update(steps, [] if ret is None or (isinstance(ret, float) and math.isnan(ret)) else [ret])
            _log_result(run, result, steps)
        final, _ = loop.finish(steps)
        sps = (steps - start_steps) / max(time.time() - t0, 1e-9)
        run.finish()
    finally:
        if loop is not None:
            loop.close()
        run.close()
        if algo_obj is not None:
            algo_obj.stop()
        raysession.shutdown_if_started(started)
    rows = run.rows
    if rows:
        last = rows[-1]
        msg = f"done: {steps:,} steps at {sps:.0f} steps/s; final eval return {last['eval_return']:.3f}"
        if not math.isnan(last["eval_success"]):
            msg += f", success {last['eval_success']:.1%}"
        run.say(msg + f"; policy {final} (agent spec rllib:{run_dir})")
    return TrainResult(run_dir=run_dir, model_path=final, curve=rows, steps_per_second=sps)


# ---- resume --------------------------------------------------------------------------------------------------

MAX_CONFIG_BYTES = 2**20
CONFIG_TYPES = {"env": str, "algo": str, "backend": str, "seed": int, "steps": int, "n_envs": int, "workers": int,
                "eval_every": int, "eval_episodes": int, "env_kwargs": dict, "shaping": bool,
                "exploring_starts": (int, float), "self_play": bool, "hyper": dict}


def read_rllib_config(path: Path) -> dict:
    """The ``config.json`` of an RLlib run, checked: a missing file is a FileNotFoundError, anything else
    wrong a one-line ValueError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"--resume: {path} not found; is {path.parent} a run folder?")
    config = read_json_object(path, MAX_CONFIG_BYTES, "run config")
    for key, kind in CONFIG_TYPES.items():
        value = config.get(key)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"{path}: not a run config of sandbox train --backend rllib ({key!r} missing or of the "
                             "wrong type)")
    if config["backend"] != "rllib" or config["algo"] not in RLLIB_ALGOS or config["env"] not in ENV_IDS:
        raise ValueError(f"{path}: not an RLlib run of the sandbox (backend {config['backend']!r}, algo "
                         f"{config['algo']!r}, env {config['env']!r})")
    for key in ("steps", "n_envs", "eval_every", "eval_episodes"):
        if config[key] < 1:
            raise ValueError(f"{path}: {key} must be >= 1, got {config[key]}")
    if not 0 <= config["workers"] <= 100_000:
        raise ValueError(f"{path}: workers must be in 0..100000, got {config['workers']}")
    config["nav_features"] = nav_spec(config.get("nav_features"))
    config["gpus_override"] = _gpus_override(None, config.get("gpus_override"))
    if config["self_play"]:
        sp = config.get("self_play_settings")
        if not isinstance(sp, dict) or any(not isinstance(sp.get(k), int | float) or isinstance(sp.get(k), bool)
                                           for k in SELF_PLAY_KEYS):
            raise ValueError(f"{path}: a self-play run needs self_play_settings with {', '.join(SELF_PLAY_KEYS)}")
    return config


def read_resume_point(folder: Path) -> tuple[int, dict, dict]:
    """A checkpoint folder's data-only policy: ``(steps, weights, recipe)``, the weights as tensors read with
    :func:`nets.torchfile.load_tensors` (``weights_only``; RLlib's pickles beside them are never opened)."""
    import torch

    from agents.rllib_agent import MAX_RECIPE_BYTES, MAX_WEIGHTS_BYTES, POLICY_JSON, POLICY_WEIGHTS
    from nets.torchfile import load_tensors

    side, blob = folder / POLICY_JSON, folder / POLICY_WEIGHTS
    if not side.is_file() or not blob.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint {folder} ({POLICY_JSON} and {POLICY_WEIGHTS}) yet; start "
                                "the run again without --resume")
    recipe = read_json_object(side, MAX_RECIPE_BYTES, "policy recipe")
    steps = recipe.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{side}: not a checkpoint of sandbox train --backend rllib (a JSON object with integer "
                         "steps expected)")
    try:
        weights = load_tensors(blob, max_bytes=MAX_WEIGHTS_BYTES)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{blob}: {exc}") from None
    if not isinstance(weights, dict) or not weights or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise ValueError(f"{blob}: expected a dict of tensors")
    return steps, weights, recipe


def _check_recipe(saved: dict, recipe: dict, folder: Path) -> None:
    """The checkpoint's policy must be the module the run's config builds."""
    keys = ("module", "model_config", "observation_space", "action_space", "env", "self_play")
    differ = [k for k in keys if saved.get(k) != recipe.get(k)]
    if differ:
        raise ValueError(f"{folder}: its policy does not fit the run's config.json ({', '.join(differ)} differ)")


def load_weights(algo, weights: dict, modules: list[str], folder: Path) -> None:
    """Put ``weights`` (one module's state dict) into the learner's ``modules`` and sync the env runners. Names
    and shapes must be those of the learner's module (checked here: RLlib loads leniently)."""
    own = learner_weights(algo, modules[0])
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    bad = sorted(k for k in own if k in weights and tuple(weights[k].shape) != tuple(own[k].shape))
    if missing or extra or bad:
        raise ValueError(f"{folder}: its weights do not fit the run's module (missing {missing[:3]}, unexpected "
                         f"{extra[:3]}, wrong shape {bad[:3]})")
    state = {k: weights[k].detach().cpu().to(own[k].dtype).numpy() for k in own}
    algo.set_state({"learner_group": {"learner": {"rl_module": {m: dict(state) for m in modules}}}})
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True)


def _check_evaluations(config: dict) -> None:
    from experiments.train.trainers import MAX_EVALS

    if config["steps"] // config["eval_every"] > MAX_EVALS:
        raise ValueError(f"--steps {config['steps']} / --eval-every {config['eval_every']}: more than {MAX_EVALS} "
                         "evaluations; evaluate less often")


def _train_return(result: dict, mid: str):
    """The recent training return of the module being trained (self-play: main's own, since the episode's
    total of a zero-sum duel is 0)."""
    runners = result.get("env_runners", {})
    per_module = runners.get("module_episode_returns_mean")
    if isinstance(per_module, dict) and mid in per_module:
        return per_module[mid]
    return runners.get("episode_return_mean")


def _ray_up() -> bool:
    import ray

    return ray.is_initialized()


def _steps(result: dict) -> int:
    runners = result.get("env_runners", {})
    for value in (runners.get("num_env_steps_sampled_lifetime"), result.get("num_env_steps_sampled_lifetime")):
        if value is not None:
            return int(value)
    raise RuntimeError("RLlib's result has no num_env_steps_sampled_lifetime")


def _log_result(run, result: dict, steps: int) -> None:
    """A few of RLlib's own figures next to the sandbox's, ``rllib/NAME`` in TensorBoard."""
    runners = result.get("env_runners", {})
    for key in ("episode_return_mean", "episode_len_mean"):
        value = runners.get(key)
        if isinstance(value, (int, float)) and not math.isnan(value):
            run.scalar(f"rllib/{key}", value, steps)
    for mid, stats in (result.get("learners", {}) or {}).items():
        if not isinstance(stats, dict):
            continue
        for key in ("policy_loss", "vf_loss", "entropy", "mean_kl_loss"):
            value = stats.get(key)
            if isinstance(value, (int, float)) and not math.isnan(value):
                run.scalar(f"rllib/{mid}/{key}", value, steps)
    sp = result.get("self_play")
    if sp:
        run.scalar("rllib/league_size", sp["league_size"], steps)
        if sp["win_rate"] is not None:
            run.scalar("rllib/main_win_rate", sp["win_rate"], steps)
