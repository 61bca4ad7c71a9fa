"""You against an agent in the duel's pygame window (``sandbox play duel``)."""

from __future__ import annotations

from dataclasses import dataclass

GAMES = ("duel",)
INPUTS = ("auto", "keyboard", "pad")  # a human player's input: keyboard and pad, or one of them


@dataclass
class PlayConfig:
    game: str = "duel"  # which game to play (duel)
    vs: str = "scripted:normal"  # the opponent: an agent spec (random, scripted:NAME, sb3:PATH, human)
    difficulty: float | None = None  # override the scripted opponent's strength in [0, 1]
    rounds: int = 3  # rounds to play (0: until Esc)
    round_seconds: float = 60.0  # length of a round
    seed: int | None = None  # seed of the first round
    input: str = "auto"  # your input: auto (keyboard and pad), keyboard or pad
    controls: str | None = None  # TOML file remapping keys and pad buttons (default: $SANDBOX_CONTROLS)


def play_duel(args: PlayConfig) -> int:
    """Fight ``args.vs`` at the keyboard, round after round; prints each result and the score."""
    from envs.display import display_available
    from envs.duel.controls import make_human, use_controls_file, with_input

    use_controls_file(getattr(args, "controls", None))  # a bad file fails first, with its one line
    if not display_available():
        from experiments.options import CliError

        raise CliError("no display to open the game window on (DISPLAY is unset or SDL_VIDEODRIVER is "
                       "dummy); run it on a desktop, or headless with: xvfb-run -a sandbox play duel")
    if args.difficulty is not None and not 0.0 <= args.difficulty <= 1.0:
        raise ValueError(f"--difficulty must be in [0, 1]; got {args.difficulty}")
    if args.rounds < 0:
        raise ValueError(f"--rounds must be >= 0; got {args.rounds}")
    from agents.opponents import make_duel_env

    input_mode = getattr(args, "input", "auto")

    # ---- setup: one env step per tick so the window runs at 60 frames per second
    env = make_duel_env(opponent=with_input(args.vs, input_mode), frame_skip=1, difficulty=args.difficulty,
                        render_mode="human", round_seconds=args.round_seconds)
    player = make_human(input_mode, player=1, frame_skip=1)
    try:
        obs, _ = env.reset(seed=args.seed)
    except Exception as exc:  # pygame cannot open a window after all (e.g. a broken X server)
        env.close()
        if type(exc).__name__ == "error":
            from experiments.options import CliError

            raise CliError(
                f"cannot open the game window ({exc}); headless, try: xvfb-run -a sandbox play duel"
            ) from None
        raise
    # ---- the loop: read the keyboard, step, show; Esc ends
    score = {"agent": 0, "opponent": 0, "draw": 0}
    played = 0
    while True:
        action, _ = player.predict(obs)  # the stick held now; a button pressed since (buffered)
        obs, _, terminated, _, info = env.step(action)
        if env.renderer is not None and env.renderer.quit_requested:
            break
        if terminated:
            score[info["winner"]] += 1
            played += 1
            result = "draw" if info["winner"] == "draw" else f"{info['winner']} wins"
            hp = f"you {info['agent_health']} hp, cpu {info['opponent_health']} hp"
            print(f"round {played}: {result} ({hp})")
            for _ in range(90):  # hold the result on screen for 1.5 s
                env.render()
            if args.rounds and played >= args.rounds:
                break
            obs, _ = env.reset()
            player.reset()
    env.close()
    print(f"you {score['agent']} - {score['opponent']} {args.vs} ({score['draw']} draws)")
    return 0
