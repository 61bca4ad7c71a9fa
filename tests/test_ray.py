"""Ray: `sandbox train --backend rllib` (stealth, duel self-play), the `rllib:PATH` agent, `sandbox tune`, and
the bad inputs. The Ray tests share one local Ray (num_cpus=2) and skip, with the reason, where the `ray` extra is
not installed; the bad-input tests that need no Ray always run."""

from __future__ import annotations

import csv
import json
import math
import socket
import sys
import tomllib

import numpy as np
import pytest

from experiments.cli import main

MAIN_NAME = "main"  # the league's and RLlib's learner

try:
    import ray  # noqa: F401
    import ray.rllib  # noqa: F401
    import ray.tune  # noqa: F401

    HAVE_RAY, WHY = True, ""
except ImportError as exc:  # the extra is optional; CI installs it (`make venv` installs .[dev,ray])
    HAVE_RAY, WHY = False, f"the ray extra is not installed ({exc}); pip install -e '.[ray]'"

needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=WHY)

# A tiny PPO: 500-step batches, 2 envs on 1 env runner.
TINY = ["--backend", "rllib", "--workers", "1", "--envs", "2", "--eval-episodes", "2", "--quiet",
        "--set", "train_batch_size_per_learner=500", "--set", "minibatch_size=125", "--set", "num_epochs=2"]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             configure_logging=True, logging_level="ERROR")
    yield
    ray.shutdown()


def rows_of(run_dir) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def check_rllib_run(run_dir, env: str, steps_at_least: int) -> dict:
    config = json.loads((run_dir / "config.json").read_text())
    assert config["backend"] == "rllib" and config["algo"] == "ppo" and config["env"] == env
    rows = rows_of(run_dir)
    assert rows and rows[-1]["steps"] >= steps_at_least
    assert [r["steps"] for r in rows] == sorted(r["steps"] for r in rows)
    assert all(not math.isnan(r["eval_return"]) and 0.0 <= r["eval_success"] <= 1.0 for r in rows)
    assert any((run_dir / "tb").rglob("events.out.tfevents.*"))
    for name in ("latest", "final"):
        folder = run_dir / "checkpoints" / name
        assert (folder / "rllib_checkpoint.json").is_file()  # RLlib's own checkpoint, for RLlib
        recipe = json.loads((folder / "sandbox_policy.json").read_text())  # the data-only copy, for rllib:PATH
        assert recipe["module"] == "ppo" and recipe["env"] == env
    return config


# ---- bad input, one line and exit status 2 (no Ray needed) ---------------------------------------------------

def one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_ray_missing_names_the_extra(capsys, monkeypatch, tmp_path):
    for name in ("ray", "ray.rllib", "ray.tune"):
        monkeypatch.setitem(sys.modules, name, None)  # `import ray` now raises ImportError
    one_line_error(capsys, ["train", "stealth", "--backend", "rllib", "--out", str(tmp_path / "r"), "--quiet"],
                   "pip install -e '.[ray]'")
    one_line_error(capsys, ["tune", "stealth", "--samples", "2", "--steps", "100", "--out", str(tmp_path / "t")],
                   "pip install -e '.[ray]'")
    assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()


def test_self_play_needs_two_players(capsys, tmp_path):
    one_line_error(capsys, ["train", "stealth", "--backend", "rllib", "--self-play", "--out", str(tmp_path / "r")],
                   "--self-play", "two-player", "stealth")
    assert not (tmp_path / "r").exists()


def test_ray_options_need_the_rllib_backend(capsys, tmp_path):
    one_line_error(capsys, ["train", "stealth", "--workers", "2", "--out", str(tmp_path / "r")],
                   "--workers", "--backend rllib")


