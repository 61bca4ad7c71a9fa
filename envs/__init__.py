"""Ground floor: the Gymnasium environments of the sandbox, the fighting duel (``envs.duel``) and the
stealth grid (``envs.stealth``), with their pure rules, renderers, exact models and natively batched forms,
plus game-free utilities (``envs.fileio``: atomic writes and file-size checks; ``envs.display``;
``envs.checks``: the env contract). Every ``gymnasium.register`` call of the project lives in this file,
so importing ``envs`` makes every ``sandbox/*`` id available to ``gymnasium.make`` (and, for the ids with a
natively batched env, its ``vector_entry_point`` to ``gymnasium.make_vec``).

Imports: nothing from ``nets``, ``agents`` or ``experiments`` (tests/test_floors.py checks every import,
those inside functions too). Envs take agent *objects*; spec strings such as ``opponent="scripted:hard"``
are resolved in ``agents``, reached through entry points given here as strings
(``agents.opponents:make_duel_env``, ``agents.opponents:make_duel_vector_env``,
``agents.meta.meta_env:DirectorEnv``)."""

from gymnasium.envs.registration import register, registry

# Each entry: (id, entry point, register kwargs). Tests loop over this list.
SANDBOX_ENVS: list[tuple[str, str, dict]] = [
    # gym.make resolves the opponent spec in agents (agents.opponents); gym.make_vec picks the natively
    # batched duel, whose opponent spec is resolved in agents too
    ("sandbox/Duel-v0", "agents.opponents:make_duel_env",
     {"vector_entry_point": "agents.opponents:make_duel_vector_env"}),
    ("sandbox/Stealth-v0", "envs.stealth.env:StealthEnv",
     {"vector_entry_point": "envs.stealth.vector:StealthVectorEnv"}),
    ("sandbox/Director-v0", "agents.meta.meta_env:DirectorEnv", {}),
]


def _register_all() -> None:
    for env_id, entry_point, kwargs in SANDBOX_ENVS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, **kwargs)


_register_all()
