"""The docs stay true: every command they show parses, every link they make resolves, and the project
stands alone.

- **Commands.** Every ``sandbox ...`` command in README.md and docs/*.md, in fenced code blocks and in
  inline code spans, is parsed by the real ``sandbox`` argument parser (nothing is run). Synopses are
  expanded: ``[--x N]`` is included, ``a|b|c`` and ``(A | B)`` give one command per alternative, and
  placeholders (``N``, ``SPEC``, ``runs/NAME``, ``D1,D2,...``) are accepted wherever a value goes, so what
  is checked is the verb, the target, every flag and every literal value (choices, numbers). A mention
  without its required arguments (``sandbox train --resume``) is fine; an unknown flag or choice is not.
  Shell around a command is skipped: ``VAR=value`` prefixes, ``$`` prompts, ``xvfb-run -a``, line
  continuations, comments, pipes and redirections. ``make TARGET`` must name a Makefile target and
  ``python -m MODULE`` an existing module.
- **Links.** Every relative link resolves to an existing file, and an ``#anchor`` into a Markdown page to one
  of its headings (GitHub's slugs).
- **Standing alone.** No tracked file cites the design and style documents that live outside the
  repository (their names are built from pieces below, so this file does not cite them either).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import re
import shlex
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"", "sh", "bash", "shell", "console", "text"}


# ---------------------------------------------------------------------------------------------------------
# Markdown: fences, code spans, prose


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


def split_markdown(text: str) -> tuple[list[tuple[int, str, list[str]]], str]:
    """``(fences, prose)``: each fenced block as (line of its first content line, language, lines), and the
    text with every fenced line blanked (so line numbers still count from the top of the file)."""
    fences: list[tuple[int, str, list[str]]] = []
    prose: list[str] = []
    open_fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line)
        if open_fence is None and match:
            open_fence = (match.group(1), match.group(2).lower())
            fences.append((number + 1, open_fence[1], []))
            prose.append("")
        elif open_fence is not None:
            if line.strip().startswith(open_fence[0]) and not line.strip().strip(open_fence[0][0]):
                open_fence = None
            else:
                fences[-1][2].append(line)
            prose.append("")
        else:
            prose.append(line)
    return fences, "\n".join(prose)


# a run of backticks, the code, the same run again; never across a blank line
_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.S)


def code_spans(prose: str) -> list[tuple[int, str]]:
    """Inline code spans as (line, text), a span broken over lines joined with spaces."""
    out = []
    for match in _SPAN.finditer(prose):
        line = prose.count("\n", 0, match.start()) + 1
        out.append((line, " ".join(match.group(2).split())))
    return out


def without_code(prose: str) -> str:
    """Prose with its code spans blanked (their newlines kept)."""
    return _SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), prose)


def fence_commands(first_line: int, lines: list[str]) -> list[tuple[int, str]]:
    """A shell block's logical lines as (line, text): comments dropped, ``\\`` continuations joined, and a
    synopsis's indented continuation lines (starting with ``[``, ``(`` or ``-``) joined to the line above."""
    out: list[tuple[int, str]] = []
    continued = False
    for offset, raw in enumerate(lines):
        line = _strip_comment(raw)
        stripped = line.strip()
        synopsis_tail = raw[:1].isspace() and stripped[:1] in ("[", "(", "-") and out
        words = stripped.rstrip("\\").strip()
        if (continued or synopsis_tail) and out:
            number, text = out[-1]
            out[-1] = (number, f"{text} {words}")
        elif stripped:
            out.append((first_line + offset, words))
        continued = stripped.endswith("\\")
    return out


