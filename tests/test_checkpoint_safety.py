"""Loading a checkpoint never runs code from it (issue 19, defect 1).

Each test plants a payload in one place a checkpoint can carry one: a pickled entry of an SB3 zip's ``data``
JSON, its ``policy.pth`` / ``pytorch_variables.pth``, a ghost's ``.pt`` or JSON, a sidecar. The payload is an
object whose unpickling creates the file ``tmp_path / "pwned"``. Then the checkpoint is loaded through a public
entry point (``make_agent("sb3:...")``, ``bundled:``, the director, ``sandbox train --resume``, ``ghost:``) and
the marker must be absent: the load either succeeds, ignoring the payload, or fails with one line naming the
file. With SB3's own ``Algo.load`` (the code before this fix) the ``data`` payloads write the marker.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import zipfile

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the sandbox ids)
from agents import make_agent
from agents.bundled import BUNDLED_DIR

# The SB3 agents shipped before issue 15's retraining, kept as fixtures: real SB3 zips with recorded actions.
SB3_FIXTURES = pathlib.Path(__file__).resolve().parent / "data" / "sb3"
DUEL_ZIP = SB3_FIXTURES / "duel-ppo.zip"


class Payload:
    """Unpickling this creates ``marker`` (pathlib.Path.touch): the stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _pickled(marker) -> dict:
    """An SB3 ``data`` entry as SB3 writes a pickled one, carrying the payload."""
    blob = base64.b64encode(cloudpickle.dumps(Payload(marker))).decode()
    return {":type:": "<class 'abc.ABCMeta'>", ":serialized:": blob}


