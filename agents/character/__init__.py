"""Character AI: scripted fighters for the duel. :class:`ScriptedFighter` perceives (distance, both
fighters' states, incoming projectiles, from its own view of the observation), decides an
:class:`Intent` (approach, keep distance, attack, punish, guard, anti-air, throw...) and turns it into
controller input. :class:`CharacterParams` holds the difficulty knobs (reaction delay in ticks, error
rate, aggression, guard probability...), built from the presets easy/normal/hard, a continuous
difficulty in [0, 1], and the styles rushdown, zoner and turtle. Spec: ``scripted:NAME``. ``arena``
plays head-to-head rounds of two agents on the rules, through the duel's one decision step.

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from agents.character.scripted import PRESETS, STYLES, CharacterParams, Intent, ScriptedFighter, make_scripted

__all__ = ["PRESETS", "STYLES", "CharacterParams", "Intent", "ScriptedFighter", "make_scripted"]
