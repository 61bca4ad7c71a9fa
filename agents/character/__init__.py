"""Character AI: scripted fighters for the duel, written once. The decision logic (perceive the distance,
both fighters' states and incoming projectiles from the fighter's own view of the observation; decide an
:class:`Intent` such as approach, keep distance, attack, punish, guard, anti-air, throw; turn it into
controller input) is one numba kernel over N rounds (``fighter``), with its own counter-based random
stream (``stream``, SplitMix64). :class:`BatchedScripted` runs it for N rounds; :class:`ScriptedFighter`
(the single-env agent) is a batch of one. :class:`CharacterParams` holds the difficulty knobs (reaction
delay in ticks, error rate, aggression, guard probability...), built from the presets easy/normal/hard, a
continuous difficulty in [0, 1], and the styles rushdown, zoner and turtle (``params``). Spec:
``scripted:NAME``. ``batched`` resolves batched opponents and is the batched duel's entry point; ``arena``
plays head-to-head rounds of two agents on the rules, through the duel's one decision step.

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from agents.character.scripted import PRESETS, STYLES, CharacterParams, Intent, ScriptedFighter, make_scripted

__all__ = ["PRESETS", "STYLES", "CharacterParams", "Intent", "ScriptedFighter", "make_scripted"]
