"""Curriculum plumbing (agents.meta.curriculum): the director sets each env's next difficulty, on the
0.05 grid, from a scripted success sequence worked by hand through RuleDirector's update."""

import json

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from agents.meta.curriculum import Curriculum, CurriculumVectorEnv, quantise

# RuleDirector() defaults: prior N(0.5, 0.1), slope 8, drift 5e-4, target 0.5, gain 2, window 20.
# Start: d = 0.5 - logit(0.5) / 8 = 0.5.
# One win at 0.5: var 0.1005, p = 1/2, precision 1/0.1005 + 64/4 = 25.950249, mean 0.5 + 4/25.950249
#   = 0.654141; aim 0.5 + 2 (1/20)(0.5 - 1) = 0.45; d = 0.654141 - logit(0.45)/8 = 0.679225 -> 0.70.
# One loss at 0.5 (mirror): mean 0.345859, aim 0.55, d = 0.320775 -> 0.30.
# Win, win: var 1/25.950249 + 5e-4 = 0.039035, p = sigmoid(8 (0.654141 - 0.679225)) = 0.45,
#   precision 25.617830 + 64 (0.45)(0.55) = 41.457830, mean 0.654141 + 8 (0.55)/41.457830 = 0.760273,
#   aim 0.5 + 2 (2/20)(0.5 - 1) = 0.4, d = 0.760273 + logit(0.6)/8 = 0.810956 -> 0.80.
# Loss, win: mean 0.345859 + 8 (1 - 0.55)/41.457830 = 0.432694, aim 0.5, d = 0.432694 -> 0.45.
# Win, loss (one batch director): mean 0.654141 - 8 (0.45)/41.457830 = 0.567306 -> 0.55.


def test_quantise_to_the_grid():
    assert quantise(0.679225) == 0.7 and quantise(0.810956) == 0.8 and quantise(0.567306) == 0.55
    assert quantise(-0.2) == 0.0 and quantise(1.3) == 1.0
    assert quantise(0.33, step=0.1) == 0.3
    many = quantise(np.random.default_rng(0).random(10_000))
    assert len(np.unique(many)) == 21  # the pool cache sees at most 21 difficulties
    assert set(np.unique(many).tolist()) == {round(0.05 * k, 10) for k in range(21)}
    with pytest.raises(ValueError, match="step"):
        quantise(0.5, step=0.0)


