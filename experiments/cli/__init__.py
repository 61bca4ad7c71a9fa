"""The ``sandbox`` command-line tool (``python -m experiments.cli`` is the same).

Each verb lives in its own thin module under ``experiments/cli/``, which exposes ``add_parser(subparsers)`` and
``run(args) -> int``. Verb modules import their heavy dependencies inside ``run`` so that
``sandbox --help`` stays fast. To add a verb, add its module name to ``VERBS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb name -> module that implements it, in the order `sandbox --help` lists them.
VERBS: dict[str, str] = {
    "watch": "experiments.cli.watch",
    "solve": "experiments.cli.solve",
    "play": "experiments.cli.play",
    "record": "experiments.cli.record",
    "compare": "experiments.cli.compare",
    "train": "experiments.cli.train",
    "tune": "experiments.cli.tune",
}


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


def add_targets(subparsers, verb: str, help_text: str, targets: dict) -> None:
    """A verb whose first argument names a target (``sandbox solve frozenlake``): ``targets`` maps each
    name to (add its arguments, run it, one-line help)."""
    parser = subparsers.add_parser(verb, help=help_text)
    sub = parser.add_subparsers(dest="target", metavar="TARGET")
    sub.required = True
    for name, (add_args, run_target, target_help) in targets.items():
        target = sub.add_parser(name, help=target_help)
        add_args(target)
        target.set_defaults(run=run_target)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox",
        description="game-ai-sandbox: watch, play, train and solve game-AI environments.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for module_name in VERBS.values():
        module = importlib.import_module(module_name)
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CliError, ValueError, FileNotFoundError) as exc:
        print(f"sandbox {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `sandbox solve ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"sandbox {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
