"""Training driver of the baselines: data, optimiser, per-epoch log, atomic checkpoints, resume.

``train(kind, params, dataset, epochs, seed, out_dir)`` writes

* ``out_dir/results.json`` and ``results.csv`` (:class:`brian_segdend.results.RunLog`),
  rewritten after every epoch;
* ``out_dir/checkpoint.pt`` (model, optimiser, RNG state, epoch; ``torch.save``, read back with
  ``torch.load(weights_only=True)``), rewritten atomically after every epoch; ``resume=True``
  continues from it.

Reproducibility: the model is initialised from ``torch.manual_seed(seed)``; the shuffling,
augmentation, noise and dropout of epoch ``e`` are drawn from generators seeded with
``(seed, e)``, so a run resumed after epoch ``e`` continues exactly as an uninterrupted one
(same device, same torch build).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import datasets
from ..results import BASELINE_CHECKPOINT, BRIAN_CHECKPOINT, CheckpointError, RunLog, atomic_write_bytes, error_percent
from .cnn import BackpropCNN
from .mlp import BackpropMLP, DirectFeedbackAlignmentMLP, FeedbackAlignmentMLP, TargetPropMLP
from .params import KINDS, make_params

__all__ = ["build_model", "train", "evaluate", "save_checkpoint", "load_checkpoint", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = BASELINE_CHECKPOINT
LEGACY_CHECKPOINT = BRIAN_CHECKPOINT  # brian_segdend 0.1 stored the baselines' state flattened into .npz
_EVAL_BATCH = 1000


def build_model(
    kind: str, params, image_shape: tuple[int, int, int], n_classes: int = 10, seed: int = 0
) -> torch.nn.Module:
    """Build the model of ``kind`` with parameters ``params`` (record or dict) for ``image_shape`` inputs.

    Forward weights come from ``torch.manual_seed(seed)``; fixed random feedback matrices
    (FA, DFA) from a separate generator seeded with ``seed``.
    """
    p = params if dataclasses.is_dataclass(params) else make_params(kind, params)
    if kind not in KINDS:
        raise ValueError(f"unknown baseline kind {kind!r}; valid kinds are: {', '.join(KINDS)}")
    c, h, w = image_shape
    torch.manual_seed(seed)
    feedback_gen = torch.Generator().manual_seed(int(seed) + 7919)
    n_inputs = c * h * w
    if kind == "bp-mlp":
        return BackpropMLP(p, n_inputs, n_classes, c)
    if kind == "fa":
        return FeedbackAlignmentMLP(p, n_inputs, n_classes, c, generator=feedback_gen)
    if kind == "dfa":
        return DirectFeedbackAlignmentMLP(p, n_inputs, n_classes, c, generator=feedback_gen)
    if kind in ("tp", "dtp", "sdtp"):
        return TargetPropMLP(p, n_inputs, n_classes, c, variant=kind)
    return BackpropCNN(p, image_shape, n_classes)


def _make_optimizer(model, p) -> tuple[torch.optim.Optimizer, list[float]]:
    groups = [{"params": model.forward_parameters(), "lr": p.learning_rate}]
    base_lrs = [p.learning_rate]
    fb = model.feedback_parameters()
    if fb:
        groups.append({"params": fb, "lr": p.backward_learning_rate})
        base_lrs.append(p.backward_learning_rate)
    if p.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=p.learning_rate, momentum=p.momentum, weight_decay=p.weight_decay)
    else:
        opt = torch.optim.Adam(groups, lr=p.learning_rate, weight_decay=p.weight_decay)
    return opt, base_lrs


# --- checkpoints ---


def save_checkpoint(path, state: dict[str, Any]) -> None:
    """Write a training state (nested dicts/lists of tensors and plain values) atomically with ``torch.save``."""
    atomic_write_bytes(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path) -> dict[str, Any]:
    """Inverse of :func:`save_checkpoint` (``weights_only=True``: tensors and plain data only);
    raises :class:`CheckpointError` naming the file for a corrupt or foreign one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle and zip errors for bad files
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a training state: {exc}") from exc
    if not isinstance(state, dict) or not {"model", "optimizer", "epoch"} <= set(state):
        raise CheckpointError(f"checkpoint {str(path)!r} lacks model/optimizer/epoch entries")
    return state


# --- data ---


def _prepare_data(dataset, data_dir, seed, max_train_examples, max_test_examples, val_fraction, data=None):
    if dataset not in datasets.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid names are: {', '.join(datasets.DATASETS)}")
    if data is not None:
        (X, y), (Xte, yte) = data["train"], data["test"]
    else:
        X, y = datasets.load(dataset, "train", data_dir)
        Xte, yte = datasets.load(dataset, "test", data_dir)
    if max_train_examples is not None and max_train_examples < len(X):
        keep = np.sort(np.random.default_rng(seed).permutation(len(X))[:max_train_examples])
        X, y = X[keep], y[keep]
    if max_test_examples is not None and max_test_examples < len(Xte):
        Xte, yte = Xte[:max_test_examples], yte[:max_test_examples]
    tr, va = datasets.train_val_split(len(X), val_fraction, seed)
    return (X[tr], y[tr]), (X[va], y[va]), (Xte, yte)


