"""nets.on_policy: the one rollout routine of A2C and PPO (OnPolicyLearner.collect_rollout) and the env step
REINFORCE shares with it (step_envs), against numbers worked by hand on a scripted vector env: a truncated
episode bootstraps from the value of its *final* observation (not of the reset one that replaced it), a
terminated one from nothing, in every autoreset mode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from nets.on_policy import EnvStepper, OnPolicyLearner
from nets.policy_gradient import A2C, Reinforce
from nets.ppo import PPO

torch.set_num_threads(1)

# Each sub-env replays one episode forever: its observations, the final observation, and how it ends.
# Reward 1 per step. Env 0 is cut by a time limit after 3 steps, env 1 terminates after 2.
EPISODES = [((1.0, 2.0, 3.0), 10.0, "truncated"), ((4.0, 5.0), 20.0, "terminated")]


class ScriptedVectorEnv(gym.vector.VectorEnv):
    """Two scripted sub-envs (:data:`EPISODES`) written by hand as one vector env, in any autoreset mode."""

    def __init__(self, mode: str):
        self.num_envs = len(EPISODES)
        self.metadata = {"autoreset_mode": AutoresetMode(mode)}
        self.single_observation_space = gym.spaces.Box(-100.0, 100.0, shape=(1,), dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.mode = mode
        self.pos = np.zeros(self.num_envs, dtype=np.int64)
        self.pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: the next step only resets

    def _obs(self) -> np.ndarray:
        return np.array([[EPISODES[i][0][p]] for i, p in enumerate(self.pos)], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        mask = np.ones(self.num_envs, bool) if not options else np.asarray(options["reset_mask"], bool)
        self.pos[mask], self.pending[mask] = 0, False
        return self._obs(), {}

    def step(self, actions):
        obs = np.zeros((self.num_envs, 1), np.float32)
        rewards, term, trunc = np.zeros(self.num_envs), np.zeros(self.num_envs, bool), np.zeros(self.num_envs, bool)
        final = np.zeros((self.num_envs, 1), np.float32)
        has_final = np.zeros(self.num_envs, bool)
        for i, (states, last, how) in enumerate(EPISODES):
            if self.pending[i]:  # NEXT_STEP's reset step: no transition, no reward
                self.pos[i], self.pending[i] = 0, False
                obs[i] = states[0]
                continue
            rewards[i] = 1.0
            self.pos[i] += 1
            if self.pos[i] < len(states):
                obs[i] = states[self.pos[i]]
                continue
            term[i], trunc[i] = how == "terminated", how == "truncated"
            if self.mode == "SameStep":  # the reset observation now, the final one in the info
                final[i], has_final[i], self.pos[i] = last, True, 0
                obs[i] = states[0]
            else:  # NextStep shows the final observation and resets at the next step; Disabled waits for reset()
                obs[i] = last
                self.pending[i] = self.mode == "NextStep"
                self.pos[i] = 0
        info = {"final_obs": final, "_final_obs": has_final} if has_final.any() else {}
        return obs, rewards, term, trunc, info


def value_is_the_observation(learner: OnPolicyLearner) -> None:
    """Replace the critic by V(s) = s (exact in float32), so that every value in a rollout is known."""
    net = learner.policy
    net.vf_body = torch.nn.Identity()
    net.value = torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.value.weight.fill_(1.0)
        net.value.bias.zero_()


# Hand-worked, gamma = 0.5, rollout of T = 4 steps, rows (t) x columns (env 0, env 1); V(s) = s.
#
# SameStep (and Disabled, which sees the same transitions):
#   env 0: s = 1, 2, 3 | 1 ; step 2 truncated, final obs 10; V(s_T) = V(2) = 2. V(s_{t+1}) = 2, 3, 10, 2.
#     lambda 1: G3 = 1 + .5*2 = 2, G2 = 1 + .5*10 = 6 (the final obs, not the reset obs 1), G1 = 4, G0 = 3.
#     lambda .5 (gamma lambda = .25): delta = 1+1-1 = 1, 1+1.5-2 = .5, 1+5-3 = 3, 1+1-1 = 1;
#       A3 = 1, A2 = 3 (the episode ends there), A1 = .5 + .25*3 = 1.25, A0 = 1 + .25*1.25 = 1.3125.
#   env 1: s = 4, 5 | 4, 5 ; steps 1 and 3 terminated (final obs 20, never used).
#     lambda 1: G = 1 + .5*1 = 1.5, 1, 1.5, 1.
#     lambda .5: delta = 1+2.5-4 = -.5, 1-5 = -4 (no bootstrap), -.5, -4; A = -.5 + .25*-4 = -1.5, -4, -1.5, -4.
# NextStep: the ending step shows the final obs, the step after it is a reset step (invalid, reward 0).
#   env 0: s = 1, 2, 3, 10(reset step) ; V(s_T) = V(1) = 1; the truncated step takes V(10) from the next step:
#     the valid steps are as above (G = 3, 4, 6; A(lambda .5) = 1.3125, 1.25, 3).
#   env 1: s = 4, 5, 20(reset step), 4 ; V(s_T) = V(5) = 5.
#     lambda 1: G0 = 1.5, G1 = 1, G3 = 1 + .5*5 = 3.5 (the rollout's end bootstraps).
#     lambda .5: delta0 = -.5, delta1 = -4, delta3 = 1+2.5-4 = -.5; A0 = -1.5, A1 = -4, A3 = -.5.
SAME_STEP = {
    1.0: {"returns": [[3.0, 1.5], [4.0, 1.0], [6.0, 1.5], [2.0, 1.0]]},
    0.5: {"adv": [[1.3125, -1.5], [1.25, -4.0], [3.0, -1.5], [1.0, -4.0]]},
}
NEXT_STEP = {
    1.0: {"returns": [[3.0, 1.5], [4.0, 1.0], [6.0, np.nan], [np.nan, 3.5]]},
    0.5: {"adv": [[1.3125, -1.5], [1.25, -4.0], [3.0, np.nan], [np.nan, -0.5]]},
}
OBS = {"SameStep": [[1, 4], [2, 5], [3, 4], [1, 5]], "NextStep": [[1, 4], [2, 5], [3, 20], [10, 4]]}


@pytest.mark.parametrize("cls", [A2C, PPO])
@pytest.mark.parametrize("mode", ["SameStep", "Disabled", "NextStep"])
@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_collect_rollout_bootstraps_truncation_from_the_final_observation(cls, mode, lam):
    learner = cls(ScriptedVectorEnv(mode), hidden=(4,), gamma=0.5, seed=0, device="cpu")
    value_is_the_observation(learner)
    r = learner.collect_rollout(4, lam)
    shown = "NextStep" if mode == "NextStep" else "SameStep"
    np.testing.assert_array_equal(r.obs[..., 0].numpy(), OBS[shown])
    want = (NEXT_STEP if mode == "NextStep" else SAME_STEP)[lam]
    expected = np.array(want.get("returns", want.get("adv")))
    got = r.returns if "returns" in want else r.advantages
    valid = ~np.isnan(expected)
    np.testing.assert_array_equal(r.valid, valid)
    np.testing.assert_allclose(got[valid], expected[valid], rtol=0, atol=1e-6)
    np.testing.assert_allclose(r.returns - r.advantages, r.values[:-1].numpy(), atol=1e-6)  # targets are A + V
    # one truncated episode of 3 steps in env 0; terminated ones of 2 in env 1 (the reset step delays the second)
    ended = [(2, 2.0), (3, 3.0)] if mode == "NextStep" else [(2, 2.0), (2, 2.0), (3, 3.0)]
    assert sorted(zip(r.episode_lengths, r.episode_returns, strict=True)) == ended
    assert learner.num_timesteps == valid.sum()


@pytest.mark.parametrize("mode", ["SameStep", "NextStep"])
def test_reinforce_segments_bootstrap_from_the_same_step(mode, monkeypatch):
    """REINFORCE steps the envs with the same step_envs: env 0's truncated episode ends with G_T = V(10) = 10,
    env 1's terminated ones with 0."""
    learner = Reinforce(ScriptedVectorEnv(mode), hidden=(4,), seed=0, device="cpu")
    value_is_the_observation(learner)
    seen: list[dict] = []
    monkeypatch.setattr(learner, "_update", lambda segs: seen.extend(segs) or {"loss": 0.0})
    learner.learn(6)
    by_start = {float(s["obs"][0][0]): s for s in seen}
    assert [float(o[0]) for o in by_start[1.0]["obs"]] == [1.0, 2.0, 3.0] and by_start[1.0]["boot"] == 10.0
    assert [float(o[0]) for o in by_start[4.0]["obs"]] == [4.0, 5.0] and by_start[4.0]["boot"] == 0.0


def test_the_scripted_env_is_what_the_stepper_reads():
    """The hand-built env speaks the vector-env contract the stepper expects (so the tests above can fail
    only in the learner)."""
    for mode in ("SameStep", "Disabled", "NextStep"):
        stepper = EnvStepper(ScriptedVectorEnv(mode))
        assert stepper.mode == mode and stepper.num_envs == 2
        stepper.reset(0)
        for _ in range(2):
            obs, r, te, tr, ok, final = stepper.step(np.zeros(2, np.int64))
        assert te.tolist() == [False, True] and ok.all()  # env 1 terminated at its second step
        if mode == "NextStep":
            assert final is None and obs[1, 0] == 20.0
        else:
            assert final is not None and float(final[1][0]) == 20.0 and obs[1, 0] == 4.0
