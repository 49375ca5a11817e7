"""Image-classification datasets shared by the spiking model and the PyTorch baselines.

Every loader returns plain numpy arrays: ``X`` is ``float32`` with shape ``(n, d)``
(pixels scaled to ``[0, 1]`` and flattened; ``d = 784`` for MNIST / Fashion-MNIST and
``d = 3072`` for CIFAR-10, flattened channels-first ``3 x 32 x 32``), ``y`` is ``int64``
with shape ``(n,)``.

The raw files are read once through torchvision (``download=False``; no network is used)
and the decoded arrays are cached as ``.npy`` files (as ``uint8``) in the cache directory
(``$BRIAN_SEGDEND_CACHE`` or ``~/.cache/brian_segdend``), so later loads take a fraction
of a second and do not import torch.

Data directory resolution (first match wins):

1. the ``data_dir`` argument,
2. the environment variable ``BRIAN_SEGDEND_DATA``,
3. ``../shared/datasets`` relative to the current directory,
4. ``<repo root>/../shared/datasets`` where ``<repo root>`` is the parent of the package.

Examples
--------
>>> from brian_segdend import datasets
>>> X, y = datasets.load("mnist", "test")          # doctest: +SKIP
>>> X.shape, X.dtype, y.dtype                        # doctest: +SKIP
((10000, 784), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "SPLITS",
    "IMAGE_SHAPES",
    "N_CLASSES",
    "load",
    "resolve_data_dir",
    "cache_dir",
    "expected_files",
    "train_val_split",
    "stratified_kfold",
    "subset",
]

DATASETS = ("mnist", "fashion-mnist", "cifar10")
SPLITS = ("train", "test")

#: Channels-first image shape of each dataset; ``X`` rows are these images flattened.
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
N_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10}

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_CIFAR_TARBALL = "cifar10-jpeg.tar.gz"
_CACHE_FORMAT = 2  # 2: CIFAR-10 in a fixed mixed order (see _decode_cifar)


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are: {', '.join(SPLITS)}")
    return split


def expected_files(name: str) -> list[str]:
    """Paths (relative to the data directory) that ``load(name)`` needs."""
    _check_name(name)
    if name == "cifar10":
        return [_CIFAR_TARBALL]
    folder = _TORCHVISION_FOLDER[name]
    return [f"{folder}/raw/{f}" for f in _IDX_FILES]


def _default_data_dirs() -> list[Path]:
    repo_root = Path(__file__).resolve().parent.parent
    return [Path.cwd() / ".." / "shared" / "datasets", repo_root / ".." / "shared" / "datasets"]


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the data directory (see the module docstring for the search order).

    Raises
    ------
    FileNotFoundError
        If an explicitly given directory (argument or ``BRIAN_SEGDEND_DATA``) does not
        exist, or if none of the default locations exists.
    """
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"data directory {str(path)!r} (from the data_dir argument) does not exist")
        return path.resolve()
    env = os.environ.get("BRIAN_SEGDEND_DATA")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise FileNotFoundError(f"data directory {env!r} (from BRIAN_SEGDEND_DATA) does not exist")
        return path.resolve()
    candidates = _default_data_dirs()
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    searched = ", ".join(repr(str(p)) for p in candidates)
    raise FileNotFoundError(
        f"no dataset directory found; searched {searched}. Pass data_dir=... or set BRIAN_SEGDEND_DATA"
    )


def cache_dir() -> Path:
    """The cache directory (``$BRIAN_SEGDEND_CACHE`` or ``~/.cache/brian_segdend``), created if needed."""
    path = Path(os.environ.get("BRIAN_SEGDEND_CACHE") or Path.home() / ".cache" / "brian_segdend")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_files(name: str, data_dir: Path) -> list[Path]:
    files = [data_dir / f for f in expected_files(name)]
    missing = [str(f.relative_to(data_dir)) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"dataset {name!r}: missing files in {str(data_dir)!r}: {', '.join(missing)} "
            f"(expected: {', '.join(expected_files(name))})"
        )
    return files


