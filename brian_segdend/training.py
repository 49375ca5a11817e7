"""The training loop: epochs of chunks, test per epoch, results per epoch, atomic checkpoints, resume.

Every random choice is derived from ``(seed, epoch, chunk)`` (example order, phase lengths, spike
draws), and a checkpoint is written after every chunk, so ``resume=True`` continues a killed run to
exactly the weights an uninterrupted run reaches on the same device.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets, devices
from .model import Config, config_class, model_class
from .results import BRIAN_CHECKPOINT, RunLog, atomic_save_npz, load_npz_checkpoint
from .simulator import Simulator
from .validation import check_positive_int

__all__ = [
    "train",
    "evaluate",
    "save_network",
    "load_network",
    "architecture_key",
    "build_key",
    "build_simulator",
    "brian_log_above",
]

CHECKPOINT = BRIAN_CHECKPOINT
NETWORK = "network.npz"


def architecture_key(config: Config, capacity: int) -> str:
    """Hash of everything that changes the generated code (config and chunk capacity).

    Flags a config class lists in ``added_flags`` (options added after the first checkpoints) count
    only when on, so that the runs saved before them keep their key and resume. Its ``schedule_fields``
    (e.g. a learning-rate schedule) do not count: :func:`train` checks them on resume.
    """
    added, schedule = getattr(config, "added_flags", ()), getattr(config, "schedule_fields", ())
    values = {k: v for k, v in config.to_dict().items() if not (k in added and not v) and k not in schedule}
    return _short_hash({"config": values, "capacity": capacity})


def build_key(config: Config, capacity: int) -> str:
    """Hash of what shapes the generated code: :func:`architecture_key` without the config's
    ``run_time_fields`` (e.g. the learning rates and time constants a hyperparameter search samples)
    and ``schedule_fields`` (they reach the network as run variables too).
    Builds of one key share a project directory: every build writes its code again and recompiles
    only the files that changed."""
    run_time = (*getattr(config, "run_time_fields", ()), *getattr(config, "schedule_fields", ()))
    values = {k: v for k, v in config.to_dict().items() if k not in run_time}
    return _short_hash({"kind": config.kind, "config": values, "capacity": capacity})


def _short_hash(payload: dict) -> str:
    """16 hex digits of the SHA-256 of ``payload`` as sorted JSON (the keys of this module)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build_simulator(
    config: Config, weights: dict | None = None, seed: int = 0, capacity: int = 1000, build_directory=None
) -> Simulator:
    """A :class:`Simulator` over a new model of ``config.kind`` on the active device."""
    model = model_class(config.kind)(config, weights=weights, seed=seed, capacity=capacity)
    return Simulator(model, build_directory=build_directory)


@contextlib.contextmanager
def brian_log_above(bar):
    """Print Brian's console log lines (and Python warnings) above the progress bar ``bar``.

    While the context is open, the records that Brian's console handler would write straight into
    the bar's line go through ``bar.write`` instead (same level, filters and format); Brian's log file
    receives everything as usual.
    """
    from brian2.utils.logger import BrianLogger

    console = BrianLogger.console_handler
    if bar.disable or console is None:
        yield
        return

    class AboveBar(logging.Handler):
        def emit(self, record):
            bar.write(self.format(record), file=sys.stderr)

    above = AboveBar(console.level)
    above.setFormatter(console.formatter)
    for f in console.filters:
        above.addFilter(f)
    loggers = [lg for lg in (logging.getLogger("brian2"), logging.getLogger("py.warnings")) if console in lg.handlers]
    for lg in loggers:
        lg.removeHandler(console)
        lg.addHandler(above)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeHandler(above)
            lg.addHandler(console)


def save_network(path, simulator: Simulator) -> None:
    """Save kind, config and weights of a trained model to ``path`` (.npz, atomic).

    Weights are stored by name; a list of arrays (``'W'``) as ``W_0``, ``W_1``, ...
    """
    config = simulator.model.config
    arrays = {"kind": np.array(config.kind), "config": np.array(json.dumps(config.to_dict()))}
    for key, value in simulator.get_weights().items():
        if isinstance(value, list):
            arrays.update({f"{key}_{k}": a for k, a in enumerate(value)})
        else:
            arrays[key] = value
    atomic_save_npz(path, **arrays)


