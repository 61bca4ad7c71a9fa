"""A readable reference of the scripted fighter, for tests only (the package never imports it).

:class:`ReferenceFighter` is the fighter's decision logic in plain Python, one observation at a time, as it
was written before the kernel became its only body; :class:`SplitMix64` is the random stream in plain
Python integers, from the algorithm's definition. The kernel (:mod:`agents.character.fighter`) must play
exactly like the two together.
"""

from __future__ import annotations

from collections import deque

from agents.character.params import PREFERRED_GAP, CharacterParams, Intent
from envs.duel import env as E
from envs.duel.rules import FRAME_DATA, N_BUTTON, STAGE_WIDTH, Button, FState, Move, Stick

MASK64 = (1 << 64) - 1


def splitmix64_output(state: int) -> int:
    """SplitMix64's output function of a 64-bit state (Steele, Lea and Flood 2014)."""
    z = state & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class SplitMix64:
    """SplitMix64 as usually written: the state advances by GAMMA, each output mixes the new state."""

    GAMMA = 0x9E3779B97F4A7C15

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next64(self) -> int:
        self.state = (self.state + self.GAMMA) & MASK64
        return splitmix64_output(self.state)

    def random(self) -> float:
        return (self.next64() >> 11) / 2.0**53

    def randrange(self, n: int) -> int:
        threshold = (1 << 64) % n
        while True:
            x = self.next64()
            if x >= threshold:
                return x % n


_W = float(STAGE_WIDTH)
_REACH = [0] + [FRAME_DATA[Move(m)].reach for m in range(1, len(Move))]
_LEVEL = [None] + [int(FRAME_DATA[Move(m)].level) for m in range(1, len(Move))]


def _hot(obs: list[float], start: int, n: int) -> int:
    block = obs[start:start + n]
    return block.index(1.0) if 1.0 in block else 0


