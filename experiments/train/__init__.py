"""``sandbox train ENV --algo ...``: headless training on CPU or GPU, into a run folder.

``ENV`` is ``stealth``, ``duel`` or any Gymnasium id (``CartPole-v1``); ``sandbox train ghost`` is behaviour
cloning and lives in :mod:`experiments.train.ghost`. ``ppo``, ``a2c`` and ``dqn`` train with
stable-baselines3; ``reinforce``, ``a2c-pg`` and ``ppo-pg`` with our own :mod:`nets.policy_gradient` and
:mod:`nets.ppo`, stepping the env's natively batched form when it has one (:func:`make_vector_env`). Defaults
per env and algorithm are data, in ``experiments/train/train_configs.toml``.

The run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation on held-out seeds),
TensorBoard events under ``tb/``, ``plots/learning_curve.png`` and ``checkpoints/`` (``latest`` after every
evaluation, ``final`` at the end; each with a JSON sidecar saying how to rebuild its env). ``--resume``
continues an interrupted run from ``checkpoints/latest``. The folder's ``.sandbox.json`` marker
(:mod:`experiments.runfolder`) says whether the run is ``incomplete`` (no checkpoint yet: the next run
starts it again), ``resumable`` or ``complete``; a folder ``sandbox train`` did not create is refused
unless ``--force``. Ctrl-C prints one line and exits 130; the metrics, checkpoint and sidecar of an
evaluation are written as one unit.

Python use: :func:`train_run`, :func:`make_env`, :func:`load_trained`.
"""

from experiments.train.config import (  # noqa: F401
    ALGOS,
    ENV_IDS,
    EVAL_SEED,
    METRIC_FIELDS,
    PG_ALGOS,
    RUN_KEYS,
    SB3_ALGOS,
    env_kind,
    load_defaults,
    parse_set,
    resolve_config,
)
from experiments.train.envs import (  # noqa: F401
    CYCLED_KEYS,
    check_compatible,
    cycled_kwargs,
    held_out_kwargs,
    level_list,
    make_env,
    make_vector_env,
    native_vector,
    shaped,
)
from experiments.train.evaluate import evaluate  # noqa: F401
from experiments.train.run import Run, TrainResult, read_metrics  # noqa: F401
from experiments.train.trainers import default_out, load_trained, resolve_run, train_run  # noqa: F401