def load_network(path) -> tuple[Config, dict]:
    """``(config, weights)`` saved by :func:`save_network` (clear error for a corrupt file)."""
    arrays = load_npz_checkpoint(path)
    if "config" not in arrays:
        raise ValueError(f"{str(path)!r} holds no network (no 'config' entry)")
    kind = str(arrays.pop("kind", "segdend"))  # files of version 0.1 hold segregated-dendrite networks
    config = config_class(kind).from_dict(json.loads(str(arrays.pop("config"))))
    weights, lists = {}, {}
    for key, value in arrays.items():
        name, _, index = key.rpartition("_")
        if name and index.isdigit():
            lists.setdefault(name, []).append((int(index), value))
        else:
            weights[key] = value
    weights.update({name: [v for _, v in sorted(items)] for name, items in lists.items()})
    if kind == "segdend":  # a network without hidden layers saves no Y and no c
        for key in ("W", "b", "Y", "c"):
            weights.setdefault(key, [])
    return config, weights


VALIDATION, TEST, QUICK_TEST = 10**9, 10**9 + 1, 10**9 + 2  # chunk keys of the evaluation runs


def _chunk_seed(seed, epoch, chunk):
    """Seed of one simulation run, derived from (seed, epoch, chunk) only."""
    return int(np.random.SeedSequence([seed, epoch, chunk]).generate_state(1)[0])


