"""The batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``) against the single env.

Exactness: after ``reset(seed=s)`` env ``i`` equals ``Stealth-v0`` reset with seed ``s + i`` step for step
until its first episode ends (observations, rewards, flags, infos), for every observation mode, with
and without the navigation channels, on bundled and generated levels. Then autoreset, seeding, spaces,
slip frequencies, the level pools and the bad inputs.
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import envs  # noqa: F401  (registers the ids)
from envs.stealth.level import POOL_SEED_BASE, POOL_SIZE, Guard, Level, bundled_levels, load_level, pool_level
from envs.stealth.vector import StealthVectorEnv

ID = "sandbox/Stealth-v0"


def single(level, **kwargs):
    return gym.make(ID, level=level, **kwargs)


def check_exact(kwargs: dict, levels: list, n: int = 12, seed: int = 5, steps: int = 300,
                action_seed: int = 0) -> int:
    """Run the batch and ``n`` single envs side by side; return how many first episodes ended.
    ``levels``: the level each env plays (item ``i % len``)."""
    vec = gym.make_vec(ID, num_envs=n, level=levels if len(levels) > 1 else levels[0], **kwargs)
    assert isinstance(vec, StealthVectorEnv)
    singles = [single(levels[i % len(levels)], **kwargs) for i in range(n)]
    obs, info = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=seed + i)
        assert np.array_equal(obs[i], o), f"reset observation of env {i}"
        assert tuple(info["cell"][i]) == inf["cell"] and info["phase"][i] == inf["phase"]
        assert vec.level(i) is env.unwrapped.level or vec.level(i).name == env.unwrapped.level.name
    rng = np.random.default_rng(action_seed)
    alive = np.ones(n, dtype=bool)
    for _ in range(steps):
        actions = rng.integers(0, 5, size=n)
        obs, rewards, terminated, truncated, info = vec.step(actions)
        for i in np.flatnonzero(alive):
            o, r, te, tr, inf = singles[i].step(int(actions[i]))
            assert np.array_equal(obs[i], o), f"observation of env {i}"
            assert (rewards[i], terminated[i], truncated[i]) == (r, te, tr), f"env {i}"
            assert tuple(info["cell"][i]) == inf["cell"] and info["phase"][i] == inf["phase"]
            assert info["caught"][i] == inf["caught"] and info["at_goal"][i] == inf["at_goal"]
            assert info["slipped"][i] == inf["slipped"]
            if te or tr:
                assert info["_is_success"][i] and info["is_success"][i] == inf["is_success"] == inf["at_goal"]
                alive[i] = False
            else:
                assert not info["_is_success"][i] and "is_success" not in inf
        if not alive.any():
            break
    return int(n - alive.sum())


SAME_SHAPE = [name for name in bundled_levels() if load_level(name).shape == load_level("crossing").shape]


@pytest.mark.parametrize("obs_mode", ["grid", "vector", "local"])
@pytest.mark.parametrize("nav", [False, True, "all", "lookahead,flow"])
def test_exact_on_bundled_levels(obs_mode, nav):
    levels = bundled_levels() if obs_mode == "local" else SAME_SHAPE
    kwargs = {"obs_mode": obs_mode, "local_size": 5, "nav_features": nav}
    ended = check_exact(kwargs, levels, n=2 * len(levels))
    assert ended >= len(levels)  # episodes did end (caught, goal or step limit), so the ends were compared


@pytest.mark.parametrize("obs_mode", ["grid", "vector", "local"])
@pytest.mark.parametrize("names", [True, "all", "flow"])
def test_exact_on_generated_levels_with_nav_features(obs_mode, names):
    """Generated levels from the pool, with the navigation channels (the oracle's check of those channels
    is tests/test_stealth_kernel.py)."""
    kwargs = {"obs_mode": obs_mode, "local_size": 9, "difficulty": 0.6, "size": 10, "nav_features": names}
    assert check_exact(kwargs, ["random"], n=10) == 10


def test_exact_with_rewards_max_steps_and_heldout_levels():
    kwargs = {"obs_mode": "local", "rewards": {"goal": 5.0, "caught": -2.0, "step": -0.25}, "max_steps": 7}
    assert check_exact(kwargs, ["heldout", "tutorial", "random"], n=9) == 9


def test_reaching_the_goal_is_exact_and_a_success():
    """The planner's actions on the tutorial from seed s + i: every env reaches the goal, on the same step."""
    from agents.navigation import plan_safe_path

    level = load_level("tutorial")
    path = plan_safe_path(level)
    deltas = {(-1, 0): 1, (1, 0): 2, (0, 1): 3, (0, -1): 4, (0, 0): 0}
    actions = [deltas[(b[0] - a[0], b[1] - a[1])] for a, b in zip(path, path[1:], strict=False)]
    vec = gym.make_vec(ID, num_envs=3, level="tutorial")
    vec.reset(seed=0)
    ref = single("tutorial")
    ref.reset(seed=0)
    for a in actions:
        _, rewards, terminated, _, info = vec.step(np.full(3, a))
        _, r, te, _, inf = ref.step(a)
        assert terminated.tolist() == [te] * 3 and rewards.tolist() == [r] * 3
    assert terminated.all() and info["is_success"].all() and inf["is_success"]  # on the last step, not before
    assert rewards[0] == pytest.approx(1.0 - 0.01)