def _strip_comment(line: str) -> str:
    """Drop a shell comment: a ``#`` at the start or after whitespace, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


# ---------------------------------------------------------------------------------------------------------
# Shell: from a line of text to the words after `sandbox`

_SHELL_PREFIXES = {"$", "env", "time", "nohup", "xvfb-run", "-a"}
_SHELL_STOPS = {"|", "||", "&&", ";", "&"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_words(text: str) -> list[str]:
    return shlex.split(text.replace("\\|", "|"), posix=True)


def command_after_prefixes(words: list[str]) -> list[str]:
    """The words from the first one that is not a shell prefix (``VAR=x``, ``$``, ``xvfb-run -a``, ...)."""
    i = 0
    while i < len(words) and (words[i] in _SHELL_PREFIXES or _ASSIGNMENT.match(words[i])):
        i += 1
    return words[i:]


def cut_at_shell_operators(words: list[str]) -> list[str]:
    """The words up to a pipe, a redirection or a command separator at bracket depth 0 (a ``|`` inside
    ``(...)`` or ``[...]`` separates a synopsis's alternatives)."""
    depth = 0
    out = []
    for word in words:
        if depth == 0 and (word in _SHELL_STOPS or re.match(r"^\d?[<>]", word)):
            break
        out.append(word)
        depth += len(word) - len(word.lstrip("[("))
        depth = max(depth - (len(word) - len(word.rstrip("])"))), 0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Synopses: `[--x N]`, `a|b`, `(A | B)` expanded into plain commands

_OPEN, _CLOSE, _ALT = object(), object(), object()


def synopsis_tokens(words: list[str]) -> list:
    """Words split into group markers, alternative bars and words; brackets inside a word that balance
    there (``SPEC[,SPEC...]``, ``hidden=[128,128]``) belong to the word."""
    tokens: list = []
    for word in words:
        if word == "|":
            tokens.append(_ALT)
            continue
        if word != "..." and word.endswith("...") and word[-4:-3] in ("]", ")"):
            word = word[:-3]  # `[--set K=V]...`: repeatable
        opens = len(word) - len(word.lstrip("[("))
        tokens.extend([_OPEN] * opens)
        word = word[opens:]
        closes = 0
        while word and word[-1] in "])" and word.count("[") + word.count("(") <= (
                word.count("]") + word.count(")") - 1):
            word, closes = word[:-1], closes + 1
        if word:
            tokens.append(word)
        tokens.extend([_CLOSE] * closes)
    return tokens


def _parse_alternatives(tokens: list, pos: int, closing: bool) -> tuple[list[list], int]:
    """A sequence of items separated by bars into alternatives, up to a close (or the end)."""
    alternatives: list[list] = [[]]
    while pos < len(tokens):
        token = tokens[pos]
        if token is _CLOSE:
            if closing:
                return alternatives, pos + 1
            pos += 1  # a stray close: ignored
        elif token is _ALT:
            alternatives.append([])
            pos += 1
        elif token is _OPEN:
            inner, pos = _parse_alternatives(tokens, pos + 1, True)
            alternatives[-1].append(("group", inner))
        else:
            alternatives[-1].append(("word", token.split("|") if "|" in token.strip("|") else [token]))
            pos += 1
    return alternatives, pos


def _expand_sequence(items: list) -> list[list[str]]:
    per_item = [_expand_item(item) for item in items]
    count = max((len(options) for options in per_item), default=1)
    return [[word for options in per_item for word in options[min(j, len(options) - 1)]] for j in range(count)]


def _expand_item(item) -> list[list[str]]:
    kind, value = item
    if kind == "word":
        return [[word] for word in value]
    return [variant for alternative in value for variant in _expand_sequence(alternative)]


def expand_synopsis(words: list[str]) -> list[list[str]]:
    """Plain commands covering every alternative at least once; optional groups are included."""
    alternatives, _ = _parse_alternatives(synopsis_tokens(words), 0, False)
    variants = [variant for alternative in alternatives for variant in _expand_sequence(alternative)]
    out = []
    for variant in variants:
        kept = [w for i, w in enumerate(variant) if w != "..." or (i and variant[i - 1].startswith("-"))]
        if kept not in out:
            out.append(kept)
    return out


# ---------------------------------------------------------------------------------------------------------
# The parser, made lenient about placeholders and missing arguments, strict about everything else

_PLACEHOLDER = re.compile(r"\.\.\.|…|(?<![\w-])[A-Z][A-Z0-9_]*[A-Z0-9](?![\w-])|^[A-Z]$")


def is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text))


class DocCommandError(Exception):
    pass


class _HelpShown(Exception):
    pass


class _Placeholder(str):
    pass