@torch.no_grad()
def _error(model, X: torch.Tensor, y: torch.Tensor) -> float | None:
    if len(X) == 0:
        return None
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(X), _EVAL_BATCH):
        correct += int((model(X[i : i + _EVAL_BATCH]).argmax(1) == y[i : i + _EVAL_BATCH]).sum())
    model.train(was_training)
    return error_percent(correct, len(X))


def _epoch_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919) % (2**63 - 1)


def _config(kind, p, dataset, epochs, max_train_examples, max_test_examples, val_fraction, device, n_split):
    return {
        "kind": kind,
        "params": dataclasses.asdict(p),
        "dataset": dataset,
        "epochs": epochs,
        "max_train_examples": max_train_examples,
        "max_test_examples": max_test_examples,
        "val_fraction": val_fraction,
        "device": str(device),
        "n_train": n_split[0],
        "n_val": n_split[1],
        "n_test": n_split[2],
        "error_unit": "percent",
        "train_error_note": "running error on the training mini-batches during the epoch",
    }


def train(
    kind: str,
    params: dict | None,
    dataset: str,
    epochs: int,
    seed: int,
    out_dir,
    resume: bool = False,
    progress: bool = True,
    data_dir=None,
    device: str = "cpu",
    max_train_examples: int | None = None,
    val_fraction: float = 0.1,
    max_test_examples: int | None = None,
    num_threads: int | None = None,
    data: dict | None = None,
    data_source: dict | None = None,
) -> dict[str, Any]:
    """Train baseline ``kind`` on ``dataset`` for ``epochs`` epochs and return the last epoch's metrics.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`: ``"bp-mlp"``, ``"bp-cnn"``, ``"fa"``, ``"dfa"``, ``"tp"``, ``"dtp"``, ``"sdtp"``.
    params : dict or None
        Overrides of the defaults of ``kind``, ``models/<kind>.toml`` (or a parameter record).
    dataset : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"``.
    epochs : int
        Total number of epochs (a resumed run continues up to this number).
    seed : int
        Seeds the subset, the validation split, the initial weights and every epoch's draws.
    out_dir : str or Path
        Run directory: ``results.json``, ``results.csv``, ``checkpoint.pt``.
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` if it exists (the configuration must match).
    progress : bool
        Show a tqdm progress bar.
    data_dir : str or Path, optional
        Dataset directory (see :func:`brian_segdend.datasets.load`).
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    max_train_examples : int, optional
        Use a random subset (drawn with ``seed``) of this many training examples, before
        the validation split.
    val_fraction : float
        Fraction of the (subset of the) training set held out for validation.
    max_test_examples : int, optional
        Evaluate on the first this-many test examples only.
    num_threads : int, optional
        Call ``torch.set_num_threads(num_threads)`` first.
    data : dict, optional
        Pre-loaded ``{"train": (X, y), "test": (X, y)}`` arrays instead of loading ``dataset``.
    data_source : dict, optional
        Where ``data`` came from, for ``results.json`` (without ``data``: the files found for
        ``dataset``, :meth:`brian_segdend.datasets.Source.to_dict`).

    Returns
    -------
    dict
        The last epoch entry of the run log: ``epoch``, ``examples_seen``, ``train_error``,
        ``val_error``, ``test_error`` (percent), ``examples_per_s``, ``wall_time_s``, ...
    """
    p = params if dataclasses.is_dataclass(params) else make_params(kind, params)
    if kind not in KINDS:
        raise ValueError(f"unknown baseline kind {kind!r}; valid kinds are: {', '.join(KINDS)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    dev = torch.device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    (Xtr, ytr), (Xva, yva), (Xte, yte) = _prepare_data(
        dataset, data_dir, seed, max_train_examples, max_test_examples, val_fraction, data
    )
    config = _config(
        kind,
        p,
        dataset,
        epochs,
        max_train_examples,
        max_test_examples,
        val_fraction,
        dev,
        (len(Xtr), len(Xva), len(Xte)),
    )
    Xtr_t, ytr_t = torch.from_numpy(Xtr).to(dev), torch.from_numpy(ytr).to(dev)
    Xva_t, yva_t = torch.from_numpy(Xva).to(dev), torch.from_numpy(yva).to(dev)
    Xte_t, yte_t = torch.from_numpy(Xte).to(dev), torch.from_numpy(yte).to(dev)

    model = build_model(kind, p, datasets.IMAGE_SHAPES[dataset], datasets.N_CLASSES[dataset], seed)
    model.normalize.fit(torch.from_numpy(Xtr))
    model.to(dev)
    optimizer, base_lrs = _make_optimizer(model, p)

    ckpt_path = out_dir / CHECKPOINT_NAME
    start_epoch, examples_seen, wall_before = 0, 0, 0.0
    log = None
    if resume and not ckpt_path.exists() and (out_dir / LEGACY_CHECKPOINT).exists():
        raise CheckpointError(
            f"cannot resume {str(out_dir)!r}: its {LEGACY_CHECKPOINT} was written by brian_segdend 0.1; "
            "finish the run with that version or start a new run directory"
        )
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        meta = state.get("meta", {})
        for key in ("kind", "dataset", "params", "max_train_examples", "max_test_examples", "val_fraction"):
            saved = meta.get("config", {}).get(key)
            if json.dumps(saved, sort_keys=True) != json.dumps(json.loads(json.dumps(config[key])), sort_keys=True):
                raise ValueError(
                    f"cannot resume {str(ckpt_path)!r}: {key} differs (checkpoint {saved!r}, requested {config[key]!r})"
                )
        if meta.get("seed") != seed:
            raise ValueError(
                f"cannot resume {str(ckpt_path)!r}: seed differs (checkpoint {meta.get('seed')}, requested {seed})"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"].to(torch.uint8))
        start_epoch = int(state["epoch"])
        examples_seen = int(meta.get("examples_seen", 0))
        wall_before = float(meta.get("wall_time_s", 0.0))
        try:
            log = RunLog.load(out_dir)
            log.truncate(start_epoch)
        except (FileNotFoundError, ValueError):
            log = None
    if log is None:
        source = data_source if data is not None else datasets.locate(dataset, data_dir).to_dict()
        log = RunLog(out_dir, config, seed, kind, dataset, data_source=source)
        log.save()
    log.config = config

    from tqdm.auto import tqdm

    model.train()
    n = len(Xtr_t)
    bs = p.batch_size
    n_batches = math.ceil(n / bs) if n else 0
    entry = log.last
    for epoch in range(start_epoch + 1, epochs + 1):
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * p.lr_decay ** (epoch - 1)
        eseed = _epoch_seed(seed, epoch)
        torch.manual_seed(eseed)  # dropout
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(eseed)).to(dev)
        gen = torch.Generator(device=dev).manual_seed(eseed + 1)
        t0 = time.perf_counter()
        correct, loss_sum = 0, 0.0
        bar = tqdm(
            range(n_batches),
            desc=f"{kind} {dataset} epoch {epoch}/{epochs}",
            disable=not progress,
            leave=False,
            mininterval=1.0,
        )
        for b in bar:
            idx = perm[b * bs : (b + 1) * bs]
            xb, yb = Xtr_t[idx], ytr_t[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = model.backward_step(xb, yb, gen)
            optimizer.step()
            correct += int((logits.argmax(1) == yb).sum())
            loss_sum += float(torch.nn.functional.cross_entropy(logits, yb, reduction="sum"))
        bar.close()
        train_time = time.perf_counter() - t0
        examples_seen += n
        val_error = _error(model, Xva_t, yva_t)
        test_error = _error(model, Xte_t, yte_t)
        epoch_time = time.perf_counter() - t0
        entry = log.add_epoch(
            epoch,
            examples_seen=examples_seen,
            train_error=error_percent(correct, n),
            val_error=val_error,
            test_error=test_error,
            examples_per_s=n / train_time if train_time > 0 else None,
            wall_time_s=wall_before + epoch_time,
            epoch_time_s=epoch_time,
            train_loss=loss_sum / n if n else None,
            learning_rate=optimizer.param_groups[0]["lr"],
        )
        wall_before += epoch_time
        if progress:
            print(
                f"{kind} {dataset} epoch {epoch}/{epochs}: train {entry['train_error']:.2f}% "
                f"val {val_error if val_error is None else round(val_error, 2)}% test {test_error:.2f}% "
                f"({entry['examples_per_s']:.0f} ex/s)",
                flush=True,
            )
        save_checkpoint(
            ckpt_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch,
                "meta": {
                    "config": json.loads(json.dumps(config)),
                    "seed": seed,
                    "examples_seen": examples_seen,
                    "wall_time_s": wall_before,
                },
            },
        )
    return dict(entry) if entry is not None else {}


def evaluate(
    out_dir, split: str = "test", data_dir=None, device: str = "cpu", max_examples: int | None = None
) -> float:
    """Error (percent) of the model saved in ``out_dir/checkpoint.pt`` on a dataset split.

    ``split`` is ``"test"`` or ``"train"`` (the whole training split, validation part included).
    """
    state = load_checkpoint(Path(out_dir) / CHECKPOINT_NAME)
    config = state["meta"]["config"]
    kind, dataset = config["kind"], config["dataset"]
    model = build_model(
        kind,
        make_params(kind, config["params"]),
        datasets.IMAGE_SHAPES[dataset],
        datasets.N_CLASSES[dataset],
        int(state["meta"]["seed"]),
    )
    model.load_state_dict(state["model"])
    model.to(torch.device(device))
    X, y = datasets.load(dataset, split, data_dir)
    if max_examples is not None:
        X, y = X[:max_examples], y[:max_examples]
    return _error(model, torch.from_numpy(X).to(device), torch.from_numpy(y).to(device))
