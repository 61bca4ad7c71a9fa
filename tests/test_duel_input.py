"""The duel's human input (envs/duel/controls.py): the button latch and its buffer, real pygame events
under SDL's dummy video driver, the pad mapping with a stand-in controller, and the controls file."""

from __future__ import annotations

import pytest

pygame = pytest.importorskip("pygame")

from envs.duel import controls as C  # noqa: E402
from envs.duel.controls import BUFFER_TICKS, ButtonLatch, HumanAgent, load_controls  # noqa: E402
from envs.duel.rules import FRAME_DATA, Button, Move, Stick  # noqa: E402

L, H, S = int(Button.LIGHT), int(Button.HEAVY), int(Button.SPECIAL)


# ---- the latch, by hand ----------------------------------------------------------------------------
def test_a_press_between_decisions_comes_out_at_the_next_decision():
    latch = ButtonLatch()
    latch.press(L, tick=5)  # pressed and released between the decisions at ticks 4 and 8
    assert latch.take(now=8, lag=0, span=4) == L
    assert latch.take(now=12, lag=0, span=4) == 0  # once


def test_a_press_too_early_in_recovery_is_dropped():
    latch = ButtonLatch()
    assert BUFFER_TICKS == 6
    latch.press(L, tick=10)
    # the fighter acts on tick 12 + 5 + 1 = 18, more than 6 ticks after the press: dropped
    assert latch.take(now=12, lag=5, span=4) == 0
    assert latch.pending == []
    assert latch.take(now=16, lag=0, span=4) == 0  # not after either


def test_a_press_late_in_recovery_waits_for_the_first_free_decision():
    latch = ButtonLatch()
    latch.press(H, tick=16)
    assert latch.take(now=16, lag=4, span=4) == 0  # busy for this whole decision: it waits
    assert latch.pending  # still latched (deadline tick 22)
    assert latch.take(now=20, lag=0, span=4) == H  # acts on tick 21 <= 22


def test_a_press_always_counts_at_the_first_decision_after_it():
    latch = ButtonLatch(buffer=2)
    latch.press(L, tick=1)  # frame skip 8 > buffer: still seen at the next decision
    assert latch.take(now=8, lag=0, span=8) == L


def test_simultaneous_presses_special_first_then_expire():
    latch = ButtonLatch()
    latch.press(L, tick=3)
    latch.press(S, tick=3)
    assert latch.take(now=4, lag=0, span=4) == S
    assert latch.take(now=8, lag=14, span=4) == 0  # the move started: the light press runs out
    assert latch.pending == []


# ---- real events through the hub and the env's window (SDL dummy driver) ----------------------------
def _post_tap(key) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=0, unicode="", scancode=0))


@pytest.fixture
def window_env():
    from agents.opponents import make_duel_env

    envs = []

    def make(frame_skip):
        # P2 is a second human nobody plays: it stands still, so nothing interrupts P1
        env = make_duel_env(opponent="human:keyboard", render_mode="human", frame_skip=frame_skip)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()


def test_a_tap_between_two_decisions_reaches_the_next_decision(window_env):
    env = window_env(4)
    obs, _ = env.reset(seed=0)
    player = HumanAgent(player=1, input="keyboard", frame_skip=4)
    action, _ = player.predict(obs)
    assert tuple(action) == (Stick.NEUTRAL, 0)
    obs, *_ = env.step(action)
    _post_tap(pygame.K_z)  # down and up before the next decision: get_pressed never sees it
    env.render()  # the window drains the queue (as it does every tick); the player still gets it
    action, _ = player.predict(obs)
    assert tuple(action) == (Stick.NEUTRAL, L)
    obs, _, _, _, info = env.step(action)
    assert env.state.fighters[0].move == Move.JAB
    action, _ = player.predict(obs)
    assert action[1] == 0 and player.presses == 1 and player.out == 1


def _jab_then_press_at(env, player, delay):
    """Start a jab, press Z ``delay`` ticks later (frame skip 1: a decision every tick), and return
    the tick at which the second jab starts (None if it never does within 40 ticks)."""
    obs, _ = env.reset(seed=0)
    player.reset()
    _post_tap(pygame.K_z)
    env.render()
    for k in range(1, 45):
        if k == 1 + delay:
            _post_tap(pygame.K_z)
        action, _ = player.predict(obs)
        obs, *_ = env.step(action)
        f = env.state.fighters[0]
        if k > 1 and f.move == Move.JAB and f.frame == 1:
            return env.state.tick
    return None


