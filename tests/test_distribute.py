"""Training on several devices and workers with tf.distribute (CPU stand-ins for GPUs/nodes).

Each case runs in child processes: logical devices and TF_CONFIG must be set before
TensorFlow starts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mim3d.dummy import write_dummy_well
from mim3d.normalize import fit

CONFIG = {"model": {"num_hidden": [4, 4], "filter_size": 3},
          "train": {"batch_size": 2, "max_iterations": 3, "input_length": 2, "total_length": 4,
                    "reverse_input": False, "test_interval": 100, "snapshot_interval": 100,
                    "num_save_samples": 0, "seed": 3}}

CHILD = textwrap.dedent("""
    import json, os, sys
    import mim3d
    import tensorflow as tf
    if os.environ.get("LOGICAL_CPUS"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(os.environ["LOGICAL_CPUS"]))
    from mim3d.train import train
    config = json.loads(sys.argv[1])
    out = {}
    for strategy in sys.argv[3].split(","):
        config["train"]["strategy"] = strategy
        _, history = train(config, os.path.join(sys.argv[2], strategy), progress=False)
        out[strategy] = history.loss
    print("LOSSES " + json.dumps(out))
""")


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    folder = write_dummy_well(tmp_path_factory.mktemp("data"), n=3, grid=8, n_t=6)
    fit(folder, ("density",)).save(folder / "normalizer.json")
    return {**CONFIG, "data": {"path": str(folder)}}


def _losses(stdout: str) -> dict:
    line = [ln for ln in stdout.splitlines() if ln.startswith("LOSSES ")][-1]
    return json.loads(line[len("LOSSES "):])


def test_mirrored_on_two_cpu_devices_matches_single_device(config, tmp_path):
    env = {**os.environ, "LOGICAL_CPUS": "2"}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config), str(tmp_path),
                           "none,mirrored"], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = _losses(proc.stdout)
    assert len(losses["mirrored"]) == 3
    # same global batch, summed gradients: equal up to float32 reduction order
    for single, mirrored in zip(losses["none"], losses["mirrored"], strict=True):
        assert mirrored == pytest.approx(single, rel=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multiworker_two_local_workers_agree(config, tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(config), str(tmp_path), "multiworker"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
    chief, worker = (_losses(out)["multiworker"] for out, _ in results)
    assert len(chief) == 3 and chief == pytest.approx(worker, rel=1e-6)
    run = Path(tmp_path) / "multiworker"
    assert (run / "metrics.csv").is_file() and (run / "model.keras").is_file()
    assert (run / ".worker-1" / "metrics.csv").is_file()  # the other worker keeps its own
