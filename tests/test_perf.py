"""The speed and memory options keep the model's numbers: recompute, fused convolutions, mixed
precision, one trace of the training step, and the analytic FLOP count (timings live in bench/)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import reference_sets
from mim3d.cells import LN_EPSILON, ConvNorm, fused_conv, tensor_layer_norm
from mim3d.config import ModelConfig
from mim3d.conv import conv_same, conv_same_written_out, tensorflow_gradient_is_faster
from mim3d.convert import model_from_original
from mim3d.dummy import write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.flops import conv_shapes, forward_flops, train_step_flops
from mim3d.memory import stored_per_step
from mim3d.model import MIM, l2_loss
from mim3d.predict import predict
from mim3d.runconfig import load_run_config
from mim3d.train import Trainer

# 1×1 kernels keep the traced graphs small (tracing dominates these tests); fusion and
# recompute do not depend on the kernel size, and the fused 3×3 case is tested on its own.
TINY = ModelConfig(num_hidden=(3, 3, 3), filter_size=1, img_width=4)


def _loss_and_grads(model, x, mask):
    @tf.function
    def run(x, mask):
        with tf.GradientTape() as tape:
            y = model(x, input_length=2, sampling_mask=mask)
            loss = l2_loss(y, x)
        return y, loss, tape.gradient(loss, model.trainable_variables)

    return run(x, mask)


def _twin(model: MIM, **changes) -> MIM:
    other = MIM(dataclasses.replace(model.config, **changes))
    other.set_weights(model.get_weights())
    return other


def _max_rel(a, b) -> float:
    return max(float(np.abs(p - q).max() / np.abs(p).max()) for p, q in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    x = rng.random((2, 5, 4, 4, 4, 1), np.float32)
    mask = (rng.random((2, 2)) < 0.5).astype(np.float32)
    return tf.constant(x), tf.constant(mask)


@pytest.mark.parametrize("mode", ["gates", "steps"])
def test_recompute_gives_the_same_loss_and_gradients(batch, mode):
    model = MIM(dataclasses.replace(TINY, recompute="off"))
    y, loss, grads = _loss_and_grads(model, *batch)
    y2, loss2, grads2 = _loss_and_grads(_twin(model, recompute=mode), *batch)
    np.testing.assert_allclose(y2, y, atol=1e-6)
    assert abs(float(loss2) - float(loss)) <= 1e-6 * abs(float(loss))
    assert _max_rel([g.numpy() for g in grads], [g.numpy() for g in grads2]) <= 1e-5


@pytest.mark.parametrize("shape", [(2, 6, 5, 4, 12), (1, 7, 6, 3), (3, 9, 2)])
def test_layer_norm_gradient_written_out_equals_automatic_one(shape):
    """Same forward values as the original's operations; gradients to float32 round-off."""
    rng = np.random.default_rng(0)
    z = tf.constant(rng.normal(2.0, 3.0, shape).astype(np.float32))
    scale = tf.constant(rng.normal(1.0, 0.3, shape[-1]).astype(np.float32))
    offset = tf.constant(rng.normal(0.0, 0.3, shape[-1]).astype(np.float32))
    dy = tf.constant(rng.normal(size=shape).astype(np.float32))

    def automatic(z, scale, offset):
        mean, var = tf.nn.moments(z, list(range(1, len(shape))), keepdims=True)
        inv = scale * tf.math.rsqrt(var + LN_EPSILON)
        return z * inv + (offset - mean * inv)

    results = []
    for norm in (automatic, tensor_layer_norm):
        with tf.GradientTape() as tape:
            tape.watch([z, scale, offset])
            y = norm(z, scale, offset)
        results.append([y, *tape.gradient(y, [z, scale, offset], output_gradients=dy)])
    (y, *grads), (y2, *grads2) = results
    np.testing.assert_array_equal(y2, y)
    for g, g2 in zip(grads, grads2, strict=True):
        np.testing.assert_allclose(g2, g, rtol=1e-5, atol=1e-5 * float(tf.reduce_max(abs(g))))


def test_fused_convolution_equals_separate_ones():
    keras.utils.set_random_seed(1)  # fixed kernels: the layer norm magnifies round-off
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 5, 5, 5, 3)).astype(np.float32))
    convs = [ConvNorm(8, 3, name="a"), ConvNorm(12, 3, layer_norm=False, name="b")]
    for conv in convs:
        conv.build(x.shape)
        conv.bias.assign(rng.normal(size=conv.bias.shape).astype(np.float32))
    fused = fused_conv(convs, x)
    for conv, part in zip(convs, fused, strict=True):
        assert part.shape == (2, 5, 5, 5, conv.filters)
        np.testing.assert_allclose(part, conv.convolve(x), atol=1e-6)
        np.testing.assert_allclose(conv.normalize(part), conv(x), atol=1e-6)


