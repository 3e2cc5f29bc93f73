"""Tests of the input pipeline (mim3d.data) and the channel scaling (mim3d.normalize)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mim3d import data, normalize
from mim3d.data import DataConfig, epoch_order, load_arrays, make_dataset, window_index
from mim3d.dummy import dummy_trajectory, write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.normalize import Normalizer
from mim3d.trajectory import Trajectory


def tagged(i: int, n_t: int, grid: int = 4, scale: float = 1.0) -> Trajectory:
    """Density = scale * (1000 + 100 i + frame) everywhere, so a value names its window."""
    tag = scale * (1000.0 + 100 * i + np.arange(n_t, dtype=np.float64))
    rng = np.random.default_rng(i)
    shape = (n_t, grid, grid, grid)
    density = np.broadcast_to(tag[:, None, None, None], shape).astype(np.float32)
    return Trajectory(
        fields={
            "density": density,
            "pressure": (density * 100.0).astype(np.float32),
            "temperature": np.full(shape, 100.0 * scale, np.float32) * (1 + rng.random(shape)
                                                                        ).astype(np.float32),
            "velocity": (scale * rng.standard_normal((*shape, 3))).astype(np.float32),
        },
        times=np.linspace(0, 0.2, n_t),
    )


def ids(batches) -> list[tuple[int, int]]:
    """(trajectory, first frame) of every window in raw (unscaled) tagged batches."""
    out = []
    for b in batches:
        b = np.asarray(b)
        for w in b:
            v = int(round(float(w[0, 0, 0, 0, 0]))) - 1000
            out.append((v // 100, v % 100))
    return out


# ---------------------------------------------------------------------------------------------
# windows and order
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("total_length, stride", [(3, 1), (3, 2), (5, 3), (7, 1)])
def test_windows_stay_inside_trajectories(total_length, stride):
    n_ts = [7, 9, 10]
    trajs = [tagged(i, n) for i, n in enumerate(n_ts)]
    index = window_index(trajs, total_length, stride)
    assert len(index) == sum((n - total_length) // stride + 1 for n in n_ts)
    assert len(set(index)) == len(index)
    for i, s in index:
        assert 0 <= s and s + total_length <= n_ts[i]
        assert s % stride == 0


def test_short_trajectory_is_an_error_naming_it():
    trajs = [tagged(0, 8), tagged(1, 4)]
    with pytest.raises(Mim3dError, match=r"trajectory 1 has 4 frames.*total_length=5"):
        window_index(trajs, 5)


@pytest.mark.parametrize("block", [0, 3, 7, 100])
def test_epoch_order_is_seeded_permutation(block):
    a = epoch_order(23, seed=1, epoch=2, block=block)
    assert sorted(a.tolist()) == list(range(23))
    np.testing.assert_array_equal(a, epoch_order(23, seed=1, epoch=2, block=block))
    assert not np.array_equal(a, epoch_order(23, seed=1, epoch=3, block=block))
    assert not np.array_equal(a, epoch_order(23, seed=2, epoch=2, block=block))
    if 0 < block < 23:  # each block of consecutive windows stays together
        for k in range(0, 23, block):
            pos = np.flatnonzero((a >= k) & (a < k + block))
            assert pos.max() - pos.min() == len(pos) - 1


def test_unknown_field_lists_valid_ones():
    with pytest.raises(Mim3dError, match="density, pressure, temperature, velocity"):
        DataConfig(path=[], fields=("density", "vorticity"))
    assert DataConfig(path=[], fields=("velocity", "density")).channels == (
        "density", "velocity_x", "velocity_y", "velocity_z")


# ---------------------------------------------------------------------------------------------
# downsampling
# ---------------------------------------------------------------------------------------------
def test_block_mean_8_to_4_is_exact():
    rng = np.random.default_rng(0)
    x = rng.random((3, 8, 8, 8, 2)).astype(np.float32)
    y = data.block_mean(x, 2)
    assert y.shape == (3, 4, 4, 4, 2) and y.dtype == np.float32
    for i, j, k in [(0, 0, 0), (1, 2, 3), (3, 3, 3)]:
        want = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 2 * k:2 * k + 2].mean(axis=(1, 2, 3))
        np.testing.assert_allclose(y[:, i, j, k], want, rtol=1e-6)
    np.testing.assert_allclose(data.block_mean(x, 8)[:, 0, 0, 0], x.mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    with pytest.raises(Mim3dError, match="does not divide"):
        data.block_mean(x, 3)


def test_downsample_in_pipeline_is_block_mean_before_log():
    trajs = [dummy_trajectory(grid=8, n_t=4, seed=s) for s in range(2)]
    cfg = DataConfig(path=trajs, total_length=4, downsample=2, normalize=False)
    arr = load_arrays(cfg, "train")
    assert arr.shape == (2, 4, 4, 4, 4, 1)
    want = data.block_mean(trajs[1].stack(("density",)), 2)
    np.testing.assert_allclose(arr[1], want, rtol=1e-6)
    with pytest.raises(Mim3dError, match="does not divide"):
        load_arrays(DataConfig(path=trajs, total_length=4, downsample=3, normalize=False))


# ---------------------------------------------------------------------------------------------
# normalizer
# ---------------------------------------------------------------------------------------------
CH6 = ("density", "pressure", "temperature", "velocity_x", "velocity_y", "velocity_z")


def test_fit_matches_numpy_and_uses_train_only():
    train = [tagged(i, 6) for i in range(3)]
    valid = [tagged(i, 6, scale=1e4) for i in range(2)]
    norm = normalize.fit({"train": train, "valid": valid}, CH6)
    assert norm.log == (True, True, True, False, False, False)
    stacked = np.concatenate([t.stack(CH6) for t in train]).astype(np.float64)
    f = stacked.copy()
    f[..., :3] = np.log10(f[..., :3])
    np.testing.assert_allclose(norm.mean, f.reshape(-1, 6).mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(norm.std, f.reshape(-1, 6).std(0), rtol=1e-9)
    # the pipeline on the valid split uses the train statistics, not valid's very different ones
    cfg = DataConfig(path={"train": train, "valid": valid}, fields=("density",), total_length=6)
    used = data.resolve_normalizer(cfg, source=data.open_source(cfg.path, "valid"))
    sel = norm.select(("density",))
    assert used.channels == sel.channels and used.log == sel.log
    np.testing.assert_allclose(used.mean + used.std, sel.mean + sel.std, rtol=1e-12)
    assert abs(normalize.fit(valid, ("density",)).mean[0] - used.mean[0]) > 3  # 1e4 x larger
    arr = load_arrays(cfg, "valid")
    np.testing.assert_allclose(arr[0], used.forward(valid[0].stack(("density",))), rtol=1e-5)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_forward_inverse_is_identity(dtype, rtol):
    rng = np.random.default_rng(3)
    norm = Normalizer(CH6, (True, True, True, False, False, False),
                      (1.2, 3.5, 4.0, 0.1, -0.2, 0.0), (1.1, 2.0, 0.9, 300.0, 250.0, 1.0))
    x = np.empty((2, 4, 4, 4, 6), dtype)
    x[..., :3] = 10 ** rng.uniform(-4, 8, (2, 4, 4, 4, 3))
    x[..., 3:] = rng.normal(0, 500, (2, 4, 4, 4, 3))
    z = norm.forward(x)
    assert z.dtype == dtype and z.shape == x.shape
    np.testing.assert_allclose(norm.inverse(z), x, rtol=rtol, atol=1e-9 * (dtype == np.float32))
    np.testing.assert_allclose(norm.forward(norm.inverse(z)), z, rtol=1e-5, atol=1e-5)
    # log channels: z = (log10 x - mean) / std
    np.testing.assert_allclose(z[..., 0], (np.log10(x[..., 0]) - 1.2) / 1.1, rtol=1e-5)
    # zeros hit the documented floor instead of -inf
    zero = norm.forward(np.zeros((1, 6)))
    assert np.isfinite(zero).all()
    assert zero[0, 0] == pytest.approx((np.log10(normalize.LOG_FLOOR) - 1.2) / 1.1)


def test_json_save_load_round_trip(tmp_path):
    norm = Normalizer(("density", "velocity_x"), (True, False), (1.0, 0.0), (0.5, 2.0))
    assert Normalizer.from_json(norm.to_json()) == norm
    path = norm.save(tmp_path / "sub" / "normalizer.json")
    assert Normalizer.load(path) == norm
    assert Normalizer.load(tmp_path / "sub") == norm  # a folder finds normalizer.json
    assert [p.name for p in path.parent.iterdir()] == ["normalizer.json"]  # no temp left
    assert json.loads(path.read_text())["channels"] == ["density", "velocity_x"]
    with pytest.raises(Mim3dError, match="expected keys"):
        Normalizer.from_json('{"channels": ["density"]}')
    with pytest.raises(Mim3dError, match="std"):
        Normalizer(("density",), (True,), (0.0,), (0.0,))


def test_channels_mismatch_and_missing_stats(tmp_path):
    trajs = [tagged(i, 5) for i in range(2)]
    norm = Normalizer(("density",), (True,), (3.0,), (1.0,))
    cfg = DataConfig(path=trajs, fields=("density", "temperature"), total_length=5)
    with pytest.raises(Mim3dError, match="channel mismatch.*fit-normalizer"):
        make_dataset(cfg, normalizer=norm)
    with pytest.raises(Mim3dError, match="no normalisation statistics.*fit-normalizer"):
        Normalizer.load(tmp_path / "normalizer.json")
    with pytest.raises(Mim3dError, match="temperature"):
        norm.select(("temperature",))
    with pytest.raises(Mim3dError, match=r"1 channel\(s\)"):
        norm.forward(np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------
# the tf.data pipeline
# ---------------------------------------------------------------------------------------------
def raw_config(**kw) -> DataConfig:
    trajs = [tagged(i, n) for i, n in enumerate([7, 9, 6, 8])]
    base = dict(path=trajs, total_length=3, stride=1, batch_size=3, normalize=False, seed=5)
    return DataConfig(**{**base, **kw})


def test_dataset_shapes_dtypes_and_values():
    trajs = [dummy_trajectory(grid=8, n_t=6, seed=s) for s in range(2)]
    cfg = DataConfig(path=trajs, fields=("density", "velocity"), total_length=4, batch_size=2)
    ds = make_dataset(cfg)
    assert ds.element_spec.shape.as_list() == [2, 4, 8, 8, 8, 4]
    batches = [b.numpy() for b in ds]
    assert len(batches) == 6 // 2  # 3 windows per trajectory, 2 per batch
    assert all(b.dtype == np.float32 and b.shape == (2, 4, 8, 8, 8, 4) for b in batches)
    allb = np.concatenate(batches)
    # scaled: about zero mean, unit std over the training data; the unshuffled set matches
    norm = data.resolve_normalizer(cfg)
    ref = load_arrays(cfg, "train")
    np.testing.assert_allclose(ref[0], norm.forward(trajs[0].stack(cfg.channels)[:4]), rtol=1e-5)
    assert sorted(map(float, allb[:, 0, 0, 0, 0, 0])) == pytest.approx(
        sorted(map(float, ref[:, 0, 0, 0, 0, 0])))
    assert abs(ref[..., 0].mean()) < 0.5 and 0.5 < ref[..., 0].std() < 1.5


def test_order_deterministic_per_seed_and_covers_all_windows():
    cfg = raw_config()
    a = ids(make_dataset(cfg))
    assert a == ids(make_dataset(cfg))
    assert a != ids(make_dataset(raw_config(seed=6)))
    n = len(window_index(cfg.path, 3))  # 5 + 7 + 4 + 6 = 22 windows -> 7 batches of 3
    assert n == 22 and len(a) == 21 and len(set(a)) == 21
    assert set(a) <= set(window_index(cfg.path, 3))
    unshuffled = ids(make_dataset(cfg, shuffle=False))
    assert unshuffled == window_index(cfg.path, 3)  # every window once, last batch partial


def test_resume_gives_exactly_the_remaining_batches():
    cfg = raw_config(shuffle_buffer=4)
    steps = data.steps_per_epoch(cfg)
    assert steps == 7
    full = ids(make_dataset(cfg, repeat=True).take(3 * steps))
    assert full[: steps * 3] != full[steps * 3: steps * 6]  # epochs are reshuffled
    for epoch, position in [(0, 0), (0, 4), (1, 6), (2, 1)]:
        done = epoch * steps + position
        rest = ids(make_dataset(cfg, repeat=True, start_epoch=epoch, start_position=position)
                   .take(3 * steps - done))
        assert rest == full[3 * done:]
    one_epoch = ids(make_dataset(cfg, start_epoch=1, start_position=5))
    assert one_epoch == full[3 * (steps + 5): 3 * 2 * steps]
    with pytest.raises(Mim3dError, match="start_position"):
        make_dataset(cfg, start_position=8)


@pytest.mark.parametrize("drop", [True, False])
def test_shards_are_disjoint(drop):
    cfg = raw_config(batch_size=2)
    shards = [ids(make_dataset(cfg, num_shards=3, shard_index=k, shuffle=drop,
                               drop_remainder=drop)) for k in range(3)]
    flat = [w for s in shards for w in s]
    assert len(flat) == len(set(flat))
    if drop:  # equal batches per worker (22 // 3 = 7 windows each -> 3 batches of 2)
        assert [len(s) for s in shards] == [6, 6, 6]
    else:  # evaluation: every window exactly once
        assert sorted(flat) == sorted(window_index(cfg.path, 3))
    with pytest.raises(Mim3dError, match="shard_index"):
        make_dataset(cfg, num_shards=2, shard_index=2)


def test_pipeline_errors():
    trajs = [tagged(i, 6) for i in range(2)]
    with pytest.raises(Mim3dError, match="no trajectories"):
        make_dataset(DataConfig(path={"train": trajs, "valid": []}), "valid")
    with pytest.raises(Mim3dError, match="no split 'test'"):
        make_dataset(DataConfig(path={"train": trajs}), "test")
    with pytest.raises(Mim3dError, match="trajectory 0 has 6 frames"):
        make_dataset(DataConfig(path=trajs, total_length=7))
    bad = tagged(2, 6)
    bad.fields["pressure"][3, 1, 2, 0] = np.nan
    cfg = DataConfig(path=[*trajs, bad], fields=("density", "pressure"), total_length=6,
                     batch_size=1, normalize=False)
    with pytest.raises(Mim3dError, match=r"NaN.*\['pressure'\].*trajectory 2"):
        load_arrays(cfg, "train")
    with pytest.raises(Mim3dError, match=r"NaN.*\['pressure'\]"):
        normalize.fit([*trajs, bad], ("density", "pressure"))
    with pytest.raises(Mim3dError, match="fewer than one batch"):
        make_dataset(DataConfig(path=trajs, total_length=6, batch_size=3))
    with pytest.raises(Mim3dError, match="batch_size"):
        DataConfig(path=trajs, batch_size=0)


# ---------------------------------------------------------------------------------------------
# file sources
# ---------------------------------------------------------------------------------------------
def test_well_folder_with_fitted_statistics(tmp_path, capsys):
    from mim3d.cli import main

    folder = write_dummy_well(tmp_path / "sn", n=3, grid=8, n_t=5, split="train")
    write_dummy_well(tmp_path / "sn", n=2, grid=8, n_t=5, split="valid")
    cfg = DataConfig(path=folder, fields=("density", "temperature"), total_length=4,
                     batch_size=2, downsample=2)
    with pytest.raises(Mim3dError, match="no normalisation statistics.*fit-normalizer"):
        make_dataset(cfg)
    assert main(["fit-normalizer", str(folder), "--fields", "density", "temperature",
                 "pressure", "--downsample", "2"]) == 0
    assert "normalizer.json" in capsys.readouterr().out
    saved = Normalizer.load(folder / "normalizer.json")
    assert saved.channels == ("density", "pressure", "temperature")
    ds = make_dataset(cfg, "valid", shuffle=False)
    batches = [b.numpy() for b in ds]
    assert [b.shape for b in batches] == [(2, 4, 4, 4, 4, 2), (2, 4, 4, 4, 4, 2)]
    norm = saved.select(cfg.channels)  # the subset in the data config's order
    from mim3d.formats.well import WellStore

    store = WellStore(folder, split="valid")
    want = norm.forward(data.block_mean(store.window(0, 1, 4, cfg.channels), 2))  # window 1
    np.testing.assert_allclose(batches[0][1], want, rtol=1e-5, atol=1e-6)
    # a WellStore object works as a source too
    assert window_index(store, 4) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    from_store = load_arrays(DataConfig(path=store, fields=cfg.channels, total_length=4,
                                        downsample=2))  # statistics found beside the data
    np.testing.assert_allclose(from_store[1], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(Mim3dError, match="no split 'test'"):
        make_dataset(cfg, "test")


def test_array_file_source(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.standard_normal((5, 4, 4, 4, 4, 2)).astype(np.float32)
    valid = rng.standard_normal((2, 4, 4, 4, 4, 2)).astype(np.float32)
    path = tmp_path / "set.npz"
    np.savez(path, train=train, valid=valid, channels=np.array(["density", "temperature"]))
    cfg = DataConfig(path=path, fields=("density", "temperature"), total_length=4, batch_size=2)
    np.testing.assert_array_equal(load_arrays(cfg, "valid"), valid)  # no scaling: model space
    assert [b.shape[0] for b in make_dataset(cfg)] == [2, 2]
    norm = Normalizer(cfg.channels, (False, False), (1.0, -1.0), (2.0, 4.0))
    np.testing.assert_allclose(load_arrays(cfg, "valid", normalizer=norm), norm.forward(valid))
    one = DataConfig(path=path, fields=("temperature",), total_length=2)
    np.testing.assert_array_equal(load_arrays(one, "train")[1], train[0, 1:3, ..., 1:])
    np.save(tmp_path / "x.npy", valid)
    wrong = DataConfig(path=tmp_path / "x.npy", fields=("density",), total_length=4)
    with pytest.raises(Mim3dError, match="has 2 channels"):
        load_arrays(wrong)
