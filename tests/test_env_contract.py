"""Issue 19, defect 8: the same contract in every env (envs/checks.py).

Actions are refused the same way in the duel, the stealth grid and the director (never truncated or
clipped); stepping a finished episode raises the same RuntimeError; env arguments are checked for
type and range, NaN included; demos with NaN rewards, 1e30 observations or a header claiming 1e11
rows are refused by name before anything large is allocated.
"""

from __future__ import annotations

import io
import re
import zipfile

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.checks import episode_over_message
from envs.fileio import check_npz_member_sizes
from envs.stealth.level import parse_level

TINY = parse_level("grid = '''\nS.G\n'''\n", source="tiny.toml")  # two steps east reach the goal


def duel(**kwargs):
    return gym.make("sandbox/Duel-v0", opponent="random", **kwargs).unwrapped


@pytest.mark.parametrize("action", [2.7, "3", [1.5, 2.5], np.array([1.5, 2.5]), (1, "2"), True, np.float32(3.0),
                                    36, -1, [9, 0], [0, 4], [1, 2, 3], np.array([[1, 2]])])
def test_duel_refuses_what_it_used_to_truncate(action):
    env = duel()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"sandbox/Duel-v0: invalid action .*; valid: an integer pair"):
        env.step(action)


@pytest.mark.parametrize("action", [5, np.int64(5), np.array(5), [1, 1], (1, 1), np.array([1, 1]),
                                    np.array([1, 1], dtype=np.int32)])
def test_duel_takes_integer_actions_in_either_form(action):
    env = duel()
    env.reset(seed=0)
    env.step(action)  # 5 == stick 1 * 4 + button 1


