"""Well HDF5, original-npz and SPH formats: round trips, The Well's own reader, clear errors."""

from __future__ import annotations

import argparse

import h5py
import numpy as np
import pytest

from mim3d.dummy import dummy_trajectory, write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.formats.npz import read_npz, write_npz
from mim3d.formats.well import WellStore, read_well, write_well
from mim3d.trajectory import CHANNELS, Trajectory


def _random_trajectory(grid=(6, 8, 4), n_t=5, seed=0, **params) -> Trajectory:
    rng = np.random.default_rng(seed)
    fields = {n: rng.lognormal(size=(n_t, *grid)).astype(np.float32)
              for n in ("density", "pressure", "temperature")}
    fields["velocity"] = rng.normal(size=(n_t, *grid, 3)).astype(np.float32)
    base = {"seed": seed, "medium": "turbulent", "n_H": 44.5, "T0": 100.0, "flag": True,
            "snapshot_times_myr": None, "window": (0.5, 2)}
    return Trajectory(fields=fields, times=np.linspace(0, 0.2, n_t), box_pc=48.0,
                      params={**base, **params})


def _parser(module):
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers(dest="command"))
    return parser


# ----------------------------------------------------------------------------- dummy


def test_dummy_trajectory_is_plausible():
    traj = dummy_trajectory(grid=16, n_t=6, seed=3)
    assert traj.grid == (16, 16, 16) and traj.n_t == 6
    assert traj.fields["velocity"].shape == (6, 16, 16, 16, 3)
    for arr in traj.fields.values():
        assert arr.dtype == np.float32 and np.isfinite(arr).all()
    assert (traj.fields["density"] > 0).all() and (traj.fields["temperature"] >= 100).all()
    # the shell expands: the radius of the densest radial bin grows with time
    centre = np.array(np.unravel_index(np.argmax(traj.fields["temperature"][-1]), (16,) * 3))
    r = np.linalg.norm(np.indices((16,) * 3).T - centre, axis=-1).T
    counts = np.bincount(r.astype(int).ravel())
    peaks = [(np.bincount(r.astype(int).ravel(), traj.fields["density"][i].ravel())
              / np.maximum(counts, 1)).argmax() for i in (1, 5)]
    assert peaks[1] > peaks[0]
    uniform = dummy_trajectory(grid=8, medium="uniform")
    assert uniform.fields["density"][0].std() < traj.fields["density"][0].std()
    assert not np.array_equal(dummy_trajectory(seed=0).fields["density"],
                              dummy_trajectory(seed=1).fields["density"])


# ----------------------------------------------------------------------------- Well


def test_well_round_trip_restores_arrays_params_and_box(tmp_path):
    trajs = [_random_trajectory(seed=3), _random_trajectory(seed=7, snapshot_times_myr=(0, 1.5))]
    path = write_well(tmp_path / "a.hdf5", trajs)
    assert [p.name for p in tmp_path.iterdir()] == ["a.hdf5"]  # no temporary left
    store = WellStore(path)
    assert store.n_trajectories == 2 and store.grid == (6, 8, 4)
    assert store.channels == CHANNELS and store.box_pc == 48.0
    for i, orig in enumerate(trajs):
        back = store.trajectory(i)
        assert back.params == orig.params
        assert [type(v) for v in back.params.values()] == [type(v) for v in orig.params.values()]
        assert back.box_pc == orig.box_pc and np.array_equal(back.times, orig.times)
        assert back.fields.keys() == orig.fields.keys()
        for name in orig.fields:
            assert np.array_equal(back.fields[name], orig.fields[name])
        assert store.n_t(i) == 5 and np.array_equal(store.times(i), orig.times)
    assert read_well(path)[1].params["seed"] == 7


def test_window_reads_the_asked_slice(tmp_path):
    traj = _random_trajectory(seed=1)
    store = WellStore(write_well(tmp_path / "w.hdf5", [traj]))
    win = store.window(0, 1, 3, channels=("velocity_z", "density", "temperature"))
    assert win.shape == (3, 6, 8, 4, 3) and win.dtype == np.float32
    assert np.array_equal(win, traj.stack(("velocity_z", "density", "temperature"))[1:4])
    part = store.trajectory(0, fields=["velocity"])
    assert list(part.fields) == ["velocity"]


