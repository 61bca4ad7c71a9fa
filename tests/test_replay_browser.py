"""The replay page in a real browser: headless Chromium (Debian's package, which .ci/run installs) driven by
playwright. Known answers: pixels at the positions the trace gives, in the watcher's colours.

Skipped with a reason where there is no Chromium or no playwright."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from experiments.cli import main
from experiments.replay import trace as T
from experiments.replay.page import build_page, page_html

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser")) if p and os.path.exists(p)), None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    profile = tempfile.mkdtemp(prefix="replay-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                       viewport={"width": 1000, "height": 900})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """A page opened from disk, with its console errors and failed requests collected."""

    def __init__(self, context, path):
        self.page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(f"file://{path}")

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)

    def frame(self) -> int:
        return int(self.page.get_attribute("#view", "data-frame"))

    def pixel(self, x: float, y: float) -> tuple[int, int, int]:
        rgba = self.page.evaluate(
            "([x, y]) => Array.from(document.getElementById('view').getContext('2d').getImageData(x, y, 1, 1).data)",
            [int(x), int(y)])
        return tuple(rgba[:3])

    def close(self) -> None:
        self.page.close()


def near(a, b, tol: int = 2) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def duel_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("duel")
    trace, page = folder / "duel.json", folder / "duel.html"
    assert main(["watch", "duel", "--p1", "scripted:hard", "--p2", "scripted:zoner", "--seed", "7",
                 "--round-seconds", "5", "--trace", str(trace), "--html", str(page)]) == 0
    return T.load_trace(trace), page


def test_the_duel_page_loads_without_errors_or_requests(browser, duel_page):
    data, path = duel_page
    page = Page(browser, path)
    assert page.frame() == 0
    assert page.page.is_hidden("#error")
    assert page.page.locator("#episode option").count() == 1
    assert page.errors == []
    assert page.requests == [f"file://{path}"]  # the page itself, nothing else
    page.close()


def head_point(episode, frame: int, side: int):
    """A pixel inside fighter ``side``'s head at ``frame`` (away from the eye), from the trace alone."""
    c = episode["constants"]
    row = episode["frames"][frame]["f"][side]
    pose = episode["poses"][row[T.FIGHTER_FIELDS.index("pose")]]
    k = c["joints"].index("head")
    hx, hy = row[0] + pose[2 * k] * row[2], c["floor"] - (row[1] + pose[2 * k + 1])
    return hx - 4 * row[2], hy + 4  # behind and below the head's centre: the eye is ahead and above


def test_stepping_puts_the_fighters_where_the_trace_says(browser, duel_page):
    data, path = duel_page
    episode = data["episodes"][0]
    page = Page(browser, path)
    decisions = [i for i, f in enumerate(episode["frames"]) if "d" in f]
    assert decisions[:3] == [1, 1 + episode["frame_skip"], 1 + 2 * episode["frame_skip"]]
    page.press("ArrowRight", 10)  # ten decisions: to the first tick of the tenth
    frame = page.frame()
    assert frame == decisions[9]
    look = T.FIGHTER_FIELDS.index("look")
    for side in (0, 1):
        row = episode["frames"][frame]["f"][side]
        colour = tuple(episode["constants"]["colors"][side])
        if row[look]:  # hurt: the watcher brightens the body
            colour = tuple(min(255, int(v * 1.25)) for v in colour)
        x, y = head_point(episode, frame, side)
        assert near(page.pixel(x, y), colour), (side, x, y, page.pixel(x, y))
        assert near(page.pixel(x, y - 60), (24, 26, 36))  # above the head: the stage's background
    # and back: Left steps to the previous decision
    page.press("ArrowLeft")
    assert page.frame() == decisions[8]
    assert page.errors == []
    page.close()


