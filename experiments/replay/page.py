"""The replay page: one self-contained HTML file holding a trace, its renderer and its styles.

The page needs no network and no build step: :func:`page_html` pastes ``assets/replay.js`` and
``assets/replay.css`` and the trace's JSON into one file. The trace goes in a ``<script type="application/json">``
element with ``<``, ``>`` and ``&`` escaped as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (so no text in it can close the
element), and the page reads it with ``JSON.parse`` and draws it on a canvas; text from the trace reaches the
page only through ``textContent`` and ``fillText``.
"""

from __future__ import annotations

import html
import os
from importlib import resources
from pathlib import Path

from experiments.replay.trace import MAX_TRACE_BYTES, check_trace, make_trace, trace_text

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; \
style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
{css}</style>
</head>
<body data-max-bytes="{max_bytes}">
<header>
<h1>{title}</h1>
<select id="episode" aria-label="episode"></select> <span id="count" class="muted"></span>
<label class="muted">open a trace file: <input type="file" id="open" accept=".json,application/json"></label>
</header>
<div id="error" class="error" role="alert" hidden></div>
<div class="controls">
<button id="play" type="button">Play</button>
<button id="back" type="button" title="Left arrow">&#9664; step</button>
<button id="fwd" type="button" title="Right arrow">step &#9654;</button>
<label>speed <select id="speed">
<option value="0.25">0.25x</option><option value="0.5">0.5x</option><option value="1" selected>1x</option>
<option value="2">2x</option><option value="4">4x</option><option value="8">8x</option></select></label>
<input type="range" id="scrub" min="0" max="0" value="0" aria-label="frame"> <span id="where" class="muted"></span>
<span id="duel-opts"><label><input type="checkbox" id="opt-bars" checked> bars</label>
<label><input type="checkbox" id="opt-hitboxes"> hitboxes</label></span>
<span id="stealth-opts" hidden><label><input type="checkbox" id="opt-cones" checked> guard cones</label>
<label><input type="checkbox" id="opt-threat" checked> threat</label>
<label><input type="checkbox" id="opt-hiding" checked> hiding spots</label>
<label><input type="checkbox" id="opt-path" checked> safe path</label></span>
</div>
<canvas id="view" width="800" height="656"></canvas>
<p class="muted">Keys as in <code>sandbox watch</code>: Space play / pause, Right arrow one decision (Left: back),
+ / &minus; speed, R restart, Tab next overlay. Written by game-ai-sandbox (<code>sandbox watch --html</code>,
<code>sandbox replay</code>); the trace format is docs/replay.md.</p>
<script type="application/json" id="trace">{payload}</script>
<script>
{js}</script>
</body>
</html>
"""


def asset(name: str) -> str:
    return resources.files("experiments.replay").joinpath("assets", name).read_text(encoding="utf-8")


def embed_json(text: str) -> str:
    """JSON text made safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` only occur inside JSON strings,
    where their ``\\u`` escapes mean the same."""
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page_html(payload: str, title: str = "game-ai-sandbox replay") -> str:
    """The page around ``payload``, the trace's JSON text as given (the page itself checks it and shows what is
    wrong with it)."""
    return TEMPLATE.format(title=html.escape(title), css=asset("replay.css"), js=asset("replay.js"),
                           payload=embed_json(payload), max_bytes=MAX_TRACE_BYTES)


def build_page(trace: dict, title: str = "game-ai-sandbox replay") -> str:
    """The page of a checked trace."""
    return page_html(trace_text(check_trace(trace, "<trace>")), title)


def write_page(path: str | os.PathLike, trace: dict, title: str = "game-ai-sandbox replay") -> Path:
    from envs.fileio import atomic_write_text

    return atomic_write_text(path, build_page(trace, title))


def write_outputs(tracer, *, trace: str | None, html: str | None, what: str) -> None:
    """After a watch session: the trace and / or the page of what ``tracer`` recorded (the episode in progress
    included, unfinished), and one line each saying where they went."""
    from experiments.replay.trace import write_trace

    episodes = tracer.recorded()
    if not episodes:
        print("sandbox watch: nothing was shown, so no trace or page was written", flush=True)
        return
    data = make_trace(episodes)
    n = len(episodes)
    for path, write in ((trace, write_trace), (html, write_page)):
        if path is None:
            continue
        written = write(path, data)
        kind = "trace" if write is write_trace else "replay page"
        print(f"wrote the {kind} of {what} ({n} episode{'s' if n != 1 else ''}, "
              f"{os.path.getsize(written) / 1e6:.2f} MB) to {written}")
