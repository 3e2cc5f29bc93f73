"""Evaluation: files and columns, row counts, persistence by hand, verdict, no overwrite, errors."""

from __future__ import annotations

import csv
import itertools
import json
import shutil

import numpy as np
import pytest
import yaml

from mim3d.cli import main
from mim3d.config import ModelConfig
from mim3d.convlstm import ConvLSTMForecaster
from mim3d.dummy import dummy_trajectory, write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.evaluate import (
    DIAGNOSTICS_COLUMNS,
    METRICS_COLUMNS,
    check_out,
    evaluate,
    parse_baseline,
    verdict,
)
from mim3d.formats.well import WellStore, write_well
from mim3d.metrics import ALL
from mim3d.model import MIM
from mim3d.normalize import fit
from mim3d.physics import sedov_taylor_radius_pc

FIELDS = ["density", "pressure"]
L, N_FUTURE, N_T = 3, 2, 6  # windows of 5 frames in 6-frame trajectories: 2 per trajectory


def _run_dir(path, model, normalizer, fields):
    """A training run folder as `mim3d train` leaves it (untrained weights: plumbing only)."""
    path.mkdir()
    model.save(path / "model.keras")
    normalizer.save(path / "normalizer.json")
    (path / "run.yaml").write_text(yaml.safe_dump({
        "model": {"num_hidden": list(model.config.num_hidden)},
        "train": {"input_length": L, "total_length": L + N_FUTURE},
        "data": {"path": "unused", "fields": list(fields)}}))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("evaluate")
    data = write_dummy_well(root / "data", n=2, grid=8, n_t=N_T, split="train")
    write_dummy_well(data, n=2, grid=8, n_t=N_T, split="test")
    write_well(data / "data" / "uniform" / "u.hdf5",
               [dummy_trajectory(grid=8, n_t=N_T, seed=s, medium="uniform") for s in (5, 6)])
    norm = fit(data, tuple(FIELDS))
    cfg = ModelConfig(num_hidden=(4,), filter_size=3, patch_size=2, img_width=8, img_channel=2)
    keras.utils.set_random_seed(0)
    run = _run_dir(root / "mim", MIM(cfg), norm, FIELDS)
    conv = _run_dir(root / "conv", ConvLSTMForecaster(cfg), norm, FIELDS)
    result = evaluate(run, data, "test", root / "results" / "first",
                      baselines=("persistence", f"convlstm={conv}"))
    return {"root": root, "data": data, "run": run, "conv": conv, "norm": norm,
            "result": result, "out": root / "results" / "first"}


