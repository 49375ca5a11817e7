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

from . import datasets
from .config import REF_FLAGS, ModelConfig
from .network import SegregatedDendriteNetwork
from .results import RunLog, atomic_save_npz, load_npz_checkpoint
from .simulator import Simulator, draw_phase_lengths
from .weights import feedback_angles

__all__ = [
    "train",
    "evaluate",
    "save_network",
    "load_network",
    "architecture_key",
    "build_simulator",
    "brian_log_above",
]

CHECKPOINT = "checkpoint.npz"
NETWORK = "network.npz"


def architecture_key(config: ModelConfig, capacity: int) -> str:
    """Hash of everything that changes the generated code (config and chunk capacity).

    Options added after the first checkpoints (:data:`~brian_segdend.config.REF_FLAGS`) count only when
    on, so that the runs saved before them keep their key and resume.
    """
    values = {k: v for k, v in config.to_dict().items() if not (k in REF_FLAGS and not v)}
    text = json.dumps({"config": values, "capacity": capacity}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_simulator(config: ModelConfig, weights=None, seed=0, capacity=1000, build_directory=None):
    """A :class:`Simulator` over a new network on the active device."""
    net = SegregatedDendriteNetwork(config, weights=weights, seed=seed, capacity=capacity)
    return Simulator(net, build_directory=build_directory)


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


def save_network(path, simulator, extra=None):
    """Save config and weights of a trained network to ``path`` (.npz, atomic)."""
    weights = simulator.get_weights()
    arrays = {"config": np.array(json.dumps(simulator.net.config.to_dict()))}
    for key in ("W", "b", "Y", "c"):
        for k, a in enumerate(weights[key]):
            arrays[f"{key}_{k}"] = a
    for k, mask in enumerate(simulator.net.sparse_masks or []):
        arrays[f"sparse_masks_{k}"] = mask
    for key, value in (extra or {}).items():
        arrays[key] = np.asarray(value)
    atomic_save_npz(path, **arrays)


def load_network(path):
    """``(config, weights)`` saved by :func:`save_network` (clear error for a corrupt file)."""
    arrays = load_npz_checkpoint(path)
    if "config" not in arrays:
        raise ValueError(f"{str(path)!r} holds no network (no 'config' entry)")
    config = ModelConfig.from_dict(json.loads(str(arrays["config"])))
    weights = {}
    for key in ("W", "b", "Y", "c", "sparse_masks"):
        items = sorted(
            (int(k.rsplit("_", 1)[1]), v)
            for k, v in arrays.items()
            if k.rsplit("_", 1)[0] == key and k.rsplit("_", 1)[1].isdigit()
        )
        if items or key != "sparse_masks":
            weights[key] = [v for _, v in items]
    return config, weights


VALIDATION, TEST, QUICK_TEST = 10**9, 10**9 + 1, 10**9 + 2  # chunk keys of the evaluation runs


def _chunk_seed(seed, epoch, chunk):
    """Seed of one simulation run, derived from (seed, epoch, chunk) only."""
    return int(np.random.SeedSequence([seed, epoch, chunk]).generate_state(1)[0])


def train(
    config: ModelConfig,
    dataset="mnist",
    epochs=1,
    seed=0,
    out=None,
    n_train=None,
    n_test=None,
    val_fraction=0.0,
    chunk_size=1000,
    resume=False,
    progress=True,
    data_dir=None,
    model_name="custom",
    build_directory=None,
    data=None,
    log=print,
    quick_test_every=None,
    quick_test_size=100,
    data_source=None,
):
    """Train a segregated-dendrite network on ``dataset`` and test it after every epoch.

    Parameters
    ----------
    config : ModelConfig
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

    for name, value in (("epochs", epochs), ("chunk_size", chunk_size), ("n_train", n_train), ("n_test", n_test)):
        if value is not None and value < 1:
            raise ValueError(f"{name}={value} must be >= 1")
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
        runlog.truncate(start_epoch)

    record = {}
    n_chunks = -(-n_train // capacity)
    for epoch in range(start_epoch, epochs):
        rng = np.random.default_rng([seed, epoch])
        order = train_idx[rng.permutation(len(train_idx))[:n_train]]
        T_f, T_t = draw_phase_lengths(config, n_train, rng)
        first = start_chunk if epoch == start_epoch else 0
        inside_before = sim.simulation_seconds
        correct, seen, seconds, quick = (
            (carried["correct"], carried["seen"], carried["train_seconds"], carried["quick_test"])
            if first
            else (0, 0, 0.0, [])
        )
        bar = tqdm(
            total=n_train, initial=first * capacity, disable=not progress, unit="ex", desc=f"epoch {epoch + 1}/{epochs}"
        )
        for k in range(first, n_chunks):
            sl = slice(k * capacity, min((k + 1) * capacity, n_train))
            t0 = time.perf_counter()
            with brian_log_above(bar):
                u = sim.present(
                    X_train[order[sl]], y_train[order[sl]], True, T_f[sl], T_t[sl], seed=_chunk_seed(seed, epoch, k)
                )["u_out"]
            correct += int(np.sum(sim.predict(u) == y_train[order[sl]]))
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
        }
        if quick_test_every:
            record["quick_test"] = quick
        weights = sim.get_weights()
        record["weight_mean"] = [float(w.mean()) for w in weights["W"]]
        record["weight_std"] = [float(w.std()) for w in weights["W"]]
        if weights["Y"]:
            record["feedback_angle"] = feedback_angles(config, weights)
        if len(val_idx):
            record["val_error"] = sim.error(
                X_train[val_idx], y_train[val_idx], seed=_chunk_seed(seed, epoch, VALIDATION)
            )
        t0 = time.perf_counter()
        record["test_error"] = sim.error(X_test[:n_test], y_test[:n_test], seed=_chunk_seed(seed, epoch, TEST))
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


def evaluate(network_path, dataset="mnist", n_test=None, seed=0, data_dir=None, chunk_size=1000):
    """Test error (percent) of a network saved by :func:`save_network` or a training run directory."""
    path = Path(network_path)
    if path.is_dir():
        path = path / NETWORK
    config, weights = load_network(path)
    X, y = datasets.load(dataset, "test", data_dir)
    if X.shape[1] != config.n_inputs:
        raise ValueError(f"network expects {config.n_inputs} inputs; {dataset} images have {X.shape[1]}")
    n = len(X) if n_test is None else min(int(n_test), len(X))
    sim = build_simulator(config, weights=weights, capacity=min(chunk_size, n))
    return sim.error(X[:n], y[:n], seed=seed)


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
