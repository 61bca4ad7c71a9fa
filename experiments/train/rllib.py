"""``sandbox train ENV --backend rllib``: PPO on RLlib's new API stack, into the same run folder.

* **Envs.** The env runners build the sandbox env with :func:`experiments.train.envs.make_env` (the same
  options, shaping and exploring starts as the native trainers), observations flattened for RLlib's MLP.
  ``--self-play`` (the duel only) trains through the PettingZoo ``ParallelEnv`` (:mod:`envs.duel.pz`)
  wrapped as an RLlib ``MultiAgentEnv``.
* **Self-play.** Module ``main`` learns; it plays frozen snapshots of itself (``main_v0`` is its initial
  weights). :class:`SelfPlayCallback` counts main's wins in every finished round; once it has played at
  least ``snapshot_window`` rounds since the last snapshot and its win rate over the most recent of them
  reaches ``snapshot_gate``, a new frozen copy ``main_vK`` joins the league (up to ``max_snapshots``; then
  the oldest leaves). Each round main takes a random side and meets a snapshot drawn uniformly.
* **Run folder.** ``config.json``, ``metrics.csv`` (held-out evaluation through the sandbox's own
  evaluation, every ``eval_every`` env steps: the stealth level from its start, or the duel against the
  ``[duel] env_kwargs`` opponent), TensorBoard under ``tb/``, ``league.json`` for self-play, and
  ``checkpoints/latest`` and ``checkpoints/final``: RLlib checkpoints (``Algorithm.save_to_path``, pickles:
  restore only your own) each with the data-only ``sandbox_policy.json``/``.pt`` that ``rllib:PATH`` loads.
* **Where.** Local Ray unless ``--address`` (see :mod:`experiments.train.raysession`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import zlib
from collections import deque
from pathlib import Path

import numpy as np

from envs.fileio import atomic_write_text
from envs.stealth.features import nav_spec
from experiments.train.config import ENV_IDS, RLLIB_ALGOS, env_kind, resolve_config

SINGLE_ENV = "sandbox-rllib-single"
SELF_PLAY_ENV = "sandbox-rllib-duel-selfplay"
RUN_KEYS_RLLIB = ("workers",)  # run keys of the rllib tables besides steps/n_envs/eval_every/eval_episodes
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


def make_self_play_callback(gate: float, window: int, max_snapshots: int, league_file: str):
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS

    class SelfPlayCallback(RLlibCallback):
        """Adds a frozen snapshot of ``main`` when its recent win rate passes the gate (module docstring)."""

        def __init__(self):
            super().__init__()
            self.league = ["main_v0"]
            self.next_version = 1
            self.recent: deque = deque()  # (wins, rounds) per iteration since the last snapshot
            self.history: list[dict] = [{"module": "main_v0", "steps": 0, "win_rate": None}]

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
            wins, rounds = float(runners.get("main_wins", 0) or 0), int(runners.get("main_rounds", 0) or 0)
            if rounds:
                self.recent.append((wins, rounds))
            rate = self.win_rate()
            result["self_play"] = {"league_size": len(self.league), "win_rate": rate,
                                   "rounds_since_snapshot": sum(r for _, r in self.recent)}
            if rate is not None and rate >= gate:
                self.snapshot(algorithm, result, rate)
            steps = int(runners.get("num_env_steps_sampled_lifetime", 0) or 0)
            atomic_write_text(Path(league_file), json.dumps(
                {"league": self.league, "snapshots": self.history, "steps": steps,
                 "gate": gate, "window": window}, indent=2) + "\n")

        def win_rate(self) -> float | None:
            """Main's win rate over the most recent iterations that hold >= ``window`` rounds, None if fewer."""
            wins = rounds = 0
            for w, r in reversed(self.recent):
                wins, rounds = wins + w, rounds + r
                if rounds >= window:
                    return wins / rounds
            return None

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
            self.history.append({"module": new_id, "steps": steps, "win_rate": rate})
            self.recent.clear()
            result["self_play"]["league_size"] = len(self.league)

    return SelfPlayCallback


# ---- the algorithm -------------------------------------------------------------------------------------------

def build_config(config: dict):
    """The ``PPOConfig`` of a run's ``config`` dict (as written to ``config.json``)."""
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
           .debugging(seed=int(config["seed"]), log_level="ERROR"))
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
                                                  int(sp["max_snapshots"]), sp["league_file"])))
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

