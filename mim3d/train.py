"""Training: the original 3D-MIM recipe, with checkpoints that survive a kill.

One iteration (original ``run.py`` / ``trainer.py``):

1. the next batch ``X`` ``(B, T, W, H, D, C)`` of the seeded per-epoch order;
2. η = ``TrainConfig.eta(iteration)``; one Bernoulli(η) flag per sample and predicted step
   (drawn from ``numpy.random.default_rng([seed, iteration])``, so a resumed run draws the same);
3. one optimizer step on ``X``; with ``reverse_img`` another on ``X`` flipped along depth; with
   ``reverse_input`` another on ``X[:, ::-1]`` (and on the flipped one reversed); the logged loss
   is the mean of their ``½ Σ (Ŷ − X)² / B``.

Run folder: ``run.yaml`` (the resolved configuration), ``normalizer.json``, ``checkpoints/``
(the last ``keep_checkpoints``; each holds weights, optimizer state, iteration, η, seed and data
position), ``metrics.csv`` (``step, loss, eta, lr, seconds``), ``validation.csv`` (per-lead MSE),
``tensorboard/``, ``samples/`` and, at the end, ``model.keras``. A kill at any moment leaves the
previous checkpoint usable; ``--resume`` continues with the same losses as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml
from tqdm.auto import tqdm

from mim3d.config import ModelConfig, TrainConfig
from mim3d.data import DataConfig, load_arrays, make_dataset, model_grid, resolve_normalizer
from mim3d.data import steps_per_epoch as data_steps_per_epoch
from mim3d.errors import Mim3dError
from mim3d.io import atomic_write
from mim3d.model import MIM, l2_loss
from mim3d.optim import OriginalAdam
from mim3d.runconfig import RunConfig, load_run_config

log = logging.getLogger(__name__)

RUN_FILES = ("run.yaml", "normalizer.json", "checkpoints", "metrics.csv", "validation.csv",
             "tensorboard", "samples", "model.keras")
METRICS_COLUMNS = ("step", "loss", "eta", "lr", "seconds")


# model section key ``architecture`` -> "module:class"; every class takes a ModelConfig and has
# MIM's call signature ``(inputs, input_length, sampling_mask)`` and ``forecast``.
ARCHITECTURES = {"mim": "mim3d.model:MIM", "convlstm": "mim3d.convlstm:ConvLSTMForecaster"}


def architecture_class(name: str):
    """The model class registered as ``name`` in :data:`ARCHITECTURES`."""
    import importlib

    if name not in ARCHITECTURES:
        raise Mim3dError(f"unknown model architecture {name!r}; choose one of "
                         f"{sorted(ARCHITECTURES)}")
    module, cls = ARCHITECTURES[name].split(":")
    return getattr(importlib.import_module(module), cls)


class TrainingDiverged(Mim3dError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


# ---------------------------------------------------------------------------------------------
# run folder
# ---------------------------------------------------------------------------------------------
def prepare_run_dir(run_dir: Path, config: dict, resume: bool, overwrite: bool) -> bool:
    """Check and create the run folder; returns True when an earlier run is continued.

    Never deletes anything: ``overwrite`` moves an earlier run's files into
    ``replaced-<time>/`` inside the folder.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise Mim3dError(f"run folder {run_dir} is a file; choose a folder name")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise Mim3dError(f"cannot create run folder {run_dir}: {err}") from None
    if not os.access(run_dir, os.W_OK):
        raise Mim3dError(f"run folder {run_dir} is not writable; choose another --out")
    entries = [p for p in run_dir.iterdir() if not p.name.startswith(("replaced-", ".worker-"))]
    if not entries:
        return False
    if resume:
        saved = run_dir / "run.yaml"
        if not saved.is_file():
            raise Mim3dError(f"--resume: {run_dir} holds files but no run.yaml; it is not a "
                             f"mim3d run folder")
        old = yaml.safe_load(saved.read_text())
        if _model_identity(old.get("model")) != _model_identity(config.get("model")):
            raise Mim3dError(
                f"--resume: the model configuration changed: the run in {run_dir} has "
                f"{old.get('model')}, now {config.get('model')}. Resume with the original "
                f"settings or start a new run folder"
            )
        changed = {k: (old["train"].get(k), v) for k, v in config["train"].items()
                   if old.get("train", {}).get(k) != v}
        if changed:
            log.warning("resuming with changed training settings (old, new): %s", changed)
        return (run_dir / "checkpoints").is_dir()
    if not overwrite:
        raise Mim3dError(
            f"run folder {run_dir} is not empty; pass --resume to continue that run, or "
            f"--overwrite to start again (the old files are moved to {run_dir}/replaced-<time>/; "
            f"nothing is deleted), or choose another --out"
        )
    backup = run_dir / f"replaced-{datetime.now():%Y%m%d-%H%M%S}"
    backup.mkdir()
    for entry in entries:
        shutil.move(str(entry), backup / entry.name)
    log.warning("moved the earlier run's files to %s", backup)
    return False