@pytest.mark.parametrize("action", [2.7, "3", [1], 5, -1, True, np.float64(1.0)])
def test_stealth_refuses_the_same_kinds_of_action(action):
    env = gym.make("sandbox/Stealth-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"sandbox/Stealth-v0: invalid action .*; valid: integers 0\.\.4"):
        env.step(action)


@pytest.mark.parametrize("action", [[1.5], [-1.01], [np.nan], [np.inf], 7.0, "0.5", [0.1, 0.2], True])
def test_director_refuses_out_of_range_actions_instead_of_clipping(action):
    env = gym.make("sandbox/Director-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"sandbox/Director-v0: invalid action .*; valid: one finite number in "
                                         r"\[-1, 1\]"):
        env.step(action)
    env.step(np.array([1.0], dtype=np.float32))  # the bounds themselves are fine
    assert env.difficulty == pytest.approx(0.7)


def _finish(env, action):
    env.reset(seed=0)
    for _ in range(10_000):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return
    raise AssertionError("the episode did not end")


@pytest.mark.parametrize(("env_id", "kwargs", "action"), [
    ("sandbox/Stealth-v0", {"level": TINY}, 3),               # terminated: reached the goal
    ("sandbox/Stealth-v0", {"level": TINY, "max_steps": 1}, 0),  # truncated
    ("sandbox/Duel-v0", {"opponent": "random", "round_seconds": 0.2}, 0),
    ("sandbox/Director-v0", {"horizon": 3}, np.zeros(1, dtype=np.float32)),
])
def test_stepping_a_finished_episode_raises_the_same_error_everywhere(env_id, kwargs, action):
    env = gym.make(env_id, **kwargs).unwrapped
    _finish(env, action)
    with pytest.raises(RuntimeError, match=re.escape(episode_over_message(env_id))):
        env.step(action)
    env.reset(seed=1)
    env.step(action)  # reset starts a new episode


@pytest.mark.parametrize(("env_id", "kwargs", "message"), [
    ("sandbox/Stealth-v0", {"max_steps": 0}, r"max_steps must be in \[1, inf\]; got 0"),
    ("sandbox/Stealth-v0", {"max_steps": 2.5}, r"max_steps must be an integer in \[1, inf\]; got 2.5"),
    ("sandbox/Stealth-v0", {"max_steps": True}, r"max_steps must be an integer .*; got True"),
    ("sandbox/Stealth-v0", {"rewards": {"goal": float("nan")}}, r"rewards\['goal'\] must be a finite number"),
    ("sandbox/Stealth-v0", {"slip": float("nan")}, r"slip must be a finite number in \[0, 1\]; got nan"),
    ("sandbox/Stealth-v0", {"size": 100_000, "level": "random"}, r"size must be in \[3, 256\]"),
    ("sandbox/Stealth-v0", {"level": 5}, r"level must be a level name, a path, a Level, 'random' or 'heldout'"),
    ("sandbox/Duel-v0", {"round_seconds": 1e-9}, r"round_seconds must be in \[0.0166667, 3600\]; got 1e-09"),
    ("sandbox/Duel-v0", {"round_seconds": float("nan")}, r"round_seconds must be a finite number"),
    ("sandbox/Duel-v0", {"frame_skip": 2.5}, r"frame_skip must be an integer in \[1, 600\]; got 2.5"),
    ("sandbox/Director-v0", {"horizon": 2.5}, r"horizon must be an integer in \[1, inf\]; got 2.5"),
    ("sandbox/Director-v0", {"max_step": float("nan")}, r"max_step must be a finite number in \(0, 1\]"),
])
def test_env_arguments_are_checked_for_type_and_range(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


# ---- demos ----------------------------------------------------------------------------------------------


def _npy_header_claiming(shape, dtype="<f4") -> bytes:
    """A .npy file whose header claims ``shape`` but that stores only a few bytes."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64


def test_npz_header_claiming_1e11_rows_is_refused_before_loading(tmp_path):
    path = tmp_path / "round_0001.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("obs.npy", _npy_header_claiming((10**11, 76)))
    with pytest.raises(ValueError, match=r"round_0001\.npz: member 'obs' claims shape \(100000000000, 76\) "
                                         r"\(7600000000000 elements\); the limit is 1000 elements"):
        check_npz_member_sizes(path, {"obs": 1000})
    # a header that lies about a small size is caught too: it claims more bytes than the member stores
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("obs.npy", _npy_header_claiming((500, 2)))
    with pytest.raises(ValueError, match=r"member 'obs' claims 4000 bytes .* but stores 64"):
        check_npz_member_sizes(path, {"obs": 1000})
    buf = io.BytesIO()
    np.savez(buf, obs=np.zeros((5, 2), np.float32), label=np.array("x"))
    path.write_bytes(buf.getvalue())
    assert check_npz_member_sizes(path, {"obs": 10}, default=1) == {
        "obs": ((5, 2), np.dtype("float32")), "label": ((), np.dtype("<U1"))}


@pytest.fixture(scope="module")
def one_round(tmp_path_factory):
    from experiments.play.record import RecordConfig, record_rounds

    out = tmp_path_factory.mktemp("demos") / "r"
    record_rounds(RecordConfig(player="scripted:rushdown", vs="scripted:easy", rounds=1, out=str(out), seed=3,
                               round_seconds=2), echo=lambda *_: None)
    return out / "round_0001.npz"


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(dst, **arrays)
    dst.with_suffix(".json").write_bytes(src.with_suffix(".json").read_bytes())
    return dst


def test_demos_with_nan_rewards_or_huge_observations_are_refused(one_round, tmp_path):
    import agents.ghost as ghost

    with np.load(one_round) as z:
        obs, rewards = z["obs"].copy(), z["rewards"].copy()
    rewards[3] = np.nan
    bad = _rewrite(one_round, tmp_path / "round_0002.npz", rewards=rewards)
    with pytest.raises(ghost.DemoError, match=r"round_0002\.npz: rewards hold NaN or inf"):
        ghost.load_round(bad)
    obs[0, 0] = 1e30
    bad = _rewrite(one_round, tmp_path / "round_0003.npz", obs=obs)
    with pytest.raises(ghost.DemoError, match=r"round_0003\.npz: obs must be finite and in \[-1, 1\]"):
        ghost.load_round(bad)
    huge = tmp_path / "round_0004.npz"
    with zipfile.ZipFile(huge, "w") as z:
        z.writestr("obs.npy", _npy_header_claiming((10**11, 76)))
    huge.with_suffix(".json").write_bytes(one_round.with_suffix(".json").read_bytes())
    with pytest.raises(ghost.DemoError, match=r"round_0004\.npz: member 'obs' claims shape \(100000000000, 76\)"):
        ghost.load_round(huge)
    assert len(ghost.load_round(one_round)) > 0