def test_same_as_sync_vector_env_across_autoresets():
    """Fixed levels and no slip leave nothing to chance, so the native batch equals Gymnasium's own
    SyncVectorEnv over the single env for any number of episodes: next-step autoreset included."""
    levels = ["tutorial", "crossing", "courtyard"]
    kwargs = {"obs_mode": "local", "local_size": 7, "nav_features": True}
    native = gym.make_vec(ID, num_envs=6, level=levels, **kwargs)
    sync = SyncVectorEnv([lambda i=i: single(levels[i % 3], **kwargs) for i in range(6)])
    assert sync.metadata["autoreset_mode"] == native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    a, _ = native.reset(seed=1)
    b, _ = sync.reset(seed=1)
    assert np.array_equal(a, b)
    rng = np.random.default_rng(1)
    ends = 0
    for _ in range(400):
        actions = rng.integers(0, 5, size=6)
        out_a, out_b = native.step(actions), sync.step(actions)
        for x, y in zip(out_a[:4], out_b[:4], strict=True):
            assert np.array_equal(x, y)
        assert np.array_equal(out_a[4]["phase"], out_b[4]["phase"])
        ends += int((out_a[2] | out_a[3]).sum())
    assert ends > 20  # many autoresets were compared


def test_next_step_autoreset_ignores_the_action_and_starts_over():
    # a 1 x 7 corridor; a sentry on (0, 3) looks west 2 cells: stepping east from the start is caught
    sentry = Guard("sentry", 2, 90, at=(0, 3), facings=(180.0,), turn_every=1)
    corridor = Level("corridor", np.zeros((1, 7), dtype=bool), (0, 0), (0, 6), (sentry,), max_steps=50)
    vec = StealthVectorEnv(num_envs=2, level=corridor, obs_mode="local", local_size=3)
    obs0, _ = vec.reset(seed=0)
    obs, rewards, terminated, truncated, info = vec.step(np.array([3, 0]))  # env 0 east: caught
    assert terminated.tolist() == [True, False] and rewards[0] == pytest.approx(-1.01)
    assert info["_is_success"].tolist() == [True, False] and not info["is_success"][0]
    assert info["caught"][0] and tuple(info["cell"][0]) == (0, 1)
    obs, rewards, terminated, truncated, info = vec.step(np.array([3, 0]))  # env 0's action is ignored
    assert np.array_equal(obs[0], obs0[0]) and rewards[0] == 0.0 and not terminated[0] and not truncated[0]
    assert tuple(info["cell"][0]) == (0, 0) and info["phase"][0] == 0 and not info["_is_success"][0]
    assert info["phase"][1] == 0 and rewards[1] == pytest.approx(-0.01)  # env 1 stepped on (period 1)
    obs, _, terminated, _, _ = vec.step(np.array([3, 0]))  # and env 0 plays again
    assert terminated[0]