def test_written_file_has_the_well_schema(tmp_path):
    trajs = [dummy_trajectory(grid=8, n_t=4, seed=s) for s in range(3)]
    path = write_well(tmp_path / "run.hdf5", trajs, split="valid")
    assert path == tmp_path / "data" / "valid" / "run.hdf5"
    with h5py.File(path) as f:
        assert f.attrs["dataset_name"] == "supernova_explosion"
        assert f.attrs["grid_type"] == "cartesian" and f.attrs["n_spatial_dims"] == 3
        assert f.attrs["n_trajectories"] == 3
        assert list(f.attrs["simulation_parameters"]) == ["Msun", "rho0", "Z", "T0"]
        assert f.attrs["rho0"] == 44.5 and f.attrs["T0"] == 100.0
        # mean cell mass: 44.5 cm^-3 * m_H / 0.76 = 9.80e-23 g cm^-3 times (7.5 pc)^3
        # = 1.240e58 cm^3 gives 1.215e36 g = 611 Msun
        assert f.attrs["Msun"] == pytest.approx(611, rel=0.01)
        assert set(f) == {"dimensions", "boundary_conditions", "scalars", "t0_fields",
                          "t1_fields", "t2_fields"}
        assert list(f["dimensions"].attrs["spatial_dims"]) == ["x", "y", "z"]
        assert f["dimensions/time"].shape == (4,)
        assert np.allclose(f["dimensions/x"][:], (np.arange(8) + 0.5) * 7.5)
        for axis in "xyz":
            bc = f[f"boundary_conditions/{axis}_open"]
            assert bc.attrs["bc_type"] == "OPEN" and list(bc.attrs["associated_dims"]) == [axis]
            assert bc["mask"].dtype == bool and bc["mask"][:].tolist() == [1] + [0] * 6 + [1]
        assert list(f["scalars"].attrs["field_names"]) == ["Msun", "rho0", "Z", "T0"]
        assert list(f["t0_fields"].attrs["field_names"]) == ["density", "pressure", "temperature"]
        rho = f["t0_fields/density"]
        assert rho.shape == (3, 4, 8, 8, 8) and rho.dtype == np.float32
        assert rho.attrs["sample_varying"] and rho.attrs["time_varying"]
        assert f["t1_fields/velocity"].shape == (3, 4, 8, 8, 8, 3)
        assert len(f["t2_fields"].attrs["field_names"]) == 0
        assert list(f.attrs["mim3d_varying_params"]) == ["seed"]
        assert list(f.attrs["mim3d_json_params"]) == []


def test_periodic_boundary_when_params_say_so(tmp_path):
    path = write_well(tmp_path / "p.hdf5", [_random_trajectory(boundary="periodic")])
    with h5py.File(path) as f:
        assert f["boundary_conditions/x_periodic"].attrs["bc_type"] == "PERIODIC"


def test_the_wells_own_reader_loads_mim3d_files(tmp_path):
    pytest.importorskip("the_well")
    from the_well.data import WellDataset

    folder = write_dummy_well(tmp_path / "sn", n=3, grid=8, n_t=5)
    ours = WellStore(folder, split="train")
    ds = WellDataset(path=str(folder), well_split_name="train", n_steps_input=2,
                     n_steps_output=1)
    assert ds.metadata.spatial_resolution == (8, 8, 8)
    assert ds.metadata.field_names[0] + ds.metadata.field_names[1] == list(CHANNELS)
    assert ds.metadata.constant_scalar_names == ["Msun", "rho0", "Z", "T0"]
    assert len(ds) == 3 * (5 - 3 + 1)
    sample = ds[len(ds) - 1]  # last trajectory, frames 2, 3 | 4
    assert np.array_equal(sample["input_fields"].numpy(), ours.window(2, 2, 2, CHANNELS))
    assert np.array_equal(sample["output_fields"].numpy(), ours.window(2, 4, 1, CHANNELS))
    assert sample["boundary_conditions"].shape == (3, 2)


def _foreign_file(path, grid=4, n_t=3, n_traj=2, t0_rank=5):
    """A file in The Well's layout without any mim3d attribute (like the published data)."""
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="supernova_explosion", grid_type="cartesian",
                       n_spatial_dims=3, n_trajectories=n_traj, Msun=1.0, rho0=44.5, Z=0.02,
                       T0=100.0)
        f.attrs["simulation_parameters"] = ["Msun", "rho0", "Z", "T0"]
        dims = f.create_group("dimensions")
        dims.create_dataset("time", data=np.linspace(0, 0.2, n_t))
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["density"]
        shape = (n_traj, n_t, grid, grid, grid)[:t0_rank]
        t0.create_dataset("density", data=np.ones(shape, np.float32))
        f.create_group("t1_fields").attrs["field_names"] = []
    return path


def test_foreign_well_file_is_read_as_stored(tmp_path):
    store = WellStore(_foreign_file(tmp_path / "sn64.hdf5"))
    assert store.box_pc == 60.0 and store.channels == ("density",)
    traj = store.trajectory(1)
    assert traj.params["Z"] == 0.02 and traj.params["well_index"] == 1
    assert "code units" in traj.params["units"]
    assert traj.fields["density"].shape == (3, 4, 4, 4)