def train(
    config: Config,
    dataset: str = "mnist",
    epochs: int = 1,
    seed: int = 0,
    out=None,
    n_train: int | None = None,
    n_test: int | None = None,
    val_fraction: float = 0.0,
    chunk_size: int = 1000,
    resume: bool = False,
    progress: bool = True,
    data_dir=None,
    model_name: str = "custom",
    build_directory=None,
    data: tuple | None = None,
    log=print,
    quick_test_every=None,
    quick_test_size=100,
    data_source=None,
    test_workers: int = 1,
) -> dict:
    """Train a model (a segregated-dendrite network, or any kind of :mod:`brian_segdend.model`) on
    ``dataset`` and test it after every epoch.

    Parameters
    ----------
    config : ModelConfig or another kind's config
        ``n_inputs`` is set from the dataset.
    dataset : {'mnist', 'fashion-mnist', 'cifar10'}
    epochs : int
    seed : int
        Seeds initial weights, splits, example order, phase lengths and spike draws.
    out : path, optional
        Run directory: ``results.json``/``.csv`` per epoch, ``checkpoint.npz`` after every chunk,
        ``network.npz`` at the end.
    n_train, n_test : int, optional
        Examples per epoch / test examples (defaults: all).
    val_fraction : float
        Part of the training set held out (reproducibly from ``seed``) for a validation error.
    chunk_size : int
        Examples per simulation run (and per checkpoint).
    resume : bool
        Continue from ``out/checkpoint.npz``.
    data : tuple, optional
        ``(X_train, y_train, X_test, y_test)`` instead of loading ``dataset``.
    data_source : dict, optional
        Where ``data`` came from, for ``results.json`` (without ``data``: the files found for
        ``dataset``, :meth:`brian_segdend.datasets.Source.to_dict`).
    test_workers : int
        Processes the validation and test runs are split over (:meth:`Simulator.present`; the
        results are identical to a serial run).
    quick_test_every, quick_test_size : int, optional
        REF's quick test (spec §8; REF: 100 images every 1000 examples; off by default): after every
        ``quick_test_every`` training examples of an epoch except its last, test ``quick_test_size``
        images drawn at random from the ``n_test`` test images (state zeroed per image and after the
        run, as in every test). Each epoch's record gets ``quick_test``: ``[[examples seen, error %],
        ...]``. ``quick_test_every`` must be a multiple of the chunk size.

    Returns
    -------
    dict
        The last epoch's record (``test_error`` in percent, ...).
    """
    from tqdm.auto import tqdm

    check_positive_int("epochs", epochs)
    check_positive_int("chunk_size", chunk_size)
    check_positive_int("test_workers", test_workers)
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None:
            check_positive_int(name, value)
    source = data_source
    if data is None:
        source = datasets.locate(dataset, data_dir).to_dict()
        X_train, y_train = datasets.load(dataset, "train", data_dir)
        X_test, y_test = datasets.load(dataset, "test", data_dir)
    else:
        X_train, y_train, X_test, y_test = data
    if config.n_inputs != X_train.shape[1]:
        config = config.replace(n_inputs=int(X_train.shape[1]))
    train_idx, val_idx = (
        datasets.train_val_split(len(X_train), val_fraction, seed)
        if val_fraction
        else (np.arange(len(X_train)), np.arange(0))
    )
    n_train = len(train_idx) if n_train is None else min(int(n_train), len(train_idx))
    n_test = len(X_test) if n_test is None else min(int(n_test), len(X_test))
    capacity = min(chunk_size, max(n_train, n_test, len(val_idx), 1))
    if quick_test_every is not None and (
        quick_test_every < 1 or (quick_test_every < n_train and quick_test_every % capacity)
    ):
        raise ValueError(
            f"quick_test_every={quick_test_every} must be a positive multiple of the chunk size ({capacity} examples)"
        )
    if quick_test_size < 1:
        raise ValueError(f"quick_test_size={quick_test_size} must be >= 1")

    out = Path(out) if out is not None else None
    key = architecture_key(config, capacity)
    start_epoch, start_chunk, carried = 0, 0, {}
    checkpoint = out / CHECKPOINT if out else None
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {str(checkpoint)!r}")
        saved = load_npz_checkpoint(checkpoint)
        if str(saved["architecture"]) != key:
            raise ValueError(
                f"checkpoint {str(checkpoint)!r} belongs to another architecture or chunk size "
                f"({json.loads(str(saved['config']))['n_hidden']} hidden units); start a new run directory"
            )
        start_epoch, start_chunk = int(saved["epoch"]), int(saved["chunk"])
        _check_schedule(config, json.loads(str(saved["config"])), start_epoch + (start_chunk > 0))
        carried = {k: float(saved[k]) for k in ("correct", "seen", "train_seconds")}
        carried["quick_test"] = saved["quick_test"].tolist() if "quick_test" in saved else []
    sim = build_simulator(config, seed=seed, capacity=capacity, build_directory=build_directory)
    sim.build()  # compile now (standalone), so that timings exclude it
    if resume:
        sim.set_state({k[6:]: v for k, v in saved.items() if k.startswith("state:")})
    runlog = (
        RunLog.load(out)
        if (resume and out and (out / "results.json").exists())
        else (RunLog(out, config.to_dict(), seed, model_name, dataset, data_source=source) if out else None)
    )
    if runlog is not None and resume:
        runlog.config = config.to_dict()  # the same but for a schedule changed for later epochs
        runlog.truncate(start_epoch)

    record = {}
    n_chunks = -(-n_train // capacity)
    for epoch in range(start_epoch, epochs):
        rng = np.random.default_rng([seed, epoch])
        order = train_idx[rng.permutation(len(train_idx))[:n_train]]
        settings = sim.model.draw_settings(n_train, rng, epoch)
        first = start_chunk if epoch == start_epoch else 0
        inside_before = sim.simulation_seconds
        correct, seen, seconds, quick = (
            (carried["correct"], carried["seen"], carried["train_seconds"], carried["quick_test"])
            if first
            else (0, 0, 0.0, [])
        )
        angles = []  # REF's backprop-angle diagnostic (record_backprop_angle), per example since (re)start
        bar = tqdm(
            total=n_train, initial=first * capacity, disable=not progress, unit="ex", desc=f"epoch {epoch + 1}/{epochs}"
        )
        for k in range(first, n_chunks):
            sl = slice(k * capacity, min((k + 1) * capacity, n_train))
            t0 = time.perf_counter()
            chunk = {name: values[sl] for name, values in settings.items()}
            with brian_log_above(bar):
                u = sim.present(
                    X_train[order[sl]], y_train[order[sl]], learn=True, seed=_chunk_seed(seed, epoch, k), **chunk
                )
            correct += int(np.sum(sim.predict(u) == y_train[order[sl]]))
            angles.extend(sim.records.get("bp_angle", []))
            seen += sl.stop - sl.start
            seconds += time.perf_counter() - t0
            if quick_test_every and sl.stop % quick_test_every == 0 and sl.stop < n_train:
                before = sim.simulation_seconds
                picked = np.random.default_rng([seed, epoch, sl.stop]).permutation(n_test)[:quick_test_size]
                error = sim.error(X_test[picked], y_test[picked], seed=_chunk_seed(seed, epoch, QUICK_TEST + sl.stop))
                quick.append([epoch * n_train + sl.stop, error])
                inside_before += sim.simulation_seconds - before  # testing is not training time
            if checkpoint is not None:
                _save_checkpoint(checkpoint, sim, key, config, epoch, k + 1, correct, seen, seconds, quick)
            bar.update(sl.stop - sl.start)
            bar.set_postfix(ex_per_s=f"{seen / max(seconds, 1e-9):.0f}", train_err=f"{100 * (1 - correct / seen):.1f}%")
        bar.close()
        record = {
            "examples_seen": (epoch + 1) * n_train,
            "train_error": 100 * (1 - correct / max(seen, 1)),
            "examples_per_s": seen / max(seconds, 1e-9),
            "wall_time_s": seconds,
            "simulation_s": sim.simulation_seconds - inside_before,
            "precision": devices.active_precision(),
        }
        if quick_test_every:
            record["quick_test"] = quick
        if angles:
            record["backprop_angle"] = [float(a) for a in np.nanmean(angles, axis=0)]
        record.update(sim.model.diagnostics(sim.get_weights()))
        if len(val_idx):
            record["val_error"] = sim.error(
                X_train[val_idx], y_train[val_idx], seed=_chunk_seed(seed, epoch, VALIDATION), workers=test_workers
            )
        t0 = time.perf_counter()
        record["test_error"] = sim.error(
            X_test[:n_test], y_test[:n_test], seed=_chunk_seed(seed, epoch, TEST), workers=test_workers
        )
        record["test_seconds"] = time.perf_counter() - t0
        if runlog is not None:
            runlog.add_epoch(epoch + 1, **record)
        if checkpoint is not None:  # the test run zeroed the state (spec §2): the next epoch starts there
            _save_checkpoint(checkpoint, sim, key, config, epoch + 1, 0, 0, 0, 0.0)
        if log:
            log(
                f"epoch {epoch + 1}: train error {record['train_error']:.2f} %, test error "
                f"{record['test_error']:.2f} % on {n_test} images, {record['examples_per_s']:.0f} examples/s"
            )
    if out is not None:
        save_network(out / NETWORK, sim)
    record["simulator"] = sim
    return record


def evaluate(
    network_path,
    dataset: str = "mnist",
    n_test: int | None = None,
    seed: int = 0,
    data_dir=None,
    chunk_size: int = 1000,
    workers: int = 1,
) -> float:
    """Test error (percent) of a network saved by :func:`save_network` or a training run directory,
    the test runs split over ``workers`` processes."""
    path = Path(network_path)
    if path.is_dir():
        path = path / NETWORK
    config, weights = load_network(path)
    X, y = datasets.load(dataset, "test", data_dir)
    if X.shape[1] != config.n_inputs:
        raise ValueError(f"network expects {config.n_inputs} inputs; {dataset} images have {X.shape[1]}")
    n = len(X) if n_test is None else min(int(n_test), len(X))
    sim = build_simulator(config, weights=weights, capacity=min(chunk_size, n))
    return sim.error(X[:n], y[:n], seed=seed, workers=workers)


def _check_schedule(config, saved_config: dict, epochs_trained: int) -> None:
    """A resumed run may change its config's ``schedule_fields`` (a learning-rate schedule, read through
    ``config.eta_scale(epoch)``) only for the epochs it has not trained yet."""
    fields = getattr(config, "schedule_fields", ())
    if not fields:
        return
    # the checkpoint's schedule; a field it predates takes its default
    values = {k: v for k, v in config.to_dict().items() if k not in fields}
    saved = type(config).from_dict({**values, **{k: saved_config[k] for k in fields if k in saved_config}})
    changed = [e + 1 for e in range(epochs_trained) if config.eta_scale(e) != saved.eta_scale(e)]
    if changed:
        show = lambda c: ", ".join(f"{k}={getattr(c, k)!r}" for k in fields)  # noqa: E731
        raise ValueError(
            f"{show(config)} changes epochs {changed[0]}..{changed[-1]}, which this run has already trained "
            f"(its checkpoint has {show(saved)}); change only later epochs, or start a new run directory"
        )


def _save_checkpoint(path, sim, key, config, epoch, chunk, correct, seen, seconds, quick_test=()):
    state = {f"state:{k}": v for k, v in sim.get_state().items()}
    atomic_save_npz(
        path,
        architecture=np.array(key),
        config=np.array(json.dumps(config.to_dict())),
        epoch=np.array(epoch),
        chunk=np.array(chunk),
        correct=np.array(correct),
        seen=np.array(seen),
        train_seconds=np.array(seconds),
        quick_test=np.array(quick_test, dtype=float).reshape(-1, 2),
        **state,
    )
