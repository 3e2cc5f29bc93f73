"""3D-MIM against the original code's outputs, shapes, save/load and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import reference_sets
from mim3d.config import ModelConfig
from mim3d.convert import convert_original, model_from_original
from mim3d.errors import Mim3dError
from mim3d.model import MIM, l2_loss
from mim3d.patching import patch, unpatch
from mim3d.predict import forecast_future, load_model, predict

SETS = reference_sets()


@pytest.fixture(scope="module", params=SETS, ids=[p.name for p in SETS])
def fixture_set(request):
    path = request.param
    meta = json.loads((path / "meta.json").read_text())
    model = model_from_original(path / "ckpt", meta["flags"])
    return path, meta, model


def test_reference_sets_found(reference_dir):
    assert reference_sets(), reference_dir


def test_forward_matches_original_test_and_train_mode(fixture_set):
    path, meta, model = fixture_set
    lin = meta["flags"]["input_length"]
    x = np.load(path / "inputs.npy")
    out_test = predict(model, x, lin)
    out_train = predict(model, x, lin, mask=np.load(path / "mask.npy"))
    assert out_test.shape == np.load(path / "outputs_test.npy").shape
    assert np.abs(out_test - np.load(path / "outputs_test.npy")).max() <= 1e-5
    assert np.abs(out_train - np.load(path / "outputs_train.npy")).max() <= 1e-5
    # eager call and compiled forecast agree
    eager = model(x, input_length=lin).numpy()
    assert np.abs(eager - out_test).max() <= 1e-5


def test_loss_and_gradients_match_original(fixture_set):
    path, meta, model = fixture_set
    x = np.load(path / "inputs.npy")
    ref_loss = json.loads((path / "loss.json").read_text())["l2_raw_tf"]
    names = model.original_weights()
    with tf.GradientTape() as tape:
        loss = l2_loss(model(x, input_length=meta["flags"]["input_length"],
                             sampling_mask=np.load(path / "mask.npy")), x)
    assert abs(float(loss) - ref_loss) <= 1e-5 * abs(ref_loss)
    grads = tape.gradient(loss, list(names.values()))
    ref = np.load(path / "grads.npz")
    assert set(ref.files) == set(names)
    for name, g in zip(names, grads, strict=True):
        scale = np.abs(ref[name]).max()
        err = np.abs(g.numpy() - ref[name]).max()
        assert err <= 1e-4 * scale + 1e-12, (name, err, scale)


def test_convert_cli_then_predict_cli(fixture_set, tmp_path):
    path, meta, _ = fixture_set
    flags = tmp_path / "FLAGS.json"
    flags.write_text(json.dumps(meta["flags"]))
    run = [sys.executable, "-m", "mim3d"]
    out = subprocess.run(run + ["convert-original", "--checkpoint", str(path / "ckpt"),
                                "--config", str(flags), "--output", str(tmp_path / "m.keras")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(run + ["predict", "--model", str(tmp_path / "m.keras"), "--input",
                                str(path / "inputs.npy"), "--input-length",
                                str(meta["flags"]["input_length"]), "--output",
                                str(tmp_path / "p.npy")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pred = np.load(tmp_path / "p.npy")
    assert pred.dtype == np.float32
    assert np.abs(pred - np.load(path / "outputs_test.npy")).max() <= 1e-5


def test_patch_channel_order_matches_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 6, 8, 2)).astype(np.float32)
    p, c = 2, 2
    y = patch(tf.constant(x), p).numpy()
    assert y.shape == (2, 3, 2, 3, 4, 16)
    for a in range(p):
        for b in range(p):
            for cc in range(p):
                for ch in range(c):
                    np.testing.assert_array_equal(
                        y[..., ((a * p + b) * p + cc) * c + ch], x[:, :, a::p, b::p, cc::p, ch])
    np.testing.assert_array_equal(unpatch(tf.constant(y), p).numpy(), x)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("grid,channels,patch_size,layers", [
    (8, 1, 1, 2), (8, 2, 2, 3), (12, 1, 3, 1), (4, 3, 1, 4)])
def test_output_shapes(rank, grid, channels, patch_size, layers):
    cfg = ModelConfig(num_hidden=(4,) * layers, filter_size=3, patch_size=patch_size,
                      img_width=grid, img_channel=channels, rank=rank)
    model = MIM(cfg)
    x = np.random.default_rng(1).random((2, 4, *(grid,) * rank, channels), np.float32)
    out = predict(model, x, 2)
    assert out.shape == (2, 3, *(grid,) * rank, channels)
    assert np.isfinite(out).all()
    assert len(model.original_weights()) == len(model.weights)


def test_weight_count_matches_original_layout():
    # layer 0: 3 convs + 3 LN pairs + cell_reduce; blocks 4 + 3 LN + MIM-S (2 convs, 2 LN, 2
    # peepholes); diffs 2 convs + 2 LN + 2 peepholes; output conv
    model = MIM(ModelConfig(num_hidden=(8, 8), filter_size=3, img_width=8))
    assert len(model.weights) == 50
    assert sum(int(np.prod(w.shape)) for w in model.weights) == 87137


def test_single_sequence_and_batching_agree():
    model = MIM(ModelConfig(num_hidden=(4, 4), filter_size=3, img_width=6))
    x = np.random.default_rng(2).random((3, 5, 6, 6, 6, 1), np.float32)
    full = predict(model, x, 2)
    np.testing.assert_allclose(predict(model, x, 2, batch_size=2), full, atol=1e-6)
    np.testing.assert_allclose(predict(model, x[1], 2), full[1], atol=1e-6)
    fut = forecast_future(model, x[:, :2], 3)
    np.testing.assert_allclose(fut, full[:, 1:], atol=1e-6)


def test_future_frames_do_not_influence_test_mode():
    model = MIM(ModelConfig(num_hidden=(4, 4), filter_size=3, img_width=6))
    x = np.random.default_rng(3).random((1, 5, 6, 6, 6, 1), np.float32)
    y = x.copy()
    y[:, 2:] = 123.0
    np.testing.assert_array_equal(predict(model, x, 2), predict(model, y, 2))


def test_per_channel_peephole_is_grid_independent():
    cfg = ModelConfig(num_hidden=(4, 4), filter_size=3, img_width=8, per_channel_peephole=True)
    model = MIM(cfg)
    shapes = {w.path.rsplit("/", 1)[-1]: tuple(w.shape) for w in model.weights}
    assert shapes["c_t_weight"] == (8,) and shapes["oc_weight"] == (4,)


def test_save_load_identical(tmp_path):
    model = MIM(ModelConfig(num_hidden=(4, 4, 4), filter_size=3, patch_size=2, img_width=8,
                            img_channel=2))
    x = np.random.default_rng(4).random((2, 4, 8, 8, 8, 2), np.float32)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.config == model.config
    np.testing.assert_array_equal(predict(loaded, x, 2), predict(model, x, 2))


def test_no_retrace_when_batch_or_length_change():
    model = MIM(ModelConfig(num_hidden=(4, 4), filter_size=3, img_width=4))
    rng = np.random.default_rng(5)
    for b, t, lin in [(1, 4, 2), (3, 6, 1), (2, 5, 3)]:
        model.forecast(rng.random((b, t, 4, 4, 4, 1), np.float32), lin)
    assert model._forward.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_hidden=(8, 4)), "must all be equal"),
    (dict(img_width=10, patch_size=3), "not divisible by patch_size"),
    (dict(filter_size=4), "odd"),
    (dict(num_hidden="8,x"), "integers"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(Mim3dError, match=match):
        ModelConfig(**kwargs)


def test_bad_inputs():
    model = MIM(ModelConfig(num_hidden=(4, 4), filter_size=3, img_width=4))
    x = np.zeros((1, 4, 4, 4, 4, 1), np.float32)
    with pytest.raises(Mim3dError, match="rank"):
        predict(model, x[0, 0], 2)
    with pytest.raises(Mim3dError, match="grid×channels"):
        predict(model, np.zeros((1, 4, 4, 4, 4, 2), np.float32), 2)
    with pytest.raises(Mim3dError, match="per-voxel peepholes"):
        predict(model, np.zeros((1, 4, 6, 6, 6, 1), np.float32), 2)
    with pytest.raises(Mim3dError, match="input_length"):
        predict(model, x, 4)
    bad = x.copy()
    bad[0, 1, 0, 0, 0, 0] = np.nan
    with pytest.raises(Mim3dError, match="NaN"):
        predict(model, bad, 2)
    with pytest.raises(Mim3dError, match="sampling_mask covers"):
        predict(model, x, 2, mask=np.zeros((1, 3)))


def test_missing_and_foreign_checkpoints(tmp_path, fixture_set):
    path, meta, _ = fixture_set
    with pytest.raises(Mim3dError, match="not found"):
        model_from_original(tmp_path / "nope", meta["flags"])
    with pytest.raises(Mim3dError, match="no TF checkpoint"):
        model_from_original(tmp_path, meta["flags"])
    ckpt = tf.train.Checkpoint(v=tf.Variable([1.0]))
    prefix = ckpt.write(str(tmp_path / "other" / "ckpt"))
    with pytest.raises(Mim3dError, match="not a 3D-MIM checkpoint"):
        model_from_original(prefix, meta["flags"])
    wrong = dict(meta["flags"], num_hidden="8,8,8")
    with pytest.raises(Mim3dError, match="missing weights"):
        model_from_original(path / "ckpt", wrong)
    wrong = dict(meta["flags"], img_width=16, img_height=16, img_depth=16)
    with pytest.raises(Mim3dError, match="shapes differ"):
        model_from_original(path / "ckpt", wrong)
    with pytest.raises(Mim3dError, match="not a .keras"):
        load_model(path / "ckpt" / "checkpoint")
    out = tmp_path / "exists.keras"
    out.write_text("mine")
    with pytest.raises(Mim3dError, match="does not overwrite"):
        convert_original(path / "ckpt", meta["flags"], out)
    assert out.read_text() == "mine"


def test_cli_error_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mim3d", "predict", "--model",
                          str(tmp_path / "none.keras"), "--input", "x.npy", "--input-length",
                          "2", "--output", str(tmp_path / "p.npy")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "does not exist" in out.stderr