def _model_identity(model: dict | None) -> tuple:
    """A model section with defaults filled in, so settings added later compare equal."""
    model = dict(model or {})
    arch = model.pop("architecture", "mim")
    try:
        return arch, ModelConfig.from_dict(model)
    except Mim3dError:
        return arch, tuple(sorted(model.items()))


def _rewrite_csv(path: Path, keep_until_step: int) -> None:
    """Drop rows logged after ``keep_until_step`` (a killed run may have logged past its last
    checkpoint), atomically."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= keep_until_step]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            csv.writer(fh).writerows(kept)
    atomic_write(path, write)


class _CsvLog:
    def __init__(self, path: Path, columns: tuple[str, ...]):
        new = not path.is_file() or path.stat().st_size == 0
        self.fh = open(path, "a", newline="")
        self.writer = csv.writer(self.fh)
        if new:
            self.writer.writerow(columns)
            self.fh.flush()

    def write(self, row) -> None:
        self.writer.writerow(row)
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


# ---------------------------------------------------------------------------------------------
# strategy, optimizer
# ---------------------------------------------------------------------------------------------
def make_strategy(name: str) -> tf.distribute.Strategy:
    """``none``: the default strategy; ``mirrored``: all local GPUs (or every logical CPU
    device when there is no GPU); ``multiworker``: the cluster in ``TF_CONFIG``."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if "TF_CONFIG" not in os.environ:
        raise Mim3dError("strategy 'multiworker' needs the TF_CONFIG environment variable "
                         "describing the cluster (see the README's SLURM section)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def make_optimizer(cfg: TrainConfig) -> OriginalAdam:
    """The original Adam with the configured learning-rate schedule and clipping."""
    lr = cfg.lr
    if cfg.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            cfg.lr, cfg.max_iterations, warmup_target=None if not cfg.warmup_iterations else None)
    elif cfg.lr_schedule == "exponential":
        lr = keras.optimizers.schedules.ExponentialDecay(cfg.lr, cfg.max_iterations, 0.1)
    if cfg.warmup_iterations:
        lr = _Warmup(lr, cfg.warmup_iterations)
    return OriginalAdam(lr, global_clipnorm=cfg.clipnorm)


