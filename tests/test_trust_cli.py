"""Issue 19, defects 3-7 and the last of 8, on the command line.

3. a run folder is never lost: every writer refuses a folder or file it did not create (``--force``);
4. Ctrl-C at any moment (rollout, evaluation with subprocess envs, checkpointing) leaves a consistent
   folder, prints one line and exits 130;
5. a run stopped before its first checkpoint is started again without ceremony;
6. a level's name never becomes a path outside the output folder;
7. bad input is one line and exit 2, a bug still a traceback;
8. ``watch stealth`` does not credit an agent with the planner's episodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.runfolder import MARKER, read_marker

TINY = ["--steps", "256", "--envs", "1", "--eval-every", "128", "--eval-episodes", "1", "--quiet"]
ROOT = Path(__file__).resolve().parent.parent
LEVEL = """grid = '''
#######
S.....G
#######
'''
"""


def one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---- 7: one line, exit 2 -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["inf", "1e300"])
def test_view_range_inf_is_one_line(tmp_path, capsys, value):
    level = tmp_path / "far.toml"
    level.write_text(LEVEL + f'\n[[guard]]\nkind = "sentry"\nat = [1, 3]\nfacings = ["N"]\nview_range = {value}\n'
                     "fov_deg = 90\n")
    assert main(["solve", "stealth", "--level", str(level)]) == 2
    one_line_error(capsys, "far.toml:", "view_range must be a finite number in [0, 512]")


@pytest.mark.parametrize(("extra", "words"), [
    (["--seed", "-1"], ["--seed must be in [0, 4294967295]; got -1"]),
    (["--set", "lr=[1,"], ["--set 'lr=[1,': not a valid TOML value"]),
    (["--set", "learning_rate=abc"], ["--set learning_rate='abc': expected a number"]),
    (["--set", "lr=0.1"], ["--set lr: not a hyper-parameter of ppo; valid: ", "learning_rate"]),
    (["--set", "n_steps=0"], ["--set: bad hyper-parameters"]),
    (["--envs", "100000"], ["--envs must be in [1, 256]; got 100000"]),
    (["--envs", "64", "--set", "n_steps=100000"], ["GiB of buffer; the limit is"]),
    (["--steps", "10000000000", "--eval-every", "1"], ["10000000000 evaluations; the limit is 10000"]),
    (["--steps", "10000000001"], ["--steps must be in [1, 10000000000]"]),
])
def test_bad_training_input_is_one_line(tmp_path, capsys, extra, words):
    out = tmp_path / "run"
    assert main(["train", "stealth", "--out", str(out), *TINY, *extra]) == 2
    one_line_error(capsys, *words)
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


def test_bad_out_paths_are_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", "stealth", "--out", str(afile), *TINY]) == 2
    one_line_error(capsys, "afile is a file, not a folder")
    assert main(["train", "stealth", "--out", str(afile / "run"), *TINY]) == 2  # a file where a folder goes
    one_line_error(capsys, "afile")
    assert main(["train", "stealth", "--out", "/proc/sandbox-cannot-write-here", *TINY]) == 2  # read-only
    one_line_error(capsys, "/proc/sandbox-cannot-write-here")
    assert main(["solve", "stealth", "--show", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, f"--out {tmp_path} is a directory")
    assert afile.read_text() == "x"


def _npy_claiming(shape) -> bytes:
    header = repr({"descr": "<f4", "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64


def test_demo_header_claiming_1e11_rows_is_one_line(tmp_path, capsys):
    demos = tmp_path / "demos"
    demos.mkdir()
    import agents.ghost as ghost

    meta = {"format": 1, "env_id": "sandbox/Duel-v0", "env_version": ghost.env_version(),
            "obs_layout_hash": ghost.obs_layout_hash(), "frame_skip": 4}
    (demos / "round_0001.json").write_text(json.dumps(meta))
    with zipfile.ZipFile(demos / "round_0001.npz", "w") as z:
        z.writestr("obs.npy", _npy_claiming((10**11, 76)))
    assert main(["train", "ghost", "--demos", str(demos), "--out", str(tmp_path / "g"), "--quiet"]) == 2
    one_line_error(capsys, "round_0001.npz: member 'obs' claims shape (100000000000, 76)")


def test_corrupt_config_or_sidecar_on_resume_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "stealth", "--out", str(out), *TINY]) == 0
    config = (out / "config.json").read_text()
    (out / "config.json").write_text("{not json")
    assert main(["train", "stealth", "--out", str(out), "--resume", "--quiet"]) == 2
    one_line_error(capsys, "config.json: not valid JSON")
    (out / "config.json").write_text(json.dumps({"algo": "ppo"}))
    assert main(["train", "stealth", "--out", str(out), "--resume", "--quiet"]) == 2
    one_line_error(capsys, "config.json: not a run config of sandbox train ('env' missing")
    (out / "config.json").write_text(config)
    (out / "checkpoints" / "latest.json").write_text("[1, 2")
    assert main(["train", "stealth", "--out", str(out), "--resume", "--quiet"]) == 2
    one_line_error(capsys, "latest.json: not valid JSON")


def test_a_bug_still_shows_its_traceback(monkeypatch):
    import experiments.train as train

    def broken(*args, **kwargs):
        raise AssertionError("a bug, not bad input")

    monkeypatch.setattr(train, "train_run", broken)
    with pytest.raises(AssertionError, match="a bug"):
        main(["train", "stealth", "--quiet"])


# ---- 3: a run folder is never lost ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rl_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl") / "run"
    assert main(["train", "stealth", "--out", str(out), *TINY]) == 0
    return out


def test_train_ghost_refuses_an_rl_run(rl_run, tmp_path, capsys):
    before = snapshot(rl_run)
    demos = tmp_path / "demos"
    assert main(["record", "duel", "--player", "scripted:zoner", "--vs", "scripted:easy", "--rounds", "2",
                 "--round-seconds", "2", "--seed", "0", "--out", str(demos)]) == 0
    capsys.readouterr()
    assert main(["train", "ghost", "--demos", str(demos), "--out", str(rl_run), "--epochs", "1", "--quiet"]) == 2
    one_line_error(capsys, f"{rl_run} holds a train run, not a train ghost one")
    assert snapshot(rl_run) == before
    assert main(["train", "stealth", "--out", str(rl_run), *TINY]) == 2  # a complete run: --resume or --force
    one_line_error(capsys, "already holds a complete train run; pass --resume")
    assert main(["record", "duel", "--player", "scripted:zoner", "--rounds", "1", "--round-seconds", "1",
                 "--out", str(rl_run)]) == 2
    one_line_error(capsys, "holds a train run, not a record one")
    assert snapshot(rl_run) == before


def test_train_refuses_a_folder_it_did_not_create_and_checks_every_file(tmp_path, capsys):
    out = tmp_path / "old"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "latest.zip").write_bytes(b"precious")
    (out / "metrics.csv").write_text("steps\n1\n")
    before = snapshot(out)
    assert main(["train", "stealth", "--out", str(out), *TINY]) == 2
    one_line_error(capsys, "is not empty (checkpoints, metrics.csv) and was not created by sandbox train")
    assert snapshot(out) == before
    assert main(["compare", "director", "--out", str(out)]) == 2
    one_line_error(capsys, "was not created by sandbox compare director")
    assert main(["train", "stealth", "--out", str(out), *TINY, "--force"]) == 0
    assert read_marker(out)["status"] == "complete"


def test_single_file_writers_refuse_existing_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    png = tmp_path / "policy.png"
    png.write_bytes(b"mine")
    assert main(["solve", "stealth", "--show", "--out", str(png)]) == 2
    one_line_error(capsys, f"--out {png} already exists; pass --force")
    assert png.read_bytes() == b"mine"
    assert main(["solve", "stealth", "--show", "--out", str(png), "--force"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    gif = tmp_path / "clip.gif"
    gif.write_bytes(b"mine")
    assert main(["watch", "duel", "--p1", "random", "--p2", "random", "--record", str(gif), "--seconds", "0.2"]) == 2
    one_line_error(capsys, f"--record {gif} already exists; pass --force")
    assert gif.read_bytes() == b"mine"


def test_record_appends_to_its_own_folder_and_adopts_old_demo_folders(tmp_path, capsys):
    demos = tmp_path / "demos"
    args = ["record", "duel", "--player", "scripted:zoner", "--rounds", "1", "--round-seconds", "1", "--seed", "0",
            "--out", str(demos)]
    assert main(args) == 0 and main(args) == 0
    assert sorted(p.name for p in demos.glob("round_*.npz")) == ["round_0001.npz", "round_0002.npz"]
    (demos / MARKER).unlink()  # a demo folder recorded before markers existed
    assert main(args) == 0
    assert read_marker(demos)["writer"] == "record"


# ---- 5: a run stopped before its first checkpoint is started again ---------------------------------------------
def test_a_run_that_never_checkpointed_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "stealth", "--out", str(out), *TINY, "--set", "n_steps=0"]) == 2
    capsys.readouterr()
    assert read_marker(out) == {"writer": "train", "status": "incomplete"}
    assert main(["train", "stealth", "--out", str(out), *TINY, "--resume"]) == 0  # --resume: starts it again
    assert read_marker(out)["status"] == "complete"
    out2 = tmp_path / "run2"
    assert main(["train", "stealth", "--out", str(out2), *TINY, "--set", "n_steps=0"]) == 2
    assert main(["train", "stealth", "--out", str(out2), *TINY]) == 0  # and so does a plain re-run
    assert (out2 / "checkpoints" / "final.zip").is_file()


# ---- 6: names from files never become paths -----------------------------------------------------------------
def test_a_level_name_cannot_write_outside_runs(tmp_path, monkeypatch, capsys):
    work = tmp_path / "a" / "b" / "c" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    level = work / "evil.toml"
    level.write_text('name = "x/../../../../outside"\n' + LEVEL)
    assert main(["solve", "stealth", "--level", str(level), "--show"]) == 0
    written = [p for p in tmp_path.rglob("*.png")]
    assert [p.relative_to(work) for p in written] == [Path("runs/solve/stealth_x_.._.._.._.._outside.png")]
    assert not (tmp_path / "a" / "outside.png").exists() and not (tmp_path / "a" / "runs").exists()


# ---- 8: watch stealth credits only the agent's own episodes ----------------------------------------------------
def test_watch_stealth_does_not_credit_the_agent_with_the_planners_episodes(tmp_path, monkeypatch):
    from stable_baselines3 import PPO

    import agents.bundled as bundled
    from envs.stealth.env import StealthEnv
    from experiments.watch import Config, StealthSession

    folder = tmp_path / "bundled"
    folder.mkdir()
    PPO("MlpPolicy", StealthEnv(level="tutorial"), n_steps=64, batch_size=64, seed=0, device="cpu",
        policy_kwargs={"net_arch": [8]}).save(folder / "stealth-ppo.zip")
    (folder / "stealth-ppo.json").write_text(json.dumps({"algo": "PPO", "env": "stealth", "env_kwargs": {
        "level": "tutorial", "obs_mode": "grid"}, "nav_features": False, "steps": 0, "seed": 0}))
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    session = StealthSession(Config(game="stealth", p1="bundled:stealth-ppo", level="sentry_hall", rounds=2, seed=0))
    assert session.agent_label == "planner (for bundled:stealth-ppo)"  # 7x11 observations, a 7x13 level
    for _ in range(10_000):
        if session.finished:
            break
        session.advance()
    assert session.finished
    assert sum(session.results.values()) == 0 and sum(session.stand_in.values()) == 2
    assert session.summary().startswith("bundled:stealth-ppo: 0 episode(s): goal 0, caught 0, out of time 0; "
                                        "the planner played 2 more")


# ---- 4: Ctrl-C is honest --------------------------------------------------------------------------------------
HOOK = textwrap.dedent("""
    import os, signal, sys
    import experiments.train.run as run
    import experiments.train.trainers as trainers
    where = sys.argv.pop(1)

    def ctrl_c():  # what a terminal does: SIGINT to the whole process group, workers included
        os.killpg(os.getpgid(0), signal.SIGINT)

    if where == "rollout":
        update, calls = trainers.Loop.update, []
        def hooked(self, steps, new):
            calls.append(steps)
            if len(calls) == 40:
                ctrl_c()
            return update(self, steps, new)
        trainers.Loop.update = hooked
    elif where == "evaluation":
        evaluate, calls = trainers.evaluate, []
        def hooked(*a, **k):
            calls.append(1)
            if len(calls) == 2:  # the second evaluation: the first left a checkpoint
                ctrl_c()
            return evaluate(*a, **k)
        trainers.evaluate = hooked
    elif where == "checkpoint":
        save = trainers.atomic_save
        def hooked(path, *a, **k):
            out = save(path, *a, **k)
            if path.name.endswith(".zip"):
                ctrl_c()  # between the zip and its sidecar
            return out
        trainers.atomic_save = hooked
    from experiments.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("where", ["rollout", "evaluation", "checkpoint"])
