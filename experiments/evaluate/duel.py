"""``sandbox eval duel``: wins, draws and losses of an agent against opponents, with 95% intervals.

    sandbox eval duel --agent bundled:duel-ppo --vs scripted:hard,scripted:zoner-hard --rounds 200
    sandbox eval duel --agent random --vs scripted:hard --rounds 100

Each pair plays ``--rounds`` rounds at once in the batched duel (:func:`agents.harness.play_duel`): round
``k`` is seeded ``seed + k`` (the opponent draws what it would draw in ``gym.make("sandbox/Duel-v0")``
reset with that seed; the agent draws from a stream of its own), and the sides alternate every round so
neither has the left or right start. Both sides sample their actions (a trained agent's policy is
sampled, not its arg-max), as in FightLadder's protocol. The interval on the win rate is Wilson's (draws
count as rounds not won). Ends with one JSON line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envs.duel.config import DuelConfig
from experiments.evaluate.stats import wilson_interval

SCRIPTED = ("scripted:easy", "scripted:normal", "scripted:hard", "scripted:rushdown", "scripted:zoner",
            "scripted:turtle")


@dataclass
class EvalDuelConfig:
    agent: str = "bundled:duel-ppo"  # the agent spec
    vs: list[str] = field(default_factory=lambda: list(SCRIPTED))  # opponent specs
    rounds: int = 200  # rounds per opponent, sides alternating
    seed: int = 0  # round k of a pair is seeded seed + k
    round_seconds: float = 0.0  # round length; 0: the agent's training rounds (its sidecar), else 60
    frame_skip: int = DuelConfig.frame_skip  # ticks per decision
    deterministic: bool = False  # a trained agent plays its arg-max action instead of sampling
    trace: str = ""  # also write a replay trace: one round against each opponent (seed --seed, the agent on the left)
    html: str = ""  # also write those rounds as one self-contained replay page (open it in a browser)
    force: bool = False  # replace an existing --trace / --html file


def batched_player(spec: str, deterministic: bool):
    """The batched agent of ``spec`` for :func:`agents.harness.play_duel`: a trained agent is loaded once and
    reused for every opponent (its per-round state is rebuilt for each match)."""
    from agents import make_batched_agent
    from envs.duel.env import duel_spaces

    action_space, observation_space = duel_spaces()
    return make_batched_agent(spec, action_space=action_space, observation_space=observation_space,
                              deterministic=deterministic)


def round_seconds_of(agent_spec: str, given: float) -> float:
    """``given`` if > 0, else the round length the agent trained with (its sidecar), else 60 s."""
    if given > 0:
        return given
    if agent_spec.startswith("bundled:"):
        from agents.bundled import bundled_info

        kwargs = bundled_info(agent_spec.partition(":")[2]).get("env_kwargs", {})
        if isinstance(kwargs, dict) and isinstance(kwargs.get("round_seconds"), int | float):
            return float(kwargs["round_seconds"])
    return 60.0


def eval_duel(cfg: EvalDuelConfig, echo=print) -> dict:
    """Play the pairs ``cfg`` names; prints the table and returns the JSON-able result."""
    from agents.harness import duel_summary, play_duel

    if cfg.rounds < 1 or cfg.frame_skip < 1:
        raise ValueError(f"--rounds and --frame-skip must be >= 1, got {cfg.rounds}, {cfg.frame_skip}")
    if not cfg.vs:
        raise ValueError("--vs needs at least one opponent spec")
    from experiments.evaluate.stats import check_game

    check_game([cfg.agent, *cfg.vs], "duel")
    seconds = round_seconds_of(cfg.agent, cfg.round_seconds)
    from experiments.runfolder import claim_file

    for option, path in (("--trace", cfg.trace), ("--html", cfg.html)):
        if path:
            claim_file(path, force=cfg.force, option=option)  # refused before any round is played
    player = batched_player(cfg.agent, cfg.deterministic)
    echo(f"{cfg.agent} against {len(cfg.vs)} opponent(s), {cfg.rounds} rounds each (sides alternating, "
         f"{seconds:g} s rounds, seeds {cfg.seed} + k)")
    echo(f"{'opponent':<24}{'wins':>6}{'draws':>7}{'losses':>8}{'win rate':>10}{'95% interval':>16}")
    rows = []
    for spec in cfg.vs:
        result = duel_summary(play_duel(player, batched_player(spec, cfg.deterministic), cfg.rounds, seed=cfg.seed,
                                        frame_skip=cfg.frame_skip, round_seconds=seconds))
        low, high = wilson_interval(result["wins"], cfg.rounds)
        row = {"vs": spec, "rounds": cfg.rounds, "wins": result["wins"], "draws": result["draws"],
               "losses": result["losses"], "win_rate": result["wins"] / cfg.rounds, "win_low": low,
               "win_high": high}
        rows.append(row)
        echo(f"{spec:<24}{row['wins']:>6}{row['draws']:>7}{row['losses']:>8}{row['win_rate']:>10.1%}"
             f"{f'[{low:.2f}, {high:.2f}]':>16}")
    if cfg.trace or cfg.html:
        write_replays(cfg, seconds, echo)
    return {"eval": "duel", "agent": cfg.agent, "round_seconds": seconds, "rows": rows}


def write_replays(cfg: EvalDuelConfig, seconds: float, echo=print) -> None:
    """One round of the agent against each opponent, seeded ``cfg.seed``, as a replay trace and / or page
    (:mod:`experiments.replay`). The rounds are played anew in the single env, so they show the agent and each
    opponent at that seed, not a particular round of the table's batch."""
    from envs.duel.env import duel_spaces
    from experiments.replay.page import write_page
    from experiments.replay.trace import make_trace, record_duel_round, write_trace
    from experiments.watch.agents import build_agent

    action_space, observation_space = duel_spaces()
    episodes = []
    context = {"action_space": action_space, "observation_space": observation_space, "frame_skip": cfg.frame_skip}
    for spec in cfg.vs:
        agent = build_agent(cfg.agent, **context)
        opponent = build_agent(spec, **context, player=2)
        episodes.append(record_duel_round(agent, opponent, seed=cfg.seed, frame_skip=cfg.frame_skip,
                                          round_seconds=seconds, names=(cfg.agent, spec),
                                          title=f"{cfg.agent} vs {spec}, seed {cfg.seed}"))
    data = make_trace(episodes)
    if cfg.trace:
        echo(f"wrote the trace of {len(episodes)} round(s) to {write_trace(cfg.trace, data)}")
    if cfg.html:
        echo(f"wrote the replay page of {len(episodes)} round(s) to {write_page(cfg.html, data)}")
