"""Directors (agents.meta): known-answer convergence, direction, pacing, persistence, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.meta import (
    FixedDirector,
    LearnedDirector,
    Phase,
    RuleDirector,
    SyntheticPlayer,
    in_band_fraction,
    logistic_update,
    rolling_mean,
)
from agents.meta.director import logit, sigmoid


def run_session(director, player: SyntheticPlayer, episodes: int, seed: int) -> tuple[list[float], list[bool]]:
    """Difficulties played and outcomes of ``episodes`` episodes of ``player`` under ``director``."""
    rng = np.random.default_rng(seed)
    played, outcomes = [], []
    for _ in range(episodes):
        played.append(director.difficulty)
        won = player.play(director.difficulty, rng)
        outcomes.append(won)
        director.observe(won)
    return played, outcomes


# ---- the math, hand-worked -------------------------------------------------------------------------


def test_logistic_update_hand_worked():
    # mean 0.5, var 0.1, slope 8, a win at d = 0.5: p = 0.5, precision 10 + 64 * 0.25 = 26
    mean, var = logistic_update(0.5, 0.1, True, 0.5, 8.0)
    assert mean == pytest.approx(0.5 + 8 * 0.5 / 26)
    assert var == pytest.approx(1 / 26)
    # a loss moves the mean down by the same amount
    mean, _ = logistic_update(0.5, 0.1, False, 0.5, 8.0)
    assert mean == pytest.approx(0.5 - 8 * 0.5 / 26)
    # an expected outcome (a win at p ~ 1) teaches almost nothing
    mean, _ = logistic_update(0.9, 0.1, True, 0.0, 8.0)
    assert mean - 0.9 < 1e-3


def test_sigmoid_logit_inverse_and_win_model():
    for p in (0.05, 0.3, 0.5, 0.7, 0.95):
        assert sigmoid(logit(p)) == pytest.approx(p)
    assert SyntheticPlayer(skill=0.4, slope=6).win_probability(0.4) == pytest.approx(0.5)
    assert SyntheticPlayer(skill=0.4, slope=6).win_probability(0.4 - logit(0.8) / 6) == pytest.approx(0.8)


def test_rolling_mean_and_in_band_fraction():
    np.testing.assert_allclose(rolling_mean([1, 0, 1, 1], 2), [1.0, 0.5, 0.5, 1.0])
    alternating = [i % 2 == 0 for i in range(60)]
    assert in_band_fraction(alternating) == 1.0  # every window holds 10 wins of 20
    assert in_band_fraction([True] * 60) == 0.0
    # 12 wins of 20 = 0.6 is on the edge of 0.5 +- 0.1: inside; 13 of 20 is outside
    assert in_band_fraction(([True] * 12 + [False] * 8) * 3, warmup=19) == pytest.approx(1.0)
    assert in_band_fraction([True] * 13 + [False] * 7, warmup=19) == 0.0


# ---- known-answer convergence ---------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.5, 0.7])
@pytest.mark.parametrize("gain", [0.0, 2.0])
def test_rule_director_converges_to_the_analytic_difficulty(target, gain):
    """P(win | d) = sigmoid(5 (0.62 - d)) (the director's model assumes slope 8: a wrong slope must not
    bias the difficulty). The difficulty with win rate ``target`` is d* = 0.62 - logit(target) / 5
    (0.62 for 0.5, 0.4505 for 0.7). Tolerance: the mean difficulty of episodes 300..1000 is within
    0.05 of d* (20 seeds tried while writing this test: worst error 0.042)."""
    d_star = 0.62 - logit(target) / 5.0
    for seed in range(3):
        director = RuleDirector(target=target, gain=gain)
        played, outcomes = run_session(director, SyntheticPlayer(skill=0.62, slope=5.0), 1000, seed)
        assert abs(np.mean(played[300:]) - d_star) < 0.05
        assert abs(np.mean(outcomes[300:]) - target) < 0.06


def test_rule_director_tracks_a_step_change_in_skill():
    """Skill 0.3 jumps to 0.7 at episode 300: the difficulty follows within 30 episodes and settles
    within 0.05 of the new analytic difficulty 0.7."""
    for seed in range(3):
        player = SyntheticPlayer(skill=0.3, slope=8.0, jump_at=300, jump=0.4)
        played, _ = run_session(RuleDirector(), player, 600, seed)
        assert abs(np.mean(played[150:300]) - 0.3) < 0.05
        assert any(d > 0.6 for d in played[300:330]), "the director did not follow the jump"
        assert abs(np.mean(played[350:]) - 0.7) < 0.05


def test_rule_director_keeps_an_improving_player_in_the_channel():
    """A learner (skill 0.1 -> 0.9 over 200 episodes): in 0.5 +- 0.1 for >= 80% of post-warm-up
    episodes; a fixed difficulty of 0.5 is not."""
    fractions, fixed = [], []
    for seed in range(5):
        _, outcomes = run_session(RuleDirector(), SyntheticPlayer(skill=0.1, slope=8.0, improve=0.004), 200, seed)
        fractions.append(in_band_fraction(outcomes))
        _, outcomes = run_session(FixedDirector(0.5), SyntheticPlayer(skill=0.1, slope=8.0, improve=0.004), 200,
                                  seed)
        fixed.append(in_band_fraction(outcomes))
    assert np.mean(fractions) >= 0.8
    assert np.mean(fixed) < 0.5


# ---- direction ------------------------------------------------------------------------------------


def test_difficulty_rises_after_wins_falls_after_losses_and_stays_in_range():
    director = RuleDirector()
    seen = [director.difficulty]
    for _ in range(200):
        director.observe(True)
        seen.append(director.difficulty)
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert seen[5] > seen[0] and seen[-1] == 1.0
    seen = [director.difficulty]
    for _ in range(400):
        director.observe(False)
        seen.append(director.difficulty)
    assert seen[-1] == 0.0 and seen[10] < seen[0]
    assert all(0.0 <= d <= 1.0 for d in seen)
    # from the prior, a single loss lowers and a single win raises the next difficulty
    up, down = RuleDirector(), RuleDirector()
    up.observe(True)
    down.observe(False)
    assert down.difficulty < 0.5 < up.difficulty


# ---- pacing ---------------------------------------------------------------------------------------


def test_pacing_cycles_build_up_peak_relax_with_hand_worked_intensity():
    """near_miss_weight 0.1, decay 0.7, peak at 0.8, relax below 0.3 after >= 2 episodes.
    Won episodes with 5 near-misses: intensity 0.5, then 0.85 -> PEAK. Then no near-misses:
    0.595 (peak 1), 0.4165 (peak 2 -> RELAX), 0.2916 (relax 1), 0.2041 (relax 2 -> BUILD_UP)."""
    paced = RuleDirector(pacing=True)
    phases, offsets = [], []
    for k in [5, 5, 0, 0, 0, 0]:
        paced.observe(True, near_misses=k)
        phases.append(paced.phase)
        offsets.append(paced.offset)
        assert paced.difficulty == pytest.approx(min(max(paced.flow_difficulty + paced.offset, 0.0), 1.0))
    assert paced.intensity == pytest.approx(0.85 * 0.7**4)
    assert phases == [Phase.BUILD_UP, Phase.PEAK, Phase.PEAK, Phase.RELAX, Phase.RELAX, Phase.BUILD_UP]
    assert offsets == pytest.approx([0.03, 0.15, 0.15, -0.15, -0.15, 0.0])
    paced.observe(False, near_misses=9)  # a loss with 9 near-misses: 0.143 + 0.9 + 0.3 -> capped at 1
    assert paced.intensity == 1.0 and paced.phase == Phase.PEAK


# ---- persistence ----------------------------------------------------------------------------------


def test_rule_director_state_dict_round_trips_through_json():
    a = RuleDirector(pacing=True)
    rng = np.random.default_rng(0)
    for _ in range(37):
        a.observe(bool(rng.random() < 0.6), near_misses=int(rng.integers(4)))
    state = json.loads(json.dumps(a.state_dict()))
    b = RuleDirector(pacing=True)
    b.load_state_dict(state)
    assert b.difficulty == a.difficulty and b.state_dict() == a.state_dict()
    for _ in range(30):  # and the resumed session continues identically
        won, k = bool(rng.random() < 0.5), int(rng.integers(4))
        a.observe(won, near_misses=k)
        b.observe(won, near_misses=k)
        assert a.difficulty == b.difficulty
    with pytest.raises(ValueError, match="not a RuleDirector state"):
        b.load_state_dict(FixedDirector(0.3).state_dict())


class HalfStepPolicy:
    """A stand-in policy: +0.5 (a 0.1 difficulty step) after a win, -0.5 after a loss."""

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return np.array([0.5 if obs[19] > 0 else -0.5], dtype=np.float32), state


def test_learned_director_state_dict_round_trips_and_applies_its_policy():
    a = LearnedDirector(HalfStepPolicy())
    a.observe(True)
    assert a.difficulty == pytest.approx(0.6)
    a.observe(False)
    a.observe(False)
    assert a.difficulty == pytest.approx(0.4)
    b = LearnedDirector(HalfStepPolicy())
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert b.state_dict() == a.state_dict()
    a.observe(True)
    b.observe(True)
    assert a.difficulty == b.difficulty == pytest.approx(0.5)


def test_fixed_director_round_trips():
    a = FixedDirector(0.25)
    a.observe(True)
    b = FixedDirector()
    b.load_state_dict(a.state_dict())
    assert b.difficulty == 0.25 and b.episodes == 1


# ---- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "hard", None])
def test_out_of_range_difficulty_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"difficulty must be .*\[0, 1\]"):
        FixedDirector(bad)
    with pytest.raises(ValueError, match=r"difficulty must be .*\[0, 1\]"):
        SyntheticPlayer().win_probability(bad)


def test_bad_director_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="target"):
        RuleDirector(target=1.2)
    with pytest.raises(ValueError, match="band"):
        RuleDirector(band=0.0)
    with pytest.raises(ValueError, match="slope"):
        RuleDirector(slope=-1)
    with pytest.raises(TypeError, match="predict"):
        LearnedDirector(object())
