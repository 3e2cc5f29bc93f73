"""Ensembles: seeds, splits by trajectory, resume, shards, refusal to clobber, parallel workers.

The simulator is replaced by :func:`mim3d.dummy.dummy_simulate` (same call, milliseconds).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from mim3d import ensemble
from mim3d.dummy import dummy_simulate
from mim3d.ensemble import EnsembleConfig, parse_shard, plan, run_ensemble
from mim3d.errors import Mim3dError
from mim3d.formats.well import WellStore

SMALL = EnsembleConfig(n=12, n_uniform=2, grid=8, seed=5, n_snapshots=4)


def _run(out, config=SMALL, **kw):
    return run_ensemble(config, out, progress=False, simulator=dummy_simulate, **kw)


def test_plan_seeds_and_splits():
    tasks = plan(SMALL)
    assert [t.index for t in tasks] == list(range(14))
    assert len({t.seed for t in tasks}) == 14
    assert [t.seed for t in plan(SMALL)] == [t.seed for t in tasks]  # deterministic
    assert [t.seed for t in plan(EnsembleConfig(n=12, n_uniform=2, seed=6))] != [
        t.seed for t in tasks]
    splits = [t.split for t in tasks]
    assert splits == ["train"] * 8 + ["valid", "test", "train", "train", "uniform", "uniform"]
    assert [t.medium for t in tasks][-3:] == ["turbulent", "uniform", "uniform"]
    # growing the ensemble keeps earlier seeds' splits (by index) and 80/10/10 in the limit
    big = plan(EnsembleConfig(n=100))
    assert [t.split for t in big[:12]] == splits[:12]
    assert sum(t.split == "train" for t in big) == 80


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(Mim3dError, match="--shard"):
            parse_shard(bad)


def test_ensemble_writes_well_dataset_and_manifest(tmp_path):
    out = tmp_path / "sn"
    report = _run(out)
    assert report.written == tuple(range(14)) and report.skipped == ()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["n"] == 12 and manifest["splits"]["uniform"] == [12, 13]
    train = WellStore(out, split="train")
    assert train.n_trajectories == 10 and train.grid == (8, 8, 8)
    uniform = WellStore(out, split="uniform")
    traj = uniform.trajectory(1)
    seeds = {t.index: t.seed for t in plan(SMALL)}
    assert traj.params["medium"] == "uniform" and traj.params["ensemble_index"] == 13
    assert traj.params["seed"] == seeds[13] and traj.n_t == 4
    # a split never shares a trajectory with another
    files = {s: {p.name for p in (out / "data" / s).glob("*.hdf5")}
             for s in ("train", "valid", "test", "uniform")}
    assert sum(len(f) for f in files.values()) == 14
    assert len(set().union(*files.values())) == 14


def test_resume_skips_finished_and_shards_share_work(tmp_path):
    out = tmp_path / "sn"
    first = _run(out, shard=(0, 3))
    assert first.written == (0, 3, 6, 9, 12)
    again = _run(out, shard=(0, 3))
    assert again.written == () and again.skipped == (0, 3, 6, 9, 12)
    before = (out / "data/train/traj_0000.hdf5").stat().st_mtime_ns
    rest = _run(out)
    assert rest.skipped == (0, 3, 6, 9, 12) and len(rest.written) == 9
    assert (out / "data/train/traj_0000.hdf5").stat().st_mtime_ns == before
    # sharded result equals an unsharded run
    whole = tmp_path / "whole"
    _run(whole)
    a = WellStore(out, split="valid").trajectory(0)
    b = WellStore(whole, split="valid").trajectory(0)
    assert np.array_equal(a.fields["density"], b.fields["density"]) and a.params == b.params


def test_refuses_foreign_or_different_folder(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    with pytest.raises(Mim3dError, match="not empty and holds no manifest.json"):
        _run(user)
    assert (user / "notes.txt").read_text() == "keep me" and len(list(user.iterdir())) == 1
    out = tmp_path / "sn"
    _run(out, config=EnsembleConfig(n=2, grid=8, n_snapshots=4))
    with pytest.raises(Mim3dError, match=r"another configuration \(grid: 8 there vs 16 now"):
        _run(out, config=EnsembleConfig(n=2, grid=16, n_snapshots=4))
    (tmp_path / "file").write_text("")
    with pytest.raises(Mim3dError, match="is a file"):
        _run(tmp_path / "file")


def test_failed_trajectory_leaves_no_file_and_is_retried(tmp_path, monkeypatch):
    out = tmp_path / "sn"
    config = EnsembleConfig(n=3, grid=8, n_snapshots=4)

    def flaky(sim_config, progress=False):
        if sim_config.seed == plan(config)[1].seed:
            raise RuntimeError("blew up")
        return dummy_simulate(sim_config)

    with pytest.raises(Mim3dError, match=r"1 of 3 trajectories failed \(1: RuntimeError: blew up"):
        run_ensemble(config, out, progress=False, simulator=flaky)
    names = sorted(p.name for p in (out / "data/train").iterdir())
    assert names == ["traj_0000.hdf5", "traj_0002.hdf5"]  # nothing half-written
    assert _run(out, config=config).written == (1,)


def test_parallel_spawned_workers_match_serial(tmp_path):
    config = EnsembleConfig(n=4, grid=8, n_snapshots=3)
    report = _run(tmp_path / "par", config=config, jobs=2)
    assert report.written == (0, 1, 2, 3)
    _run(tmp_path / "ser", config=config)
    a = WellStore(tmp_path / "par", split="train")
    b = WellStore(tmp_path / "ser", split="train")
    assert np.array_equal(a.window(2, 0, 3), b.window(2, 0, 3))


def test_command_line_with_preset_and_overrides(tmp_path, monkeypatch):
    calls = []

    def fake_run(config, out, jobs, shard, progress):
        calls.append((config, jobs, shard))
        return ensemble.EnsembleReport(tmp_path, (), ())

    monkeypatch.setattr(ensemble, "run_ensemble", fake_run)
    parser = argparse.ArgumentParser()
    ensemble.add_parser(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--preset", "demo", "--out", str(tmp_path),
                              "--grid", "16", "--shard", "1/2", "--jobs", "2", "--quiet"])
    assert args.func(args) == 0
    config, jobs, shard = calls[0]
    assert config == EnsembleConfig(n=24, n_uniform=4, grid=16, n_snapshots=20)
    assert (jobs, shard) == (2, (1, 2))


def test_uncreatable_output_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    config = EnsembleConfig(n=1, grid=8, n_snapshots=3)
    with pytest.raises(Mim3dError, match="cannot create the data folder"):
        run_ensemble(config, blocker / "data", progress=False, simulator=dummy_simulate)
    assert blocker.read_text() == "mine"
