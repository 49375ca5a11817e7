"""Run records shared by the spiking model and the baselines.

* :func:`atomic_write_text`, :func:`atomic_save_npz`: write to a temporary file in the
  same directory, then ``os.replace`` it over the target, so a crash never leaves a
  half-written file behind.
* :func:`load_npz_checkpoint`: read a checkpoint written by :func:`atomic_save_npz`;
  a corrupt, truncated or foreign file raises :class:`CheckpointError` naming the file.
* :class:`RunLog`: per-epoch metrics, rewritten to ``results.json`` and ``results.csv``
  after every epoch; :meth:`RunLog.load` reopens a run to resume it.

Errors are in percent: ``100 * (1 - accuracy)``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CheckpointError",
    "RunLog",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_save_npz",
    "load_npz_checkpoint",
    "error_percent",
    "software_versions",
    "CHECKPOINT_MARKER",
    "CHECKPOINT_FILES",
    "BRIAN_CHECKPOINT",
    "BASELINE_CHECKPOINT",
]

#: Checkpoint of a run directory: Brian models (:func:`atomic_save_npz`) and PyTorch baselines (``torch.save``).
BRIAN_CHECKPOINT, BASELINE_CHECKPOINT = "checkpoint.npz", "checkpoint.pt"
CHECKPOINT_FILES = (BRIAN_CHECKPOINT, BASELINE_CHECKPOINT)
#: Key stored in every checkpoint written by :func:`atomic_save_npz` with ``checkpoint=True``.
CHECKPOINT_MARKER = "__brian_segdend_checkpoint__"

#: Columns that every epoch entry has (``None`` when not measured), in CSV order.
EPOCH_FIELDS = (
    "epoch",
    "examples_seen",
    "train_error",
    "val_error",
    "test_error",
    "examples_per_s",
    "wall_time_s",
)


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated or not a checkpoint."""


def error_percent(n_correct: int, n_total: int) -> float:
    """Classification error in percent, ``100 * (1 - n_correct / n_total)``."""
    if n_total <= 0:
        return float("nan")
    return 100.0 * (1.0 - n_correct / n_total)


