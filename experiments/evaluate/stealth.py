"""``sandbox eval stealth``: how close an agent comes to the exact optimum, level by level.

    sandbox eval stealth --agent bundled:stealth-ppo --level all
    sandbox eval stealth --agent optimal --level tutorial,courtyard --episodes 5
    sandbox eval stealth --agent bundled:stealth-ppo --generated 0.1,0.5,0.9 --levels 20

For each level it runs ``--episodes`` episodes from the level's start at once, in the batched stealth env
(:func:`agents.harness.play_episodes`; episode ``i`` is the single env's episode reset with seed
``--seed + i``, the agent acting deterministically) and reports the success rate, the mean discounted
return, V*(start) from value iteration on the level's exact MDP with the same discount, slip and
rewards, and the ratio of the two (1.0 is optimal; see :func:`optimal_ratio`). ``--generated`` takes
levels from the generator's **held-out pool** (:data:`envs.stealth.level.POOLS`): entry ``j`` is
``generate_level(d, 2**30 + j)``, while every training pool (``level="random"``) uses generator seeds
``0 .. 4095``, so an evaluation level is never a level any agent of the sandbox was trained on.

The table is followed by one JSON line: ``{"rows": [...], "by_difficulty": {...}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.stealth.features import nav_spec


@dataclass
class EvalStealthConfig:
    agent: str = "bundled:stealth-ppo"  # the agent spec (any: bundled:NAME, sb3:PATH, planner, optimal, random...)
    level: str = ""  # a level name or file, all (every bundled level), or a comma-separated list
    generated: str = ""  # comma-separated difficulties: held-out generated levels at each (instead of --level)
    levels: int = 10  # generated levels per difficulty (with --generated): held-out pool entries seed, seed+1...
    size: int = 12  # side of the generated levels
    episodes: int = 10  # episodes per level, seeded seed, seed+1, ...
    seed: int = 0  # the first episode's seed (and the first held-out pool entry)
    gamma: float = 0.99  # discount of the returns and of V*(start)
    slip: float = 0.0  # perpendicular slip probability of the moves


@dataclass
class LevelCase:
    """One level to evaluate: a label for the table, its difficulty (generated levels), the Level."""

    label: str
    difficulty: float | None
    level: object


def optimal_ratio(mean_return: float, v_star: float) -> float:
    """How much of the optimum the agent gets: ``return / V*`` when V*(start) > 0; when V* <= 0 (levels so
    long that the step costs outweigh the goal), ``V* / return`` for a negative return, so that 1.0 is
    optimal and lower is worse either way (and 0 for a non-negative return, which cannot happen then).
    NaN when V* is 0."""
    if v_star > 0:
        return mean_return / v_star
    if v_star < 0:
        return v_star / mean_return if mean_return < 0 else math.nan
    return math.nan


def level_cases(cfg: EvalStealthConfig) -> list[LevelCase]:
    """The levels ``cfg`` names: bundled or file levels (``--level``) or held-out generated ones."""
    from envs.stealth.level import bundled_levels, load_level, pool_level

    if bool(cfg.level) == bool(cfg.generated):
        raise ValueError("sandbox eval stealth needs exactly one of --level NAME|FILE|all|A,B,... "
                         "and --generated D1,D2,...")
    if cfg.level:
        names = bundled_levels() if cfg.level == "all" else [n.strip() for n in cfg.level.split(",") if n.strip()]
        return [LevelCase(name, None, load_level(name)) for name in names]
    try:
        difficulties = [float(d) for d in cfg.generated.split(",") if d.strip()]
    except ValueError:
        raise ValueError(f"--generated takes comma-separated difficulties in [0, 1], got {cfg.generated!r}") from None
    if not difficulties or not all(0.0 <= d <= 1.0 for d in difficulties):
        raise ValueError(f"--generated takes comma-separated difficulties in [0, 1], got {cfg.generated!r}")
    if cfg.levels < 1:
        raise ValueError(f"--levels must be >= 1, got {cfg.levels}")
    return [LevelCase(f"heldout d={d:g} #{cfg.seed + j}", d, pool_level("heldout", d, cfg.seed + j, cfg.size))
            for d in difficulties for j in range(cfg.levels)]


def agent_env_kwargs(agent) -> tuple[dict, bool]:
    """The stealth env options a trained agent was trained with (its sidecar): keyword arguments and
    whether it sees the navigation features."""
    info = getattr(agent, "info", None)
    info = info if isinstance(info, dict) else {}
    kwargs = info.get("env_kwargs") if isinstance(info.get("env_kwargs"), dict) else {}
    keep = {k: v for k, v in kwargs.items() if k in ("obs_mode", "local_size")}
    return keep, nav_spec(info.get("nav_features") or kwargs.get("nav_features") or False)


def observation_space(agent):
    """The observation space a trained agent expects (its own, or its SB3 model's), or None."""
    space = getattr(agent, "observation_space", None)
    if space is None:
        space = getattr(getattr(agent, "model", None), "observation_space", None)
    return space


ENV_BOUND = ("planner", "optimal", "random")  # specs built per env (they read its state or its spaces)


def evaluate_level(case: LevelCase, cfg: EvalStealthConfig, agent, env_kwargs: dict, nav) -> dict:
    """Episodes of the agent on one level (the batched harness), against value iteration's V*(start).
    ``agent`` is a loaded agent, or None for an env-bound spec (``planner``, ``optimal``, ``random``: built
    for the level's batched env from ``cfg.agent``)."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers sandbox/Stealth-v0)
    from agents.harness import play_episodes
    from agents.navigation.mdp import build_mdp
    from nets.bellman import value_iteration

    def make_env(n: int):
        return gym.make_vec("sandbox/Stealth-v0", num_envs=n, level=case.level, slip=cfg.slip, nav_features=nav,
                            **env_kwargs)

    env = make_env(cfg.episodes)
    row = {"level": case.label, "difficulty": case.difficulty, "episodes": cfg.episodes}
    mdp, index = build_mdp(case.level, slip=env.slip, rewards=env.rewards, gamma=cfg.gamma)
    v_star = float(value_iteration(mdp, tol=1e-8).V[index.start_state])
    if agent is not None:
        space = observation_space(agent)
        if space is not None and tuple(space.shape) != tuple(env.single_observation_space.shape):
            env.close()
            return {**row, "success": math.nan, "mean_return": math.nan, "optimal_return": v_star,
                    "optimal_ratio": math.nan, "fits": False}
    records = play_episodes(lambda n: env, cfg.agent if agent is None else agent, cfg.episodes, seed=cfg.seed,
                            deterministic=True, gamma=cfg.gamma, chunk=cfg.episodes)  # one chunk: this env
    successes = [float(r.success) for r in records if r.success is not None]
    mean_return = float(np.mean([r.discounted for r in records]))
    return {**row, "success": float(np.mean(successes)) if successes else math.nan, "mean_return": mean_return,
            "optimal_return": v_star, "optimal_ratio": optimal_ratio(mean_return, v_star), "fits": True}


def summarise(rows: list[dict]) -> dict:
    """Per difficulty (generated levels): how many levels, their mean success and mean optimal ratio."""
    out: dict[str, dict] = {}
    for d in sorted({r["difficulty"] for r in rows if r["difficulty"] is not None}):
        group = [r for r in rows if r["difficulty"] == d and r["fits"]]
        ratios = [r["optimal_ratio"] for r in group if not math.isnan(r["optimal_ratio"])]
        out[f"{d:g}"] = {"levels": len(group),
                         "success": sum(r["success"] for r in group) / len(group) if group else math.nan,
                         "optimal_ratio": sum(ratios) / len(ratios) if ratios else math.nan}
    return out


def eval_stealth(cfg: EvalStealthConfig, echo=print) -> dict:
    """Run the evaluation ``cfg`` describes; prints the table and returns the JSON-able result."""
    from agents import make_agent

    if cfg.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {cfg.episodes}")
    if not 0.0 < cfg.gamma <= 1.0 or not 0.0 <= cfg.slip <= 1.0:
        raise ValueError(f"--gamma must be in (0, 1] and --slip in [0, 1]; got {cfg.gamma}, {cfg.slip}")
    cases = level_cases(cfg)
    from experiments.evaluate.stats import check_game

    check_game([cfg.agent], "stealth")
    prefix = cfg.agent.partition(":")[0]
    agent = None if prefix in ENV_BOUND else make_agent(cfg.agent)
    env_kwargs, nav = agent_env_kwargs(agent)
    echo(f"{cfg.agent} on {len(cases)} level(s), {cfg.episodes} episode(s) each, seeds from {cfg.seed}, "
         f"gamma {cfg.gamma:g}")
    echo(f"{'level':<28}{'success':>9}{'return':>10}{'V*(start)':>11}{'ratio':>8}")
    rows = []
    for case in cases:
        row = evaluate_level(case, cfg, agent, env_kwargs, nav)
        rows.append(row)
        if not row["fits"]:
            echo(f"{case.label:<28}  its observation does not fit this level's size; not counted")
            continue
        echo(f"{case.label:<28}{row['success']:>9.0%}{row['mean_return']:>10.3f}{row['optimal_return']:>11.3f}"
             f"{row['optimal_ratio']:>8.3f}")
    by_difficulty = summarise(rows)
    for d, s in by_difficulty.items():
        echo(f"difficulty {d:<5} {s['levels']:>3} levels: success {s['success']:.0%}, "
             f"return / V* {s['optimal_ratio']:.3f}")
    return {"eval": "stealth", "agent": cfg.agent, "rows": rows, "by_difficulty": by_difficulty}