def test_errors_name_the_file(tmp_path):
    good = write_well(tmp_path / "good.hdf5", [_random_trajectory(grid=(4, 4, 4))])
    bad = tmp_path / "truncated.hdf5"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(Mim3dError, match="truncated.hdf5.*corrupt or truncated"):
        WellStore(tmp_path)
    bad.unlink()

    store = WellStore(good)
    with pytest.raises(Mim3dError, match=r"unknown channels \['rho'\].*valid: \['density'"):
        store.window(0, 0, 1, channels=("rho",))
    with pytest.raises(Mim3dError, match=r"unknown fields \['vel'\].*'velocity'"):
        store.trajectory(0, fields=["vel"])
    with pytest.raises(Mim3dError, match="good.hdf5: trajectory 0 has 5 frames, fewer"):
        store.window(0, 3, 4)
    with pytest.raises(Mim3dError, match="holds 1"):
        store.trajectory(5)

    with h5py.File(good, "r+") as f:
        f["t0_fields/pressure"][0, 2, 1, 1, 1] = np.nan
    with pytest.raises(Mim3dError, match="good.hdf5: trajectory 0 pressure has 1 NaN/inf.*frame 2"):
        WellStore(good).window(0, 0, 5, channels=("density", "pressure"))

    other = tmp_path / "other"
    other.mkdir()
    write_well(other / "a.hdf5", [_random_trajectory(grid=(4, 4, 4))])
    write_well(other / "b.hdf5", [_random_trajectory(grid=(8, 8, 8))])
    with pytest.raises(Mim3dError, match=r"mixes grids \(a.hdf5: \(4, 4, 4\); b.hdf5: \(8, 8, 8\)"):
        WellStore(other)

    with pytest.raises(Mim3dError, match="wrong.hdf5: t0_fields/density has shape .*rank 5"):
        WellStore(_foreign_file(tmp_path / "wrong.hdf5", t0_rank=4))
    with h5py.File(tmp_path / "nofields.hdf5", "w") as f:
        f.create_group("dimensions")
    with pytest.raises(Mim3dError, match="nofields.hdf5 has no group 't0_fields'"):
        WellStore(tmp_path / "nofields.hdf5")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Mim3dError, match="holds no .hdf5 files"):
        WellStore(empty)
    write_dummy_well(tmp_path / "ds", n=1)
    with pytest.raises(Mim3dError, match=r"no split 'test'.*\['train'\]"):
        WellStore(tmp_path / "ds", split="test")
    with pytest.raises(Mim3dError, match="pass split="):
        WellStore(tmp_path / "ds")


def test_write_well_refuses_mixed_trajectories(tmp_path):
    with pytest.raises(Mim3dError, match="trajectory 1 has grid"):
        write_well(tmp_path / "x.hdf5", [_random_trajectory(grid=(4, 4, 4)),
                                         _random_trajectory(grid=(4, 4, 8))])
    with pytest.raises(Mim3dError, match=r"params\['bad'\] is set \{1, 2\}"):
        write_well(tmp_path / "x.hdf5", [_random_trajectory(bad={1, 2})])
    assert list(tmp_path.iterdir()) == []  # nothing half-written


# ----------------------------------------------------------------------------- npz


def test_npz_round_trip_and_clips(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 4, 6, 8, 2)).astype(np.float32) for t in (5, 3)]
    path = write_npz(tmp_path / "x.npz", seqs, input_length=2)
    with np.load(path) as data:
        assert data["dims"].tolist() == [[2, 4, 6, 8]]
        assert data["input_raw_data"].shape == (8, 2, 4, 6, 8)
        assert data["clips"].tolist() == [[[0, 2], [5, 2]], [[2, 3], [7, 1]]]
        # the original provider transposes (frames, C, W, H, D) -> (frames, W, H, D, C)
        assert np.array_equal(data["input_raw_data"][6].transpose(1, 2, 3, 0), seqs[1][1])
    back = read_npz(path)
    assert len(back) == 2 and all(np.array_equal(a, b) for a, b in zip(back, seqs, strict=True))


def test_read_npz_follows_clips_anywhere(tmp_path):
    raw = np.arange(6, dtype=np.float32)[:, None, None, None, None] * np.ones((6, 1, 2, 2, 2))
    clips = np.array([[[4, 1]], [[0, 2]]])  # input frame 4, then outputs 0, 1
    np.savez(tmp_path / "o.npz", clips=clips, dims=np.array([[1, 2, 2, 2]]), input_raw_data=raw)
    (seq,) = read_npz(tmp_path / "o.npz")
    assert seq.shape == (3, 2, 2, 2, 1) and seq[:, 0, 0, 0, 0].tolist() == [4, 0, 1]
    np.savez(tmp_path / "bad.npz", clips=clips, input_raw_data=raw)
    with pytest.raises(Mim3dError, match=r"lacks keys \['dims'\]"):
        read_npz(tmp_path / "bad.npz")


