"""`sandbox train`: configs as data, the run folder, --resume, and clear errors for bad input."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from experiments import train
from experiments.cli import main

TINY = ["--steps", "256", "--envs", "1", "--eval-every", "128", "--eval-episodes", "1", "--quiet"]
SHORT_DUEL = ["--env-kwarg", "round_seconds=3"]


def read_rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def check_run_folder(run_dir, algo, env, steps_at_least):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == algo and config["env"] == env
    rows = read_rows(run_dir)
    assert [float(r["steps"]) for r in rows] == sorted(float(r["steps"]) for r in rows)
    assert float(rows[-1]["steps"]) >= steps_at_least
    assert all(not math.isnan(float(r["eval_return"])) for r in rows)
    assert (run_dir / "plots" / "learning_curve.png").stat().st_size > 1000
    assert any((run_dir / "tb").rglob("events.out.tfevents.*"))
    ext = "zip" if algo in train.SB3_ALGOS else "pt"
    final = run_dir / "checkpoints" / f"final.{ext}"
    side = json.loads(final.with_suffix(".json").read_text())
    assert side["env"] == env and side["steps"] >= steps_at_least
    return config, rows, final


# ---- configuration ------------------------------------------------------------------------------------------
def test_config_merges_default_then_env_table():
    cfg = train.resolve_config("stealth", "ppo")
    assert cfg["steps"] == 300_000  # [stealth.ppo] overrides [default.ppo]'s 200_000
    assert cfg["hyper"]["n_steps"] == 128 and cfg["hyper"]["gamma"] == 0.99  # env key, then default key
    assert cfg["env_kwargs"] == {"level": "tutorial", "obs_mode": "grid"}
    assert "steps" not in cfg["hyper"] and "eval_every" not in cfg["hyper"]
    gym_cfg = train.resolve_config("CartPole-v1", "dqn", {"learning_rate": 1e-3})
    assert gym_cfg["steps"] == 200_000 and gym_cfg["hyper"]["learning_rate"] == 1e-3 and gym_cfg["env_kwargs"] == {}


def test_every_algorithm_has_defaults_and_sb3_keys_are_constructor_arguments():
    import inspect

    import stable_baselines3 as sb3

    for env in ("stealth", "duel", "CartPole-v1"):
        for algo in train.ALGOS:
            cfg = train.resolve_config(env, algo)
            assert cfg["steps"] > 0 and cfg["n_envs"] > 0
            if algo in train.SB3_ALGOS:
                accepted = inspect.signature(getattr(sb3, train.SB3_ALGOS[algo])).parameters
                assert set(cfg["hyper"]) <= set(accepted), (env, algo, set(cfg["hyper"]) - set(accepted))


def test_parse_set_reads_toml_values():
    assert train.parse_set(["lr=1e-3", "net=[32, 32]", "name=zoner", "flag=true"]) == {
        "lr": 1e-3, "net": [32, 32], "name": "zoner", "flag": True}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        train.parse_set(["nonsense"])


def test_level_lists_cycle_over_vector_envs():
    from envs.stealth.level import bundled_levels

    assert train.level_list({"level": "tutorial"}) == []
    assert train.level_list({"level": "tutorial,crossing"}) == ["tutorial", "crossing"]
    assert train.level_list({"level": "all"}) == bundled_levels()
    envs = [train.make_env("stealth", {"level": "tutorial,crossing"}, index=i) for i in range(3)]
    assert [e.unwrapped.level.name for e in envs] == ["tutorial", "crossing", "tutorial"]
    duels = [train.make_env("duel", {"opponent": "random, scripted:hard"}, index=i) for i in range(3)]
    assert [e.unwrapped.opponent_spec for e in duels] == ["random", "scripted:hard", "random"]
    assert train.cycled_kwargs({"level": "a,b", "opponent": ["x", "y", "z"]}) == {
        "level": ["a", "b"], "opponent": ["x", "y", "z"]}


# ---- training runs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "reinforce", "a2c-pg", "ppo-pg"])
def test_train_writes_a_run_folder_on_stealth(tmp_path, algo):
    out = tmp_path / algo
    assert main(["train", "stealth", "--algo", algo, "--out", str(out), *TINY]) == 0
    check_run_folder(out, algo, "stealth", 256)
    agent = train.load_trained(out)
    env = train.make_env("stealth", {"level": "tutorial", "obs_mode": "grid"})
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs, deterministic=True)
    assert env.action_space.contains(np.asarray(action).astype(np.int64).item())


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "reinforce", "a2c-pg", "ppo-pg"])
def test_train_writes_a_run_folder_on_the_duel(tmp_path, algo):
    out = tmp_path / algo
    flat = ["--flat-actions"] if algo == "dqn" else []
    assert main(["train", "duel", "--algo", algo, "--out", str(out), *TINY, *SHORT_DUEL, *flat]) == 0
    config, rows, _ = check_run_folder(out, algo, "duel", 256)
    assert 0.0 <= float(rows[-1]["eval_success"]) <= 1.0  # the duel's success is the win rate
    assert config["env_kwargs"]["opponent"] == "scripted:normal"


def test_train_with_subprocess_envs_and_a_gymnasium_id(tmp_path):
    out = tmp_path / "cp"
    args = ["train", "CartPole-v1", "--algo", "ppo", "--out", str(out), "--steps", "256", "--envs", "2",
            "--eval-every", "256", "--eval-episodes", "1", "--set", "n_steps=64", "--quiet"]
    assert main(args) == 0
    config, rows, _ = check_run_folder(out, "ppo", "CartPole-v1", 256)
    assert config["n_envs"] == 2 and config["hyper"]["n_steps"] == 64
    assert math.isnan(float(rows[-1]["eval_success"]))  # no notion of success in CartPole


@pytest.mark.parametrize("algo", ["ppo", "a2c-pg", "ppo-pg"])
def test_resume_continues_from_the_checkpoint(tmp_path, algo):
    out = tmp_path / "run"
    assert main(["train", "stealth", "--algo", algo, "--out", str(out), *TINY]) == 0
    first = read_rows(out)
    assert main(["train", "stealth", "--algo", algo, "--out", str(out), "--resume", "--steps", "512",
                 "--quiet"]) == 0
    rows = read_rows(out)
    assert rows[: len(first)] == first  # the earlier history is kept
    assert float(rows[-1]["steps"]) >= 512 and len(rows) > len(first)
    ext = "zip" if algo in train.SB3_ALGOS else "pt"
    assert json.loads((out / "checkpoints" / f"final.{ext}").with_suffix(".json").read_text())["steps"] >= 512


def test_a_seed_reproduces_a_run_on_cpu(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["train", "stealth", "--algo", "a2c-pg", "--out", str(out), "--seed", "3", *TINY]) == 0
        runs.append([r["eval_return"] for r in read_rows(out)])
    assert runs[0] == runs[1]


# ---- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nowhere-v9", "--out", "{tmp}/x"], "unknown env 'nowhere-v9'"),
        (["train", "duel", "--algo", "dqn", "--out", "{tmp}/x"], "dqn needs a Discrete action space"),
        (["train", "duel", "--level", "tutorial", "--out", "{tmp}/x"], "--level is a stealth option"),
        (["train", "stealth", "--opponent", "random", "--out", "{tmp}/x"], "--opponent is a duel option"),
        (["train", "stealth", "--resume", "--out", "{tmp}/none"], "config.json not found"),
        (["train", "stealth", "--device", "cuda:7", "--out", "{tmp}/x"], "CUDA"),
        (["train", "stealth", "--set", "oops", "--out", "{tmp}/x"], "KEY=VALUE"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    if "cuda" in argv[-3] and torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unknown_algorithm_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "stealth", "--algo", "sarsa"])
    assert exc.value.code == 2
    assert "invalid choice: 'sarsa'" in capsys.readouterr().err


def test_an_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "stealth", "--algo", "ppo", "--out", str(out), *TINY]) == 0
    before = (out / "metrics.csv").read_text()
    assert main(["train", "stealth", "--algo", "ppo", "--out", str(out), *TINY]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert (out / "metrics.csv").read_text() == before


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda(tmp_path):
    out = tmp_path / "gpu"
    assert main(["train", "stealth", "--algo", "ppo", "--device", "cuda", "--out", str(out), *TINY]) == 0
    assert json.loads((out / "config.json").read_text())["device"].startswith("cuda")


def test_evaluation_of_generated_stealth_levels_uses_the_held_out_pool():
    assert train.held_out_kwargs({"level": "random", "size": 10}) == {"level": "heldout", "size": 10}
    assert train.held_out_kwargs({"level": ["tutorial", "random"]})["level"] == ["tutorial", "heldout"]
    assert train.held_out_kwargs({"level": "random, crossing"})["level"] == "heldout,crossing"
    assert train.held_out_kwargs({"level": "crossing"}) == {"level": "crossing"}


def test_bundle_ships_our_ppo_run(tmp_path, monkeypatch):
    """`python -m experiments.train.bundle RUN NAME` takes a ppo-pg run: a .pt without Adam moments that
    loads as the same policy, and a sidecar with the held-out figures."""
    from experiments.train import bundle
    from nets.policy_gradient import load_learner

    out = tmp_path / "run"
    # the local view, so that the agent can be evaluated on every bundled level
    assert main(["train", "stealth", "--algo", "ppo-pg", "--obs-mode", "local", "--out", str(out), *TINY]) == 0
    monkeypatch.setattr(bundle, "BUNDLED", tmp_path / "bundled")
    (tmp_path / "bundled").mkdir()
    assert bundle.main([str(out), "stealth-ppo-pg", "--episodes", "1"]) == 0
    shipped = tmp_path / "bundled" / "stealth-ppo-pg.pt"
    side = json.loads(shipped.with_suffix(".json").read_text())
    assert side["algo"] == "ppo-pg" and "tutorial" in side["evaluation"]
    original, slim = load_learner(out / "checkpoints" / "final.pt"), load_learner(shipped)
    assert not slim.optimizer.state_dict()["state"] and original.optimizer.state_dict()["state"]
    obs = train.make_env("stealth", {"level": "crossing", "obs_mode": "local"}).reset(seed=0)[0]
    assert original.action_probs(obs)[0].tolist() == slim.action_probs(obs)[0].tolist()


def test_show_config_prints_the_merged_layers_and_bad_keys_are_one_line(tmp_path, capsys):
    """The one configuration path: the learner's defaults, the [ENV.ALGO] table, a --config file, then the
    options and --set; --show-config prints the result. Unknown keys and ill-typed values name the key."""
    import json

    assert main(["train", "stealth", "--algo", "ppo-pg", "--show-config", "--set", "lr=1e-3"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["hyper"]["lr"] == 1e-3 and shown["hyper"]["n_steps"] == 32  # --set, then [stealth.ppo-pg]
    assert shown["steps"] == 300_000 and shown["parts"] == {}
    assert main(["train", "duel", "--algo", "ppo-pg", "--league", "--league.gate", "0.8", "--show-config"]) == 0
    league = json.loads(capsys.readouterr().out)["parts"]["league"]
    assert league["gate"] == 0.8 and league["window"] == 20  # the option, then LeagueSettings' default
    conf = tmp_path / "best.toml"
    conf.write_text("[stealth.ppo-pg]\nlr = 2e-3\ncurriculum = { target = 0.6 }\n")
    assert main(["train", "stealth", "--algo", "ppo-pg", "--curriculum", "--config", str(conf), "--show-config",
                 "--curriculum.band", "0.05"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["hyper"]["lr"] == 2e-3 and shown["parts"]["curriculum"]["target"] == 0.6
    assert shown["parts"]["curriculum"]["band"] == 0.05 and shown["env_kwargs"]["obs_mode"] == "local"
    cases = [
        (["--algo", "ppo-pg", "--set", "nonsense=1"], "--set nonsense: not a hyper-parameter of ppo-pg"),
        (["--algo", "ppo-pg", "--set", "lr=fast"], "--set lr='fast': expected a number"),
        (["--algo", "ppo-pg", "--curriculum", "--set", "curriculum.target=high"],
         "--curriculum.target='high': expected float"),
        (["--algo", "ppo-pg", "--curriculum", "--set", "curriculum.nope=1"], "--curriculum.nope: not a setting"),
        (["--algo", "ppo-pg", "--curriculum.target", "0.5"], "a setting of the curriculum; add --curriculum"),
        (["--algo", "ppo", "--curriculum"], "trains with ppo-pg"),
        (["--epochs", "3"], "an option of sandbox train ghost"),
        (["--algo", "ppo-pg", "--level", "all"], "do not fit one 'grid' observation; use levels of one shape"),
    ]
    for extra, message in cases:
        assert main(["train", "stealth", "--out", str(tmp_path / "never"), "--quiet", *extra]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (extra, err)
    conf.write_text("[stealth.ppo-pg]\nlearning_rat = 2e-3\n")
    assert main(["train", "stealth", "--algo", "ppo-pg", "--config", str(conf), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert f"--config {conf} [stealth.ppo-pg] learning_rat: not a hyper-parameter" in err
    conf.write_text("[stealth.ppo-pg]\nleague = { gate = 0.5 }\n[stealth]\nlevel_name = 'x'\n")
    assert main(["train", "stealth", "--algo", "ppo-pg", "--config", str(conf), "--out", str(tmp_path / "never")]) == 2
    assert "[stealth] level_name: neither an env setting" in capsys.readouterr().err
    assert main(["train", "ghost", "--demos", "x", "--steps", "5"]) == 2
    assert "--steps: not an option of sandbox train ghost" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_the_nav_features_help_names_every_channel(capsys):
    from envs.stealth.features import NAV_FEATURES

    for verb in ("train", "tune"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(name in text for name in NAV_FEATURES), verb


@pytest.mark.parametrize("algo,kind", [("ppo-pg", "pg"), ("ppo", "sb3")])
def test_a_run_ends_with_its_agent_spec_and_the_run_folder_is_that_spec(tmp_path, capsys, algo, kind):
    from agents import make_agent

    out = tmp_path / "run"
    assert main(["train", "stealth", "--algo", algo, "--out", str(out), *TINY]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"agent: {kind}:{out}"  # --quiet keeps it
    env = train.make_env("stealth", {"level": "tutorial"})
    agent = make_agent(f"{kind}:{out}", observation_space=env.observation_space, action_space=env.action_space)
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs, deterministic=True)
    assert env.action_space.contains(np.asarray(action).item() if np.ndim(action) == 0 else action)
    with pytest.raises(FileNotFoundError, match=f"{kind}:{tmp_path}: a folder without checkpoints/final"):
        make_agent(f"{kind}:{tmp_path}")


@pytest.mark.parametrize("algo", ["ppo-pg", "ppo"])
def test_train_return_is_the_games_own_under_shaping(tmp_path, algo):
    """With goal shaping the learner sees shaped rewards; the run's train_return is the game's return (at most
    the goal's +1 on the stealth grid), and the shaped one is a TensorBoard series of its own."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert main(["train", "stealth", "--algo", algo, "--out", str(out), "--steps", "2048", "--envs", "8",
                 "--eval-every", "1024", "--eval-episodes", "1", "--quiet", "--shaping", "--exploring-starts", "0.5",
                 "--set", "n_steps=64" if algo == "ppo" else "n_steps=32", *(["--set", "batch_size=64"]
                                                                            if algo == "ppo" else [])]) == 0
    rows = train.read_metrics(out)
    assert rows and all(math.isnan(r["train_return"]) or -2.0 <= r["train_return"] <= 1.0 for r in rows)
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert "metrics/train_return" in tags and "train/shaped_return" in tags