def test_seeding_and_generated_levels_drawn_from_the_shared_pool():
    make = lambda: gym.make_vec(ID, num_envs=8, level="random", slip=0.3, size=10, obs_mode="local")  # noqa: E731

    def rollout(vec, seed):
        out = [vec.reset(seed=seed)[0]]
        rng = np.random.default_rng(0)
        for _ in range(60):
            out.append(vec.step(rng.integers(0, 5, size=8))[0])
        return out

    a, b, c = rollout(make(), 3), rollout(make(), 3), rollout(make(), 4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    vec = make()
    vec.reset(seed=[10, 11, 12, 13, 14, 15, 16, 17])  # a list of seeds: one per env
    for i in range(8):
        env = gym.make(ID, level="random", size=10).unwrapped
        env.reset(seed=10 + i)
        j = int(np.random.default_rng(np.random.SeedSequence(10 + i)).integers(POOL_SIZE))
        assert vec.level(i) is env.level is pool_level("random", 0.3, j, 10)


def test_pools_are_seeded_disjoint_and_shared():
    assert POOL_SEED_BASE["heldout"] >= POOL_SEED_BASE["random"] + POOL_SIZE  # no seed in both pools
    train, held = pool_level("random", 0.3, 7, 12), pool_level("heldout", 0.3, 7, 12)
    assert train.name == "random-d0.30-s7" and held.name == f"random-d0.30-s{2**30 + 7}"
    assert not np.array_equal(train.walls, held.walls)
    assert pool_level("random", 0.3, 7, 12) is train  # cached: generated once per process
    with pytest.raises(ValueError, match="pool index"):
        pool_level("random", 0.3, POOL_SIZE, 12)


def test_difficulty_per_env_setter_and_option():
    vec = gym.make_vec(ID, num_envs=4, level="random", difficulty=[0.1, 0.9, 0.1, 0.9], size=12)
    vec.reset(seed=0)
    assert [vec.level(i).difficulty for i in range(4)] == pytest.approx([0.1, 0.9, 0.1, 0.9])
    vec.reset(seed=0, options={"difficulty": 0.5})  # this episode only
    assert [vec.level(i).difficulty for i in range(4)] == pytest.approx([0.5] * 4)
    vec.set_difficulty(0.7, indices=[0])  # read by env 0's next autoreset
    vec.reset(seed=0)
    assert [vec.level(i).difficulty for i in range(4)] == pytest.approx([0.7, 0.9, 0.1, 0.9])
    vec.set_difficulty(0.2)  # no reset: autoresets pick it up, env by env
    rng = np.random.default_rng(0)
    renewed = np.zeros(4, dtype=bool)
    for _ in range(400):
        ended = vec.unwrapped._autoreset.copy()
        vec.step(rng.integers(0, 5, size=4))
        renewed |= ended
        if renewed.all():
            break
    assert renewed.all() and [vec.level(i).difficulty for i in range(4)] == pytest.approx([0.2] * 4)
    with pytest.raises(ValueError, match=r"difficulty must be in \[0, 1\]"):
        vec.set_difficulty(1.5)


def test_slip_frequencies_match_the_single_env():
    """East from the start of an open 3x3 room: east with 1 - slip, north and south with slip / 2 each.
    The batch and the single env must both land there at those rates (5 sigma of a binomial)."""
    room = Level("room", np.zeros((3, 3), dtype=bool), (1, 0), (1, 2))
    slip, n = 0.4, 4000
    vec = StealthVectorEnv(num_envs=n, level=room, slip=slip, obs_mode="local", local_size=3)
    vec.reset(seed=0)
    _, _, _, _, info = vec.step(np.full(n, 3))
    batch = info["cell"]
    env = gym.make(ID, level=room, slip=slip, obs_mode="local", local_size=3)
    ref = []
    for s in range(n):
        env.reset(seed=s)
        ref.append(env.step(3)[4]["cell"])
    ref = np.array(ref)
    for cell, p in (((1, 1), 1 - slip), ((0, 0), slip / 2), ((2, 0), slip / 2)):
        sigma = np.sqrt(p * (1 - p) / n)
        for cells in (batch, ref):
            freq = np.mean(np.all(cells == cell, axis=1))
            assert abs(freq - p) < 5 * sigma, (cell, freq, p)
    assert np.mean(info["slipped"]) == pytest.approx(slip, abs=5 * np.sqrt(slip * (1 - slip) / n))


def test_spaces_and_dtypes():
    for obs_mode, shape in (("grid", (9, 9, 15)), ("vector", (9 * 9 * 15,)), ("local", (9, 5, 5))):
        vec = gym.make_vec(ID, num_envs=3, level="crossing", obs_mode=obs_mode, local_size=5, nav_features=True)
        ref = single("crossing", obs_mode=obs_mode, local_size=5, nav_features=True)
        assert vec.single_observation_space == ref.observation_space and ref.observation_space.shape == shape
        assert vec.observation_space.shape == (3, *shape) and vec.action_space == gym.spaces.MultiDiscrete([5] * 3)
        obs, _ = vec.reset(seed=0)
        assert obs in vec.observation_space
    compact = gym.make_vec(ID, num_envs=3, level="crossing", obs_mode="local", obs_dtype="uint8")
    full = gym.make_vec(ID, num_envs=3, level="crossing", obs_mode="local")
    a, b = compact.reset(seed=0)[0], full.reset(seed=0)[0]
    assert a.dtype == np.uint8 and np.array_equal(a, b) and a in compact.observation_space


def test_copy_flag_and_pickling():
    vec = gym.make_vec(ID, num_envs=4, level="random", obs_mode="local", slip=0.2, copy=False)
    first, _ = vec.reset(seed=2)
    second = vec.step(np.zeros(4, dtype=np.int64))[0]
    assert second is first  # the buffer itself, overwritten by each step
    vec = gym.make_vec(ID, num_envs=4, level="random", obs_mode="local", slip=0.2)
    first, _ = vec.reset(seed=2)
    kept = first.copy()
    second = vec.step(np.ones(4, dtype=np.int64))[0]
    assert second is not first and np.array_equal(first, kept)  # copy=True: never touched again
    clone = pickle.loads(pickle.dumps(vec))
    rng = np.random.default_rng(0)
    for _ in range(30):
        actions = rng.integers(0, 5, size=4)
        for x, y in zip(vec.step(actions)[:4], clone.step(actions)[:4], strict=True):
            assert np.array_equal(x, y)


def test_memory_is_reported():
    vec = gym.make_vec(ID, num_envs=8, level="tutorial", obs_mode="local", local_size=9)
    mem = vec.memory_bytes()
    assert mem["obs"] == 8 * 6 * 9 * 9 * 4 and mem["tables"] > 0 and mem["state"] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, r"num_envs must be a positive integer, got 0"),
        ({"num_envs": -3}, r"num_envs must be a positive integer"),
        ({"num_envs": 4, "level": ["tutorial", "crossing"]}, r"do not fit one 'grid' observation"),
        ({"num_envs": 2, "level": ["crossing", "crossing", "crossing"]}, r"does not fit 2 envs"),
        ({"num_envs": 2, "level": []}, r"level list is empty"),
        ({"num_envs": 2, "level": "crossing", "obs_dtype": "uint8", "nav_features": True}, r"uint8"),
        ({"num_envs": 2, "level": "no_such_level"}, r"no such level"),
    ],
)
def test_bad_input_gives_one_clear_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as exc:
        gym.make_vec(ID, **kwargs)
    assert "\n" not in str(exc.value)


