"""Replays in the browser: traces of what ``sandbox watch`` shows, and self-contained HTML pages that play them.

    sandbox watch --html runs/watch/duel.html          # the bundled duel agents, one round, as a page
    sandbox watch stealth --trace runs/watch/stealth.json
    sandbox replay runs/watch/stealth.json --html stealth.html

Modules: ``trace`` (the format: recorders fed by the watcher's sessions, one duel round without a session,
reading and writing with a size limit), ``page`` (the page: ``assets/replay.js`` and ``assets/replay.css``
with the trace, inline, in one file), ``run`` (``sandbox replay``). The format is docs/replay.md.
May import envs, agents and experiments.watch.
"""
