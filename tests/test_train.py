"""Training: the original recipe, exact resume after SIGKILL, data safety, distribution."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import reference_sets
from mim3d.config import TrainConfig
from mim3d.convert import model_from_original
from mim3d.dummy import write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.model import l2_loss
from mim3d.normalize import fit
from mim3d.runconfig import load_run_config
from mim3d.train import Trainer, TrainingDiverged, train

TINY = {"model": {"num_hidden": [4, 4], "filter_size": 3},
        "train": {"batch_size": 2, "max_iterations": 4, "input_length": 2, "total_length": 4,
                  "reverse_input": False, "display_interval": 1, "test_interval": 100,
                  "snapshot_interval": 1, "sampling_changing_rate": 0.2,
                  "sampling_stop_iter": 4, "num_save_samples": 0}}


@pytest.fixture(scope="module")
def dummy_data(tmp_path_factory) -> Path:
    folder = write_dummy_well(tmp_path_factory.mktemp("data"), n=3, grid=8, n_t=6)
    write_dummy_well(folder, n=1, grid=8, n_t=6, split="valid")
    fit(folder, ("density",)).save(folder / "normalizer.json")
    return folder


def tiny_config(data: Path, **train) -> dict:
    return {"model": dict(TINY["model"]), "train": {**TINY["train"], **train},
            "data": {"path": str(data)}}


def read_losses(run: Path) -> dict[int, float]:
    with open(run / "metrics.csv") as fh:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(fh)}


def test_eta_schedule_follows_original():
    cfg = TrainConfig(sampling_start_value=1.0, sampling_changing_rate=0.1, sampling_stop_iter=5)
    assert cfg.eta(1) == pytest.approx(0.9)
    assert cfg.eta(4) == pytest.approx(0.6)
    assert cfg.eta(5) == 0.0
    assert TrainConfig(scheduled_sampling=False).eta(1) == 0.0


@pytest.mark.parametrize("path", reference_sets(), ids=lambda p: p.name)
def test_one_step_reproduces_original_adam(path, tmp_path):
    """One step from the fixture's checkpoint gives the deterministic reference loss."""
    meta = json.loads((path / "meta.json").read_text())
    flags = meta["flags"]
    ref = json.loads((path / "loss.json").read_text())["one_adam_step"]
    x = np.load(path / "inputs.npy")
    mask = np.load(path / "mask.npy")
    flags_per_step = mask.reshape(mask.shape[0], mask.shape[1], -1)[:, :, 0]
    assert np.array_equal(mask, np.broadcast_to(
        flags_per_step.reshape(flags_per_step.shape + (1,) * (mask.ndim - 2)), mask.shape))
    model = model_from_original(path / "ckpt", flags)
    trajectories = [x[i, ..., :] for i in range(len(x))]
    arrays = tmp_path / "x.npy"
    np.save(arrays, x)
    config = {"model": {"num_hidden": [int(v) for v in str(flags["num_hidden"]).split(",")],
                        "filter_size": flags["filter_size"],
                        "patch_size": flags["patch_size"]},
              "train": {"batch_size": len(trajectories), "input_length": flags["input_length"],
                        "total_length": flags["total_length"], "max_iterations": 1,
                        "reverse_input": False},
              "data": {"path": str(arrays)}}
    trainer = Trainer(load_run_config(None, base=config), tmp_path / "run", model=model,
                      progress=False)
    trainer._train_fn = trainer._build_train_fn()
    before = float(trainer._train_fn(x, flags_per_step)) / len(x)
    assert before == pytest.approx(ref["loss_train_before"], rel=1e-5)
    after = float(l2_loss(model(x, input_length=flags["input_length"], sampling_mask=mask),
                          x)) / len(x)
    assert after == pytest.approx(ref["deterministic_reference_uniform_t1"], rel=1e-4)


def test_training_learns_and_logs(dummy_data, tmp_path):
    run = tmp_path / "run"
    model, history = train(tiny_config(dummy_data, max_iterations=6, test_interval=3,
                                       num_save_samples=1),
                           run, progress=False)
    assert history.step == list(range(1, 7))
    assert all(np.isfinite(history.loss))
    for name in ("run.yaml", "normalizer.json", "metrics.csv", "validation.csv", "model.keras",
                 "tensorboard"):
        assert (run / name).exists(), name
    with open(run / "metrics.csv") as fh:
        assert next(csv.reader(fh)) == ["step", "loss", "eta", "lr", "seconds"]
    with open(run / "validation.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [3, 3, 6, 6]  # two predicted leads each time
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000003.npz",
                                                                   "step_0000006.npz"]
    ckpts = sorted((run / "checkpoints").glob("*.index"))
    assert len(ckpts) == 3  # keep_checkpoints


