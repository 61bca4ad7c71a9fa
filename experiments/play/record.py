"""Recording rounds of a player (you at the keyboard, or a scripted style) as ghost demos: one
``round_NNNN.npz`` + ``.json`` per finished round, written atomically (``sandbox record``; see
:mod:`experiments.cli.record` for the command and its options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envs.duel.config import DuelConfig

GAMES = ("duel",)


@dataclass
class RecordConfig:
    game: str = "duel"  # the game (duel)
    player: str = "human"  # who is recorded: human or an agent spec such as scripted:rushdown
    vs: str = "scripted:normal"  # opponent spec(s), comma-separated: the rounds cycle through them
    rounds: int = 10  # rounds to record
    out: str = "demos/me"  # folder of the rounds (created; existing rounds are kept)
    seed: int | None = None  # seed of the first round (None: fresh entropy)
    frame_skip: int = DuelConfig.frame_skip  # ticks per decision (the ghost acts at this rate)
    round_seconds: float = 60.0  # length of a round
    name: str = ""  # player name stored in the metadata (default: the player spec)
    input: str = "auto"  # a human player's input: auto (keyboard and pad), keyboard or pad
    controls: str | None = None  # TOML file remapping keys and pad buttons
    force: bool = False  # write into an --out that is not a demo folder (files of the same name are replaced)


class _Quit(Exception):
    """The window was closed mid-round."""


def record_rounds(cfg: RecordConfig, echo=print) -> list[Path]:
    """Play ``cfg.rounds`` rounds and save each as it finishes; returns the files written."""
    import numpy as np

    from agents import make_agent
    from agents.ghost import demo_metadata, next_round_index, round_path, save_round
    from agents.opponents import make_duel_env
    from agents.rollout import run_episode
    from envs.duel.controls import use_controls_file, with_input

    use_controls_file(cfg.controls)  # a bad controls file fails first, with its one line
    human = cfg.player.partition(":")[0] == "human"
    if cfg.rounds < 1:
        raise ValueError(f"--rounds must be >= 1; got {cfg.rounds}")
    if cfg.frame_skip < 1 or not cfg.round_seconds > 0:
        raise ValueError(f"--frame-skip must be >= 1 and --round-seconds > 0; got {cfg.frame_skip}, "
                         f"{cfg.round_seconds}")
    if human:
        from envs.display import display_available

        if not display_available():
            from experiments.options import CliError

            raise CliError("--player human needs a display for the game window (DISPLAY is unset or "
                           "SDL_VIDEODRIVER is dummy); record a scripted player headless with --player "
                           "scripted:rushdown, or run on a desktop")
    opponents = [with_input(s.strip(), cfg.input) for s in cfg.vs.split(",") if s.strip()]
    if not opponents:
        raise ValueError("--vs needs at least one opponent spec")
    out = Path(cfg.out)
    from experiments.runfolder import claim_folder

    # a demo folder (or a new one) only: rounds are appended; demo folders from before markers are adopted
    claim_folder(out, "record", rerun=True, force=cfg.force, adopt=("round_*.npz", "round_*.json", ".*"))
    # ---- setup: one env per opponent (built up front, so a bad spec fails before any round)
    envs = [make_duel_env(opponent=spec, frame_skip=cfg.frame_skip, round_seconds=cfg.round_seconds,
                    render_mode="human" if human else None) for spec in opponents]
    seeds = np.random.SeedSequence(cfg.seed)
    player_rng = np.random.default_rng(seeds.spawn(1)[0])
    player = make_agent(with_input(cfg.player, cfg.input), action_space=envs[0].action_space,
                        observation_space=envs[0].observation_space, rng=player_rng, frame_skip=cfg.frame_skip,
                        player=1)
    round_seeds = seeds.generate_state(cfg.rounds, np.uint32)
    name = cfg.name or cfg.player
    written: list[Path] = []
    start = next_round_index(out)
    try:
        for i in range(cfg.rounds):
            env = envs[i % len(envs)]
            # ---- play one round, keeping the player's observation and input at every decision
            obs_buf, act_buf, rew_buf = [], [], []

            def keep(step, env=env, obs_buf=obs_buf, act_buf=act_buf, rew_buf=rew_buf) -> None:
                obs_buf.append(step.observation)
                act_buf.append(np.asarray(step.action, dtype=np.int64).reshape(2))
                rew_buf.append(step.reward)
                if human and env.renderer is not None and env.renderer.quit_requested:
                    raise _Quit

            try:
                info = run_episode(player, env, seed=int(round_seeds[i]), deterministic=False, on_step=keep).info
            except _Quit:
                echo(f"stopped: the round in progress is not saved; {len(written)} round(s) in {out}")
                return written
            # ---- save it at once (atomic)
            winner = {"agent": "player", "opponent": "opponent"}.get(info["winner"], "draw")
            path = round_path(out, start + i)
            extra = {}
            if hasattr(player, "presses"):  # a human: the button presses read, and those that came out
                extra = {"presses": int(player.presses), "presses_out": int(player.out)}
            meta = demo_metadata(player=name, opponent=env.opponent_spec, frame_skip=cfg.frame_skip,
                                 round_seconds=cfg.round_seconds, steps=len(act_buf), player_spec=cfg.player,
                                 winner=winner, seed=int(round_seeds[i]), **extra)
            save_round(path, np.stack(obs_buf), np.stack(act_buf), np.asarray(rew_buf),
                       opponent=env.opponent_spec, winner=winner,
                       final_health=(info["agent_health"], info["opponent_health"]), meta=meta)
            written.append(path)
            echo(f"round {i + 1}/{cfg.rounds} vs {env.opponent_spec}: {winner} "
                 f"(player {info['agent_health']} hp, opponent {info['opponent_health']} hp, "
                 f"{len(act_buf)} steps) -> {path}")
    finally:
        for env in envs:
            env.close()
    return written
