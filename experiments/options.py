"""Command-line options written once, from a config dataclass; and the one-line user error.

A verb's or study's settings are a documented dataclass, one line per field with its comment, so that an
experiment reads top to bottom (docs/architecture.md, ``experiments/cli/``). :func:`add_config_args` turns each
field into an option: the name (``round_seconds`` -> ``--round-seconds``), the type from the annotation, the
default from the dataclass and the help from the field's comment. :func:`config_from_args` builds the
dataclass back from the parsed arguments. Nothing is written twice, so a new field is a new option.

Types: ``int``, ``float``, ``str`` (each optionally ``| None``), ``bool`` (a switch: ``--x`` when the default
is False, ``--x/--no-x`` when it is True), ``tuple[int, ...]`` / ``tuple[float, ...]`` (comma-separated) and
``list[str]`` (values separated by commas or spaces: ``--algos ppo,a2c`` or ``--ghosts a b``).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from functools import cache
from typing import Any

_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str) -> str:
    """Docstring markup as plain text for ``--help``: ``:func:`a.b``` and ````x```` become ``a.b`` and ``x``."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


class PlainHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` as plain text: descriptions keep their lines (examples one per line) without docstring
    markup, and option help loses it too."""

    def _format_text(self, text: str) -> str:
        import textwrap

        return super()._format_text(textwrap.dedent(plain_text(text)).strip() + "\n" if text else text)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return plain_text(action.help) if action.help else action.help


class CliError(Exception):
    """A user-facing error: ``sandbox`` prints it as one line, exit status 2, no traceback."""


_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^#]*#\s?(.*)$")
_SCALARS = {"int": int, "float": float, "str": str}


@cache
def field_help(cls) -> dict[str, str]:
    """``{field: its comment}`` read from the dataclass's source (the one-line-per-field convention)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines():
        match = _FIELD_LINE.match(line)
        if match:
            out.setdefault(match.group(1), match.group(2).strip())
    return out


def _annotation(field: dataclasses.Field) -> str:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    return kind.replace(" ", "")


def _tuple_of(convert):
    def parse(text: str) -> tuple:
        try:
            return tuple(convert(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None

    parse.__name__ = f"comma-separated {convert.__name__}s"
    return parse


class _ListAction(argparse.Action):
    """``--x a,b c`` -> ``["a", "b", "c"]``."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
        if values and not items:  # only separators: kept as given, so the caller's check names it
            items = [" ".join(map(str, values))]
        setattr(namespace, self.dest, items)


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser, cls, *, skip: tuple[str, ...] = (), positional: tuple[str, ...] = (),
                    choices: dict[str, tuple] | None = None, help: dict[str, str] | None = None,
                    dest_prefix: str = "", option_prefix: str = "", suppress: bool = False) -> None:
    """Add one option per field of dataclass ``cls`` to ``parser`` (an ``ArgumentParser`` or a group).

    ``skip``: fields the caller adds itself (or that are not options); ``positional``: fields given as
    positional arguments; ``choices``: the valid values of some fields; ``help``: help that replaces a
    field's comment; ``dest_prefix``: prefix of the attribute names in the parsed namespace (to keep two
    configs apart on one parser); ``option_prefix``: prefix of the option names (``league.`` gives
    ``--league.gate``); ``suppress``: an option not given leaves no attribute (so a caller can tell the
    options given from the defaults; the help still shows the default). A field's ``metadata["argparse"]``
    (a dict) overrides the keywords of its ``add_argument`` (``option`` renames it: ``{"option": "--set"}``).
    """
    comments = field_help(cls)
    choices, help = choices or {}, help or {}
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        text = help.get(field.name, comments.get(field.name, ""))
        kind = _annotation(field)
        kwargs: dict[str, Any] = {"default": default}
        if kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
            suffix = ""
        elif kind == "bool|None":
            kwargs["action"] = argparse.BooleanOptionalAction
            suffix = ""
        else:
            base = kind.removesuffix("|None")
            if base == "list[str]":
                kwargs.update(action=_ListAction, nargs="*", metavar=field.name.upper().rstrip("S") or "X")
                shown = ",".join(default) if default else "none"
            elif base.startswith("tuple["):
                inner = base[len("tuple["):].split(",")[0]
                kwargs["type"] = _tuple_of(_SCALARS[inner])
                shown = ",".join(map(str, default)) if default else "none"
            else:
                if base not in _SCALARS:
                    raise TypeError(f"{cls.__name__}.{field.name}: cannot make an option of type {kind}")
                kwargs["type"] = _SCALARS[base]
                shown = default
            if field.name in choices and base != "list[str]":
                kwargs["choices"] = choices[field.name]
            suffix = "" if default in (None, "") else f" (default: {shown})"
        kwargs["help"] = (text + suffix).strip().replace("%", "%%") or None  # argparse %-formats help
        extra = dict(field.metadata.get("argparse", {}))
        option = extra.pop("option", "--" + option_prefix + field.name.replace("_", "-"))
        if extra.get("action") == "append":
            for key in ("type", "nargs"):
                kwargs.pop(key, None)
        elif "type" in kwargs and "metavar" not in kwargs:
            kwargs["metavar"] = field.name.upper()
        kwargs.update(extra)
        if suppress:
            kwargs["default"] = argparse.SUPPRESS
        if field.name in positional:
            kwargs.pop("action", None)
            if default is not dataclasses.MISSING and field.default is not dataclasses.MISSING:
                kwargs["nargs"] = "?"
            kwargs["metavar"] = field.name.upper()
            parser.add_argument(dest_prefix + field.name, **kwargs)
        else:
            parser.add_argument(option, dest=dest_prefix + field.name, **kwargs)


def config_from_args(cls, args: argparse.Namespace, dest_prefix: str = "", **given):
    """The dataclass ``cls`` from parsed ``args`` (fields not on the namespace keep their defaults);
    ``given`` sets fields directly."""
    values = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.name in given:
            values[field.name] = given[field.name]
        elif hasattr(args, dest_prefix + field.name):
            values[field.name] = getattr(args, dest_prefix + field.name)
    return cls(**values)