def test_the_single_env_points_a_level_list_to_make_vec():
    for level in (["tutorial", "crossing"], "all"):
        with pytest.raises(ValueError, match="gym.make_vec") as exc:
            gym.make(ID, level=level)
        assert "\n" not in str(exc.value)


def test_bad_actions_give_one_clear_line():
    vec = gym.make_vec(ID, num_envs=2)
    vec.reset(seed=0)
    for bad in (np.array([0, 5]), np.array([0.0, 1.0]), np.array([1, 2, 3])):
        with pytest.raises(ValueError, match=r"0\.\.4") as exc:
            vec.step(bad)
        assert "\n" not in str(exc.value)


def test_exploring_starts_exact_after_a_seeded_reset():
    kwargs = {"obs_mode": "local", "exploring_starts": 0.7, "size": 10}
    assert check_exact(kwargs, ["random", "tutorial"], n=12, steps=200) == 12


def test_exploring_starts_on_autoreset_are_random_safe_cells_at_the_single_envs_rate():
    n, prob = 3000, 0.4
    vec = gym.make_vec(ID, num_envs=n, level="crossing", exploring_starts=prob, obs_mode="local")
    vec.reset()  # unseeded: the batch's own draws, as at every autoreset
    world = load_level("crossing").world
    moved = (vec.cell != world.start) | (vec.phase != 0)
    for cell, phase in zip(vec.cell[moved], vec.phase[moved], strict=True):
        assert not world.walls[cell] and not world.watched[phase, cell] and cell != world.goal
    env = gym.make(ID, level="crossing", exploring_starts=prob).unwrapped
    ref = []
    for s in range(n):
        env.reset(seed=s)
        ref.append(env.cell != world.start or env.phase != 0)
    sigma = np.sqrt(prob * (1 - prob) / n)
    assert abs(moved.mean() - prob) < 5 * sigma and abs(np.mean(ref) - prob) < 5 * sigma
    assert len(np.unique(vec.phase[moved])) == world.period  # every phase is drawn
    with pytest.raises(ValueError, match=r"exploring_starts must be in \[0, 1\]; got 1.5"):
        gym.make_vec(ID, num_envs=2, exploring_starts=1.5)


