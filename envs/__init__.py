"""Gymnasium environments of the sandbox: the fighting duel (``envs.duel``) and the stealth grid
(``envs.stealth``). Every ``gymnasium.register`` call of the project lives in this file, so importing
``envs`` makes every ``sandbox/*`` id available to ``gymnasium.make`` (and, for the ids with a natively
batched env, its ``vector_entry_point`` to ``gymnasium.make_vec``)."""

from gymnasium.envs.registration import register, registry

# Each entry: (id, entry point, register kwargs). Tests loop over this list.
SANDBOX_ENVS: list[tuple[str, str, dict]] = [
    ("sandbox/Duel-v0", "envs.duel.env:DuelEnv", {}),
    ("sandbox/Stealth-v0", "envs.stealth.env:StealthEnv",
     {"vector_entry_point": "envs.stealth.vector:StealthVectorEnv"}),
    ("sandbox/Director-v0", "agents.meta.meta_env:DirectorEnv", {}),
]


def _register_all() -> None:
    for env_id, entry_point, kwargs in SANDBOX_ENVS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, **kwargs)


_register_all()