class ReferenceFighter:
    """The decision logic, one observation (a list of floats) at a time; ``draw`` has ``random()`` and
    ``randrange(n)``."""

    def __init__(self, params: CharacterParams, draw, frame_skip: int = 4):
        self.params, self.draw, self.frame_skip = params, draw, frame_skip
        self.seen: deque = deque()
        self.last_intent = Intent.WAIT

    def _act(self, intent, stick, button=Button.NONE):
        self.last_intent = intent
        return int(stick), int(button)

    def decide(self, cur: list[float]) -> tuple[int, int]:
        p = self.params
        self.seen.append(cur)
        delay = (p.reaction_ticks + self.frame_skip // 2) // self.frame_skip
        while len(self.seen) > delay + 1:
            self.seen.popleft()
        seen = self.seen[0]
        r = self.draw.random
        my_state = _hot(cur, E.SELF + E.F_STATE, 9)
        my_move = _hot(cur, E.SELF + E.F_MOVE, 9)
        free = my_state in (0, 1, 2, 3) and my_move == 0
        gap = cur[E.OBS_GAP] * _W
        opp_state = _hot(seen, E.OPP + E.F_STATE, 9)
        opp_move = _hot(seen, E.OPP + E.F_MOVE, 9)
        opp_phase = _hot(seen, E.OPP + E.F_PHASE, 3) + 1 if opp_move else 0
        opp_air = seen[E.OPP + E.F_Y] > 0.05
        opp_ahead = seen[E.OBS_DX] > 0
        proj_incoming = seen[E.OBS_OPP_PROJ] > 0.5 and seen[E.OBS_OPP_PROJ_DX] * seen[E.OBS_OPP_PROJ_VX] < 0
        proj_dist = abs(seen[E.OBS_OPP_PROJ_DX]) * _W
        my_proj = cur[E.SELF + E.F_PROJ] > 0.5
        advantage = cur[E.OBS_ADVANTAGE] * 30.0
        back_room = cur[E.OBS_BACK_WALL] * _W
        style = p.style
        act = self._act

        if p.idle_prob > 0.0 and r() < p.idle_prob:
            return act(Intent.IDLE, Stick.NEUTRAL)
        if my_state == FState.GRABBED:
            if r() < p.tech_prob:
                return act(Intent.ESCAPE, Stick.NEUTRAL, Button.SPECIAL)
            return act(Intent.WAIT, Stick.NEUTRAL)
        if r() < p.error_rate:
            a = self.draw.randrange(36)
            return act(Intent.MISTAKE, a // N_BUTTON, a % N_BUTTON)
        threat = opp_move != 0 and opp_phase in (1, 2) and opp_move not in (Move.THROW, Move.PROJECTILE)
        threat_level = _LEVEL[opp_move] if threat else None
        in_threat_range = threat and gap < _REACH[opp_move] + 30
        guard_stick = Stick.DOWN_BACK if threat_level == 2 else Stick.BACK

        if my_state == FState.AIR:
            if gap < 45 and my_move == 0 and r() < 0.6:
                return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
            return act(Intent.WAIT, Stick.NEUTRAL)
        if my_state == FState.BLOCKSTUN:
            return act(Intent.GUARD, guard_stick if threat else Stick.BACK)
        if not free:
            return act(Intent.WAIT, Stick.BACK if r() < p.guard_prob else Stick.NEUTRAL)

        if opp_air and opp_ahead and gap < 140:
            if r() < p.anti_air_prob:
                if gap < 45:
                    return act(Intent.ANTI_AIR, Stick.DOWN, Button.HEAVY)
                return act(Intent.GUARD, Stick.BACK)
        if in_threat_range and r() < p.guard_prob:
            return act(Intent.GUARD, guard_stick)
        if opp_move == Move.THROW and opp_phase == 1 and gap < 40 and r() < p.punish_prob:
            return act(Intent.PUNISH, Stick.NEUTRAL, Button.LIGHT)
        if proj_incoming and proj_dist < 160:
            jump_p = 0.5 if style == "rushdown" else 0.4 * p.aggression
            if 70 < proj_dist < 130 and r() < jump_p:
                return act(Intent.ESCAPE, Stick.UP_FORWARD)
            if not my_proj and proj_dist > 100 and r() < (1.0 if style == "zoner" else 0.5):
                return act(Intent.ZONE, Stick.DOWN, Button.SPECIAL)
            if r() < p.guard_prob:
                return act(Intent.GUARD, Stick.BACK)
        if opp_move == Move.PROJECTILE and opp_phase == 3 and 60 < gap < 150 and r() < p.punish_prob * 0.7:
            return act(Intent.PUNISH, Stick.UP_FORWARD)
        if (opp_phase == 3 or opp_state == FState.HITSTUN) and advantage > 4 and r() < p.punish_prob:
            if gap < 40 and advantage > 4:
                return act(Intent.PUNISH, Stick.NEUTRAL, Button.LIGHT)
            if gap < 65 and advantage > 10:
                return act(Intent.PUNISH, Stick.NEUTRAL, Button.HEAVY)
            if gap < 30 and advantage > 5:
                return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
        opp_blocking = (seen[E.OPP + E.F_GUARD_STAND] + seen[E.OPP + E.F_GUARD_CROUCH] > 0.5
                        or opp_state == FState.BLOCKSTUN)
        return self._neutral(r, gap, opp_blocking, my_proj, back_room)

    def _neutral(self, r, gap, opp_blocking, my_proj, back_room):
        p = self.params
        style = p.style
        act = self._act
        want = PREFERRED_GAP[style]
        if gap < 32:
            if r() < p.aggression:
                x = r()
                if opp_blocking and x < 0.45:
                    return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
                if x < 0.5:
                    return act(Intent.ATTACK, Stick.NEUTRAL, Button.LIGHT)
                if x < 0.7:
                    return act(Intent.ATTACK, Stick.DOWN, Button.LIGHT)
                if x < 0.8 and style == "rushdown":
                    return act(Intent.ATTACK, Stick.FORWARD, Button.HEAVY)
                if x < 0.9:
                    return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
                return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
            if style in ("zoner", "turtle") and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
            return act(Intent.GUARD, Stick.DOWN_BACK if r() < 0.5 else Stick.BACK)
        if gap < 60:
            if r() < p.aggression:
                x = r()
                if x < 0.45:
                    return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
                if x < 0.65 and gap < 50:
                    return act(Intent.ATTACK, Stick.DOWN, Button.LIGHT)
                return act(Intent.APPROACH, Stick.FORWARD)
            if style == "zoner" and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
            return act(Intent.GUARD, Stick.BACK if r() < 0.5 else Stick.DOWN_BACK)
        if style == "zoner" or (gap > 180 and r() < 0.25):
            if not my_proj and r() < 0.6:
                return act(Intent.ZONE, Stick.DOWN, Button.SPECIAL)
            if gap < want and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
        if style == "turtle" and gap < 200:
            if r() < p.aggression:
                return act(Intent.APPROACH, Stick.FORWARD)
            return act(Intent.GUARD, Stick.DOWN_BACK if r() < 0.5 else Stick.BACK)
        if style == "rushdown" and 90 < gap < 140 and r() < 0.15:
            return act(Intent.APPROACH, Stick.UP_FORWARD)
        if gap > want and r() < 0.4 + 0.6 * p.aggression:
            return act(Intent.APPROACH, Stick.FORWARD)
        return act(Intent.WAIT, Stick.NEUTRAL)
