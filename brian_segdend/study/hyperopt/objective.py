"""The objective: mean error (percent) of a stratified k-fold cross-validation of one configuration.

The data are a stratified subset of the dataset's train and test images pooled (Lange cross-validated
on all 70 000 MNIST images); :func:`cv_split` draws the subset and the folds. With ``stop_at_chance``
an evaluation whose first fold ends at chance level (at most :data:`CHANCE_MARGIN` points above
100 / classes) skips its other folds: status ``'chance'``, objective the first fold's error.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import datasets
from .space import BASELINE_KIND, BRIAN_FAMILIES, check_family

__all__ = ["PENALTY", "CHANCE_MARGIN", "POOL_SIZE", "cv_split", "cross_validated_error", "check_folds"]

#: Objective (error in percent) told to the optimizer for failed, diverged, timed-out or lost
#: evaluations: chance level for ten classes.
PENALTY = 90.0
#: An accuracy at most this many points above chance counts as chance (``stop_at_chance``).
CHANCE_MARGIN = 5.0
#: images in the pooled train + test splits
POOL_SIZE = {"mnist": 70000, "fashion-mnist": 70000, "cifar10": 60000}
#: parallel compiler jobs of one compartment-model build (each task has one core)
MAKE_JOBS = 1


def check_folds(folds: int) -> int:
    """``folds`` if it is an integer >= 2 (else a ``ValueError`` naming it)."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds (k of the k-fold cross-validation) must be an integer >= 2, got {folds!r}")
    return folds


def cv_split(
    y: np.ndarray, subset: int | None, folds: int, seed: int
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """``(keep, splits)``: a stratified subset of the pool and its stratified k folds (indices into ``keep``)."""
    keep = datasets.subset(y, subset, seed, stratify=True)
    return keep, datasets.stratified_kfold(np.asarray(y)[keep], check_folds(folds), seed)


def _pool(dataset: str, data_dir) -> tuple[np.ndarray, np.ndarray]:
    X, y = datasets.load(dataset, "train", data_dir)
    Xt, yt = datasets.load(dataset, "test", data_dir)
    return np.concatenate([X, Xt]), np.concatenate([y, yt])


def cross_validated_error(
    family: str,
    params: dict,
    dataset: str = "mnist",
    subset: int | None = None,
    folds: int = 3,
    epochs: int = 1,
    seed: int = 0,
    data_dir=None,
    device: str = "auto",
    stop_at_chance: bool = False,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """k-fold cross-validated error of one configuration, computed in the calling process.

    Parameters
    ----------
    family : {'mlp', 'cnn', 'segdend'}
    params : dict
        Model parameters (:func:`~.space.to_params`).
    subset : int, optional
        Stratified subset of the pooled train + test images (default: all).
    folds, epochs : int
        k of the stratified k-fold split; training epochs inside every fold.
    device : str
        Brian device of the compartment model (``devices.activate``; it switches the process's device,
        so call this once per process: the study runs every evaluation in a process of its own).
    stop_at_chance : bool
        Skip the other folds when the first one ends at chance level (status ``'chance'``).
    data : tuple, optional
        ``(X, y)`` instead of the pooled ``dataset``.

    Returns
    -------
    dict
        ``status`` ('ok', 'chance' or 'diverged'), ``fold_errors`` (percent), ``error`` (their mean);
        ``compile_s`` and ``device`` for the compartment model.
    """
    check_family(family)
    X, y = _pool(dataset, data_dir) if data is None else data
    keep, splits = cv_split(y, subset, folds, seed)
    X, y = X[keep], y[keep]
    chance = 100.0 - 100.0 / len(np.unique(y)) - CHANCE_MARGIN  # an error at least this is chance

    def stop(errors):
        return stop_at_chance and len(errors) == 1 < len(splits) and errors[0] >= chance

    if family in BRIAN_FAMILIES:
        result = _brian(family, params, X, y, splits, epochs, seed, device, stop)
    else:
        result = _baseline(BASELINE_KIND[family], params, dataset, X, y, splits, epochs, seed, stop)
    result["error"] = float(np.mean(result["fold_errors"]))
    return result


def _baseline(kind, params, dataset, X, y, splits, epochs, seed, stop) -> dict[str, Any]:
    from ...baselines import conv_output_sizes, make_params, train

    record = make_params(kind, params)
    if kind == "bp-cnn":
        conv_output_sizes(record, datasets.IMAGE_SHAPES[dataset][1])  # invalid geometry -> ValueError
    errors, status = [], "ok"
    with tempfile.TemporaryDirectory(prefix="segdend-hyperopt-") as tmp:
        for k, (tr, va) in enumerate(splits):
            entry = train(
                kind,
                record,
                dataset,
                epochs,
                seed,
                Path(tmp) / f"fold{k}",
                progress=False,
                val_fraction=0.0,
                num_threads=1,
                data={"train": (X[tr], y[tr]), "test": (X[va], y[va])},
            )
            errors.append(float(entry["test_error"]))
            loss = entry.get("train_loss")
            if loss is None or not math.isfinite(loss):
                status = "diverged"
                break
            if stop(errors):
                status = "chance"
                break
    return {"status": status, "fold_errors": errors}


def _brian(kind, params, X, y, splits, epochs, seed, device, stop) -> dict[str, Any]:
    """Cross-validation of a Brian model kind (a family of :data:`~.space.BRIAN_FAMILIES` is its kind)."""
    from ... import devices
    from ...model import config_class
    from ...training import build_key, build_simulator

    config = config_class(kind).from_dict({**params, "n_inputs": int(X.shape[1])})  # ValueError names the option
    active = devices.activate(device, make_jobs=MAKE_JOBS)
    capacity = min(1000, max(len(tr) for tr, _ in splits))
    with devices.shared_build(build_key(config, capacity)) as directory:
        t0 = time.perf_counter()
        sim = build_simulator(
            config, seed=seed, capacity=capacity, build_directory=str(directory) if "standalone" in active else None
        )
        sim.build()  # compiled once; every fold reruns the binary
        compile_s = time.perf_counter() - t0
        initial = sim.get_state()
        errors, status = [], "ok"
        for k, (tr, va) in enumerate(splits):
            sim.set_state(initial)  # every fold starts from the same initial network
            for epoch in range(epochs):
                order = tr[np.random.default_rng([seed, k, epoch]).permutation(len(tr))]
                u = sim.present(X[order], y[order], learn=True, seed=int(1000 * k + epoch))
                if not np.all(np.isfinite(u)):
                    status = "diverged"
            weights = [w for ws in sim.get_weights().values() for w in (ws if isinstance(ws, list) else [ws])]
            if status != "ok" or not all(np.all(np.isfinite(w)) for w in weights):
                status = "diverged"
                errors.append(PENALTY)
                break
            errors.append(sim.error(X[va], y[va], seed=int(10**6 + k)))
            if stop(errors):
                status = "chance"
                break
    return {"status": status, "fold_errors": errors, "compile_s": compile_s, "device": active}