def test_ctrl_c_exits_130_with_one_line_and_a_consistent_folder(tmp_path, where):
    out = tmp_path / "run"
    cmd = [sys.executable, "-c", HOOK, where, "train", "stealth", "--out", str(out), "--steps", "100000",
           "--envs", "2", "--eval-every", "512", "--eval-episodes", "2", "--set", "n_steps=64", "--set",
           "batch_size=64", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          start_new_session=True)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines() == ["sandbox train: interrupted"], proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "ppo"
    marker = read_marker(out)
    if where == "rollout":  # before the first evaluation at 512 steps: nothing to resume
        assert marker["status"] == "incomplete"
    else:
        side = json.loads((out / "checkpoints" / "latest.json").read_text())
        assert marker["status"] == "resumable" and side["steps"] >= 512
        rows = (out / "metrics.csv").read_text().splitlines()
        assert int(float(rows[-1].split(",")[0])) <= side["steps"]
    assert not [p for p in out.rglob(".*") if p.name != MARKER]  # no temporary file left behind


def test_a_broken_pipe_that_is_not_stdout_is_not_taken_for_head(monkeypatch):
    """Before: closing dead vector-env workers after Ctrl-C raised BrokenPipeError, which cli.main took
    for ``| head`` and answered with exit 0 and no message."""
    import experiments.train as train

    def workers_gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(train, "train_run", workers_gone)
    with pytest.raises(BrokenPipeError):
        main(["train", "stealth", "--quiet"])
