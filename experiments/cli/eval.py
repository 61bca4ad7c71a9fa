"""``sandbox eval stealth|duel``: one verb for every measured claim about an agent.

    sandbox eval stealth --agent SPEC (--level NAME|FILE|all|A,B,... | --generated D1,D2,... [--levels N])
                         [--episodes E] [--seed S]
    sandbox eval duel --agent SPEC --vs SPEC[,SPEC...] --rounds N [--seed S]
    sandbox eval exploit --agent SPEC [--steps N] [--algo ppo-pg|ppo] [--rounds 200] [--seed S]

Each prints a table, then one JSON line (the work is in :mod:`experiments.evaluate`).
"""

from __future__ import annotations

import json
import math


def _json_line(result: dict) -> str:
    """One JSON line; NaN (a level an agent cannot play, an unknown ratio) is written as null."""
    def clean(x):
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(result), separators=(",", ":"))


def _target(config_cls, run_fn, doc):
    from experiments.options import add_config_args, config_from_args

    def add_args(parser) -> None:
        parser.description = doc
        add_config_args(parser, config_cls)

    def run(args) -> int:
        print(_json_line(run_fn(config_from_args(config_cls, args))))
        return 0

    return add_args, run


def add_parser(subparsers) -> None:
    from experiments.cli import add_targets
    from experiments.evaluate import duel, exploit, stealth

    targets = {
        "stealth": (*_target(stealth.EvalStealthConfig, stealth.eval_stealth, stealth.__doc__),
                    "success and return / V*(start) level by level, on bundled or held-out generated levels"),
        "duel": (*_target(duel.EvalDuelConfig, duel.eval_duel, duel.__doc__),
                 "wins, draws and losses against opponents with 95% Wilson intervals"),
        "exploit": (*_target(exploit.EvalExploitConfig, exploit.eval_exploit, exploit.__doc__),
                    "exploitability: a best response trained against the frozen agent, its held-out win rate"),
    }
    add_targets(subparsers, "eval", "measure an agent: generalisation, win rates", targets)