def _rows(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def test_files_and_columns(setup):
    out = setup["out"]
    assert sorted(p.name for p in out.iterdir()) == ["diagnostics.csv", "forecasts.npz",
                                                     "metrics.csv", "summary.json"]
    header, _ = _rows(out / "metrics.csv")
    assert tuple(header) == METRICS_COLUMNS
    header, diag = _rows(out / "diagnostics.csv")
    assert tuple(header) == DIAGNOSTICS_COLUMNS
    # 4 windows × 2 leads × (model, persistence, convlstm, sedov_taylor)
    assert len(diag) == 4 * N_FUTURE * 4
    assert {r["model"] for r in diag} == {"model", "persistence", "convlstm", "sedov_taylor"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary == setup["result"].summary
    assert summary["settings"]["n_samples"] == 4 and summary["settings"]["n_trajectories"] == 2
    assert set(summary["scores"]) == {"physical", "scaled"}
    per_lead = summary["scores"]["physical"]["model"]["vrmse"]["density"]
    assert set(per_lead) == {"1", "2"} and per_lead["1"]["n"] == 4
    assert set(summary["comparison"]["physical"]) == {"persistence", "convlstm"}
    with np.load(out / "forecasts.npz") as f:
        assert f["truth"].shape == (4, L + N_FUTURE, 8, 8, 8, 2)
        for name in ("model", "persistence", "convlstm"):
            assert f[name].shape == (4, N_FUTURE, 8, 8, 8, 2)
        assert f["times"].shape == (4, L + N_FUTURE)
        assert list(f["channels"]) == FIELDS
        np.testing.assert_array_equal(f["persistence"][:, 0], f["truth"][:, L - 1])


def test_one_row_per_sample_lead_field_metric_model_space(setup):
    _, rows = _rows(setup["out"] / "metrics.csv")
    models, spaces = ("model", "persistence", "convlstm"), ("physical", "scaled")
    assert len(rows) == 4 * N_FUTURE * len(FIELDS) * len(ALL) * len(models) * len(spaces)
    keys = {(r["sample"], r["lead"], r["field"], r["metric"], r["model"], r["space"])
            for r in rows}
    assert keys == {(str(s), str(t), f, m, mo, sp) for s, t, f, m, mo, sp in itertools.product(
        range(4), range(1, N_FUTURE + 1), FIELDS, ALL, models, spaces)}


def test_persistence_scores_as_computed_by_hand(setup):
    _, rows = _rows(setup["out"] / "metrics.csv")
    store = WellStore(setup["data"], split="test")
    # sample 3 = trajectory 1, start 1 (windows in trajectory order); lead 2
    x = store.window(1, 1, L + N_FUTURE, channels=("density",))[..., 0].astype(np.float64)
    last, target = x[L - 1], x[L + 1]
    mse = np.mean((last - target) ** 2)
    norm = setup["norm"]
    z_last = (np.log10(last) - norm.mean[0]) / norm.std[0]
    z_target = (np.log10(target) - norm.mean[0]) / norm.std[0]
    vrmse = np.sqrt(np.mean((z_last - z_target) ** 2) / (np.var(z_target, ddof=1) + 1e-7))

    def value(metric, space):
        (row,) = [r for r in rows if r["sample"] == "3" and r["lead"] == "2"
                  and r["field"] == "density" and r["metric"] == metric
                  and r["model"] == "persistence" and r["space"] == space]
        assert (row["trajectory"], row["start"]) == ("1", "1")
        assert float(row["time_myr"]) == pytest.approx(store.times(1)[1 + L + 1])
        return float(row["value"])

    assert value("mse", "physical") == pytest.approx(mse, rel=1e-5)
    assert value("vrmse", "scaled") == pytest.approx(vrmse, rel=1e-4)


def test_verdict_is_plain_and_agrees_with_the_numbers(setup):
    summary = setup["result"].summary
    text = summary["verdict"]
    assert text == setup["result"].verdict
    vr = {s: summary["comparison"][s]["persistence"]["vrmse"]["density"]
          for s in ("physical", "scaled")}
    won = [vr[s]["model_mean_over_leads"] < vr[s]["baseline_mean_over_leads"] for s in vr]
    assert "density VRMSE" in text and "persistence" in text
    assert ("NOT" in text) == (not all(won))


def _comparison(model_phys, pers_phys, model_scaled, pers_scaled):
    def entry(m, p):
        return {"persistence": {"vrmse": {"density": {"model_mean_over_leads": m,
                                                      "baseline_mean_over_leads": p}}}}
    return {"physical": entry(model_phys, pers_phys), "scaled": entry(model_scaled, pers_scaled)}


def test_verdict_sentences():
    beats = verdict(_comparison(0.5, 0.7, 0.2, 0.3), ["density"], 5)
    assert beats.startswith("The model beats persistence") and "NOT" not in beats
    assert "0.5 vs persistence 0.7" in beats and "5 lead" in beats
    loses = verdict(_comparison(0.9, 0.7, 0.4, 0.3), ["density"], 5)
    assert "does NOT beat persistence" in loses
    mixed = verdict(_comparison(0.9, 0.7, 0.2, 0.3), ["density"], 5)
    assert "NOT clearly" in mixed and "better in the model's scaled space" in mixed
    assert "Density is not among" in verdict(
        {s: {"persistence": {"vrmse": {"pressure": {"model_mean_over_leads": 1.0,
                                                    "baseline_mean_over_leads": 2.0}}}}
         for s in ("physical", "scaled")}, ["pressure"], 1)


def test_never_overwrites_an_earlier_result(setup):
    out = setup["out"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(Mim3dError, match=r"never overwrites.*first-2"):
        evaluate(setup["run"], setup["data"], "test", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    empty = setup["root"] / "results" / "empty"
    empty.mkdir()
    assert check_out(empty) == empty  # an empty folder may be filled
    with pytest.raises(Mim3dError, match="a file"):
        check_out(out / "summary.json")


def test_out_of_distribution_uniform_radius_vs_sedov_taylor(setup):
    result = evaluate(setup["run"], setup["data"], "uniform", out=None)
    assert result.out is None
    diag = result.summary["diagnostics"]
    store = WellStore(setup["data"], split="uniform")
    times = store.times(0)
    by_time = diag["radius_vs_time_myr"]
    # windows start at frames 0 and 1, so their forecast frames are at times 3, 4 and 5
    assert sorted(float(t) for t in by_time) == pytest.approx(times[L:])
    for t, entry in by_time.items():
        assert {"model", "persistence", "simulation", "sedov_taylor"} <= set(entry)
        assert entry["sedov_taylor"]["radius_peak_pc"] == pytest.approx(
            sedov_taylor_radius_pc(float(t), 1e51, 44.5))
    assert set(diag["per_lead"]["sedov_taylor"]["1"]) >= {"radius_peak_error",
                                                          "abs_radius_volume_error"}
    assert diag["per_lead"]["model"]["2"]["iou"]["n"] == 4


def test_bare_keras_needs_settings_and_scores_like_the_run(setup, tmp_path):
    model_file = setup["run"] / "model.keras"
    with pytest.raises(Mim3dError, match="--normalizer"):
        evaluate(model_file, setup["data"], "test", fields=FIELDS, input_length=L)
    with pytest.raises(Mim3dError, match="channel"):
        evaluate(model_file, setup["data"], "test", fields=["density"], input_length=L,
                 normalizer=setup["run"] / "normalizer.json")
    bare = evaluate(model_file, setup["data"], "test", tmp_path / "bare", fields=FIELDS,
                    input_length=L, n_future=N_FUTURE, normalizer=setup["run"] / "normalizer.json",
                    metrics=("mse", "vrmse"))
    ref = setup["result"].summary["scores"]["physical"]["model"]["vrmse"]["density"]["2"]
    got = bare.summary["scores"]["physical"]["model"]["vrmse"]["density"]["2"]
    assert got["mean"] == pytest.approx(ref["mean"], rel=1e-6)


def test_bad_input_gives_one_clear_error(setup, tmp_path):
    run, data = setup["run"], setup["data"]
    # the data's grid differs from the model's
    small = write_dummy_well(tmp_path / "small", n=1, grid=4, n_t=N_T, split="test")
    with pytest.raises(Mim3dError, match=r"expects a \(8, 8, 8\) grid"):
        evaluate(run, small, "test")
    # the data lack a field the model was trained on
    only = dummy_trajectory(grid=8, n_t=N_T)
    only = type(only)(fields={"density": only.fields["density"]}, times=only.times,
                      box_pc=only.box_pc, params=only.params)
    write_well(tmp_path / "dens" / "data" / "test" / "d.hdf5", [only])
    with pytest.raises(Mim3dError, match=r"missing \['pressure'\]"):
        evaluate(run, tmp_path / "dens", "test")
    # normalisation statistics missing
    no_stats = tmp_path / "no_stats"
    shutil.copytree(run, no_stats)
    (no_stats / "normalizer.json").unlink()
    with pytest.raises(Mim3dError, match="normalisation statistics missing"):
        evaluate(no_stats, data, "test")
    # statistics for other channels
    (no_stats / "normalizer.json").write_text(setup["norm"].select(["density"]).to_json())
    with pytest.raises(Mim3dError, match="channel mismatch"):
        evaluate(no_stats, data, "test")
    # an empty or missing split, or one too short for the windows
    (data / "data" / "empty").mkdir(exist_ok=True)
    with pytest.raises(Mim3dError, match="no .hdf5 files"):
        evaluate(run, data, "empty")
    with pytest.raises(Mim3dError, match="no split 'nope'"):
        evaluate(run, data, "nope")
    with pytest.raises(Mim3dError, match="frames"):
        evaluate(run, data, "test", n_future=N_T)
    # a baseline of other fields, and unreadable baseline specs
    other = _run_dir(tmp_path / "other", ConvLSTMForecaster(ModelConfig(
        num_hidden=(2,), filter_size=3, patch_size=2, img_width=8)),
        setup["norm"].select(["density"]), ["density"])
    with pytest.raises(Mim3dError, match="trained on fields"):
        evaluate(run, data, "test", baselines=[f"convlstm={other}"])
    for spec in ("convlstm", "model=x", "=x"):
        with pytest.raises(Mim3dError):
            parse_baseline(spec)
    assert parse_baseline("convlstm:runs/c") == ("convlstm", "runs/c")
    # nothing was written by the failed calls
    assert not (tmp_path / "results").exists()


def test_command_line(setup, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["evaluate", "--model", str(setup["run"]), "--data", str(setup["data"]), "--split",
            "test", "--out", str(out), "--baseline", f"convlstm={setup['conv']}",
            "--batch-size", "3", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "persistence on density VRMSE" in printed and str(out) in printed
    first = json.loads((out / "summary.json").read_text())
    ref = setup["result"].summary["scores"]["scaled"]["convlstm"]["mse"]["pressure"]["1"]
    assert first["scores"]["scaled"]["convlstm"]["mse"]["pressure"]["1"]["mean"] == \
        pytest.approx(ref["mean"], rel=1e-5)  # batches of 3 score like one batch of 4
    assert main(args) == 2
    assert "never overwrites" in capsys.readouterr().err
