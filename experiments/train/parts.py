"""Parts of the one training loop: what a league, a curriculum or a warm start adds around ``learner.learn``.

``sandbox train`` has one loop (:func:`experiments.train.trainers.train_run`): build the env, build or
resume the learner, learn, and after every update let the run evaluate, log and checkpoint. A part plugs
into that loop at fixed points, so a league is not a second main:

=========================  ==================================================================================
``env_kwargs(config)``     keywords for the training env (the league's opponent, the curriculum's levels)
``wrap(env)``              a wrapper around the training env (books results, moves difficulties)
``start(learner, run)``    once the learner exists: a warm start, binding the live learner, restoring state
``after_update(...)``      after every update (the snapshot gate, exploiters)
``row()``                  its columns of the next metrics row (``fields`` names them)
``logged(run)``            after each metrics row, with the checkpoint: its own files and series (the ladder)
``state()``                JSON-able state saved in every checkpoint's sidecar, handed back on resume
``summary()``              what the run returns at the end
=========================  ==================================================================================

The parts in use are named by ``config["parts"]`` (``league``, ``curriculum``);
:func:`experiments.train.trainers.make_parts` builds them.
"""

from __future__ import annotations

from typing import Any


class Part:
    """A piece of the training loop (module docstring); every hook does nothing by default."""

    name = "part"
    fields: tuple[str, ...] = ()

    def env_kwargs(self, config: dict) -> dict:
        return {}

    def wrap(self, env: Any) -> Any:
        return env

    def start(self, learner: Any, run: Any) -> None:
        pass

    def after_update(self, learner: Any, run: Any, steps: int) -> None:
        pass

    def row(self) -> dict:
        return {}

    def logged(self, run: Any) -> None:
        pass

    def state(self) -> dict:
        return {}

    def summary(self) -> dict:
        return {}