def test_fused_model_equals_unfused(batch):
    model = MIM(TINY)  # three layers: D¹ feeds MIM-S 1 and MIMN 2 through one convolution
    y, loss, grads = _loss_and_grads(model, *batch)
    separate = _twin(model)
    separate.fuse = False
    y2, loss2, grads2 = _loss_and_grads(separate, *batch)
    assert np.abs(y.numpy() - y2.numpy()).max() <= 1e-6
    assert _max_rel([g.numpy() for g in grads], [g.numpy() for g in grads2]) <= 1e-5


ALLOCATOR_CHILD = """
import os, sys
if sys.argv[1] == "tensorflow first":
    import tensorflow as tf
    tf.ones(1)
import mim3d
from mim3d.conv import bfc_allocator
print(os.environ["TF_CPU_ALLOCATOR_USE_BFC"], bfc_allocator())
"""


@pytest.mark.parametrize("setting, order, expected", [
    (None, "mim3d first", "true True"),
    ("false", "mim3d first", "false False"),  # the user's own setting wins
    (None, "tensorflow first", "true False"),  # too late: TensorFlow made its allocator
])
def test_mim3d_asks_for_the_bfc_allocator_and_knows_whether_it_got_it(setting, order, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if setting is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = setting
    out = subprocess.run([sys.executable, "-c", ALLOCATOR_CHILD, order], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected


def test_conv_same_takes_tensorflow_gradients_only_where_they_are_faster(monkeypatch):
    monkeypatch.setattr("mim3d.conv.bfc_allocator", lambda: False)
    assert not tensorflow_gradient_is_faster((5, 5, 5, 32, 128))
    monkeypatch.setattr("mim3d.conv.bfc_allocator", lambda: True)
    assert tensorflow_gradient_is_faster((5, 5, 5, 32, 128))
    assert tensorflow_gradient_is_faster((5, 5, 5, 32, 256))
    for shape in [(5, 5, 5, 32, 96), (3, 3, 3, 32, 128), (5, 5, 5, 1, 128), (5, 5, 32, 128)]:
        assert not tensorflow_gradient_is_faster(shape)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(1, 6, 5, 4, 32)).astype(np.float32))
    kernel = tf.constant(rng.normal(size=(5, 5, 5, 32, 128)).astype(np.float32) * 0.05)
    dy = tf.constant(rng.normal(size=(1, 6, 5, 4, 128)).astype(np.float32))

    def values_and_gradients(conv):
        @tf.function  # as in training (TensorFlow's eager Conv3D gradient lacks an attribute)
        def run():
            with tf.GradientTape() as tape:
                tape.watch([x, kernel])
                y = conv(x, kernel)
            return [y, *tape.gradient(y, [x, kernel], output_gradients=dy)]

        return run()

    results = [values_and_gradients(conv) for conv in (conv_same, conv_same_written_out)]
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(tf.reduce_max(abs(b))))


