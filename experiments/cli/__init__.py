"""The ``sandbox`` command-line tool (``python -m experiments.cli`` is the same).

Each verb lives in its own thin module under ``experiments/cli/``, which exposes ``add_parser(subparsers)`` and
``run(args) -> int``. Verb modules import their heavy dependencies inside ``run`` so that
``sandbox --help`` stays fast. To add a verb, add its module name to ``VERBS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from experiments.options import CliError

# verb name -> module that implements it, in the order `sandbox --help` lists them.
VERBS: dict[str, str] = {
    "watch": "experiments.cli.watch",
    "replay": "experiments.cli.replay",
    "solve": "experiments.cli.solve",
    "play": "experiments.cli.play",
    "record": "experiments.cli.record",
    "compare": "experiments.cli.compare",
    "train": "experiments.cli.train",
    "eval": "experiments.cli.eval",
    "tune": "experiments.cli.tune",
    "style": "experiments.cli.style",
    "balance": "experiments.cli.balance",
    "list": "experiments.cli.listing",  # not cli/list.py: a submodule named list would shadow the builtin here
}



def add_targets(subparsers, verb: str, help_text: str, targets: dict, *, claims_out: bool = False) -> None:
    """A verb whose first argument names a target (``sandbox solve frozenlake``): ``targets`` maps each
    name to (add its arguments, run it, one-line help). With ``claims_out`` every target writes into its
    ``--out`` folder, claimed first with :func:`experiments.runfolder.claim_folder` (and gets ``--force``)."""
    parser = subparsers.add_parser(verb, help=help_text.replace("%", "%%"))
    sub = parser.add_subparsers(dest="target", metavar="TARGET")
    sub.required = True
    for name, (add_args, run_target, target_help) in targets.items():
        target = sub.add_parser(name, help=target_help.replace("%", "%%"))  # argparse %-formats help
        add_args(target)
        if claims_out:
            add_force(target)
            run_target = _claiming_out(f"{verb} {name}", run_target)
        target.set_defaults(run=run_target)


def add_force(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="write into an --out this command did not create (files of the same name are replaced)")


def _claiming_out(writer: str, run_target):
    """``run_target`` behind the folder check of ``writer``; the folder is marked as the writer's once the
    target has created it (complete when it returned, incomplete when it raised)."""
    def run(args):
        from pathlib import Path

        from experiments.runfolder import claim_folder, set_status

        claim_folder(args.out, writer, rerun=True, force=args.force, create=False)
        done = False
        try:
            result = run_target(args)
            done = True
            return result
        finally:
            if Path(args.out).is_dir():
                set_status(args.out, "complete" if done else "incomplete", writer)

    return run


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def _stdout_is_broken() -> bool:
    """Is stdout a pipe whose reader has gone (``| head``)? A flush that fails says so; after a failed print
    the buffer may already be empty, so the pipe is also polled: its writer end reports POLLERR then."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no fileno (captured), or no poll on this platform
        return False


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("game-ai-sandbox")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox",
        description="game-ai-sandbox: watch, play, train and solve game-AI environments.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for module_name in VERBS.values():
        module = importlib.import_module(module_name)
        module.add_parser(sub)
    _plain_help(parser)
    return parser


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Every parser of the tree prints its help as plain text (no docstring markup, lines kept)."""
    from experiments.options import PlainHelpFormatter

    parser.formatter_class = PlainHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_help(child)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as typed, for run records
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        if not _stdout_is_broken():  # a broken pipe elsewhere (a worker process) is not `| head`
            raise
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (`sandbox solve ... | head`: exit quietly)
        return 0
    except (CliError, ValueError, OSError) as exc:
        # bad input: ValueError covers LevelError, DemoError, RunFolderError, TOML and JSON errors and the
        # trainers' hyper-parameter checks; OSError an unreadable, unwritable or missing file or folder
        print(f"sandbox {args.verb}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sandbox {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