@keras.saving.register_keras_serializable(package="mim3d")
class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, after, steps: int):
        self.after, self.steps = after, int(steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        base = self.after(step) if callable(self.after) else self.after
        return base * keras.ops.minimum(1.0, (step + 1.0) / self.steps)

    def get_config(self):
        return {"after": keras.saving.serialize_keras_object(self.after), "steps": self.steps}


def current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------
@dataclass
class History:
    """What :meth:`Trainer.fit` logged: per displayed step and per validation."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eta: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_mse: list[np.ndarray] = field(default_factory=list)


class Trainer:
    """Train a 3D-MIM model on a data source, with checkpoints and exact resume.

    Args:
        run: the run configuration (model, train and data sections).
        run_dir: the run folder (created; never deleted).
        resume: continue the run in ``run_dir`` from its last checkpoint.
        overwrite: start again in a non-empty ``run_dir`` (old files are moved aside).
        model: optional initial model (e.g. converted from an original checkpoint); its config
            must agree with ``run.model``. Only with strategy ``none``.
        progress: show a progress bar.
        callbacks: Keras callbacks; they receive ``on_train_begin/end`` and
            ``on_train_batch_end(step, logs)`` with ``loss``, ``eta`` and ``lr``.
    """

    def __init__(self, run: RunConfig, run_dir: str | Path, *, resume: bool = False,
                 overwrite: bool = False, model: MIM | None = None, progress: bool = True,
                 callbacks: list | None = None):
        self.cfg = run.train
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.callbacks = list(callbacks or [])
        cfg = self.cfg
        self.data = DataConfig(**{**run.data, "total_length": cfg.total_length,
                                  "batch_size": cfg.batch_size, "seed": cfg.seed})
        grid = model_grid(self.data)
        model_dict = {"img_width": grid[0], "img_height": grid[1], "img_depth": grid[2],
                      "img_channel": len(self.data.channels), **run.model}
        self.architecture = model_dict.pop("architecture", "mim")
        model_class = architecture_class(self.architecture)
        self.model_config = ModelConfig.from_dict(model_dict)
        if (*self.model_config.grid, self.model_config.img_channel) != (*grid,
                                                                         len(self.data.channels)):
            raise Mim3dError(
                f"the model expects grid {self.model_config.grid} with "
                f"{self.model_config.img_channel} channel(s), the data give {grid} with "
                f"{len(self.data.channels)} ({self.data.channels}); drop the grid settings from "
                f"the model section to take the data's, or set data.downsample"
            )
        windows = data_steps_per_epoch(self.data, "train") * cfg.batch_size
        if windows == 0:
            from mim3d.data import n_windows
            raise Mim3dError(
                f"batch_size={cfg.batch_size} is larger than the training data "
                f"({n_windows(self.data, 'train')} windows of {cfg.total_length} frames); lower "
                f"batch_size or add data"
            )
        self.steps_per_epoch = windows // cfg.batch_size
        self.resolved = RunConfig({"architecture": self.architecture,
                                   **self.model_config.to_dict()}, cfg, run.data).to_dict()
        self.strategy = make_strategy(cfg.strategy)
        self.is_chief = self._is_chief()
        if not self.is_chief:  # other workers keep their copies in a private sub-folder
            self.run_dir = self.run_dir / f".worker-{self.strategy.cluster_resolver.task_id}"
        self.resuming = prepare_run_dir(self.run_dir, self.resolved, resume, overwrite)
        self.normalizer = resolve_normalizer(self.data)
        if model is not None and cfg.strategy != "none":
            raise Mim3dError("an initial model can only be given with strategy 'none'")
        keras.utils.set_random_seed(cfg.seed)
        with self.strategy.scope():
            self.model = model if model is not None else model_class(self.model_config)
            if model is not None and model.config != self.model_config:
                raise Mim3dError(f"the initial model's config {model.config} differs from the "
                                 f"run's {self.model_config}")
            self.optimizer = make_optimizer(cfg)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        # a string variable cannot be mirrored (collectives take numbers): keep it local
        self.state = tf.Variable("{}", dtype=tf.string, trainable=False, name="state")
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              iteration=self.step, state=self.state)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.run_dir / "checkpoints"),
                                                  max_to_keep=cfg.keep_checkpoints)
        if self.resuming and self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            log.info("resumed %s at iteration %d", self.manager.latest_checkpoint,
                     int(self.step.numpy()))
        self._train_fn = None
        self._valid = None

    def _is_chief(self) -> bool:
        resolver = getattr(self.strategy, "cluster_resolver", None)
        if resolver is None or not resolver.task_type:
            return True
        return resolver.task_type == "chief" or (resolver.task_type == "worker"
                                                 and resolver.task_id == 0)

    # -- one optimizer step -----------------------------------------------------------------
    def _build_train_fn(self):
        cfg, model, optimizer = self.cfg, self.model, self.optimizer
        mc = self.model_config
        n_elements = float(np.prod(mc.grid) * mc.img_channel * (cfg.total_length - 1)
                           * cfg.batch_size)

        def replica_step(x, mask):
            with tf.GradientTape() as tape:
                gen = model(x, input_length=cfg.input_length, sampling_mask=mask, training=True)
                l2 = l2_loss(gen, x)
                loss = l2 if cfg.loss == "sum" else l2 * (2.0 / n_elements)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return l2

        spec_x = tf.TensorSpec((None, None, *mc.grid, mc.img_channel), tf.float32)
        spec_m = tf.TensorSpec((None, None), tf.float32)
        strategy = self.strategy

        @tf.function(input_signature=[spec_x, spec_m])
        def single(x, mask):
            return replica_step(x, mask)

        @tf.function
        def distributed(x, mask):
            per_replica = strategy.run(replica_step, args=(x, mask))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        if strategy.num_replicas_in_sync == 1 and cfg.strategy == "none":
            def run_single(x, mask):
                return single(tf.constant(x), tf.constant(mask))
            run_single.function = single  # one trace for every B and T (tests count them)
            return run_single

        n = strategy.num_replicas_in_sync
        if cfg.batch_size % n:
            raise Mim3dError(f"batch_size={cfg.batch_size} must be divisible by the "
                             f"{n} replicas of the '{cfg.strategy}' strategy")
        local = cfg.batch_size // n

        def run(x, mask):
            def part(array):
                return strategy.experimental_distribute_values_from_function(
                    lambda ctx: tf.constant(array[ctx.replica_id_in_sync_group * local:
                                                  (ctx.replica_id_in_sync_group + 1) * local]))
            return distributed(part(x), part(mask))
        return run

    def sampling_mask(self, iteration: int, batch: int) -> tuple[float, np.ndarray]:
        """η and the flags ``(B, T − L − 1)`` of ``iteration`` (deterministic by seed)."""
        cfg = self.cfg
        eta = cfg.eta(iteration)
        rng = np.random.default_rng([cfg.seed, iteration])
        flags = rng.random((batch, cfg.total_length - cfg.input_length - 1)) < eta
        return eta, flags.astype(np.float32)

    def train_iteration(self, iteration: int, x: np.ndarray) -> tuple[float, float]:
        """All optimizer steps of one iteration; returns (loss = mean of l2 / B, η)."""
        cfg = self.cfg
        if self._train_fn is None:
            self._train_fn = self._build_train_fn()
        eta, mask = self.sampling_mask(iteration, x.shape[0])
        batches = [x]
        if cfg.reverse_img:
            batches.append(x[:, :, :, :, ::-1])
        if cfg.reverse_input:
            batches += [b[:, ::-1] for b in list(batches)]
        losses = [float(self._train_fn(np.ascontiguousarray(b), mask)) for b in batches]
        return float(np.mean(losses)) / x.shape[0], eta

    # -- validation ---------------------------------------------------------------------------
    def validate(self, step: int) -> np.ndarray | None:
        """Per-lead-time MSE (scaled space) on the valid split in test mode, or None."""
        cfg = self.cfg
        if self._valid is None:
            try:
                arrays = load_arrays(self.data, "valid", normalizer=self.normalizer)
            except Mim3dError as err:
                log.warning("no validation: %s", err)
                self._valid = np.zeros((0,))
                return None
            if cfg.validation_batches:
                arrays = arrays[: cfg.validation_batches * cfg.batch_size]
            self._valid = arrays
        if len(self._valid) == 0:
            return None
        from mim3d.predict import predict

        x = self._valid
        pred = predict(self.model, x, cfg.input_length, batch_size=cfg.batch_size)
        lead = pred[:, cfg.input_length - 1:] - x[:, cfg.input_length:]
        mse = np.mean(lead.astype(np.float64) ** 2, axis=tuple(range(2, lead.ndim))).mean(0)
        if cfg.num_save_samples:
            samples = self.run_dir / "samples"
            samples.mkdir(exist_ok=True)
            n = cfg.num_save_samples
            path = samples / f"step_{step:07d}.npz"
            atomic_write(path, lambda tmp: np.savez_compressed(
                open(tmp, "wb"), truth=x[:n], forecast=pred[:n, cfg.input_length - 1:],
                input_length=cfg.input_length))
        return mse

    # -- the loop -----------------------------------------------------------------------------
    def fit(self) -> History:
        """Run until ``max_iterations``; returns the :class:`History` of this call."""
        cfg = self.cfg
        run_dir = self.run_dir
        start = int(self.step.numpy())
        atomic_write(run_dir / "run.yaml", lambda tmp: tmp.write_text(
            yaml.safe_dump(self.resolved, sort_keys=False)))
        if self.normalizer is not None:
            self.normalizer.save(run_dir / "normalizer.json")
        _rewrite_csv(run_dir / "metrics.csv", start)
        _rewrite_csv(run_dir / "validation.csv", start)
        history = History()
        if start >= cfg.max_iterations:
            log.info("nothing to do: the run is at iteration %d of %d", start, cfg.max_iterations)
            return history
        metrics = _CsvLog(run_dir / "metrics.csv", METRICS_COLUMNS)
        valid_log = _CsvLog(run_dir / "validation.csv", ("step", "lead", "mse"))
        writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
        epoch, position = divmod(start, self.steps_per_epoch)
        dataset = make_dataset(self.data, "train", shuffle=True, repeat=True,
                               normalizer=self.normalizer, start_epoch=epoch,
                               start_position=position)
        cb = keras.callbacks.CallbackList(self.callbacks, model=self.model)
        cb.on_train_begin()
        bar = tqdm(total=cfg.max_iterations, initial=start, desc="train", unit="it",
                   disable=not self.progress, dynamic_ncols=True)
        last_saved = start
        try:
            for iteration, x in zip(range(start + 1, cfg.max_iterations + 1), dataset,
                                    strict=False):
                t0 = time.perf_counter()
                loss, eta = self.train_iteration(iteration, x.numpy())
                seconds = time.perf_counter() - t0
                if not np.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} at iteration {iteration}; training stopped. The "
                        f"last good checkpoint (iteration {last_saved}) is kept in "
                        f"{run_dir / 'checkpoints'}. Lower train.lr, set train.clipnorm, or use "
                        f"train.loss=mean, then --resume"
                    )
                self.step.assign(iteration)
                lr = current_lr(self.optimizer)
                if iteration % cfg.display_interval == 0 or iteration == cfg.max_iterations:
                    if metrics:
                        metrics.write((iteration, f"{loss:.9g}", f"{eta:.9g}", f"{lr:.9g}",
                                       f"{seconds:.4f}"))
                    history.step.append(iteration)
                    history.loss.append(loss)
                    history.eta.append(eta)
                    history.seconds.append(seconds)
                    with writer.as_default(step=iteration):
                        tf.summary.scalar("loss", loss)
                        tf.summary.scalar("eta", eta)
                        tf.summary.scalar("lr", lr)
                    bar.set_postfix(loss=f"{loss:.4g}", eta=f"{eta:.3f}")
                cb.on_train_batch_end(iteration, {"loss": loss, "eta": eta, "lr": lr})
                if iteration % cfg.test_interval == 0 or iteration == cfg.max_iterations:
                    mse = self.validate(iteration)
                    if mse is not None:
                        history.val_step.append(iteration)
                        history.val_mse.append(mse)
                        if valid_log:
                            for lead, value in enumerate(mse, start=1):
                                valid_log.write((iteration, lead, f"{value:.9g}"))
                        with writer.as_default(step=iteration):
                            tf.summary.scalar("valid_mse", float(mse.mean()))
                if iteration % cfg.snapshot_interval == 0 or iteration == cfg.max_iterations:
                    self._save_checkpoint(iteration)
                    last_saved = iteration
                bar.update(1)
        finally:
            bar.close()
            for f in (metrics, valid_log):
                if f:
                    f.close()
            writer.close()
        cb.on_train_end()
        from mim3d.convert import save_model
        save_model(self.model, run_dir / "model.keras", overwrite=True)
        return history

    def _save_checkpoint(self, iteration: int) -> None:
        cfg = self.cfg
        epoch, position = divmod(iteration, self.steps_per_epoch)
        self.state.assign(json.dumps({
            "iteration": iteration, "eta": cfg.eta(iteration), "seed": cfg.seed,
            "mask_rng": "numpy.random.default_rng([seed, iteration])",
            "data_epoch": epoch, "data_position": position}))
        self.manager.save(checkpoint_number=iteration)


def train(config: str | Path | RunConfig | dict, run_dir: str | Path, *, sets: list[str] = (),
          resume: bool = False, overwrite: bool = False, progress: bool = True,
          model: MIM | None = None, callbacks: list | None = None) -> tuple[MIM, History]:
    """Train from a config file (or :class:`RunConfig`/dict); returns the model and history."""
    if isinstance(config, RunConfig):
        run = config
    elif isinstance(config, dict):
        run = load_run_config(None, list(sets), base=config)
    else:
        run = load_run_config(config, list(sets))
    trainer = Trainer(run, run_dir, resume=resume, overwrite=overwrite, progress=progress,
                      model=model, callbacks=callbacks)
    history = trainer.fit()
    return trainer.model, history


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a 3D-MIM model",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True,
                   help="RUN.yaml with model/train/data sections (or original run.py flags)")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.lr=0.0005 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in a non-empty --out (old files are moved aside)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(args) -> int:
        model, history = train(args.config, args.out, sets=args.set, resume=args.resume,
                               overwrite=args.overwrite, progress=not args.quiet)
        if history.loss:
            print(f"trained to iteration {history.step[-1]}: loss {history.loss[-1]:.6g}; "
                  f"model in {Path(args.out) / 'model.keras'}")
        return 0

    p.set_defaults(func=run)