def _cli_train(config: Path, run: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mim3d", "train", "--config", str(config),
                             "--out", str(run), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_resume_after_sigkill_gives_identical_losses(dummy_data, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_config(dummy_data, max_iterations=8,
                                                 sampling_stop_iter=8,
                                                 sampling_changing_rate=0.1)))
    straight = _cli_train(config, tmp_path / "straight")
    out, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err
    ref = read_losses(tmp_path / "straight")
    assert sorted(ref) == list(range(1, 9))

    killed_dir = tmp_path / "killed"
    proc = _cli_train(config, killed_dir)
    deadline = time.time() + 600
    while not (killed_dir / "checkpoints" / "ckpt-3.index").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_dir / "model.keras").exists()

    resumed = _cli_train(config, killed_dir, "--resume")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    got = read_losses(killed_dir)
    assert sorted(got) == list(range(1, 9))  # every step logged exactly once
    for step in range(1, 9):
        assert got[step] == pytest.approx(ref[step], rel=1e-6, abs=0), step


def test_non_empty_run_folder_is_refused_and_overwrite_keeps_old_files(dummy_data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("my notes")
    with pytest.raises(Mim3dError, match="not empty"):
        train(tiny_config(dummy_data, max_iterations=1), run, progress=False)
    train(tiny_config(dummy_data, max_iterations=1), run, progress=False, overwrite=True)
    backups = list(run.glob("replaced-*"))
    assert len(backups) == 1 and (backups[0] / "notes.txt").read_text() == "my notes"


def test_resume_with_changed_model_is_refused(dummy_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(dummy_data, max_iterations=1), run, progress=False)
    changed = tiny_config(dummy_data, max_iterations=2)
    changed["model"]["num_hidden"] = [8, 8]
    with pytest.raises(Mim3dError, match="model configuration changed"):
        train(changed, run, progress=False, resume=True)


def test_nan_loss_stops_and_keeps_last_checkpoint(dummy_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    original = Trainer.train_iteration

    def poisoned(self, iteration, x):
        loss, eta = original(self, iteration, x)
        return (float("nan") if iteration == 3 else loss), eta

    monkeypatch.setattr(Trainer, "train_iteration", poisoned)
    with pytest.raises(TrainingDiverged, match="iteration 3.*iteration 2"):
        train(tiny_config(dummy_data, max_iterations=5), run, progress=False)
    assert (run / "checkpoints" / "ckpt-2.index").exists()
    assert not (run / "checkpoints" / "ckpt-3.index").exists()


@pytest.mark.parametrize("sets,match", [
    (["train.lrr=1"], "unknown training setting"),
    (["train.total_length=9"], "total_length=9"),
    (["train.batch_size=64"], "larger than the training data"),
    (["model.num_hidden=[4,8]"], "must all be equal"),
    (["data.fieldz=[density]"], "unknown data setting"),
])
def test_bad_config_errors(dummy_data, tmp_path, sets, match):
    with pytest.raises(Mim3dError, match=match):
        train(tiny_config(dummy_data), tmp_path / "run", sets=sets, progress=False)


def test_unwritable_run_folder(dummy_data, tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(Mim3dError, match="is a file"):
            train(tiny_config(dummy_data), blocker, progress=False)
    else:
        tmp_path.chmod(0o500)
        with pytest.raises(Mim3dError):
            train(tiny_config(dummy_data), tmp_path / "run", progress=False)


def test_original_flags_are_accepted(dummy_data, tmp_path):
    flags = tmp_path / "flags.yaml"
    flags.write_text(yaml.safe_dump({
        "is_training": True, "dataset_name": "sn", "train_data_paths": str(dummy_data),
        "save_dir": "checkpoints/x", "model_name": "mim", "img_channel": 1, "img_width": 8,
        "input_length": 2, "total_length": 4, "max_iterations": 1, "num_hidden": "4,4",
        "batch_size": 2, "patch_size": 1, "filter_size": 3, "reverse_input": False}))
    run = load_run_config(flags)
    assert run.model["num_hidden"] == "4,4"
    assert run.train.max_iterations == 1 and run.data["path"] == str(dummy_data)