def test_a_press_during_recovery_comes_out_when_the_buffer_allows_and_not_after(window_env):
    env = window_env(1)
    player = HumanAgent(player=1, input="keyboard", frame_skip=1)
    jab = FRAME_DATA[Move.JAB]
    # the first jab starts on tick 1 and ends on tick 1 + 15; the fighter is free again on tick 17
    free = 1 + jab.total + 1
    for delay in range(2, jab.total + 2):
        pressed = 1 + delay - 1  # the tick on screen when the second press is read
        started = _jab_then_press_at(env, player, delay)
        if free - pressed <= BUFFER_TICKS:
            assert started == max(free, pressed + 1), delay  # at the first free tick
        else:
            assert started is None, delay  # too early in the recovery: dropped, never comes out later


def test_the_watchers_human_slot_gets_presses_the_window_loop_drained():
    from envs.duel.controls import window_events
    from experiments.watch import Config, DuelSession

    pygame.display.init()
    pygame.display.set_mode((100, 100))
    try:
        session = DuelSession(Config(p1="human", p2="human", input="keyboard", seed=0))
        assert session.p1.frame_skip == session.skip == 4
        session.advance()  # P1's first decision: nothing pressed
        assert session.chosen[0] == (int(Stick.NEUTRAL), 0)
        for _ in range(3):
            session.advance()
        _post_tap(pygame.K_z)  # P1's key
        _post_tap(pygame.K_h)  # P2's special key
        assert any(ev.type == pygame.KEYDOWN for ev in window_events())  # the watcher's loop drains the queue
        session.advance()  # the next decision of both sides
        assert session.chosen[0] == (int(Stick.NEUTRAL), L)
        assert session.chosen[1] == (int(Stick.NEUTRAL), S)
        assert session.base.state.fighters[0].move == Move.JAB
    finally:
        pygame.display.quit()


# ---- the pad --------------------------------------------------------------------------------------
class StandInPad:
    """Just what the reader uses of pygame._sdl2.controller.Controller."""

    def __init__(self, instance_id, buttons=(), axes=None):
        self.instance_id = instance_id
        self.buttons, self.axes = set(buttons), dict(axes or {})

    def get_button(self, b):
        return b in self.buttons

    def get_axis(self, a):
        return self.axes.get(a, 0)


def _pad_press(agent, button, instance_id, tick=0):
    agent.feed(pygame.event.Event(pygame.CONTROLLERBUTTONDOWN, button=button, instance_id=instance_id), tick)


def test_pad_face_buttons_map_to_game_buttons_and_only_from_its_own_pad():
    pad = StandInPad(7)
    agent = HumanAgent(player=1, input="pad", pad=pad)
    for sdl, want in ((pygame.CONTROLLER_BUTTON_A, L), (pygame.CONTROLLER_BUTTON_B, H),
                      (pygame.CONTROLLER_BUTTON_X, S), (pygame.CONTROLLER_BUTTON_Y, S)):
        agent.latch.clear()
        _pad_press(agent, sdl, 7)
        assert [p[1] for p in agent.latch.pending] == [want]
    agent.latch.clear()
    _pad_press(agent, pygame.CONTROLLER_BUTTON_A, 8)  # another player's pad
    _pad_press(agent, pygame.CONTROLLER_BUTTON_START, 7)  # not a game button
    agent.feed(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_z), 0)  # keyboard ignored with input=pad
    assert agent.latch.pending == []


def test_pad_stick_from_the_dpad_or_the_left_stick_relative_to_facing():
    agent = HumanAgent(player=1, input="pad", pad=StandInPad(1, buttons={pygame.CONTROLLER_BUTTON_DPAD_LEFT}))
    assert agent.stick(facing=1) == Stick.BACK and agent.stick(facing=-1) == Stick.FORWARD
    tilt = {pygame.CONTROLLER_AXIS_LEFTX: 30000, pygame.CONTROLLER_AXIS_LEFTY: 30000}  # SDL: +y is down
    agent = HumanAgent(player=1, input="pad", pad=StandInPad(1, axes=tilt))
    assert agent.stick(facing=1) == Stick.DOWN_FORWARD
    small = {pygame.CONTROLLER_AXIS_LEFTX: 9000}  # inside the dead zone (0.5)
    assert HumanAgent(player=1, input="pad", pad=StandInPad(1, axes=small)).stick(facing=1) == Stick.NEUTRAL


def test_pads_go_to_players_in_plug_in_order_and_can_be_unplugged():
    saved = dict(C.HUB.pads)
    try:
        a, b = StandInPad(5), StandInPad(9)
        C.HUB.pads = {5: a, 9: b}
        p2 = HumanAgent(player=2, input="pad")
        assert p2.pad() == (9, b)
        _pad_press(p2, pygame.CONTROLLER_BUTTON_A, 9)
        assert len(p2.latch.pending) == 1
        C.HUB.dispatch([pygame.event.Event(pygame.CONTROLLERDEVICEREMOVED, instance_id=5)])
        assert p2.pad() == (None, None)  # one pad left: it is player 1's
    finally:
        C.HUB.pads = saved