def atomic_write_bytes(path: str | os.PathLike, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it over ``path`` (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (temporary file + ``os.replace``)."""
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def write_csv(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the keys of the first) to ``path`` as CSV, atomically; ``None`` is empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def atomic_save_npz(path: str | os.PathLike, checkpoint: bool = True, **arrays: Any) -> None:
    """Save arrays to an ``.npz`` file atomically (temporary file in the same directory + ``os.replace``).

    With ``checkpoint=True`` (default) a marker entry is added so that
    :func:`load_npz_checkpoint` can tell the file from an unrelated ``.npz``.
    Object arrays are refused (checkpoints are loaded with ``allow_pickle=False``).
    """
    payload = {}
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"array {key!r} has dtype object; checkpoints hold numeric or string arrays only")
        payload[key] = arr
    if checkpoint:
        payload[CHECKPOINT_MARKER] = np.array(1, dtype=np.int64)
    atomic_write_bytes(Path(path), lambda fh: np.savez(fh, **payload))


def load_npz_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of a checkpoint written by :func:`atomic_save_npz`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        If the file is corrupt, truncated or not a checkpoint (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}  # reads (and CRC-checks) every member
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or truncated: {exc}") from exc
    except Exception as exc:  # any other decoding failure
        raise CheckpointError(f"checkpoint {str(path)!r} could not be read: {type(exc).__name__}: {exc}") from exc
    if CHECKPOINT_MARKER not in arrays:
        raise CheckpointError(f"{str(path)!r} is an .npz file but not a brian_segdend checkpoint (no marker entry)")
    del arrays[CHECKPOINT_MARKER]
    return arrays


def _package_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str | None]:
    """Versions of Python, numpy, brian2, torch (if installed) and brian_segdend."""
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "brian2": _package_version("brian2") or _package_version("Brian2"),
    }
    torch_version = _package_version("torch")
    if torch_version is not None:
        versions["torch"] = torch_version
    own = _package_version("brian_segdend") or _package_version("brian-segdend")
    if own is None:
        try:
            import brian_segdend

            own = getattr(brian_segdend, "__version__", None)
        except Exception:  # pragma: no cover - the package is importable whenever this module is
            own = None
    versions["brian_segdend"] = own or "unknown"
    return versions


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    if isinstance(value, Path):
        return str(value)
    return value


class RunLog:
    """Per-epoch record of one training run, kept in ``out_dir/results.json`` and ``results.csv``.

    Parameters
    ----------
    out_dir : str or Path
        Directory of the run (created if needed).
    config : dict
        Hyperparameters of the run (JSON-serialisable).
    seed : int
    model_name : str
    dataset : str
    data_source : dict, optional
        Where the dataset's files came from (:meth:`brian_segdend.datasets.Source.to_dict`: format
        and data root), ``None`` for arrays passed in directly.

    Examples
    --------
    >>> log = RunLog(tmp, {"lr": 0.1}, seed=0, model_name="bp-mlp", dataset="mnist")  # doctest: +SKIP
    >>> log.add_epoch(1, examples_seen=54000, train_error=5.1, val_error=4.0, test_error=4.2)  # doctest: +SKIP
    >>> RunLog.load(tmp).epochs[-1]["test_error"]  # doctest: +SKIP
    4.2
    """

    JSON_NAME = "results.json"
    CSV_NAME = "results.csv"

    def __init__(
        self,
        out_dir,
        config: dict,
        seed: int,
        model_name: str,
        dataset: str,
        versions: dict | None = None,
        data_source: dict | None = None,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        self.seed = int(seed)
        self.model_name = str(model_name)
        self.dataset = str(dataset)
        self.versions = dict(versions) if versions is not None else software_versions()
        self.data_source = data_source
        self.epochs: list[dict[str, Any]] = []

    @property
    def json_path(self) -> Path:
        return self.out_dir / self.JSON_NAME

    @property
    def csv_path(self) -> Path:
        return self.out_dir / self.CSV_NAME

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "dataset": self.dataset,
            "data_source": _json_safe(self.data_source),
            "config": _json_safe(self.config),
            "seed": self.seed,
            "versions": self.versions,
            "epochs": _json_safe(self.epochs),
        }

    def add_epoch(self, epoch: int, **metrics: Any) -> dict[str, Any]:
        """Append (or replace) the entry of ``epoch`` and rewrite both files atomically."""
        entry: dict[str, Any] = {field: None for field in EPOCH_FIELDS}
        entry.update(metrics)
        entry["epoch"] = int(epoch)
        self.epochs = [e for e in self.epochs if e["epoch"] != entry["epoch"]]
        self.epochs.append(entry)
        self.epochs.sort(key=lambda e: e["epoch"])
        self.save()
        return entry

    def truncate(self, last_epoch: int) -> None:
        """Drop the entries after ``last_epoch`` (used when resuming from a checkpoint)."""
        self.epochs = [e for e in self.epochs if e["epoch"] <= last_epoch]
        self.save()

    def save(self) -> None:
        atomic_write_text(self.json_path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        atomic_write_text(self.csv_path, self.to_csv())

    def to_csv(self) -> str:
        fields = list(EPOCH_FIELDS)
        for entry in self.epochs:
            fields.extend(k for k in entry if k not in fields)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for entry in _json_safe(self.epochs):
            writer.writerow({k: ("" if entry.get(k) is None else entry.get(k)) for k in fields})
        return buf.getvalue()

    @classmethod
    def load(cls, out_dir) -> RunLog:
        """Reopen the run stored in ``out_dir/results.json``."""
        path = Path(out_dir) / cls.JSON_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from exc
        missing = [k for k in ("model", "dataset", "config", "seed", "epochs") if k not in data]
        if missing:
            raise ValueError(f"{str(path)!r} is not a run record; missing keys: {', '.join(missing)}")
        log = cls(
            out_dir,
            data["config"],
            data["seed"],
            data["model"],
            data["dataset"],
            versions=data.get("versions"),
            data_source=data.get("data_source"),
        )
        log.epochs = list(data["epochs"])
        return log

    @property
    def last(self) -> dict[str, Any] | None:
        """The most recent epoch entry, or ``None``."""
        return self.epochs[-1] if self.epochs else None
