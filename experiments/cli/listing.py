"""``sandbox list WHAT``: what there is to name on a command line, without reading the source: the registered
envs, the agent specs, the bundled agents, the stealth levels, the duel's characters and the training
recipes. One table each; ``--json`` prints one JSON object instead."""

from __future__ import annotations

import argparse
import json

WHATS = ("envs", "agents", "bundled", "levels", "characters", "recipes")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("list", help="list envs, agent specs, bundled agents, levels, characters, recipes",
                              description=__doc__)
    p.add_argument("what", choices=WHATS, metavar="WHAT", help=f"one of {', '.join(WHATS)}")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.set_defaults(run=run)


def rows(what: str) -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every item of ``what``."""
    if what == "envs":
        import gymnasium as gym

        import envs  # noqa: F401  (registers the sandbox ids)

        return [(env_id, (spec.entry_point if isinstance(spec.entry_point, str) else "")) for env_id, spec in
                sorted(gym.registry.items()) if env_id.startswith("sandbox/")]
    if what == "agents":
        from agents.specs import AGENT_SPECS

        return [(prefix + (":" + arg if arg else ""), text) for prefix, (_, arg, text) in AGENT_SPECS.items()]
    if what == "bundled":
        from agents.bundled import bundled_info, bundled_names

        out = []
        for name in bundled_names():
            info = bundled_info(name)
            env, algo = info.get("env"), info.get("algo", info.get("class"))
            about = f"{env}, {algo}" if env and algo else "the learned director (sandbox/Director-v0), sb3 PPO"
            out.append((f"bundled:{name}", about))
        return out
    if what == "levels":
        from envs.stealth.level import bundled_levels, load_level

        return [(name, "{}x{}".format(*load_level(name).shape)) for name in bundled_levels()] + [
            ("random", "a generated level of the training pool (--difficulty)"),
            ("heldout", "a generated level of the held-out pool")]
    if what == "characters":
        from envs.duel.character import shipped_characters

        return [(name, "a duel character table (frame data and physics)") for name in shipped_characters()]
    from experiments.train.config import load_recipe, recipe_names

    return [(name, f"sandbox train {load_recipe(name)['env']} --recipe {name}") for name in recipe_names()]


def run(args: argparse.Namespace) -> int:
    items = rows(args.what)
    if args.json:
        print(json.dumps({args.what: [{"name": n, "about": a} for n, a in items]}))
        return 0
    width = max(len(n) for n, _ in items)
    for name, about in items:
        print(f"{name:<{width}}  {about}")
    return 0
