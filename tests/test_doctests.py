"""The examples run: the README's Python code and every env class's docstring ``Examples`` are doctests.

* Every Python block of README.md (a ```python or ```pycon fence) is written as a doctest (``>>>``) and passes.
* Every env class of the project carries a doctest example in its docstring, and the doctests of the modules
  that define them pass. The env classes are found, not listed: every class that a registered ``sandbox/*`` id
  builds (``gym.make``, and ``gym.make_vec`` where the id has a natively batched form), and every
  ``gymnasium.Env``, ``gymnasium.vector.VectorEnv`` or PettingZoo ``ParallelEnv`` subclass defined in ``envs`` or
  ``agents`` (wrappers aside). So a new env without an example fails here.

The examples are short (a reset and a few steps, or one round) and seeded, and they check what holds (shapes,
reward ranges, the ``is_success`` key at the end), never output that depends on float noise.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.vector import VectorEnv, VectorWrapper
from pettingzoo import ParallelEnv

import envs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGES = ("envs", "agents")
FLAGS = doctest.ELLIPSIS
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def _subclasses(base: type) -> Iterator[type]:
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _import_project_modules() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            importlib.import_module(info.name)


def env_classes() -> list[type]:
    """The project's env classes (see the module docstring)."""
    found: set[type] = set()
    for env_id, _, kwargs in envs.SANDBOX_ENVS:
        env = gym.make(env_id)
        found.add(type(env.unwrapped))
        env.close()
        if "vector_entry_point" in kwargs:
            vec = gym.make_vec(env_id, num_envs=1)
            found.add(type(vec.unwrapped))
            vec.close()
    _import_project_modules()
    for base in (gym.Env, VectorEnv, ParallelEnv):
        for cls in _subclasses(base):
            if cls.__module__.partition(".")[0] in PACKAGES and not issubclass(cls, gym.Wrapper | VectorWrapper):
                found.add(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _run(tests: list[doctest.DocTest]) -> tuple[doctest.TestResults, str]:
    """Run doctests; the results and the failure report."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test, out=report.append)
    return runner.summarize(verbose=False), "".join(report)


@pytest.fixture(scope="module")
def classes() -> list[type]:
    return env_classes()


def test_the_env_classes_are_found(classes):
    names = {c.__name__ for c in classes}
    assert {"DuelEnv", "DuelVectorEnv", "DuelParallelEnv", "StealthEnv", "StealthVectorEnv", "DirectorEnv"} <= names


def test_every_env_class_has_an_example(classes):
    finder = doctest.DocTestFinder(recurse=False)
    missing = [f"{c.__module__}.{c.__qualname__}" for c in classes
               if not any(t.examples for t in finder.find(c, module=importlib.import_module(c.__module__)))]
    assert not missing, ("env classes without a docstring example (>>>); add an Examples section showing "
                         "make / reset / step: " + ", ".join(missing))


def test_the_env_examples_run(classes):
    modules = sorted({c.__module__ for c in classes})
    tests = [t for name in modules for t in doctest.DocTestFinder().find(importlib.import_module(name))
             if t.examples]
    results, report = _run(tests)
    assert results.attempted > 0
    assert results.failed == 0, report


def readme_blocks() -> list[tuple[int, str, str]]:
    """``(line, language, code)`` of each fenced block of README.md."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def test_readme_python_blocks_are_doctests():
    python = [(line, code) for line, lang, code in readme_blocks() if lang in ("python", "py", "pycon")]
    assert python, "README.md has no Python block"
    plain = [line for line, code in python if ">>>" not in code]
    assert not plain, f"README.md: Python blocks not written as doctests (>>>) at lines {plain}"


def test_readme_examples_run():
    parser = doctest.DocTestParser()
    tests = [parser.get_doctest(code, {}, f"README.md:{line}", str(README), line)
             for line, lang, code in readme_blocks() if lang in ("python", "py", "pycon")]
    results, report = _run(tests)
    assert results.attempted > 0
    assert results.failed == 0, report


def test_the_agents_page_examples_run():
    """docs/agents.md teaches writing an agent: its examples (one namespace, in order) run as written."""
    page = ROOT / "docs" / "agents.md"
    text = page.read_text(encoding="utf-8")
    blocks = [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in _FENCE.finditer(text)
              if m.group(1) in ("python", "py", "pycon")]
    assert len(blocks) >= 2, "docs/agents.md lost its examples"
    parser, globs = doctest.DocTestParser(), {}
    tests = [parser.get_doctest(code, globs, f"docs/agents.md:{line}", str(page), line) for line, code in blocks]
    results, report = _run(tests)
    assert results.attempted >= 10 and results.failed == 0, report
