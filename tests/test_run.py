"""The run object (experiments/train/run.py): the folder claim and its refusals, config.json, metrics rows and
their TensorBoard tags, checkpoints with sidecars, and resume keeping exactly the rows up to the checkpoint."""

from __future__ import annotations

import json

import pytest

from experiments.runfolder import RunFolderError, read_marker
from experiments.train.run import Run, read_metrics

FIELDS = ("steps", "loss", "seconds")


def save_text(text: str):
    def save(path):
        path.write_text(text)

    return save


def test_a_new_run_claims_its_folder_and_writes_config_metrics_and_checkpoints(tmp_path):
    run = Run.start(tmp_path / "r", "train", {"algo": "x", "steps": 30}, FIELDS, progress=False)
    assert read_marker(tmp_path / "r") == {"writer": "train", "status": "incomplete"}
    assert json.loads((tmp_path / "r" / "config.json").read_text()) == {"algo": "x", "steps": 30}
    for steps, loss in ((10, 0.5), (20, 0.25)):
        run.log({"steps": steps, "loss": loss, "seconds": 1.0})
        run.checkpoint("latest", save_text(f"weights at {steps}"), steps, {"note": "n"}, suffix=".txt")
    assert read_marker(tmp_path / "r")["status"] == "resumable"
    side = json.loads((tmp_path / "r" / "checkpoints" / "latest.json").read_text())
    assert side == {"note": "n", "steps": 20}
    assert [(r["steps"], r["loss"]) for r in read_metrics(tmp_path / "r")] == [(10.0, 0.5), (20.0, 0.25)]
    run.finish()
    assert read_marker(tmp_path / "r")["status"] == "complete"
    # TensorBoard: every metrics column is metrics/COLUMN against the x axis
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "r" / "tb"))
    acc.Reload()
    assert {"metrics/loss", "metrics/seconds"} <= set(acc.Tags()["scalars"])
    assert [(e.step, e.value) for e in acc.Scalars("metrics/loss")] == [(10, 0.5), (20, 0.25)]


def test_refusals_and_takeover(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not empty"):
        Run.start(other, "train", {}, FIELDS, progress=False)
    done = Run.start(tmp_path / "done", "train", {}, FIELDS, progress=False)
    done.finish()
    with pytest.raises(RunFolderError, match="pass --resume"):
        Run.start(tmp_path / "done", "train", {}, FIELDS, progress=False)
    with pytest.raises(RunFolderError, match="not a train ghost one"):
        Run.start(tmp_path / "done", "train ghost", {}, FIELDS, progress=False)
    # a run stopped before its first checkpoint is started again, even when asked to resume
    Run.start(tmp_path / "early", "train", {"a": 1}, FIELDS, progress=False)
    again = Run.start(tmp_path / "early", "train", {"a": 2}, FIELDS, resume=True, progress=False)
    assert not again.resumed and again.config == {"a": 2}


def test_resume_keeps_the_rows_up_to_the_checkpoint_and_takes_a_new_budget(tmp_path):
    run = Run.start(tmp_path / "r", "train", {"algo": "x", "steps": 30}, FIELDS, progress=False)
    run.log({"steps": 10, "loss": 1.0, "seconds": 2.0})
    run.checkpoint("latest", save_text("10"), 10)
    run.log({"steps": 20, "loss": 0.5, "seconds": 4.0})  # after the checkpoint: lost by an interruption
    run.close()
    resumed = Run.start(tmp_path / "r", "train", lambda stored: {**stored, "steps": 50}, FIELDS, resume=True,
                        progress=False, latest="latest")
    assert resumed.resumed and resumed.resume_from.name == "latest.pt" and resumed.resumed_meta == {"steps": 10}
    assert resumed.config == {"algo": "x", "steps": 50}
    assert [r["steps"] for r in resumed.rows] == [10.0]
    assert resumed.seconds() >= 2.0  # wall-clock seconds add up over the sessions of a run
    with pytest.raises(ValueError, match="holds a run with algo 'x', not 'y'"):
        Run.start(tmp_path / "r", "train", {"algo": "y"}, FIELDS, resume=True, progress=False, same=("algo",))


def test_resume_without_a_checkpoint_or_with_a_corrupt_sidecar_is_one_line(tmp_path):
    run = Run.start(tmp_path / "r", "train", {}, FIELDS, progress=False)
    run.checkpoint("latest", save_text("w"), 5, suffix=".pt")
    (tmp_path / "r" / "checkpoints" / "latest.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"latest\.json: not valid JSON"):
        Run.start(tmp_path / "r", "train", {}, FIELDS, resume=True, progress=False)
    (tmp_path / "r" / "checkpoints" / "latest.pt").unlink()
    (tmp_path / "r" / "checkpoints" / "latest.json").unlink()
    with pytest.raises(FileNotFoundError, match="no checkpoints/latest"):
        Run.start(tmp_path / "r", "train", {}, FIELDS, resume=True, progress=False)
