"""Training and forecast speed, peak memory and the Conv3D roofline; writes ``bench/results/train.json``.

Run: ``.venv/bin/python bench/bench_train.py [--quick] [--full-d]`` (or ``make bench``).

Every measurement runs in its own child process, so each peak RSS (``ru_maxrss``) is its own:

* **train**: one optimizer step (``GradientTape`` + the original loss + ``OriginalAdam``, as
  ``Trainer._build_train_fn``) compiled once; the trace (``get_concrete_function``), the first
  call (graph optimisation + a step) and the following steps are timed separately, each
  timed step right after a roofline measurement in the same process (the fraction is their
  median ratio: the machine's speed drifts by ±10 % over minutes);
* **versus_original**: the default model against the original's operations (TensorFlow's own
  Conv3D gradients, the layer norm differentiated automatically, no fused convolutions, all
  activations stored), steps alternating in one process; their median time ratio;
* **forecast**: ``MIM.forecast`` (test mode);
* **roofline**: bare Conv3D forward + backward at every convolution shape of the model, both
  TensorFlow's own gradient and :func:`mim3d.conv.conv_same_written_out`; per shape the faster
  one counts, weighted by how often one optimizer step calls it (:mod:`mim3d.flops`);
* **data**: ``make_dataset`` batches per second from an array file, and the share of a loop
  (next batch + train step) spent waiting for the batch.

Jobs run with mim3d's allocator (TensorFlow's BFC, asked for by ``import mim3d``) unless they
say ``"allocator": "malloc"`` (TensorFlow's own default); the roofline is measured with both.

Configurations (issue 7): **C** grid 16³, num_hidden (16,16,16), filter 3, input 5, total 10,
batch 2; **D** (the seed's ``run.sh``) grid 32³, num_hidden (32,)*4, filter 5, input 1, total 20,
batch 1. Each is measured in the three ``ModelConfig.recompute`` modes (``gates``, the default;
``steps``; ``off``). A D step takes minutes on 2 cores, so its time is measured at ``total`` 3 and
4 (second calls) and extrapolated linearly in the number of time steps (every step after the
first costs the same); its memory likewise, or measured at T = 20 itself with ``--full-d``. The
bytes the time loop stores per step for the backward pass are read from the traced graph
(:func:`mim3d.memory.stored_per_step`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "results" / "train.json"

CONFIGS = {
    "C": dict(model=dict(num_hidden=(16, 16, 16), filter_size=3, patch_size=1, img_width=16),
              input_length=5, total_length=10, batch=2),
    "D": dict(model=dict(num_hidden=(32, 32, 32, 32), filter_size=5, patch_size=1, img_width=32),
              input_length=1, total_length=20, batch=1),
}
REFERENCE = {"C": {"s_per_step": 1.02, "peak_rss_gb": 1.63},
             "D": {"s_per_step": 133.0, "peak_rss_gb": 19.0}}


# ---------------------------------------------------------------------------------------------
# child-process measurements
# ---------------------------------------------------------------------------------------------
def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _model_config(job: dict):
    from mim3d.config import ModelConfig

    return ModelConfig(**CONFIGS[job["config"]]["model"], recompute=job.get("recompute", "gates"),
                       precision=job.get("precision", "float32"))


def _grappler(job: dict) -> None:
    import tensorflow as tf

    if job.get("grappler", "default") == "off":
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


def _train_step_fn(model):
    """One optimizer step of ``model`` (its own ``OriginalAdam``), compiled once for any input."""
    import tensorflow as tf

    from mim3d.model import l2_loss
    from mim3d.optim import OriginalAdam

    optimizer = OriginalAdam(learning_rate=1e-4)
    optimizer.build(model.trainable_variables)
    cfg = model.config
    spec_x = tf.TensorSpec((None, None, *cfg.grid, cfg.img_channel), tf.float32)

    @tf.function(input_signature=[spec_x, tf.TensorSpec((), tf.int32),
                                  tf.TensorSpec((None, None), tf.float32)])
    def step(x, input_length, mask):
        with tf.GradientTape() as tape:
            loss = l2_loss(model(x, input_length=input_length, sampling_mask=mask,
                                 training=True), x)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def _train_batch(job: dict, cfg):
    """``(x, input_length, mask, total_length, batch)``: random frames in [0, 1) for a step."""
    import numpy as np
    import tensorflow as tf

    spec = CONFIGS[job["config"]]
    t_len = job.get("total_length", spec["total_length"])
    lin = min(spec["input_length"], t_len - 1)
    batch = spec["batch"]
    x = tf.constant(np.random.default_rng(0).random((batch, t_len, *cfg.grid, cfg.img_channel),
                                                    np.float32))
    return x, tf.constant(lin), tf.zeros((batch, t_len - lin - 1), tf.float32), t_len, batch


def job_train(job: dict) -> dict:
    import numpy as np

    from mim3d.flops import train_step_flops
    from mim3d.model import MIM

    _grappler(job)
    cfg = _model_config(job)
    model = MIM(cfg)
    step = _train_step_fn(model)
    x, lin, mask, t_len, batch = _train_batch(job, cfg)
    rss_built = _peak_rss_gb()
    t0 = time.perf_counter()
    step.get_concrete_function(x, lin, mask)
    trace_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    float(step(x, lin, mask))
    first_s = time.perf_counter() - t0
    # each timed step follows a roofline measurement (best of 3 per shape), so the fraction
    # compares neighbouring measurements: the machine's speed drifts by ±10 % over minutes
    fns = _roofline_fns(cfg, batch) if job.get("steps", 3) else {}
    times, conv_s = [], []
    for _ in range(job.get("steps", 3)):
        conv_s.append(_conv_only_s(cfg, t_len, _roofline_best(fns, 3))["best"])
        t0 = time.perf_counter()
        float(step(x, lin, mask))
        times.append(time.perf_counter() - t0)
    s_step = float(np.median(times)) if times else first_s
    flops = train_step_flops(cfg, batch, t_len)
    out = {"total_length": t_len, "batch": batch, "trace_s": round(trace_s, 2),
           "first_call_s": round(first_s, 2), "step_times_s": [round(t, 3) for t in times],
           "s_per_step": round(s_step, 3), "flops_per_step": flops,
           "gflop_per_s": round(flops / s_step / 1e9, 2),
           "rss_after_build_gb": round(rss_built, 3), "peak_rss_gb": round(_peak_rss_gb(), 3),
           "retraces": step.experimental_get_tracing_count()}
    if times:  # each step against the roofline measured just before it; the median
        out["conv_only_s"] = [round(c, 3) for c in conv_s]
        out["roofline_fraction_paired"] = round(float(np.median(
            [c / t for c, t in zip(conv_s, times, strict=True)])), 3)
    return out


@contextlib.contextmanager
def _original_operations():
    """Models built inside compute as the original code does: TensorFlow's own Conv3D gradients
    (not :func:`mim3d.conv.conv_same`) and the layer norm differentiated automatically through
    ``tf.nn.moments`` (not :func:`mim3d.cells.tensor_layer_norm`'s written-out gradient). With
    ``recompute="off"`` and ``MIM.fuse = False`` this is the original's arithmetic, op for op."""
    import tensorflow as tf

    import mim3d.cells as cells

    def native_conv(x, kernel):
        return tf.nn.convolution(x, kernel, padding="SAME")

    def autodiff_layer_norm(z, scale, offset):
        mean, var = tf.nn.moments(z, list(range(1, len(z.shape))), keepdims=True)
        inv = scale * tf.math.rsqrt(var + cells.LN_EPSILON)
        return z * inv + (offset - mean * inv)

    saved = cells.conv_same, cells.tensor_layer_norm
    cells.conv_same, cells.tensor_layer_norm = native_conv, autodiff_layer_norm
    try:
        yield
    finally:
        cells.conv_same, cells.tensor_layer_norm = saved


def job_versus_original(job: dict) -> dict:
    """The default model against the original's operations (:func:`_original_operations`, all
    activations stored, no fused convolutions) in one process, their steps alternating, so the
    machine's drift cancels: ``speedup`` is the median over rounds of original ÷ mim3d time."""
    import numpy as np

    from mim3d.flops import train_step_flops
    from mim3d.model import MIM

    cfg = _model_config(job)
    x, lin, mask, t_len, batch = _train_batch(job, cfg)
    steps = {}
    for name in ("mim3d", "original_ops"):
        original = name == "original_ops"
        with _original_operations() if original else contextlib.nullcontext():
            model = MIM(_model_config({**job, "recompute": "off" if original else "gates"}))
            model.fuse = not original
            steps[name] = _train_step_fn(model)
            float(steps[name](x, lin, mask))  # traced and compiled here
    times = {name: [] for name in steps}
    for _ in range(job.get("rounds", 3)):
        for name, step in steps.items():
            t0 = time.perf_counter()
            float(step(x, lin, mask))
            times[name].append(time.perf_counter() - t0)
    flops = train_step_flops(cfg, batch, t_len)
    ratios = [o / m for o, m in zip(times["original_ops"], times["mim3d"], strict=True)]
    out = {"total_length": t_len, "batch": batch, "speedup": round(float(np.median(ratios)), 3)}
    for name, ts in times.items():
        s = float(np.median(ts))
        out[name] = {"step_times_s": [round(t, 3) for t in ts], "s_per_step": round(s, 3),
                     "gflop_per_s": round(flops / s / 1e9, 2)}
    return out


def job_forecast(job: dict) -> dict:
    import numpy as np

    from mim3d.flops import forward_flops
    from mim3d.model import MIM

    spec = CONFIGS[job["config"]]
    t_len = job.get("total_length", spec["total_length"])
    cfg = _model_config(job)
    model = MIM(cfg)
    x = np.random.default_rng(0).random((spec["batch"], t_len, *cfg.grid, cfg.img_channel),
                                        np.float32)
    lin = min(spec["input_length"], t_len - 1)
    t0 = time.perf_counter()
    model.forecast(x, lin).numpy()
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.forecast(x, lin).numpy()
    s = time.perf_counter() - t0
    flops = forward_flops(cfg, spec["batch"], t_len)
    return {"total_length": t_len, "first_call_s": round(first_s, 2), "s_per_forecast": round(s, 3),
            "flops": flops, "gflop_per_s": round(flops / s / 1e9, 2),
            "peak_rss_gb": round(_peak_rss_gb(), 3)}


def _roofline_fns(cfg, batch: int) -> dict:
    """``{(c_in, c_out, kernel): {"tensorflow": fn, "mim3d": fn}}``: bare Conv3D forward +
    backward at each distinct convolution shape of the model, compiled and called once."""
    import tensorflow as tf

    from mim3d.conv import conv_same_written_out
    from mim3d.flops import conv_shapes

    fns = {}
    for s in conv_shapes(cfg):
        key = (s.c_in, s.c_out, s.kernel)
        if key in fns:
            continue
        x = tf.random.normal([batch, *cfg.patched_grid, s.c_in])
        w = tf.random.normal([s.kernel] * cfg.rank + [s.c_in, s.c_out])
        dy = tf.random.normal([batch, *cfg.patched_grid, s.c_out])

        def compiled(conv, x=x, w=w, dy=dy):
            def fwd_bwd():
                with tf.GradientTape() as tape:
                    tape.watch([x, w])
                    y = conv(x, w)
                return tape.gradient(y, [x, w], output_gradients=dy)
            fn = tf.function(fwd_bwd)
            fn()
            return fn

        fns[key] = {"tensorflow": compiled(lambda a, b: tf.nn.convolution(a, b, padding="SAME")),
                    "mim3d": compiled(conv_same_written_out)}
    return fns


def _roofline_best(fns: dict, repeats: int) -> dict:
    """Every shape and implementation timed ``repeats`` times: ``{key: {impl: best seconds}}``."""
    best = {key: dict.fromkeys(impls, float("inf")) for key, impls in fns.items()}
    for _ in range(repeats):
        for key, impls in fns.items():
            for name, fn in impls.items():
                t0 = time.perf_counter()
                fn()
                best[key][name] = min(best[key][name], time.perf_counter() - t0)
    return best


def _conv_only_s(cfg, t_len: int, timing: dict) -> dict:
    """Seconds the convolutions of one optimizer step take at the roofline (each shape's time ×
    its calls per step) with TensorFlow's gradient, with ``conv_same`` and per shape the faster."""
    from mim3d.flops import conv_shapes

    total = {"tensorflow": 0.0, "mim3d": 0.0, "best": 0.0}
    for s in conv_shapes(cfg):
        t = timing[(s.c_in, s.c_out, s.kernel)]
        calls = t_len - 1 if s.first_step else t_len - 2
        total["tensorflow"] += calls * t["tensorflow"]
        total["mim3d"] += calls * t["mim3d"]
        total["best"] += calls * min(t["tensorflow"], t["mim3d"])
    return total


def job_roofline(job: dict) -> dict:
    from mim3d.flops import conv_flops, conv_shapes, train_step_flops

    spec = CONFIGS[job["config"]]
    cfg = _model_config(job)
    batch, t_len = spec["batch"], spec["total_length"]
    fns = _roofline_fns(cfg, batch)
    best = _roofline_best(fns, job.get("repeats", 3))
    shapes = {(s.c_in, s.c_out, s.kernel): s for s in conv_shapes(cfg)}
    per_shape = []
    for key, t in best.items():
        flops = 3 * conv_flops(shapes[key], cfg, batch)
        per_shape.append({"c_in": key[0], "c_out": key[1], "kernel": key[2],
                          **{f"{n}_s": round(v, 4) for n, v in t.items()},
                          **{f"{n}_gflop_per_s": round(flops / v / 1e9, 2) for n, v in t.items()}})
    conv_s = _conv_only_s(cfg, t_len, best)
    flops = train_step_flops(cfg, batch, t_len)
    return {"shapes": per_shape,
            "conv_only_s_per_step": {k: round(v, 2) for k, v in conv_s.items()},
            "gflop_per_s": {k: round(flops / v / 1e9, 2) for k, v in conv_s.items()},
            "peak_rss_gb": round(_peak_rss_gb(), 3)}


def job_data(job: dict) -> dict:
    import tempfile

    import numpy as np
    import tensorflow as tf

    from mim3d.data import DataConfig, make_dataset
    from mim3d.model import MIM

    spec = CONFIGS[job["config"]]
    cfg = _model_config(job)
    t_len, batch, lin = spec["total_length"], spec["batch"], spec["input_length"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "windows.npy"
        n = 8 * batch
        np.save(path, np.random.default_rng(0).random((n, t_len, *cfg.grid, cfg.img_channel),
                                                      np.float32))
        data = DataConfig(path=str(path), total_length=t_len, batch_size=batch)
        ds = make_dataset(data, "train", shuffle=True, repeat=True)
        it = iter(ds)
        next(it)
        t0 = time.perf_counter()
        n_batches = 20
        for _ in range(n_batches):
            next(it).numpy()
        read_s = (time.perf_counter() - t0) / n_batches
        model = MIM(cfg)
        step = _train_step_fn(model)
        mask = tf.zeros((batch, t_len - lin - 1), tf.float32)
        step(next(it), tf.constant(lin), mask)  # trace + first call
        wait = busy = 0.0
        for _ in range(job.get("steps", 3)):
            t0 = time.perf_counter()
            x = next(it)
            t1 = time.perf_counter()
            float(step(x, tf.constant(lin), mask))
            wait += t1 - t0
            busy += time.perf_counter() - t1
    mb = batch * t_len * int(np.prod(cfg.grid)) * cfg.img_channel * 4 / 1e6
    return {"batch_s": round(read_s, 5), "batches_per_s": round(1 / read_s, 1),
            "mb_per_s": round(mb / read_s, 1), "wait_fraction": round(wait / (wait + busy), 4),
            "peak_rss_gb": round(_peak_rss_gb(), 3)}


def job_stored(job: dict) -> dict:
    from mim3d.memory import stored_per_step
    from mim3d.model import MIM

    stored = stored_per_step(MIM(_model_config(job)), batch=CONFIGS[job["config"]]["batch"])
    return {"stored_mib_per_step": round(stored["bytes"] / 2**20, 1),
            "tensors_per_step": stored["tensors"], "weights_per_step": stored["weights"],
            "mib_by_op": {k: round(v / 2**20, 1) for k, v in stored["by_op"].items() if v}}


JOBS = {"stored": job_stored, "train": job_train, "forecast": job_forecast,
        "roofline": job_roofline, "data": job_data, "versus_original": job_versus_original}


def run_child(job: dict, timeout: float | None = None) -> dict:
    """Run one job in a fresh Python process; its JSON result plus the wall time."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--job", json.dumps(job)],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        return {"job": job, "error": out.stderr[-2000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {job} -> {result}", flush=True)
    return {"job": job, **result, "wall_s": round(time.perf_counter() - t0, 1),
            "load_avg_1min_after": round(os.getloadavg()[0], 2)}


def extrapolate(short: dict, longer: dict, t_target: int) -> dict:
    """Linear in the number of time steps ``T − 1`` through two measured runs."""
    n1, n2 = short["total_length"] - 1, longer["total_length"] - 1
    out = {}
    for key in ("s_per_step", "peak_rss_gb"):
        slope = (longer[key] - short[key]) / (n2 - n1)
        out[key] = round(longer[key] + slope * (t_target - 1 - n2), 3)
        out[f"{key}_per_time_step"] = round(slope, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="C only (a minute or two)")
    parser.add_argument("--full-d", action="store_true",
                        help="also measure D at T = 20 itself (~35 min more)")
    parser.add_argument("--only", choices=("C", "D"), help="measure one configuration only")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.job:
        job = json.loads(args.job)
        # read when TensorFlow makes its first tensor, after this (mim3d's default: BFC)
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = str(job.get("allocator") != "malloc").lower()
        print(json.dumps(JOBS[job["kind"]](job)))
        return

    import tensorflow as tf

    results = {"machine": {"cpu": platform.processor() or platform.machine(),
                           "cores": os.cpu_count(), "tensorflow": tf.__version__,
                           "load_avg_1min_start": round(os.getloadavg()[0], 2)},
               "reference_original": REFERENCE, "C": {}, "D": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every measurement, so a long run leaves what it measured
        results["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
        args.out.write_text(json.dumps(results, indent=2) + "\n")

    c = results["C"]
    if args.only != "D":
        measure_c(c, save)
    if not args.quick and args.only != "C":
        measure_d(results["D"], save, args.full_d)
    save()
    print(f"wrote {args.out}")


MODES = ("gates", "steps", "off")  # ModelConfig.recompute: the default first


def measure_c(c: dict, save) -> None:
    print("C", flush=True)
    c["roofline"] = run_child({"kind": "roofline", "config": "C"})
    c["roofline_malloc"] = run_child({"kind": "roofline", "config": "C", "allocator": "malloc"})
    for mode in MODES:
        c[f"train_{mode}"] = run_child({"kind": "train", "config": "C", "steps": 5,
                                        "recompute": mode})
    c["train_grappler_off"] = run_child({"kind": "train", "config": "C", "steps": 5,
                                         "grappler": "off"})
    c["train_bfloat16"] = run_child({"kind": "train", "config": "C", "steps": 3,
                                     "precision": "mixed_bfloat16"})
    c["train_malloc"] = run_child({"kind": "train", "config": "C", "steps": 5,
                                   "allocator": "malloc"})
    c["data"] = run_child({"kind": "data", "config": "C"})
    for key, alloc in (("versus_original", "bfc"), ("versus_original_malloc", "malloc")):
        c[key] = run_child({"kind": "versus_original", "config": "C", "rounds": 5,
                            "allocator": alloc})
    for key, row in c.items():
        if key.startswith("train") and "s_per_step" in row:
            _fraction_of(row, row, c)
    save()


def measure_d(d: dict, save, full: bool) -> None:
    """Time and memory at T = 3 and 4 (second calls), extrapolated to T = 20; with ``full``
    T = 20 itself (the default mode on a second call, the others on a first call, ~7 min each)."""
    print("D", flush=True)
    d["roofline"] = run_child({"kind": "roofline", "config": "D", "repeats": 3})
    d["roofline_malloc"] = run_child({"kind": "roofline", "config": "D", "repeats": 3,
                                      "allocator": "malloc"})
    save()
    for mode in (*MODES, "malloc"):  # "malloc": the default mode with TensorFlow's allocator
        job = {"recompute": mode} if mode in MODES else {"allocator": mode}
        runs = [run_child({"kind": "train", "config": "D", "steps": 1, "total_length": t, **job})
                for t in (3, 4)]
        row = d[f"train_{mode}"] = {"runs": runs}
        if mode in MODES:  # the stored bytes come from the graph, whatever the allocator
            row["stored"] = run_child({"kind": "stored", "config": "D", "recompute": mode})
        if all("s_per_step" in r for r in runs):
            row["T20"] = extrapolate(runs[0], runs[1], 20)
            _fractions(row, runs[1], d)
        save()
    if full:  # the default mode timed on a second call, the others on the first (upper bound)
        for mode in MODES:
            run = run_child({"kind": "train", "config": "D", "steps": int(mode == MODES[0]),
                             "total_length": 20, "recompute": mode})
            record_t20(d[f"train_{mode}"], run, d)
            save()
    for key, alloc in (("versus_original", "bfc"), ("versus_original_malloc", "malloc")):
        d[key] = run_child({"kind": "versus_original", "config": "D", "total_length": 3,
                            "rounds": 2, "allocator": alloc})
        save()
    d["forecast"] = run_child({"kind": "forecast", "config": "D",
                               "total_length": 20 if full else 4})


def record_t20(row: dict, run: dict, part: dict) -> None:
    """Put a measured T = 20 run in place of the extrapolated numbers."""
    row["T20_measured"] = run
    if "peak_rss_gb" in run:
        row["T20_extrapolated"] = row.get("T20")
        row["T20"] = {"s_per_step": run["s_per_step"], "peak_rss_gb": run["peak_rss_gb"],
                      "measured": True, "time_from": "second call" if run["step_times_s"]
                      else "first call (graph optimisation included)"}
        _fractions(row, run, part)


def _fractions(row: dict, run: dict, part: dict) -> None:
    """Achieved FLOP/s of ``run`` (FLOPs ÷ time, any T) and its roofline fraction into T20."""
    row["T20"]["gflop_per_s"] = run["gflop_per_s"]
    row["T20"]["gflop_per_s_from"] = f"T = {run['total_length']}"
    _fraction_of(row["T20"], run, part)


def _fraction_of(row: dict, run: dict, part: dict) -> None:
    """``roofline_fraction``: against the roofline measured beside the run's own steps (the
    median over steps) when it has timed steps; ``roofline_fraction_separate``: against the
    roofline child process with the run's allocator; ``roofline_fraction_best``: against the
    faster of the two allocators' roofline children (BFC at D, malloc at C), all from the same
    bench run (``part``, the configuration's results)."""
    if "roofline_fraction_paired" in run:
        row["roofline_fraction"] = run["roofline_fraction_paired"]
    rooflines = {key: part[key]["gflop_per_s"]["best"] for key in ("roofline", "roofline_malloc")
                 if "gflop_per_s" in part.get(key, {})}
    own = "roofline_malloc" if run.get("job", {}).get("allocator") == "malloc" else "roofline"
    if own in rooflines:
        row["roofline_fraction_separate"] = round(run["gflop_per_s"] / rooflines[own], 3)
    if rooflines:
        row["roofline_fraction_best"] = round(run["gflop_per_s"] / max(rooflines.values()), 3)


if __name__ == "__main__":
    main()
