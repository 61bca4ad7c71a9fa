"""Gymnasium environments of the sandbox: the fighting duel (``envs.duel``) and the stealth grid
(``envs.stealth``). Every ``gymnasium.register`` call of the project lives in this file, so importing
``envs`` makes every ``sandbox/*`` id available to ``gymnasium.make``."""

from gymnasium.envs.registration import register, registry

# Each entry: (id, entry point, register kwargs). Tests loop over this list.
SANDBOX_ENVS: list[tuple[str, str, dict]] = [
    # gym.make_vec picks the natively batched duel; the opponent spec is resolved in agents
    ("sandbox/Duel-v0", "envs.duel.env:DuelEnv",
     {"vector_entry_point": "agents.character.batched:make_duel_vector_env"}),
    ("sandbox/Stealth-v0", "envs.stealth.env:StealthEnv", {}),
    ("sandbox/Director-v0", "agents.meta.meta_env:DirectorEnv", {}),
]


def _register_all() -> None:
    for env_id, entry_point, kwargs in SANDBOX_ENVS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, **kwargs)


_register_all()