def test_export_npz_command(tmp_path):
    from mim3d.formats import npz

    folder = write_dummy_well(tmp_path / "sn", n=2, grid=8, n_t=4)
    out = tmp_path / "orig.npz"
    args = _parser(npz).parse_args(["export-npz", "--data", str(folder), "--split", "train",
                                    "--out", str(out), "--fields", "density", "temperature",
                                    "--input-length", "1"])
    assert args.func(args) == 0
    seqs = read_npz(out)
    store = WellStore(folder, split="train")
    assert len(seqs) == 2
    assert np.array_equal(seqs[1], store.window(1, 0, 4, ("density", "temperature")))


# ----------------------------------------------------------------------------- SPH


def _blob(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.normal(30, 5, size=(n, 3)).clip(12, 48)
    return pos, rng.uniform(1, 3, n), rng.uniform(2, 6, n)


def test_grid_sph_conserves_mass_and_keeps_constants():
    pytest.importorskip("yt")
    from mim3d.formats.sph import MSUN_PC3_TO_NH, grid_sph

    pos, m, h = _blob()
    out = grid_sph(pos, m, h, {"temperature": np.full(len(m), 123.0),
                               "velocity_x": pos[:, 0] - 30}, box_pc=60, grid=16)
    dx = 60 / 16
    mass = out["mass_density_msun_pc3"].sum() * dx**3
    assert mass == pytest.approx(m.sum(), rel=0.01)
    assert np.allclose(out["density"], out["mass_density_msun_pc3"] * MSUN_PC3_TO_NH)
    assert MSUN_PC3_TO_NH == pytest.approx(30.9, rel=0.01)  # 1 Msun/pc^3 = 6.77e-23 g/cm^3
    reached = out["temperature"] != 0
    assert reached[8, 8, 8] and np.allclose(out["temperature"][reached], 123.0)
    # a linear field is reproduced near the blob's centre
    x = (np.arange(16) + 0.5) * dx - 30
    assert np.allclose(out["velocity_x"][6:10, 8, 8], x[6:10], atol=0.5)


def test_grid_sph_uniform_lattice_has_the_right_density():
    pytest.importorskip("yt")
    from mim3d.formats.sph import grid_sph

    spacing = 3.0
    axis = np.arange(0.5, 20) * spacing  # 20 particles per 60 pc edge
    pos = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    m = np.full(len(pos), 2.7)
    out = grid_sph(pos, m, np.full(len(pos), 2.5 * spacing), {}, box_pc=60, grid=12)
    centre = out["mass_density_msun_pc3"][4:8, 4:8, 4:8]
    assert np.allclose(centre, 2.7 / spacing**3, rtol=0.02)  # Msun/pc^3, not g/cm^3
    with pytest.raises(Mim3dError, match="1 particles lie outside the box"):
        grid_sph(np.vstack([pos, [[61.0, 1, 1]]]), np.append(m, 1), np.full(len(m) + 1, 5.0),
                 {}, box_pc=60, grid=12)


def test_grid_sph_command_writes_a_well_snapshot(tmp_path):
    pytest.importorskip("yt")
    from mim3d.formats import sph

    pos, m, h = _blob(n=1500, seed=1)
    np.savez(tmp_path / "p.npz", positions=pos, masses=m, smoothing_lengths=h,
             temperature=np.full(len(m), 50.0), velocity_x=np.zeros(len(m)),
             velocity_y=np.ones(len(m)), velocity_z=np.zeros(len(m)), time_myr=0.1)
    args = _parser(sph).parse_args(["grid-sph", "--particles", str(tmp_path / "p.npz"),
                                    "--grid", "8", "--box-pc", "60",
                                    "--out", str(tmp_path / "g.hdf5")])
    assert args.func(args) == 0
    traj = WellStore(tmp_path / "g.hdf5").trajectory(0)
    assert traj.fields["velocity"].shape == (1, 8, 8, 8, 3) and traj.times.tolist() == [0.1]
    assert set(traj.fields) == {"density", "temperature", "velocity"}
    from mim3d.formats.sph import MSUN_PC3_TO_NH
    mass = traj.fields["density"].sum() / MSUN_PC3_TO_NH * (60 / 8) ** 3
    assert mass == pytest.approx(m.sum(), rel=0.01)