def test_benchmarks_original_operations_compute_the_same_model(batch):
    """``bench/``'s speed comparison with the original's operations compares like with like."""
    import mim3d.cells as cells

    spec = importlib.util.spec_from_file_location(
        "bench_train", Path(__file__).parents[1] / "bench" / "bench_train.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = MIM(TINY)
    y, loss, grads = _loss_and_grads(model, *batch)
    with bench._original_operations():
        assert cells.conv_same is not conv_same
        original = _twin(model, recompute="off")
        original.fuse = False
        y2, loss2, grads2 = _loss_and_grads(original, *batch)  # traced inside
    assert cells.conv_same is conv_same and cells.tensor_layer_norm is tensor_layer_norm
    assert np.abs(y.numpy() - y2.numpy()).max() <= 1e-6
    assert _max_rel([g.numpy() for g in grads], [g.numpy() for g in grads2]) <= 1e-5


@pytest.mark.parametrize("path", reference_sets(), ids=[p.name for p in reference_sets()])
@pytest.mark.parametrize("precision,tol", [("mixed_bfloat16", 0.15), ("mixed_float16", 0.03)])
def test_mixed_precision_forward_close_to_fixture(path, precision, tol):
    """Stated accuracy (max |error| vs the test-mode outputs, |y| <= 1.1; measured 0.090 for
    bfloat16, 0.012 for float16; RMS 5.2 % and 0.7 %)."""
    meta = json.loads((path / "meta.json").read_text())
    reference = model_from_original(path / "ckpt", meta["flags"])
    model = _twin(reference, precision=precision)
    x = np.load(path / "inputs.npy")
    out = predict(model, x, meta["flags"]["input_length"])
    assert out.dtype == np.float32
    err = np.abs(out - np.load(path / "outputs_test.npy")).max()
    assert err <= tol, err
    assert err > 1e-6  # it really ran in half precision


def test_memory_modes_store_less_and_never_a_weight_per_step():
    """Bytes the time loop keeps per step for the backward pass, read from the traced graph:
    "gates" keeps convolution outputs and states only, "steps" the step's inputs only."""
    config = dataclasses.replace(TINY, filter_size=3, img_width=8)
    stored = {mode: stored_per_step(MIM(dataclasses.replace(config, recompute=mode)))
              for mode in ("off", "gates", "steps")}
    assert all(s["weights"] == 0 for s in stored.values())  # weights are read once per step
    assert stored["steps"]["bytes"] < 0.5 * stored["gates"]["bytes"]
    assert stored["gates"]["bytes"] < 0.75 * stored["off"]["bytes"]
    # "steps" keeps the step's inputs: 13 state tensors (H, C ×3; S, D, N ×2; M) of 3 channels,
    # the frame and the frame fed in (1 channel each)
    assert stored["steps"]["bytes"] <= 4 * 8**3 * (13 * 3 + 2) + 64  # + a few scalars


def test_memory_command_prints_every_mode(capsys):
    from mim3d.cli import main

    sets = ["model.num_hidden=[3,3]", "model.filter_size=1", "model.img_width=4",
            "train.total_length=4", "train.input_length=2"]
    assert main(["memory", *[a for kv in sets for a in ("--set", kv)]]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[2:]}
    assert set(rows) == {"gates", "steps", "off"}
    assert rows["steps"] < rows["gates"] < rows["off"]
    assert "(default)" in out and "3 time steps" in out
    assert main(["memory", "--set", "model.architecture=convlstm"]) == 2  # one clear line


def test_recompute_accepts_older_booleans_and_refuses_unknown_modes():
    assert ModelConfig(recompute=True).recompute == "steps"
    assert ModelConfig(recompute=False).recompute == "off"
    assert ModelConfig().recompute == "gates"
    with pytest.raises(Mim3dError, match="recompute must be one of"):
        ModelConfig(recompute="layers")


def test_unknown_precision_is_refused():
    with pytest.raises(Mim3dError, match="precision must be one of"):
        ModelConfig(precision="float8")


def test_train_step_compiles_once_for_any_batch_and_length(tmp_path):
    data = write_dummy_well(tmp_path / "data", n=2, grid=6, n_t=6)
    run = load_run_config(None, base={
        "model": {"num_hidden": [3, 3], "filter_size": 3},
        "train": {"batch_size": 2, "input_length": 2, "total_length": 4,
                  "reverse_input": False, "num_save_samples": 0},
        "data": {"path": str(data), "normalize": False}})
    trainer = Trainer(run, tmp_path / "run", progress=False)
    step = trainer._build_train_fn()
    rng = np.random.default_rng(2)
    for b, t in ((2, 4), (1, 4), (3, 6), (2, 5)):
        x = rng.random((b, t, 6, 6, 6, 1), np.float32)
        assert np.isfinite(float(step(x, np.zeros((b, t - 3), np.float32))))
    assert step.function.experimental_get_tracing_count() == 1


def test_flop_count_by_hand():
    cfg = ModelConfig(num_hidden=(2, 2), filter_size=3, img_width=4)
    voxels, k3 = 4**3, 27
    # per step: ST-LSTM 3 gate convs + 1x1 reduce; block 5 gate convs + reduce; MIMN 2 (t >= 1)
    stlstm = (1 * 8 + 2 * 8 + 2 * 8) * k3 + 4 * 2
    block = (2 * 8 + 2 * 6 + 2 * 8 + 2 * 8 + 2 * 8) * k3 + 4 * 2
    diff = 2 * (2 * 8) * k3
    out = 2 * 1
    macs = 3 * (stlstm + block + out) + 2 * diff  # T = 4: 3 steps, MIMN on 2 of them
    assert forward_flops(cfg, 1, 4) == 2 * voxels * macs
    assert train_step_flops(cfg, 2, 4) == 3 * 2 * 2 * voxels * macs
    assert len(conv_shapes(cfg)) == 4 + 2 + 6 + 1


def test_flop_count_of_the_seed_configuration():
    """3D-MIM at run.sh's settings: ~42 TFLOP per optimizer step (issue 7 quotes ~43)."""
    cfg = ModelConfig(num_hidden=(32,) * 4, filter_size=5, patch_size=1, img_width=32)
    assert train_step_flops(cfg, 1, 20) == pytest.approx(42.04e12, rel=1e-3)


def test_mixed_precision_training_step_gives_float32_gradients(batch):
    model = MIM(dataclasses.replace(TINY, precision="mixed_bfloat16"))
    y, loss, grads = _loss_and_grads(model, *batch)
    assert y.dtype == tf.float32 and np.isfinite(float(loss))
    assert all(g.dtype == tf.float32 and np.isfinite(g.numpy()).all() for g in grads)