def _source_key(name: str, files: list[Path]) -> str:
    """A short hash of the source files' paths, sizes and modification times."""
    h = hashlib.sha1(f"{name}:{_CACHE_FORMAT}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format) as a numpy array."""
    raw = path.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _decode_idx(name: str, split: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        import torchvision
    except ImportError:  # torch is optional for the spiking model: read the IDX files directly
        folder = data_dir / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
        prefix = "train" if split == "train" else "t10k"
        images = _read_idx(folder / f"{prefix}-images-idx3-ubyte")
        labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte")
        return images.reshape(len(images), -1).copy(), labels.astype(np.int64)

    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.FashionMNIST
    ds = cls(root=str(data_dir), train=(split == "train"), download=False)
    images = ds.data.numpy().reshape(len(ds.data), -1).astype(np.uint8)
    labels = ds.targets.numpy().astype(np.int64)
    return images, labels


def _cifar_unpacked(tarball: Path, key: str) -> Path:
    """Unpack the CIFAR-10 JPEG tarball once into the cache (atomically) and return its root."""
    root = cache_dir() / f"cifar10-jpeg-{key}"
    if (root / "train").is_dir() and (root / "test").is_dir():
        return root
    tmp = Path(tempfile.mkdtemp(dir=cache_dir(), prefix="cifar10-unpack-"))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        try:
            os.replace(tmp, root)
        except OSError:  # another process finished first
            if not (root / "train").is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _decode_cifar(split: str, tarball: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    import torchvision

    root = _cifar_unpacked(tarball, key)
    folder = torchvision.datasets.ImageFolder(str(root / split))  # classes sorted alphabetically
    n = len(folder.samples)
    images = np.empty((n, 3 * 32 * 32), dtype=np.uint8)
    labels = np.empty(n, dtype=np.int64)
    for i, (path, label) in enumerate(folder.samples):
        img = np.asarray(folder.loader(path).convert("RGB"), dtype=np.uint8)  # (32, 32, 3)
        if img.shape != (32, 32, 3):
            raise ValueError(f"{path}: expected a 32x32 RGB image, got shape {img.shape}")
        images[i] = img.transpose(2, 0, 1).reshape(-1)
        labels[i] = label
    # The JPEG copy is stored class by class; one fixed permutation gives a mixed order like the
    # original CIFAR-10 batches, so that the first N images of a split are a fair subset.
    order = np.random.default_rng(0).permutation(n)
    return images[order], labels[order]


def load(name: str, split: str = "train", data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset split as flattened ``float32`` images in ``[0, 1]`` and ``int64`` labels.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``).
    split : str
        ``"train"`` or ``"test"``.
    data_dir : str or Path, optional
        Directory holding ``MNIST/raw``, ``FashionMNIST/raw`` and ``cifar10-jpeg.tar.gz``
        (see the module docstring for the default search order).

    Returns
    -------
    X : ndarray, float32, shape (n, d)
    y : ndarray, int64, shape (n,)

    Raises
    ------
    ValueError
        Unknown dataset name or split (the message lists the valid ones).
    FileNotFoundError
        The data directory or some of its expected files are missing (the message names
        the directory and the files).
    """
    _check_name(name)
    _check_split(split)
    root = resolve_data_dir(data_dir)
    files = _check_files(name, root)
    key = _source_key(name, files)
    cdir = cache_dir()
    x_path = cdir / f"{name}-{split}-{key}-images-uint8.npy"
    y_path = cdir / f"{name}-{split}-{key}-labels.npy"
    if not (x_path.is_file() and y_path.is_file()):
        if name == "cifar10":
            images, labels = _decode_cifar(split, files[0], key)
        else:
            images, labels = _decode_idx(name, split, root)
        _atomic_save_npy(y_path, labels)
        _atomic_save_npy(x_path, images)
    images = np.load(x_path)
    labels = np.load(y_path)
    X = np.divide(images, np.float32(255.0), dtype=np.float32)
    return X, labels.astype(np.int64, copy=False)


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted training and validation indices, reproducibly.

    ``round(n * val_fraction)`` indices, drawn by ``numpy.random.default_rng(seed)``,
    go to the validation set.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def stratified_kfold(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold split: a list of ``k`` sorted ``(train_idx, val_idx)`` pairs.

    Each class's indices are shuffled with ``numpy.random.default_rng(seed)`` and dealt
    into ``k`` nearly equal parts, so every fold has about the same class proportions
    and the validation sets partition ``range(len(y))``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    if not isinstance(k, (int, np.integer)) or k < 2 or k > len(y):
        raise ValueError(f"k must be an integer in [2, len(y)={len(y)}], got {k!r}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    offset = 0
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        # rotate the starting fold so that leftovers are spread across folds
        for j, chunk in enumerate(np.array_split(idx, k)):
            parts[(j + offset) % k].append(chunk)
        offset += len(idx) % k
    folds = []
    all_idx = np.arange(len(y))
    for i in range(k):
        val = np.sort(np.concatenate(parts[i])) if parts[i] else np.empty(0, dtype=np.int64)
        mask = np.ones(len(y), dtype=bool)
        mask[val] = False
        folds.append((all_idx[mask], val.astype(np.int64)))
    return folds


def subset(y: np.ndarray, n: int | None, seed, stratify: bool = False) -> np.ndarray:
    """Sorted indices of ``n`` of the examples labelled ``y``, drawn reproducibly from ``seed``.

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels of the pool.
    n : int or None
        How many to keep; ``None`` or ``n >= N``: all of them.
    seed : int or sequence of int
        ``numpy.random.default_rng(seed)`` draws a plain subset (the first ``n`` of a permutation);
        a stratified subset needs an int (scikit-learn's ``train_test_split``).
    stratify : bool
        Keep the class proportions of ``y`` (scikit-learn's stratified splitter).
    """
    y = np.asarray(y)
    if n is None or n >= len(y):
        return np.arange(len(y))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"subset size must be a positive number of examples, got {n!r}")
    if not stratify:
        return np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=int(n), stratify=y, random_state=int(seed))
    return np.sort(keep)