def test_the_hitbox_overlay_draws_the_hurtboxes(browser, duel_page):
    data, path = duel_page
    episode = data["episodes"][0]
    page = Page(browser, path)
    page.press("ArrowRight", 5)
    frame = page.frame()
    floor = episode["constants"]["floor"]
    hurt = T.FIGHTER_FIELDS.index("hurt")
    x0, x1, y0, y1 = episode["frames"][frame]["f"][1][hurt:hurt + 4]
    at = ((x0 + x1) // 2, floor - y1)  # the middle of the hurtbox's top edge
    assert not near(page.pixel(*at), (60, 255, 60))
    page.press("Tab")  # bars -> bars + hitboxes, as in the watcher
    assert page.page.is_checked("#opt-hitboxes")
    assert near(page.pixel(*at), (60, 255, 60), tol=0)
    page.page.click("#opt-hitboxes")  # the checkbox turns it off again
    assert not near(page.pixel(*at), (60, 255, 60))
    # the bars: P1's stick bars under the stage, in P1's colour where its distribution is not zero
    page.page.click("#opt-bars")
    assert near(page.pixel(12, episode["constants"]["height"] + 90), (18, 19, 26))  # bars off: the panel's ground
    assert page.errors == []
    page.close()


@pytest.fixture(scope="module")
def stealth_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stealth")
    trace, page = folder / "stealth.json", folder / "stealth.html"
    assert main(["watch", "stealth", "--p1", "planner", "--level", "courtyard", "--seed", "3",
                 "--trace", str(trace), "--html", str(page)]) == 0
    return T.load_trace(trace), page


def cell_xy(level, cell: int, dx: float = 0.5, dy: float = 0.5):
    px = level["cell_px"]
    ox, oy = (640 - level["width"] * px) // 2, (640 - level["height"] * px) // 2
    r, c = divmod(cell, level["width"])
    return ox + (c + dx) * px, oy + (r + dy) * px


def test_the_stealth_player_is_drawn_in_its_cell(browser, stealth_page):
    data, path = stealth_page
    episode = data["episodes"][0]
    page = Page(browser, path)
    page.press("ArrowRight", 6)
    frame = page.frame()
    assert frame == 6
    cell = episode["frames"][frame]["c"]
    assert near(page.pixel(*cell_xy(episode["level"], cell)), (40, 96, 200))  # the watcher's player blue
    previous = episode["frames"][frame - 1]["c"]
    if previous != cell:
        assert not near(page.pixel(*cell_xy(episode["level"], previous)), (40, 96, 200))
    assert page.errors == []
    page.close()


def test_stealth_overlay_toggles_change_their_cells(browser, stealth_page):
    data, path = stealth_page
    episode = data["episodes"][0]
    level = episode["level"]
    frame0 = episode["frames"][0]
    busy = set(level["watched"][frame0["ph"]]) | set(level["watched"][(frame0["ph"] + 1) % level["period"]]) | \
        set(frame0.get("path", [])) | {g[0] for g in level["guards"][frame0["ph"]]} | {level["start"], level["goal"]}
    walls = "".join(level["walls"])
    cell = next(k for k, v in enumerate(level["threat"]) if v > 0 and k not in busy and walls[k] != "#"
                and level["hiding"][k] == 0)
    at = cell_xy(level, cell, 0.3, 0.3)
    page = Page(browser, path)
    with_threat = page.pixel(*at)
    assert not near(with_threat, (236, 233, 224))  # tinted
    page.page.click("#opt-threat")
    assert near(page.pixel(*at), (236, 233, 224), tol=0)  # the floor again
    # cones: a watched cell loses its colour when the cones are off
    watched = next(k for k in level["watched"][frame0["ph"]] if k not in set(frame0.get("path", [])) and
                   k not in {g[0] for g in level["guards"][frame0["ph"]]})
    at = cell_xy(level, watched, 0.3, 0.3)
    page.page.click("#opt-hiding")
    assert near(page.pixel(*at), (246, 196, 120), tol=0)
    page.page.click("#opt-cones")
    assert not near(page.pixel(*at), (246, 196, 120))
    assert page.errors == []
    page.close()


@pytest.mark.parametrize("payload, words", [
    ("{not json", "not valid JSON"),
    ('{"format": "game-ai-sandbox-trace", "version": 2, "episodes": []}', "version 2 is not supported"),
    ('{"format": "game-ai-sandbox-trace", "version": 1, "episodes": [{"game": "duel", "title": "x", '
     '"frames": [{"t": 0}]}]}', "episode 0"),
])
def test_a_corrupt_trace_shows_an_error_not_a_blank_canvas(browser, tmp_path, payload, words):
    path = tmp_path / "bad.html"
    path.write_text(page_html(payload))
    page = Page(browser, path)
    assert page.page.is_visible("#error")
    message = page.page.text_content("#error")
    assert message.startswith("This replay cannot be shown:") and words in message
    assert near(page.pixel(5, 5), (60, 16, 16), tol=0)  # the canvas says so too
    assert page.errors == []
    page.close()


def test_markup_and_script_in_names_stay_text(browser, duel_page, tmp_path):
    data, _ = duel_page
    data = json.loads(json.dumps(data))
    evil = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    data["episodes"][0]["names"] = [evil, "<b>bold</b>"]
    data["episodes"][0]["title"] = evil
    data["episodes"][0]["constants"]["move_names"][1] = '<img src=y onerror="window.__pwned = 3">'
    path = tmp_path / "evil.html"
    path.write_text(build_page(data))
    page = Page(browser, path)
    page.press("ArrowRight", 20)
    assert page.page.evaluate("window.__pwned") is None
    assert page.page.locator("img").count() == 0 and page.page.locator("b").count() == 0
    assert evil in page.page.text_content("#episode")
    assert page.page.is_hidden("#error")
    assert page.errors == []
    page.close()


def test_a_page_holds_several_episodes(browser, duel_page, stealth_page, tmp_path):
    episodes = duel_page[0]["episodes"] + stealth_page[0]["episodes"]
    path = tmp_path / "both.html"
    path.write_text(build_page(T.make_trace(episodes)))
    page = Page(browser, path)
    assert page.page.locator("#episode option").count() == 2
    page.page.select_option("#episode", "1")
    assert page.page.get_attribute("#view", "data-episode") == "1"
    assert page.page.evaluate("document.getElementById('view').width") == 900  # the stealth layout
    assert page.errors == []
    page.close()