def test_rllib_spec_that_is_not_a_checkpoint(tmp_path):
    from agents import make_agent

    with pytest.raises(ValueError, match="not an RLlib checkpoint of the sandbox"):
        make_agent(f"rllib:{tmp_path}")
    (tmp_path / "rllib_checkpoint.json").write_text("{}")  # RLlib's own (pickled) checkpoint: refused
    with pytest.raises(ValueError, match="pickles, which the sandbox never loads"):
        make_agent(f"rllib:{tmp_path}")
    with pytest.raises(FileNotFoundError):
        make_agent(f"rllib:{tmp_path / 'nowhere'}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_address_checks_without_ray(tmp_path):
    from experiments.train import raysession

    with pytest.raises(raysession.RayError, match="expected auto or HOST:PORT"):
        raysession.parse_address("nonsense")
    assert raysession.parse_address("127.0.0.1:6379") == ("127.0.0.1", 6379)
    with pytest.raises(raysession.RayError, match="no Ray head reachable"):
        raysession.probe("127.0.0.1", closed_port(), timeout=2.0)


@needs_ray
def test_unreachable_address_fails_fast(capsys, tmp_path):
    port = closed_port()
    one_line_error(capsys, ["train", "stealth", "--out", str(tmp_path / "r"), *TINY, "--address", f"127.0.0.1:{port}"],
                   f"127.0.0.1:{port}", "no Ray head reachable")
    assert not (tmp_path / "r").exists()


def test_device_maps_to_rllib_gpus():
    import torch

    from experiments.train.rllib import resolve_rllib, rllib_gpus

    assert rllib_gpus("cpu") == 0
    assert rllib_gpus("auto") == rllib_gpus(None) == int(torch.cuda.is_available())
    if torch.cuda.is_available():
        assert rllib_gpus("cuda") == rllib_gpus("cuda:0") == 1
    else:
        with pytest.raises(ValueError, match="CUDA is not available"):
            rllib_gpus("cuda")
    # joining a cluster: its GPUs decide, wherever the driver runs
    assert rllib_gpus("auto", cluster_gpus=0) == 0 and rllib_gpus("auto", cluster_gpus=4) == 1
    assert rllib_gpus("cuda:1", cluster_gpus=2) == 1 and rllib_gpus("cpu", cluster_gpus=2) == 0
    with pytest.raises(ValueError, match="no GPU"):
        rllib_gpus("cuda", cluster_gpus=0)
    for bad in ("tpu", "gpu", "mps"):
        with pytest.raises(ValueError, match="valid: auto, cpu, cuda"):
            rllib_gpus(bad, cluster_gpus=1)
        with pytest.raises(ValueError, match="valid: auto, cpu, cuda"):
            rllib_gpus(bad)
    # a count overrides the device: the table's `gpus` (fractions), or gpus= above 0; else the device decides
    assert resolve_rllib("stealth", "ppo")["gpus_override"] is None
    assert resolve_rllib("stealth", "ppo", gpus=0.0)["gpus_override"] is None  # the CLI's --gpus default
    assert resolve_rllib("stealth", "ppo", hyper={"gpus": 0.5})["gpus_override"] == 0.5
    assert resolve_rllib("stealth", "ppo", gpus=2, hyper={"gpus": 0.5})["gpus_override"] == 2.0
    assert "gpus" not in resolve_rllib("stealth", "ppo", hyper={"gpus": 0.5})["hyper"]
    with pytest.raises(ValueError, match="gpus must be"):
        resolve_rllib("stealth", "ppo", hyper={"gpus": -1})


@needs_ray
def test_rllib_resume_refuses_what_it_cannot_resume(tmp_path):
    from experiments.runfolder import set_status
    from experiments.train.rllib import train_rllib

    with pytest.raises(ValueError, match="--out"):
        train_rllib("stealth", resume=True)
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        train_rllib("stealth", out=tmp_path / "nowhere", resume=True)
    run = tmp_path / "run"
    run.mkdir()
    set_status(run, "resumable", "train")
    (run / "config.json").write_text(json.dumps({"env": "stealth", "algo": "ppo", "backend": "native"}))
    with pytest.raises(ValueError, match="not a run config of sandbox train --backend rllib"):
        train_rllib("stealth", out=run, resume=True)
    config = {"env": "stealth", "algo": "ppo", "backend": "rllib", "seed": 0, "steps": 1000, "n_envs": 2,
              "workers": 1, "eval_every": 500, "eval_episodes": 2, "env_kwargs": {}, "nav_features": False,
              "shaping": False, "exploring_starts": 0.0, "self_play": False, "hyper": {}}
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="holds an RLlib ppo run on stealth, not ppo on duel"):
        train_rllib("duel", out=run, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_rllib("stealth", out=run, resume=True)
    latest = run / "checkpoints" / "latest"
    latest.mkdir(parents=True)
    (latest / "sandbox_policy.json").write_text(json.dumps({"module": "ppo", "steps": 500}))
    (latest / "sandbox_policy.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="sandbox_policy.pt"):
        train_rllib("stealth", out=run, resume=True)
    marker = tmp_path / "ran"
    import torch

    torch.save({"w": Payload(str(marker))}, latest / "sandbox_policy.pt")
    with pytest.raises(ValueError, match="sandbox_policy.pt"):
        train_rllib("stealth", out=run, resume=True)
    assert not marker.exists()  # never unpickled
    other = tmp_path / "other"
    other.mkdir()
    set_status(other, "complete", "record")
    with pytest.raises(ValueError, match="record run"):
        train_rllib("stealth", out=other, resume=True)


# ---- self-play bookkeeping (no training) ---------------------------------------------------------------------

@needs_ray
def test_self_play_gate_counts_recent_rounds_by_hand():
    from experiments.train.league import League
    from experiments.train.rllib import league_mapping, main_side, make_self_play_callback

    cb = make_self_play_callback(gate=0.9, window=10, max_snapshots=3, league_file="/dev/null")()
    assert cb.win_rate() is None  # no round yet
    cb.record(1.0, 5)
    cb.record(9.0, 10)  # the last iteration fills the window alone: 9/10, exactly the gate: closed
    assert cb.win_rate() == pytest.approx(0.9) and cb.gate.full and not cb.gate.open()
    cb.record(3.0, 4)  # 4 rounds at 3/4, then the newest 6 of the iteration before at 9/10: (3 + 5.4) / 10
    assert cb.win_rate() == pytest.approx(0.84) and not cb.gate.open()
    cb.record(10.0, 10)
    assert cb.win_rate() == 1.0 and cb.gate.open() and cb.gate.games == 29
    cb.gate.reset()  # a snapshot empties the window
    cb.record(4.0, 4)
    assert cb.win_rate() == 1.0 and not cb.gate.open()  # fewer than `window` rounds since the last snapshot
    cb.record(0, 0)  # an iteration that finished no round changes nothing
    assert cb.gate.games == 4
    # the one semantics: rounds fed one at a time open the gate exactly when the native league's opens
    for wins in (9, 10):
        rllib_cb = make_self_play_callback(gate=0.9, window=10, max_snapshots=3, league_file="/dev/null")()
        league = League(window=10, gate=0.9)
        for i in range(10):
            won = float(i < wins)
            rllib_cb.record(won, 1)
            league.record(MAIN_NAME, won)
        assert rllib_cb.gate.open() == league.gate_open() == (wins == 10)

    class Episode:
        def __init__(self, id_):
            self.id_ = id_

    mapping = league_mapping(["main_v0", "main_v1"])
    sides = set()
    for i in range(40):
        ep = Episode(f"{i:032x}")
        modules = [mapping("player_0", ep), mapping("player_1", ep)]
        assert modules.count("main") == 1 and modules[main_side(ep.id_)] == "main"
        assert modules == [mapping("player_0", ep), mapping("player_1", ep)]  # stable within an episode
        sides.add(main_side(ep.id_))
    assert sides == {0, 1}


# ---- training, the agent, the sweep (local Ray, num_cpus=2) --------------------------------------------------

@pytest.fixture(scope="module")
def stealth_run(local_ray, tmp_path_factory):
    run = tmp_path_factory.mktemp("rllib") / "stealth"
    assert main(["train", "stealth", "--steps", "1000", "--eval-every", "500", "--out", str(run), *TINY]) == 0
    return run


@needs_ray
def test_rllib_ppo_on_stealth_writes_a_run_folder_and_rllib_spec_plays(stealth_run):
    import gymnasium as gym
    import torch
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModule

    import envs  # noqa: F401
    from agents import make_agent
    run = stealth_run
    config = check_rllib_run(run, "stealth", 1000)
    assert config["workers"] == 1 and config["n_envs"] == 2 and config["hyper"]["lr"] == 5e-4  # [stealth.rllib-ppo]
    assert len(rows_of(run)) == 2  # evaluations at 500 (first batch ends at 500) and at 1000

    agent = make_agent(f"rllib:{run}")
    env = gym.make("sandbox/Stealth-v0", level="tutorial", obs_mode="grid")
    obs, _ = env.reset(seed=3)
    # the data-only policy acts exactly as RLlib's own module restored from its (trusted, our own) checkpoint
    own = RLModule.from_checkpoint(run / "checkpoints" / "final" / "learner_group" / "learner" / "rl_module"
                                   / "default_policy")
    with torch.no_grad():
        expected = own.forward_inference({Columns.OBS: torch.from_numpy(obs.reshape(1, -1))})[
            Columns.ACTION_DIST_INPUTS].numpy()
    np.testing.assert_allclose(agent.logits(obs), expected, rtol=1e-5, atol=1e-6)
    action, state = agent.predict(obs)
    assert action == int(np.argmax(expected)) and state is None
    assert sum(p.sum() for p in agent.action_probs(obs)) == pytest.approx(1.0)
    done, steps, total = False, 0, 0.0  # a whole episode, acting on every observation it is shown
    while not done:
        obs, reward, terminated, truncated, _ = env.step(agent.predict(obs)[0])
        done, steps, total = terminated or truncated, steps + 1, total + float(reward)
    assert steps >= 1 and math.isfinite(total)
    # batched (make_batched_agent): the same greedy actions, one forward pass over a batched env's rows
    from agents import make_batched_agent

    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=3, level="tutorial", obs_mode="grid")
    vobs, _ = vec.reset(seed=3)
    batched = make_batched_agent(f"rllib:{run}", action_space=vec.single_action_space, deterministic=True)
    batched.bind(3)
    batched.reset_envs(np.arange(3), np.arange(3))
    out = np.zeros(3, np.int64)
    batched.act(vobs, np.ones(3, bool), out)
    assert out.tolist() == [agent.predict(o, deterministic=True)[0] for o in vobs]


class Payload:
    """Unpickling this creates ``marker``: the stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@needs_ray
def test_rllib_policy_files_are_data(stealth_run, tmp_path):
    import shutil

    import torch

    from agents import make_agent
    from agents.rllib_agent import POLICY_JSON, POLICY_WEIGHTS

    folder = tmp_path / "ckpt"
    shutil.copytree(stealth_run / "checkpoints" / "final", folder)
    marker = tmp_path / "ran"
    torch.save({"encoder.actor_encoder.net.mlp.0.weight": Payload(str(marker))}, folder / POLICY_WEIGHTS)
    with pytest.raises(ValueError, match=POLICY_WEIGHTS):
        make_agent(f"rllib:{folder}")
    assert not marker.exists()  # the payload never ran
    recipe = json.loads((folder / POLICY_JSON).read_text())
    shutil.copy(stealth_run / "checkpoints" / "final" / POLICY_WEIGHTS, folder / POLICY_WEIGHTS)
    for key, value, message in (("module", "os.system", "unknown module"),
                                ("model_config", {"fcnet_hiddens": [32]}, "does not fit the recipe"),
                                ("observation_space", {"type": "Box", "shape": [5000, 5000], "dtype": "float32",
                                                       "low": 0, "high": 1}, "too large")):
        (folder / POLICY_JSON).write_text(json.dumps({**recipe, key: value}))
        with pytest.raises(ValueError, match=message):
            make_agent(f"rllib:{folder}")


@needs_ray
def test_rllib_resume_continues_the_run(stealth_run, tmp_path):
    import shutil

    import torch

    from agents import make_agent
    from agents.rllib_agent import POLICY_JSON, POLICY_WEIGHTS
    from experiments.runfolder import read_marker
    from experiments.train.rllib import train_rllib
    from nets.torchfile import load_tensors

    run = tmp_path / "stealth"
    shutil.copytree(stealth_run, run)
    latest = run / "checkpoints" / "latest"
    for path in latest.iterdir():  # RLlib's own checkpoint (pickles): resuming never needs it
        if path.name not in (POLICY_JSON, POLICY_WEIGHTS):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    ckpt_steps = json.loads((latest / POLICY_JSON).read_text())["steps"]
    saved = load_tensors(latest / POLICY_WEIGHTS, max_bytes=2**26)
    before = rows_of(run)
    assert ckpt_steps >= 1000 and before[-1]["steps"] == ckpt_steps
    # resumed with nothing left to train: the final policy is the checkpoint's weights, as loaded into the learner
    train_rllib("stealth", out=run, resume=True, progress=False)
    final = load_tensors(run / "checkpoints" / "final" / POLICY_WEIGHTS, max_bytes=2**26)
    assert set(final) == set(saved) and all(torch.equal(final[k], saved[k]) for k in saved)
    assert rows_of(run) == before
    # 1000 more steps: the rows up to the checkpoint stay, new ones continue above its steps
    result = train_rllib("stealth", out=run, resume=True, steps=2000, progress=False)
    rows = rows_of(run)
    assert rows[:len(before)] == before
    new = rows[len(before):]
    assert len(new) == 2 and ckpt_steps < new[0]["steps"] < 2000 <= new[1]["steps"]  # eval_every 500: 1500, 2000
    assert all(r["seconds"] >= before[-1]["seconds"] for r in new)
    config = check_rllib_run(run, "stealth", 2000)
    assert config["steps"] == 2000 and config["device"] == "auto" and config["gpus"] == 0.0
    assert json.loads((run / "checkpoints" / "final" / POLICY_JSON).read_text())["steps"] >= 2000
    assert read_marker(run)["status"] == "complete" and result.curve[-1]["steps"] == new[-1]["steps"]
    final = load_tensors(run / "checkpoints" / "final" / POLICY_WEIGHTS, max_bytes=2**26)
    assert not all(torch.equal(final[k], saved[k]) for k in saved)  # it trained on
    agent = make_agent(f"rllib:{run}")
    assert agent.info["steps"] >= 2000
    obs = np.zeros(agent.module.observation_space.shape, np.float32)
    assert agent.action_space.contains(agent.predict(obs)[0])


@needs_ray
def test_duel_self_play_adds_a_snapshot_and_the_main_policy_plays(local_ray, tmp_path):
    import gymnasium as gym

    import envs  # noqa: F401
    from agents import make_agent

    run = tmp_path / "duel"
    # a gate below 0 over 1 round opens once the window holds a round: the first iteration that finishes one
    # adds main_v1, so the mechanism is exercised
    argv = ["train", "duel", "--self-play", "--steps", "500", "--eval-every", "500", "--out", str(run), *TINY,
            "--env-kwarg", "round_seconds=3", "--set", "snapshot_gate=-1.0", "--set", "snapshot_window=1"]
    assert main(argv) == 0
    config = check_rllib_run(run, "duel", 500)
    assert config["self_play"] and config["self_play_settings"]["snapshot_gate"] == -1.0
    league = json.loads((run / "league.json").read_text())
    assert league["league"][:2] == ["main_v0", "main_v1"]
    assert [s["module"] for s in league["snapshots"]][:2] == ["main_v0", "main_v1"]
    assert league["snapshots"][1]["steps"] >= 500
    assert league["gate_state"]["window"] == 1 and league["gate_state"]["games"] >= 0
    agent = make_agent(f"rllib:{run}")
    env = gym.make("sandbox/Duel-v0", opponent="scripted:easy", round_seconds=3)
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs)
    assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))
    # the rllib policy as the opponent of the batched duel
    vec = gym.make_vec("sandbox/Duel-v0", num_envs=3, opponent=f"rllib:{run}", round_seconds=1)
    vec.reset(seed=0)
    ends = 0
    for _ in range(20):
        ends += int(vec.step(np.zeros((3, 2), np.int64))[2].sum())
    assert ends >= 3 and vec.opponent_spec == f"rllib:{run}"


@needs_ray
def test_tune_two_samples_writes_a_table_train_accepts(local_ray, tmp_path, capsys):
    from experiments.train.config import load_config_file, resolve_config, search_space

    out = tmp_path / "sweep"
    argv = ["tune", "stealth", "--samples", "2", "--steps", "256", "--eval-every", "128", "--eval-episodes", "1",
            "--envs", "1", "--set", "n_steps=64", "--set", "batch_size=64", "--scheduler", "asha", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    trials = json.loads((out / "trials.json").read_text())
    assert len(trials) == 2 and all(t["error"] is None for t in trials)
    table = tomllib.loads((out / "best.toml").read_text())["stealth"]["ppo"]
    space = search_space("stealth", "ppo")
    assert set(table) == set(space) | {"n_steps", "batch_size"}
    lo, hi = space["learning_rate"]["loguniform"]
    assert lo <= table["learning_rate"] <= hi and table["ent_coef"] in space["ent_coef"]["choice"]
    best = max(trials, key=lambda t: t["eval_return"])
    assert {k: table[k] for k in space} == best["hyper"]
    for t in trials:  # each trial is an ordinary run folder
        assert rows_of(tmp_path / "sweep" / "trials" / t["run_dir"].rsplit("/", 1)[-1])[-1]["steps"] >= 256
    # `sandbox train --config best.toml` reads the table back over the defaults
    cfg = resolve_config("stealth", "ppo", file_tables=load_config_file(out / "best.toml"))
    assert cfg["hyper"]["learning_rate"] == table["learning_rate"] and cfg["hyper"]["n_steps"] == 64
    assert cfg["hyper"]["gamma"] == 0.99  # untouched defaults stay


@needs_ray
def test_where_ray_runs_is_described_with_its_nodes(local_ray):
    """The default is a private local Ray; what ``init`` returns (and prints when it joins a cluster) names the
    address, the live nodes and the CPUs."""
    from experiments.train import raysession

    where = raysession.init(None)
    assert where["local"] and where["address"] == "local"
    assert where["nodes"] == 1 and where["cpus"] >= 1 and where["gpus"] == 0
