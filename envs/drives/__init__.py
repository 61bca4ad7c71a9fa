"""Drives: what a character wants, and rewards that come from its own body (the *Creatures* way).

``table`` holds the validated TOML drive tables (shipped ones in ``tables/GAME/*.toml``, every game a
``"default"``) and the rewards' math (Keramati & Gutkin's drive, the creatures reward); ``state`` the
levels of N envs and their vectorised update. The games compute their events and take ``drives=``
(``envs.stealth``, ``envs.duel``); see docs/drives.md.

Imports: numpy and ``envs.fileio`` only; no game (the games import this package's modules).
"""