def test_controls_file_remaps_keys_and_pad(tmp_path):
    path = tmp_path / "controls.toml"
    path.write_text('[keys.p1]\nlight = "j"\nup = "space"\n[pad]\nb = "special"\nx = "none"\ndeadzone = 0.3\n')
    controls = load_controls(path)
    assert controls.keys[1]["light"] == "j" and controls.keys[1]["up"] == "space"
    assert controls.keys[2]["light"] == "f"  # untouched defaults
    assert controls.pad["b"] == "special" and "x" not in controls.pad and controls.deadzone == 0.3
    agent = HumanAgent(player=1, input="auto", controls=controls, pad=StandInPad(3))
    agent.feed(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_j), 0)
    agent.feed(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_z), 0)  # z is no longer a button
    _pad_press(agent, pygame.CONTROLLER_BUTTON_B, 3)
    assert sorted(p[1] for p in agent.latch.pending) == [L, S]


@pytest.mark.parametrize("text, where", [
    ('[keys.p1]\nlight = "nosuchkey"\n', "keys.p1.light"),
    ('[keys.p1]\njump = "z"\n', "keys.p1.jump"),
    ('[keys.p3]\nup = "w"\n', "keys.p3"),
    ('[pad]\na = "kick"\n', "pad.a"),
    ('[pad]\nturbo = "light"\n', "pad.turbo"),
    ('[pad]\ndeadzone = 2\n', "pad.deadzone"),
    ('[mouse]\nx = 1\n', "[mouse]"),
    ('[keys.p1\n', "not valid TOML"),
])
def test_a_bad_controls_entry_is_one_line_naming_the_file_and_the_key(tmp_path, text, where):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_controls(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and where in msg and "\n" not in msg


def test_ticks_until_free_reads_the_lag_from_the_observation():
    from envs.duel import rules
    from envs.duel.controls import ticks_until_free
    from envs.duel.env import observe

    s = rules.initial_state()
    assert ticks_until_free(observe(s, 0)) == 0
    f = s.fighters[0]
    f.state, f.move, f.frame = int(rules.FState.ATTACK), int(Move.HEAVY), 20
    assert ticks_until_free(observe(s, 0)) == FRAME_DATA[Move.HEAVY].total - 20 + 1
    f.state, f.move, f.frame, f.stun = int(rules.FState.HITSTUN), 0, 0, 9
    assert ticks_until_free(observe(s, 0)) == 8
    # and the rules agree: a held button starts a move exactly after that many ignored ticks
    f.state, f.move, f.frame, f.stun = int(rules.FState.ATTACK), int(Move.JAB), 10, 0
    lag = ticks_until_free(observe(s, 0))
    for _ in range(lag):
        s, _ = rules.step(s, ((0, L), (0, 0)))
        assert not (s.fighters[0].move == Move.JAB and s.fighters[0].frame == 1)
    s, _ = rules.step(s, ((0, L), (0, 0)))
    assert s.fighters[0].move == Move.JAB and s.fighters[0].frame == 1
    assert lag == FRAME_DATA[Move.JAB].total - 10 + 1


def test_ticks_until_free_in_the_air_waits_for_the_landing():
    """An air attack with one tick left (JAB at frame 14 of 15: 15 - 14 + 1 = 2 ticks), high in a jump: the
    fighter can act again only on landing. From the apex (y = 136, vy = 0, gravity 1) y drops by 0, 1, 2, ...
    and reaches 0 after 17 ticks (136 - 17 * 16 / 2 = 0); falling at vy = -5 it drops 5, 6, 7, ... and is
    down after 13 (5 * 13 + 13 * 12 / 2 = 143 >= 136 > 126, the drop after 12)."""
    from envs.duel import rules
    from envs.duel.controls import ticks_until_free
    from envs.duel.env import observe

    assert (rules.MAX_JUMP_HEIGHT, rules.GRAVITY, FRAME_DATA[Move.JAB].total) == (136, 1, 15)
    s = rules.initial_state()
    f = s.fighters[0]
    f.state, f.move, f.frame, f.y, f.vy = int(rules.FState.AIR), int(Move.JAB), 14, rules.MAX_JUMP_HEIGHT, 0
    assert ticks_until_free(observe(s, 0)) == 17
    f.vy = -5
    assert ticks_until_free(observe(s, 0)) == 13
    f.y, f.vy = 1, -5  # about to land: the move's own end decides
    assert ticks_until_free(observe(s, 0)) == 2


def test_reset_keeps_only_presses_made_on_the_new_rounds_first_picture():
    agent = HumanAgent(player=1, input="keyboard")
    saved = C.HUB.tick
    try:
        C.HUB.tick = 0  # the env's reset has drawn tick 0
        agent.latch.press(L, 350)  # from the last round
        agent.latch.press(H, 0)  # made while the new round is on screen
        agent.reset()
        assert [p[1] for p in agent.latch.pending] == [H] and agent.presses == 1
    finally:
        C.HUB.tick = saved