class _ChoicesOrPlaceholder(list):
    def __contains__(self, value) -> bool:
        return isinstance(value, _Placeholder) or list.__contains__(self, value)


def _lenient_type(convert):
    def convert_or_placeholder(text):
        if isinstance(text, str) and is_placeholder(text):
            return _Placeholder(text)
        return text if convert is None else convert(text)

    convert_or_placeholder.__name__ = getattr(convert, "__name__", repr(convert)) if convert else "str"
    return convert_or_placeholder


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


@functools.cache
def doc_parser() -> argparse.ArgumentParser:
    """``sandbox``'s parser, raising instead of exiting; no argument required (a doc may mention a verb and
    one flag); abbreviations refused; a placeholder accepted as any value."""
    from experiments.cli import build_parser

    root = build_parser()
    for parser in _parsers(root):
        def error(message, prog=parser.prog):
            raise DocCommandError(f"{prog}: error: {message}")

        def leave(status=0, message=None):
            raise _HelpShown

        parser.error, parser.exit, parser.allow_abbrev = error, leave, False
        for group in parser._mutually_exclusive_groups:
            group.required = False
        for action in parser._actions:
            action.required = False
            if isinstance(action, argparse._SubParsersAction):
                continue
            if action.nargs != 0:
                action.type = _lenient_type(action.type)
            if action.choices is not None:
                action.choices = _ChoicesOrPlaceholder(action.choices)
    return root


def check_sandbox_args(args: list[str]) -> str | None:
    """None when ``sandbox ARGS`` parses, else argparse's message."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            doc_parser().parse_args(args)
    except _HelpShown:
        return None
    except DocCommandError as exc:
        return str(exc)
    return None


@functools.cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


def module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


# ---------------------------------------------------------------------------------------------------------
# Checking a page


def _command_problems(words: list[str]) -> list[str]:
    """Problems with one shell command (already past its prefixes), or [] when it is not one we check."""
    if not words:
        return []
    program, rest = words[0], words[1:]
    if program == "make" and rest:
        problems = []
        if rest[0] not in make_targets():
            problems.append(f"make: no target {rest[0]!r} in the Makefile")
        for word in rest[1:]:
            if word.startswith("WATCH_ARGS="):
                problems += _sandbox_problems(["watch", *shlex.split(word.partition("=")[2])])
        return problems
    if program in ("python", "python3", ".venv/bin/python") and rest[:1] == ["-m"] and len(rest) > 1:
        if rest[1] == "experiments.cli":
            return _sandbox_problems(rest[2:])
        if rest[1].split(".")[0] in ("experiments", "envs", "nets", "agents") and not module_exists(rest[1]):
            return [f"python -m {rest[1]}: no such module in the repository"]
        return []
    if program == "sandbox" or program.endswith("/sandbox"):
        return _sandbox_problems(rest)
    return []


AGENT_OPTIONS = ("--agent", "--vs", "--p1", "--p2", "--opponent", "--player")


def agent_spec_problems(args: list[str]) -> list[str]:
    """The values of the options that take agent specs (comma-separated lists too) must start with a known
    spec prefix (``scripted:``, ``pg:``, ``bundled:``...): a bare path is not a spec."""
    from agents import AGENT_SPECS

    problems = []
    for option, value in zip(args, args[1:], strict=False):
        if option not in AGENT_OPTIONS or value.startswith("-"):
            continue
        for spec in filter(None, value.split(",")):
            prefix = spec.partition(":")[0]
            if prefix not in AGENT_SPECS and not is_placeholder(spec):
                problems.append(f"{option} {spec}: not an agent spec (valid prefixes: {', '.join(AGENT_SPECS)})")
    return problems


def _sandbox_problems(args: list[str]) -> list[str]:
    if args and (args[0].endswith(":") or (not args[0].startswith("-") and is_placeholder(args[0]))):
        return []  # `sandbox play: error: ...` (a message), `sandbox VERB` (any verb)
    problems = []
    for variant in expand_synopsis(args):
        for message in [check_sandbox_args(variant), *agent_spec_problems(variant)]:
            if message and not any(p.startswith(message + "  [as:") for p in problems):
                problems.append(f"{message}  [as: sandbox {shlex.join(variant)}]")
    return problems


def command_problems(name: str, text: str) -> list[str]:
    """``FILE:LINE: `command`: message`` for every command in the page that does not parse."""
    problems = []
    fences, prose = split_markdown(text)
    snippets = code_spans(prose)
    for first_line, language, lines in fences:
        if language in SHELL_FENCES:
            snippets += fence_commands(first_line, lines)
    for line, snippet in snippets:
        try:
            words = command_after_prefixes(shell_words(_strip_comment(snippet)))
        except ValueError as exc:
            if re.match(r"^\s*(\$\s+)?(\w+=\S+\s+)*(sandbox|make)\s", snippet):
                problems.append((line, f"{name}:{line}: `{snippet}`: cannot split it as the shell would: {exc}"))
            continue
        for message in _command_problems(cut_at_shell_operators(words)):
            problems.append((line, f"{name}:{line}: `{snippet}`: {message}"))
    return [problem for _, problem in sorted(problems, key=lambda item: item[0])]


# links: [text](target "title"), ![alt](target); reference definitions [x]: target
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_|_(?!\w))", "", text)  # emphasis markers
    kept = "".join(ch for ch in text.strip().lower()
                   if ch in "-_ " or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown page's headings (``-1``, ``-2``, ... for repeats, as GitHub numbers them)."""
    _, prose = split_markdown(text)
    seen: dict[str, int] = {}
    out = set()
    for line in prose.splitlines():
        match = _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def link_problems(path: Path, text: str, root: Path = ROOT) -> list[str]:
    """``FILE:LINE: target: why`` for every relative link of the page that does not resolve."""
    from urllib.parse import unquote

    _, prose = split_markdown(text)
    prose = without_code(prose)
    name = path.relative_to(root) if path.is_relative_to(root) else path
    targets = [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in _LINK.finditer(prose)]
    targets += [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in _REFERENCE.finditer(prose)]
    problems = []
    for line, target in sorted(targets):
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
            continue  # https:, mailto:, ...
        file_part, _, anchor = unquote(target).partition("#")
        if file_part.startswith("/"):
            dest = root / file_part.lstrip("/")
        else:
            dest = (path.parent / file_part) if file_part else path
        if not dest.exists():
            shown = dest.resolve().relative_to(root) if dest.resolve().is_relative_to(root) else dest
            problems.append(f"{name}:{line}: {target}: no such file ({shown})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            problems.append(f"{name}:{line}: {target}: no heading with the anchor #{anchor} in {dest.name}")
    return problems


# ---------------------------------------------------------------------------------------------------------
# The tests


def _doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOC_FILES, ids=_doc_id)
def test_every_command_in_the_docs_parses(path):
    problems = command_problems(_doc_id(path), path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOC_FILES, ids=_doc_id)