def _rewrite(src, dst, *, data=None, members=None):
    """Copy the zip ``src`` to ``dst``, passing its ``data`` dict through ``data`` and replacing ``members``."""
    members = dict(members or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info.filename)
            if info.filename == "data" and data is not None:
                blob = json.dumps(data(json.loads(blob))).encode()
            if info.filename in members:
                blob = members.pop(info.filename)
            zout.writestr(info.filename, blob)
        for name, blob in members.items():
            zout.writestr(name, blob)
    return dst


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _pickled_keys(path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        data = json.loads(z.read("data"))
    return [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]


def _check_safe(marker, load, path=None):
    """Run ``load``; the marker must be absent, and a refusal must be one line naming the file."""
    try:
        result = load()
    except (ValueError, FileNotFoundError) as exc:
        msg = str(exc)
        assert "\n" not in msg, msg
        if path is not None:
            assert str(path) in msg, msg
        result = None
    assert not marker.exists(), "the checkpoint ran code while loading"
    return result


def _refused(marker, load, path, match):
    """``load`` must fail with one line naming ``path`` and matching ``match``, without the marker."""
    try:
        with pytest.raises(ValueError, match=match) as err:
            load()
    finally:
        assert not marker.exists(), "the checkpoint ran code while loading"
    assert "\n" not in str(err.value) and str(path) in str(err.value), str(err.value)


@pytest.fixture(scope="module")
def small_zips(tmp_path_factory):
    """Tiny fresh A2C and DQN zips (CartPole): their ``data`` pickles other entries than PPO's."""
    import stable_baselines3 as sb3

    folder = tmp_path_factory.mktemp("zips")
    out = {}
    for name, kw in (("A2C", {}), ("DQN", {"buffer_size": 100})):
        model = getattr(sb3, name)("MlpPolicy", "CartPole-v1", seed=0, device="cpu",
                                   policy_kwargs={"net_arch": [8]}, **kw)
        model.save(folder / f"{name}.zip")
        out[name] = folder / f"{name}.zip"
    return out


# ---- every pickled `data` entry, through sb3:PATH -------------------------------------------------------------
DUEL_KEYS = _pickled_keys(DUEL_ZIP)


def test_the_shipped_zip_pickles_what_the_tests_cover():
    # SB3 2.x pickles these for PPO; if SB3 starts pickling more, the parametrisation below grows with it
    assert {"policy_class", "lr_schedule", "clip_range", "observation_space", "action_space",
            "rollout_buffer_class", "_last_obs", "ep_info_buffer"} <= set(DUEL_KEYS)


@pytest.mark.parametrize("key", [*DUEL_KEYS, "policy_kwargs", "env", "a_key_sb3_never_writes"])
def test_a_payload_in_a_data_entry_does_not_run(tmp_path, key):
    marker = tmp_path / "pwned"

    def plant(data):
        payload = _pickled(marker)
        old = data.get(key)
        data[key] = {**old, ":serialized:": payload[":serialized:"]} if isinstance(old, dict) else payload
        return data

    path = _rewrite(DUEL_ZIP, tmp_path / "model.zip", data=plant)
    agent = _check_safe(marker, lambda: make_agent(f"sb3:{path}"), path)
    if key not in ("policy_kwargs",):  # every other entry is rebuilt (or dropped), so the model still loads
        assert agent is not None
        obs = np.zeros(agent.model.observation_space.shape, np.float32)
        assert agent.predict(obs)[0].shape == (2,)


@pytest.mark.parametrize("algo", ["A2C", "DQN"])
def test_payloads_in_every_a2c_and_dqn_entry_do_not_run(tmp_path, small_zips, algo):
    marker = tmp_path / "pwned"
    keys = _pickled_keys(small_zips[algo])
    assert {"A2C": {"policy_kwargs", "lr_schedule"}, "DQN": {"exploration_schedule", "train_freq"}}[algo] <= set(keys)

    def plant(data):
        for key in keys:
            data[key] = {**data[key], ":serialized:": _pickled(marker)[":serialized:"]}
        return data

    path = _rewrite(small_zips[algo], tmp_path / "model.zip", data=plant)
    agent = _check_safe(marker, lambda: make_agent(f"sb3:{path}"), path)
    assert agent is not None and type(agent.model).__name__ == algo
    assert agent.predict(np.zeros(4, np.float32))[0] in (0, 1)


def test_a_class_named_in_policy_kwargs_outside_the_allow_list_is_refused(tmp_path, small_zips):
    marker = tmp_path / "pwned"

    def plant(data):
        data["policy_kwargs"]["optimizer_class"] = "<class 'os.system'>"
        return data

    path = _rewrite(small_zips["A2C"], tmp_path / "model.zip", data=plant)
    _refused(marker, lambda: make_agent(f"sb3:{path}"), path, "optimizer_class")


# ---- the .pth members ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("member", ["policy.pth", "pytorch_variables.pth", "policy.optimizer.pth", "extra.pth"])
def test_a_payload_in_a_pth_member_does_not_run(tmp_path, member):
    marker = tmp_path / "pwned"
    blob = _torch_bytes({"weight": torch.zeros(2), "evil": Payload(marker)})
    path = _rewrite(DUEL_ZIP, tmp_path / "model.zip", members={member: blob})
    _refused(marker, lambda: make_agent(f"sb3:{path}"), path, "weights_only")


def test_pytorch_variables_must_be_tensors_it_knows(tmp_path):
    path = _rewrite(DUEL_ZIP, tmp_path / "model.zip",
                    members={"pytorch_variables.pth": _torch_bytes({"policy.log_std": torch.zeros(3)})})
    with pytest.raises(ValueError, match="pytorch_variables.pth names 'policy.log_std'"):
        make_agent(f"sb3:{path}")
    path = _rewrite(DUEL_ZIP, tmp_path / "model2.zip", members={"pytorch_variables.pth": _torch_bytes([1, 2])})
    with pytest.raises(ValueError, match="must map names to tensors"):
        make_agent(f"sb3:{path}")


def test_a_zip_bomb_is_refused_by_its_declared_sizes(tmp_path, monkeypatch):
    import nets.sb3

    path = tmp_path / "model.zip"
    path.write_bytes(DUEL_ZIP.read_bytes())
    monkeypatch.setattr(nets.sb3, "MAX_MEMBER_BYTES", 100_000)  # policy.pth unpacks to ~220 KB
    with pytest.raises(ValueError, match=r"'policy.pth' unpacks to \d+ bytes"):
        make_agent(f"sb3:{path}")
    monkeypatch.setattr(nets.sb3, "MAX_ZIP_BYTES", 1000)
    with pytest.raises(ValueError, match="more than the 1000 a checkpoint may have"):
        make_agent(f"sb3:{path}")


def test_junk_files_give_one_line_naming_them(tmp_path):
    for name, blob in (("junk.zip", b"not a zip"), ("nodata.zip", None), ("badjson.zip", b"{")):
        path = tmp_path / name
        if blob is None or name == "badjson.zip":
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("data" if blob else "other", blob or b"")
        else:
            path.write_bytes(blob)
        with pytest.raises(ValueError) as err:
            make_agent(f"sb3:{path}")
        assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


# ---- the sidecar beside an sb3 zip, bundled:, the duel's opponent, the director --------------------------------
def test_a_payload_in_the_sidecar_is_data(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.zip"
    path.write_bytes(DUEL_ZIP.read_bytes())
    path.with_suffix(".json").write_text(json.dumps({"algo": _pickled(marker)}))
    _check_safe(marker, lambda: make_agent(f"sb3:{path}"), path.with_suffix(".json"))


def test_bundled_and_the_duel_opponent_load_safely(tmp_path, monkeypatch):
    import agents.bundled

    marker = tmp_path / "pwned"

    def plant(data):
        for key in _pickled_keys(DUEL_ZIP):
            data[key] = {**data[key], ":serialized:": _pickled(marker)[":serialized:"]}
        return data

    _rewrite(DUEL_ZIP, tmp_path / "evil.zip", data=plant)
    (tmp_path / "evil.json").write_text(json.dumps({"algo": "PPO", "env": "duel", "x": _pickled(marker)}))
    monkeypatch.setattr(agents.bundled, "BUNDLED_DIR", tmp_path)
    agent = _check_safe(marker, lambda: make_agent("bundled:evil"))
    assert agent is not None and agent.info["env"] == "duel"
    env = _check_safe(marker, lambda: gym.make("sandbox/Duel-v0", opponent=f"sb3:{tmp_path / 'evil.zip'}",
                                               round_seconds=2))
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert not marker.exists()


@pytest.fixture(scope="module")
def director_zip():
    return BUNDLED_DIR / "director.zip"


def test_the_director_policy_loads_safely(tmp_path, director_zip):
    from agents.meta import LearnedDirector
    from experiments.studies.director import DirectorCompareConfig, load_or_train_policy

    marker = tmp_path / "pwned"

    def plant(data):
        for key in _pickled_keys(director_zip):
            data[key] = {**data[key], ":serialized:": _pickled(marker)[":serialized:"]}
        return data

    path = _rewrite(director_zip, tmp_path / "director.zip", data=plant)
    director = _check_safe(marker, lambda: LearnedDirector.load(path))
    director.observe(True)
    assert 0.0 <= director.difficulty <= 1.0
    policy = _check_safe(marker, lambda: load_or_train_policy(DirectorCompareConfig(policy=str(path))))
    assert policy.action_space.shape == (1,)


# ---- sandbox train --resume on a folder whose checkpoint was swapped --------------------------------------------
def test_resume_from_a_swapped_checkpoint_runs_no_code(tmp_path, capsys):
    from experiments.cli import main

    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    tiny = ["--steps", "128", "--envs", "1", "--eval-every", "128", "--eval-episodes", "1", "--quiet"]
    assert main(["train", "stealth", "--algo", "ppo", "--out", str(out), *tiny, "--set", "n_steps=64",
                 "--set", "batch_size=64", "--set", "clip_range=0.1"]) == 0
    latest = out / "checkpoints" / "latest.zip"
    keys = _pickled_keys(latest)
    clean = latest.read_bytes()

    def plant(data):
        for key in keys:
            data[key] = {**data[key], ":serialized:": _pickled(marker)[":serialized:"]}
        return data

    _rewrite(io.BytesIO(clean), latest, data=plant)
    status = main(["train", "stealth", "--algo", "ppo", "--out", str(out), "--resume", "--steps", "192", *tiny[2:]])
    assert not marker.exists(), "the checkpoint ran code while loading"
    assert status == 0
    from agents.sb3_agent import load_sb3

    resumed = load_sb3(out / "checkpoints" / "final.zip", "cpu", hyper={"clip_range": 0.1})
    assert resumed.num_timesteps >= 192 and resumed.clip_range(1.0) == pytest.approx(0.1)

    # a payload in policy.pth: one line, exit 2, nothing run
    _rewrite(io.BytesIO(clean), latest, members={"policy.pth": _torch_bytes({"x": Payload(marker)})})
    capsys.readouterr()
    assert main(["train", "stealth", "--algo", "ppo", "--out", str(out), "--resume", "--steps", "256",
                 *tiny[2:]]) == 2
    err = capsys.readouterr().err.strip()
    assert not marker.exists() and "\n" not in err and str(latest) in err and "weights_only" in err


# ---- the ghost: its .pt and its JSON config ----------------------------------------------------------------------
@pytest.fixture()
def ghost_file(tmp_path):
    from agents.ghost import save_ghost
    from nets.imitation import make_policy

    return save_ghost(make_policy(encoder="mlp", hidden=8, fc=8), tmp_path / "ghost.pt", frame_skip=4)


def test_a_payload_in_a_ghost_checkpoint_does_not_run(tmp_path, ghost_file):
    marker = tmp_path / "pwned"
    state = torch.load(ghost_file, weights_only=True)
    torch.save({**state, "evil": Payload(marker)}, ghost_file)
    _refused(marker, lambda: make_agent(f"ghost:{ghost_file}"), ghost_file, "unreadable ghost checkpoint")


def test_a_payload_in_a_ghost_config_is_data(tmp_path, ghost_file):
    marker = tmp_path / "pwned"
    side = ghost_file.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["model"]["encoder"] = _pickled(marker)
    side.write_text(json.dumps(meta))
    _check_safe(marker, lambda: make_agent(f"ghost:{ghost_file}"), ghost_file)


def test_a_ghost_config_asking_for_a_huge_net_is_refused_before_allocating(ghost_file):
    side = ghost_file.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["model"]["hidden"] = 10**9  # ~10^12 floats if it were built: torch could not even reserve them
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="differ from the model its config describes"):
        make_agent(f"ghost:{ghost_file}")


# ---- our own learner checkpoints (.pt) -----------------------------------------------------------------------------
def test_a_payload_in_a_learner_checkpoint_does_not_run(tmp_path):
    from experiments.train import load_trained

    marker = tmp_path / "pwned"
    path = tmp_path / "final.pt"
    torch.save({"config_json": "{}", "evil": Payload(marker)}, path)
    _check_safe(marker, lambda: load_trained(path, device="cpu"), path)
    _check_safe(marker, lambda: make_agent(f"pg:{path}", device="cpu"), path)


# ---- the formerly shipped SB3 agents play exactly as they did with SB3's own loader ---------------------------------
# Recorded with `PPO.load` (the loader before this fix): deterministic actions on 40 observations drawn uniformly
# in the space's bounds clipped to [-1, 1] (default_rng(123)), and on a 120-step rollout from reset(seed=7) of the
# env in the agent's sidecar. Duel actions are written "stick button".
DUEL_RANDOM = ("20 43 72 72 43 60 43 72 82 72 11 43 60 20 40 13 72 22 43 33 43 43 22 20 60 22 43 82 70 43 13 10 20 83 "
               "20 22 43 20 20 72")
DUEL_ROLLOUT = ("22 10 10 11 70 70 70 70 70 22 10 10 20 20 20 20 20 20 00 00 00 20 22 12 82 82 10 10 00 20 20 20 20 20 "
                "20 72 13 82 82 82 72 72 22 10 10 00 00 00 00 00 20 20 20 72 13 82 82 72 70 20 20 70 72 11 82 82 72 72 "
                "10 72 72 72 10 72 72 72 10 10 11 20 20 20 20 00 20 72 11 82 82 82 72 72 72 11 11 00 00 00 00 00 20 72 "
                "72 72 20 70 72 11 82 82 72 72 72 11 11 11 00 00 00 00")
STEALTH_RANDOM = "1131331313113133333333113131133313311133"
STEALTH_ROLLOUT = ("333111333333223333111333333223333111333333223333111333333223333111333333223333111333333223333111"
                   "333333223333111333333223")
DIRECTOR_RANDOM = [1.0, -0.681399, -0.866401, -0.521351, -0.022191, 1.0, -0.678404, 0.111473, -0.91359, -0.79344,
                   -0.172832, 1.0, 0.945367, 0.675198, 0.255815, 1.0, -0.952182, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0,
                   0.522571, 1.0, 0.847935, 1.0, 0.626526, -1.0, -1.0, 0.786864, 0.380293, 0.467289, 1.0, -1.0, -1.0,
                   0.34188, -0.991461, -1.0, 1.0]


def _encode(actions) -> str:
    actions = [np.asarray(a).tolist() for a in actions]
    return " ".join(f"{a}{b}" for a, b in actions) if isinstance(actions[0], list) else "".join(map(str, actions))


def _random_obs(space):
    rng = np.random.default_rng(123)
    low, high = np.maximum(space.low, -1.0), np.minimum(space.high, 1.0)
    return rng.uniform(low, high, size=(40, *space.shape)).astype(space.dtype)


@pytest.mark.parametrize("name, on_random, on_rollout", [("duel-ppo", DUEL_RANDOM, DUEL_ROLLOUT),
                                                         ("stealth-ppo", STEALTH_RANDOM, STEALTH_ROLLOUT)])
def test_the_formerly_bundled_sb3_agents_act_as_before(name, on_random, on_rollout):
    from agents.pg_agent import read_sidecar
    from experiments.train import make_env

    agent = make_agent(f"sb3:{SB3_FIXTURES / name}.zip", device="cpu")
    obs = _random_obs(agent.model.observation_space)
    assert _encode(agent.predict(o, deterministic=True)[0] for o in obs) == on_random
    info = read_sidecar(SB3_FIXTURES / f"{name}.zip")
    env_kwargs = dict(info["env_kwargs"])
    if name == "duel-ppo":  # env 0 plays `random`: as recorded, the single-env agent drawing from the env's generator
        from agents import RandomAgent
        from envs.duel.env import duel_spaces

        assert env_kwargs["opponent"].split(",")[0] == "random"
        env_kwargs["opponent"] = RandomAgent(duel_spaces()[0])
    env = make_env(info["env"], env_kwargs, info["nav_features"], index=0)
    o, _ = env.reset(seed=7)
    actions = []
    for _ in range(120):
        a, _ = agent.predict(o, deterministic=True)
        actions.append(a)
        o, _, term, trunc, _ = env.step(a)
        if term or trunc:
            o, _ = env.reset()
    env.close()
    assert _encode(actions) == on_rollout


def test_the_bundled_director_acts_as_before():
    agent = make_agent("bundled:director", device="cpu")
    obs = _random_obs(agent.model.observation_space)
    got = [float(np.asarray(agent.predict(o, deterministic=True)[0])[0]) for o in obs]
    np.testing.assert_allclose(got, DIRECTOR_RANDOM, atol=2e-6)


# ---- zips that SB3 itself saved keep loading, with the same actions ------------------------------------------------
@pytest.mark.parametrize("algo, env_id, kwargs", [
    ("PPO", "CartPole-v1", {"policy_kwargs": "nets"}),  # nets.MLP under SB3: policy_kwargs pickled (classes)
    ("PPO", "Pendulum-v1", {"use_sde": True, "policy_kwargs": {"activation_fn": torch.nn.ReLU, "ortho_init": False,
                                                               "net_arch": {"pi": [8], "vf": [16]}}}),
    ("SAC", "Pendulum-v1", {"buffer_size": 100, "policy_kwargs": {"net_arch": [8]}}),
    ("TD3", "Pendulum-v1", {"buffer_size": 100, "policy_kwargs": {"net_arch": [8]}}),
])
def test_zips_that_sb3_saved_load_and_act_alike(tmp_path, algo, env_id, kwargs):
    import stable_baselines3 as sb3

    from nets.sb3 import MLPExtractor, load_sb3_zip, mlp_policy_kwargs

    if kwargs.get("policy_kwargs") == "nets":
        kwargs = {"policy_kwargs": mlp_policy_kwargs("ppo", hidden=(8, 8))}
    model = getattr(sb3, algo)("MlpPolicy", env_id, seed=0, device="cpu", **kwargs)
    model.save(tmp_path / "m.zip")
    loaded = load_sb3_zip(tmp_path / "m.zip", device="cpu")
    assert type(loaded) is type(model) and loaded.observation_space == model.observation_space
    obs = np.stack([model.observation_space.sample() for _ in range(16)])
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    if algo == "PPO" and env_id == "CartPole-v1":
        assert isinstance(loaded.policy.features_extractor, MLPExtractor)
        with torch.no_grad():
            torch.testing.assert_close(loaded.policy.predict_values(torch.as_tensor(obs)),
                                       model.policy.predict_values(torch.as_tensor(obs)))


def test_an_oversized_or_nested_sidecar_is_one_line(tmp_path):
    path = tmp_path / "model.zip"
    path.write_bytes(DUEL_ZIP.read_bytes())
    side = path.with_suffix(".json")
    side.write_text("[" * 100_000 + "]" * 100_000)  # deep enough to exhaust the JSON parser's recursion
    with pytest.raises(ValueError, match="not valid JSON .*; not a checkpoint sidecar") as err:
        make_agent(f"sb3:{path}")
    assert str(err.value).startswith(str(side)) and "\n" not in str(err.value)
    side.write_text(json.dumps({"algo": "PPO", "pad": "x" * 2**20}))
    with pytest.raises(ValueError, match="larger than the limit of 1048576 bytes"):
        make_agent(f"sb3:{path}")


def test_policy_kwargs_asking_for_a_huge_net_are_refused_before_allocating(tmp_path):
    def plant(data):
        data["policy_kwargs"] = {"net_arch": [8192] * 32}  # ~2e9 weights (8 GB) if it were built
        return data

    path = _rewrite(DUEL_ZIP, tmp_path / "model.zip", data=plant)
    with pytest.raises(ValueError, match=r"policy_kwargs describe \d+ weights but policy.pth holds \d+ numbers"):
        make_agent(f"sb3:{path}")


# ---- no code path loads a file with a deserialiser that can run code ----------------------------------------------
def test_the_source_calls_no_unpickling_loader():
    """A guard for new code: SB3's ``Algo.load``, pickle, cloudpickle, ``torch.load`` without ``weights_only=True``
    and ``np.load`` without ``allow_pickle=False`` appear nowhere in the packages (only ``nets.sb3`` loads SB3 zips)."""
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    bad = re.compile(r"\b(?:PPO|A2C|DQN|SAC|TD3|DDPG|cls|algo_cls)\.load\(|\bpickle\.loads?\(|cloudpickle\.loads?\("
                     r"|getattr\([^)]*\)\.load\(|load_from_zip_file|load_from_pkl|VecNormalize\.load")
    found = []
    for package in ("envs", "nets", "agents", "experiments"):
        for path in (root / package).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#")[0]
                if bad.search(code) or ("torch.load(" in code and "weights_only=True" not in code) \
                        or (re.search(r"\bnp\.load\(", code) and "allow_pickle=False" not in code):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


class _WideEnv(gym.Env):
    """1200 observations: more than NumPy writes out in full, so the zip cannot describe the space without a pickle."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1200,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1200, np.float32), {}

    def step(self, action):
        return np.zeros(1200, np.float32), 0.0, True, False, {}


def test_a_space_the_zip_cannot_describe_comes_from_the_env(tmp_path):
    from stable_baselines3 import PPO

    path = tmp_path / "wide.zip"
    model = PPO("MlpPolicy", _WideEnv(), n_steps=8, batch_size=8, policy_kwargs={"net_arch": [4]}, device="cpu")
    model.save(path)
    with pytest.raises(ValueError, match="observation_space cannot be read without unpickling") as err:
        make_agent(f"sb3:{path}")
    assert str(err.value).startswith(str(path))
    agent = make_agent(f"sb3:{path}", observation_space=_WideEnv.observation_space,
                       action_space=_WideEnv.action_space)
    obs = np.random.default_rng(0).uniform(size=(5, 1200)).astype(np.float32)
    np.testing.assert_array_equal(agent.predict(obs)[0], model.predict(obs, deterministic=True)[0])
    with pytest.raises(ValueError, match="the model's observation_space is a <class 'gymnasium.spaces.box.Box'>"):
        make_agent(f"sb3:{path}", observation_space=gym.spaces.Discrete(4), action_space=_WideEnv.action_space)


# ---- torch files: only torch's zip format with stored records ------------------------------------------------------
def _deflated(blob: bytes) -> bytes:
    """The torch file ``blob`` with its records compressed: a 20 MB file could then inflate to 20 GB in torch."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    return out.getvalue()


def test_torch_files_in_the_legacy_format_or_with_compressed_records_are_refused(tmp_path):
    from nets.torchfile import load_tensors

    with zipfile.ZipFile(DUEL_ZIP) as z:
        policy = z.read("policy.pth")
    assert set(load_tensors(policy, max_bytes=2**20)) == set(torch.load(io.BytesIO(policy), weights_only=True))
    legacy = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False)
    for blob, why in ((legacy.getvalue(), "legacy format is refused"), (_deflated(policy), "is compressed")):
        with pytest.raises(ValueError, match=why):
            load_tensors(blob, max_bytes=2**20)
        path = _rewrite(DUEL_ZIP, tmp_path / "model.zip", members={"policy.pth": blob})
        with pytest.raises(ValueError, match=f"zip member 'policy.pth': .*{why}"):
            make_agent(f"sb3:{path}")
    with pytest.raises(ValueError, match="more than the 1000 bytes allowed"):
        load_tensors(policy, max_bytes=1000)
