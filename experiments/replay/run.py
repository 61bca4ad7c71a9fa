"""``sandbox replay TRACE... --html FILE``: trace files made into one replay page (their episodes in order)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReplayConfig:
    traces: list[str] = field(default_factory=list, metadata={"argparse": {"nargs": "+"}})  # trace files (.json)
    html: str | None = None  # the page to write, FILE.html (one self-contained file)
    title: str = "game-ai-sandbox replay"  # the page's heading
    force: bool = False  # replace an existing --html file


def replay(cfg: ReplayConfig) -> int:
    """Read every trace (untrusted: size-limited, checked), merge their episodes, write the page."""
    import os

    from experiments.options import CliError
    from experiments.replay.page import write_page
    from experiments.replay.trace import MAX_EPISODES, load_trace, make_trace
    from experiments.runfolder import claim_file

    if not cfg.html or not cfg.html.lower().endswith((".html", ".htm")):
        raise CliError("give the page to write with --html FILE.html")
    claim_file(cfg.html, force=cfg.force, option="--html")
    episodes: list[dict] = []
    for path in cfg.traces:
        try:
            episodes += load_trace(path)["episodes"]
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if len(episodes) > MAX_EPISODES:
        raise CliError(f"the traces hold {len(episodes)} episodes; a page holds at most {MAX_EPISODES}")
    try:
        written = write_page(cfg.html, make_trace(episodes), cfg.title)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote the replay page of {len(episodes)} episode(s) from {len(cfg.traces)} trace(s) "
          f"({os.path.getsize(written) / 1e6:.2f} MB) to {written}")
    return 0