def test_every_relative_link_in_the_docs_resolves(path):
    problems = link_problems(path, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_docs_hold_commands_to_check():
    """The extraction finds the commands at all (a broken extraction would pass every page)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fences, prose = split_markdown(readme)
    spans = [text for _, text in code_spans(prose) if text.startswith("sandbox ")]
    fenced = [text for first, lang, lines in fences if lang in SHELL_FENCES
              for _, text in fence_commands(first, lines) if text.startswith("sandbox ")]
    assert len(spans) >= 10 and len(fenced) >= 5


def test_a_made_up_flag_is_caught():
    page = "\n".join([
        "# A page",
        "",
        "Run `sandbox solve frozenlake --gamma 0.9` first.",
        "",
        "```sh",
        "SDL_VIDEODRIVER=dummy sandbox watch stealth --seed 0 \\",
        "    --no-such-flag 3 | tail -1   # a comment",
        "```",
        "",
        "Then `sandbox eval duel --agent SPEC",
        "--vs scripted:hard --rounds lots` and `make no-such-target`.",
        "`sandbox eval exploit --agent runs/x/final.pt`",
    ])
    problems = command_problems("page.md", page)
    assert len(problems) == 4, problems
    assert problems[3].startswith("page.md:12: `sandbox eval exploit --agent runs/x/final.pt`: "
                                  "--agent runs/x/final.pt: not an agent spec")
    assert problems[0].startswith("page.md:6: `SDL_VIDEODRIVER=dummy sandbox watch stealth --seed 0")
    assert "unrecognized arguments: --no-such-flag 3" in problems[0]
    assert problems[1].startswith("page.md:10: `sandbox eval duel --agent SPEC --vs scripted:hard --rounds lots`")
    assert "argument --rounds: invalid int value: 'lots'" in problems[1]
    assert problems[2].startswith("page.md:11: `make no-such-target`: make: no target 'no-such-target'")


def test_synopses_are_expanded_and_their_choices_checked():
    page = "\n".join([
        "```",
        "sandbox watch duel|stealth [--p1 SPEC] [--director rule|learned|sometimes]",
        "                           [--seconds T] ...",
        "sandbox eval stealth --agent SPEC (--level NAME|all | --generated D1,D2,... [--levels N])",
        "```",
        "| `sandbox watch [duel\\|stealth] [--rounds N]` | a table cell |",
        "| `sandbox train ENV --algo ppo\\|a2c\\|nope` | a table cell |",
    ])
    problems = command_problems("page.md", page)
    assert len(problems) == 2, problems
    assert problems[0].startswith("page.md:2: ") and "invalid choice: 'sometimes'" in problems[0]
    assert problems[1].startswith("page.md:7: ") and "invalid choice: 'nope'" in problems[1]
    assert expand_synopsis(["eval", "duel", "--vs", "SPEC[,SPEC...]", "[--rounds", "N]"]) == [
        ["eval", "duel", "--vs", "SPEC[,SPEC...]", "--rounds", "N"]]
    assert expand_synopsis(["x", "(--a", "1", "|", "--b)", "[--c", "...]", "[--d", "K=V]..."]) == [
        ["x", "--a", "1", "--c", "...", "--d", "K=V"], ["x", "--b", "--c", "...", "--d", "K=V"]]


def test_messages_and_mentions_are_not_commands():
    page = ("`sandbox play: error: bad key`, `sandbox VERB: interrupted`, `sandbox train --resume`, "
            "`sandbox compare`, `sandbox --help` and `sandbox/Duel-v0`.")
    assert command_problems("page.md", page) == []


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## The `--x` flag: **on**\n\n## Repeat\n\n## Repeat\n")
    page = tmp_path / "README.md"
    page.write_text("\n".join([
        "[ok](docs/other.md) [ok](docs/other.md#the---x-flag-on) [ok](docs/other.md#repeat-1)",
        "![missing](docs/missing.png) [web](https://example.com/x.md#nothing)",
        "[bad anchor](docs/other.md#nothing) `[in code](nowhere.md)`",
        "[self](#a-heading)",
        "",
        "```",
        "[in a fence](nowhere.md)",
        "```",
        "## A heading",
    ]))
    problems = link_problems(page, page.read_text(), root=tmp_path)
    assert problems == [
        "README.md:2: docs/missing.png: no such file (docs/missing.png)",
        "README.md:3: docs/other.md#nothing: no heading with the anchor #nothing in other.md",
    ]


def test_slugs_follow_github():
    assert slug("The fast path: `sandbox train --algo ppo-pg`") == "the-fast-path-sandbox-train---algo-ppo-pg"
    assert slug("`sandbox eval exploit --agent SPEC [--steps N] [--algo ppo-pg|ppo]`") == (
        "sandbox-eval-exploit---agent-spec---steps-n---algo-ppo-pgppo")
    assert slug("Our policy-gradient learners: `nets.policy_gradient`") == (
        "our-policy-gradient-learners-netspolicy_gradient")
    assert slug("A stealth agent that sneaks: `bundled:stealth-ppo`, retrained") == (
        "a-stealth-agent-that-sneaks-bundledstealth-ppo-retrained")


# names of documents that live outside the repository, built from pieces so that this file does not cite them
OUTSIDE_DOCUMENTS = ["DES" + "IGN" + ".md", "STY" + "LE" + ".md"]


def test_no_file_cites_documents_outside_the_repository():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    citing = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        citing += [f"{name}: {doc}" for doc in OUTSIDE_DOCUMENTS if doc.encode() in data]
    assert not citing, "cites a document outside the repository:\n" + "\n".join(citing)