def resolve_rllib(env: str, algo: str, *, steps=None, workers=None, envs_per_worker=None, gpus=0.0, seed=0,
                  env_kwargs=None, nav_features=None, shaping=None, exploring_starts=None, eval_every=None,
                  eval_episodes=None, hyper=None, self_play=False, file_tables=None) -> dict:
    """The ``config.json`` of an RLlib run: the ``rllib-ALGO`` tables, a ``--config`` file, then options."""
    from experiments.train.trainers import MAX_EVALS, check_run_numbers

    kind = env_kind(env)
    if self_play and kind != "duel":
        raise ValueError(f"--self-play needs a two-player env (duel); {env} has one player")
    check_run_numbers(seed=seed, steps=steps, n_envs=envs_per_worker)
    overrides = dict(hyper or {})
    for key, value in (("steps", steps), ("n_envs", envs_per_worker), ("eval_every", eval_every),
                       ("eval_episodes", eval_episodes), ("workers", workers)):
        if value is not None:
            overrides[key] = value
    resolved = resolve_config(env, algo, overrides, backend="rllib", file_tables=file_tables)
    hyper_out = dict(resolved["hyper"])
    config = {
        "env": kind, "algo": algo, "backend": "rllib", "seed": int(seed),
        "steps": int(resolved["steps"]), "n_envs": int(resolved["n_envs"]),
        "workers": int(hyper_out.pop("workers", 1)),
        "gpus": float(gpus or 0),
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
    return config


def train_rllib(env: str, algo: str = "ppo", *, out=None, address: str | None = None, progress: bool = True,
                on_eval=None, force: bool = False, **options):
    """Train with RLlib into a run folder; ``options`` as :func:`resolve_rllib`. ``on_eval(row)`` sees every
    evaluation row (``sandbox tune`` reports them to Tune). The folder is claimed as ``sandbox train`` claims
    its own (:func:`experiments.runfolder.claim_folder`, ``force``). Returns a :class:`TrainResult`."""
    from experiments.runfolder import claim_folder, set_status
    from experiments.train import raysession
    from experiments.train.envs import make_env
    from experiments.train.run import RunTracker, TrainResult
    from experiments.train.trainers import default_out

    if algo not in RLLIB_ALGOS:
        raise ValueError(f"--backend rllib trains {', '.join(RLLIB_ALGOS)}; not {algo!r}")
    raysession.require_ray()
    config = resolve_rllib(env, algo, **options)
    run_dir = Path(out) if out is not None else default_out(env, f"rllib-{algo}")
    claim_folder(run_dir, "train", force=force, create=False)  # refused before Ray starts
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
    claim_folder(run_dir, "train", force=force)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "plots").mkdir(exist_ok=True)
    if config["self_play"]:
        config["self_play_settings"]["league_file"] = str((run_dir / "league.json").resolve())
    config["ray"] = {"address": where["address"], "cpus": where["cpus"], "gpus": where["gpus"]}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    register_envs()
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)  # RLlib's deprecation notices, every build
    ppo, model = build_config(config)
    recipe = policy_recipe(config, model, flat_obs, act_space)
    mid = module_id(config)
    if progress:
        mode = "self-play " if config["self_play"] else ""
        print(f"training RLlib {algo} {mode}on {config['env']} for {config['steps']:,} steps, {config['workers']} env "
              f"runners x {config['n_envs']} envs, Ray {where['address']} ({where['cpus']} CPUs) -> {run_dir}",
              flush=True)
    algo_obj = None
    tracker = None
    rows: list[dict] = []
    try:
        algo_obj = ppo.build_algo()

        def save(path: Path, steps: int) -> None:
            save_checkpoint(algo_obj, path.with_suffix(""), mid, recipe, steps)

        tracker = RunTracker(run_dir, config, lambda: current_agent(algo_obj, mid, recipe), save, rows, 0, progress,
                             on_eval)
        steps, t0 = 0, time.time()
        while steps < config["steps"]:
            result = algo_obj.train()
            steps = _steps(result)
            ret = _train_return(result, mid)
            tracker.update(steps, [] if ret is None or (isinstance(ret, float) and math.isnan(ret)) else [ret])
            _log_result(tracker.writer, result, steps)
        sps = (steps) / max(time.time() - t0, 1e-9)
        tracker.steps = max(tracker.steps, steps)
        tracker.evaluate_now()
        final = run_dir / "checkpoints" / "final"
        save_checkpoint(algo_obj, final, mid, recipe, steps)
        set_status(run_dir, "complete", "train")
    finally:
        if tracker is not None:
            tracker.close()
        if algo_obj is not None:
            algo_obj.stop()
        raysession.shutdown_if_started(started)
    if progress and rows:
        last = rows[-1]
        msg = f"done: {steps:,} steps at {sps:.0f} steps/s; final eval return {last['eval_return']:.3f}"
        if not math.isnan(last["eval_success"]):
            msg += f", success {last['eval_success']:.1%}"
        print(msg + f"; policy {final} (agent spec rllib:{run_dir})", flush=True)
    return TrainResult(run_dir=run_dir, model_path=final, curve=rows, steps_per_second=sps)


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


def _log_result(writer, result: dict, steps: int) -> None:
    """A few of RLlib's own figures next to the sandbox's, under ``rllib/`` in TensorBoard."""
    runners = result.get("env_runners", {})
    for key in ("episode_return_mean", "episode_len_mean"):
        value = runners.get(key)
        if isinstance(value, (int, float)) and not math.isnan(value):
            writer.add_scalar(f"rllib/{key}", value, steps)
    for mid, stats in (result.get("learners", {}) or {}).items():
        if not isinstance(stats, dict):
            continue
        for key in ("policy_loss", "vf_loss", "entropy", "mean_kl_loss"):
            value = stats.get(key)
            if isinstance(value, (int, float)) and not math.isnan(value):
                writer.add_scalar(f"rllib/{mid}/{key}", value, steps)
    sp = result.get("self_play")
    if sp:
        writer.add_scalar("rllib/league_size", sp["league_size"], steps)
        if sp["win_rate"] is not None:
            writer.add_scalar("rllib/main_win_rate", sp["win_rate"], steps)