def test_batch_shaping_equals_single_env_shaping_in_a_sync_vector_env():
    """``shaping_gamma`` in the batch, across autoresets, equals the single env's in a SyncVectorEnv."""
    levels = ["tutorial", "sentry_hall", "courtyard"]
    native = gym.make_vec(ID, num_envs=6, level=levels, obs_mode="local", shaping_gamma=0.9)
    sync = SyncVectorEnv([lambda i=i: single(levels[i % 3], obs_mode="local", shaping_gamma=0.9)
                          for i in range(6)])
    native.reset(seed=0)
    sync.reset(seed=0)
    rng = np.random.default_rng(2)
    ends = 0
    for _ in range(300):
        actions = rng.integers(0, 5, size=6)
        (_, ra, ta, ua, ia), (_, rb, tb, ub, ib) = native.step(actions), sync.step(actions)
        assert np.array_equal(ra, rb) and np.array_equal(ta, tb) and np.array_equal(ua, ub)
        assert np.array_equal(ia["unshaped_reward"], ib["unshaped_reward"])
        ends += int((ta | ua).sum())
    assert ends > 10 and not np.array_equal(ia["unshaped_reward"], ra)


def test_reset_mask_resets_only_those_envs_as_sync_vector_env_does():
    levels = ["tutorial", "crossing", "courtyard", "sentry_hall"]
    native = gym.make_vec(ID, num_envs=4, level=levels, obs_mode="local")
    sync = SyncVectorEnv([lambda i=i: single(levels[i], obs_mode="local") for i in range(4)])
    native.reset(seed=0)
    sync.reset(seed=0)
    actions = np.array([3, 3, 2, 4])
    for _ in range(3):
        native.step(actions)
        sync.step(actions)
    mask = np.array([True, False, True, False])
    a, ia = native.reset(seed=9, options={"reset_mask": mask})
    b, ib = sync.reset(seed=9, options={"reset_mask": mask})
    assert np.array_equal(a, b) and ia["_phase"].tolist() == ib["_phase"].tolist() == mask.tolist()
    assert native.unwrapped.steps.tolist() == [0, 3, 0, 3]
    for _ in range(5):
        for x, y in zip(native.step(actions)[:4], sync.step(actions)[:4], strict=True):
            assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="unknown reset options"):
        native.reset(options={"start": "random"})


def test_the_batch_stays_on_the_envs_floor():
    """Building and stepping the batch (with the navigation channels and shaping) imports no agents, nets,
    torch or pygame: the maps it needs live in envs.stealth.features."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, gymnasium as gym, envs\n"
        "v = gym.make_vec('sandbox/Stealth-v0', num_envs=4, level='random', nav_features=True, obs_mode='local',\n"
        "                 shaping_gamma=0.99)\n"
        "v.reset(seed=0)\n"
        "v.step(np.zeros(4, dtype=np.int64))\n"
        "print(sorted(m for m in ('agents', 'nets', 'torch', 'pygame') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