class ScriptedEnv(VectorEnv):
    """A vector env whose episodes end with the scripted outcomes; it records set_difficulty calls."""

    metadata = {"autoreset_mode": "NextStep"}

    def __init__(self, script):
        self.script = list(script)  # per step: {env: success}
        self.num_envs = 3
        self.single_observation_space = spaces.Box(0, 1, (1,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0, 1, (3, 1), np.float32)
        self.action_space = spaces.MultiDiscrete([2, 2, 2])
        self.difficulty = np.full(3, np.nan)
        self.calls = []

    def set_difficulty(self, values, indices=None):
        self.calls.append((list(values), [int(i) for i in indices]))
        self.difficulty[np.asarray(indices)] = values

    def reset(self, *, seed=None, options=None):
        return np.zeros((3, 1), np.float32), {}

    def step(self, actions):
        ends = self.script.pop(0)
        term = np.zeros(3, bool)
        success = np.zeros(3, bool)
        for i, won in ends.items():
            term[i], success[i] = True, won
        return (np.zeros((3, 1), np.float32), np.zeros(3), term, np.zeros(3, bool),
                {"is_success": success, "_is_success": term})


def test_each_env_gets_its_own_next_difficulty():
    # envs 0 and 1 play generated levels, env 2 a bundled one (mixed in, never directed)
    env = ScriptedEnv([{0: True, 1: False, 2: True}, {0: True}, {1: True}, {}])
    cur = Curriculum(3, generated=[True, True, False], mode="env")
    wrapped = CurriculumVectorEnv(env, cur)
    wrapped.reset(seed=0)
    assert env.calls == [([0.5, 0.5], [0, 1])]
    sequence = []
    for _ in range(4):
        wrapped.step(np.zeros(3, np.int64))
        sequence.append(env.difficulty[:2].tolist())
    assert sequence == [[0.7, 0.3], [0.8, 0.3], [0.8, 0.45], [0.8, 0.45]]
    # only the envs whose episode ended were set; env 2 never
    assert [c[1] for c in env.calls[1:]] == [[0, 1], [0], [1]]
    assert np.isnan(env.difficulty[2])
    s = cur.summary()
    assert s["bundled_success"] == 1.0 and s["generated_success"] == pytest.approx(3 / 4)
    assert s["difficulty"] == pytest.approx((0.8 + 0.45) / 2)


def test_batch_director_moves_every_generated_env():
    env = ScriptedEnv([{0: True, 1: False}])
    cur = Curriculum(3, mode="batch")
    wrapped = CurriculumVectorEnv(env, cur)
    wrapped.reset()
    wrapped.step(np.zeros(3, np.int64))
    assert env.difficulty.tolist() == [0.55, 0.55, 0.55]  # one director saw a win, then a loss


def test_the_batched_stealth_env_plays_the_set_difficulty_at_its_next_autoreset():
    pytest.importorskip("envs.stealth.vector")
    import gymnasium as gym

    import envs  # noqa: F401

    base = gym.make_vec("sandbox/Stealth-v0", num_envs=4, level="random", obs_mode="local", max_steps=3)
    cur = Curriculum(4, mode="env")
    env = CurriculumVectorEnv(base, cur)
    env.reset(seed=0)
    assert base.unwrapped.episode_difficulty.tolist() == [0.5] * 4
    for _ in range(3):  # every episode times out after 3 steps (a failure), then autoresets
        env.step(np.zeros(4, np.int64))
    env.step(np.zeros(4, np.int64))
    assert base.unwrapped.episode_difficulty.tolist() == [0.3] * 4  # a loss at 0.5 -> 0.320775 -> 0.30


@pytest.mark.slow  # generating each new difficulty's levels takes most of its ~1 min
def test_curriculum_run_end_to_end_logs_the_difficulty_curve(tmp_path):
    pytest.importorskip("nets.ppo")
    pytest.importorskip("envs.stealth.vector")
    import csv

    from experiments.train import train_run

    res = train_run("stealth", "ppo-pg", steps=1024, n_envs=8, seed=0, device="cpu", out=tmp_path / "run",
                    shaping=False, exploring_starts=0.0, eval_every=256, eval_episodes=2, progress=False,
                    parts=("curriculum",), hyper={"curriculum.bundled": "tutorial", "curriculum.bundled_share": 0.25,
                                                  "n_steps": 16, "hidden": [16, 16]})
    out = res.extra
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {"difficulty", "difficulty_min", "difficulty_max", "generated_success", "bundled_success"} <= set(rows[0])
    # an untrained policy fails: every director lowers its env's difficulty from 0.5, on the 0.05 grid
    assert out["difficulty_max"] < 0.5
    for row in rows:
        for key in ("difficulty_min", "difficulty_max"):
            assert abs(float(row[key]) / 0.05 - round(float(row[key]) / 0.05)) < 1e-9
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["parts"]["curriculum"]["bundled"] == "tutorial" and config["env_kwargs"]["obs_mode"] == "local"
    side = json.loads((tmp_path / "run" / "checkpoints" / "final.json").read_text())
    state = side["parts"]["curriculum"]["curriculum"]
    assert len(state["directors"]) == 8 and sum(state["episodes"]) > 0
    # resume: the directors come back where they were, and the run goes on from its step count
    last = int(res.curve[-1]["steps"])
    more = train_run("stealth", "ppo-pg", steps=last + 256, out=tmp_path / "run", resume=True, progress=False)
    assert [r["steps"] for r in more.curve[:len(res.curve)]] == [r["steps"] for r in res.curve]
    assert len(more.curve) > len(res.curve) and more.curve[len(res.curve)]["steps"] > last
    assert more.curve[-1]["steps"] >= last + 256
    assert (tmp_path / "run" / "checkpoints" / "final.pt").is_file()
    assert (tmp_path / "run" / "plots" / "curriculum.png").is_file()


@pytest.mark.slow
def test_the_dagger_warm_start_is_a_part_of_the_run_and_not_redone_on_resume(tmp_path):
    pytest.importorskip("nets.ppo")
    from experiments.train import train_run
    from experiments.train.run import read_metrics

    hyper = {"curriculum.bundled": "tutorial", "curriculum.bundled_share": 0.5, "curriculum.warm_start": "dagger",
             "curriculum.dagger_rounds": 2, "curriculum.dagger_steps": 16, "n_steps": 16, "hidden": [16, 16]}
    res = train_run("stealth", "ppo-pg", steps=256, n_envs=4, seed=0, device="cpu", out=tmp_path / "run",
                    shaping=False, exploring_starts=0.0, eval_every=128, eval_episodes=2, progress=False,
                    parts=("curriculum",), hyper=hyper)
    dagger_rows = read_metrics(tmp_path / "run", "dagger.csv")
    assert [r["round"] for r in dagger_rows] == [0.0, 1.0]  # two rounds, logged beside the run's metrics
    assert (tmp_path / "run" / "checkpoints" / "dagger.pt").is_file()
    before = (tmp_path / "run" / "dagger.csv").read_text()
    train_run("stealth", "ppo-pg", steps=int(res.curve[-1]["steps"]) + 128, out=tmp_path / "run", resume=True,
              progress=False)
    assert (tmp_path / "run" / "dagger.csv").read_text() == before  # the warm start is in the checkpoint already


def test_exploring_starts_are_never_credited_as_crossings():
    """An episode begun on a random cell that reaches the goal is not a crossing of the level: the envs say
    so (``info["exploring_start"]``, ``is_success`` False), and the curriculum neither credits nor blames it."""
    import gymnasium as gym

    import envs  # noqa: F401
    from agents.meta.curriculum import Curriculum, CurriculumVectorEnv

    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=32, vectorization_mode="vector_entry_point",
                       level=["random"] * 32, obs_mode="local", exploring_starts=1.0)
    curriculum = Curriculum(32)
    env = CurriculumVectorEnv(vec, curriculum)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    goals = ended = on_start = 0
    for _ in range(400):
        _, _, term, trunc, info = env.step(rng.integers(0, 5, size=32))
        done = term | trunc
        if not done.any():
            continue
        explored = info["exploring_start"] & done
        ended += int(done.sum())
        goals += int((info["at_goal"] & explored).sum())
        on_start += int((done & ~explored).sum())  # a random cell that happened to be the level's start
        assert not (info["is_success"] & explored).any()
    assert ended > 100 and goals > 0  # random starts do reach the goal ...
    assert curriculum.episodes.sum() == on_start < 0.1 * ended  # ... and neither they nor their failures count
    single = gym.make("sandbox/Stealth-v0", level="tutorial", exploring_starts=1.0)
    single.reset(seed=1)
    for _ in range(400):
        _, _, term, trunc, info = single.step(int(rng.integers(0, 5)))
        if term or trunc:
            assert info["exploring_start"] is True and info["is_success"] is False
            break
    else:
        raise AssertionError("no episode ended")


def test_a_floor_of_easy_levels_stays_when_the_learner_wins_everything():
    """Given a learner at 100%, the directors push their envs to the hardest levels, and still the documented
    share of the generated envs (CurriculumSettings.floor_share) plays floor_difficulty."""
    from agents.meta.curriculum import Curriculum
    from experiments.train.config import CurriculumSettings

    share = CurriculumSettings.floor_share
    curriculum = Curriculum(16, floor_share=share, floor_difficulty=0.1)
    for _ in range(300):
        curriculum.observe(np.arange(16), np.ones(16, bool))
    d = curriculum.difficulties()
    easy = d <= 0.1 + 1e-9
    assert easy.mean() == share == 2 / 16  # the floor: exactly the documented share
    assert (d[~easy] >= 0.9).all()  # the rest went where a perfect learner sends them
    assert curriculum.episodes.sum() == 300 * 16  # the floor's episodes are counted, as generated ones
    with pytest.raises(ValueError, match="floor_share must be in"):
        Curriculum(4, floor_share=1.0)
