"""Image-classification datasets shared by the spiking model and the PyTorch baselines.

Every loader returns plain numpy arrays: ``X`` is ``float32`` with shape ``(n, d)``
(pixels scaled to ``[0, 1]`` and flattened; ``d = 784`` for MNIST / Fashion-MNIST and
``d = 3072`` for CIFAR-10, flattened channels-first ``3 x 32 x 32``), ``y`` is ``int64``
with shape ``(n,)``. The decoded arrays are cached as ``.npy`` files (``uint8``) in the cache
directory (``$BRIAN_SEGDEND_CACHE`` or ``~/.cache/brian_segdend``), so later loads take a fraction
of a second and do not import torch.

Where the files are looked for (:func:`data_roots`):

1. the data root given by ``data_dir`` (``--data-dir``) or ``$BRIAN_SEGDEND_DATA``: only there;
2. otherwise the default data root ``<cache directory>/data`` (``~/.cache/brian_segdend/data``),
   then ``../shared/datasets`` (relative to the current directory and to a source checkout).

Formats (:data:`FORMATS`), in order of preference: torchvision's own layouts (``MNIST/raw/...``,
``FashionMNIST/raw/...``, CIFAR-10's python batches ``cifar-10-batches-py/...``), and for CIFAR-10
the JPEG tarball ``cifar10-jpeg.tar.gz`` of this project's ``../shared/datasets`` (lossy) as a
fallback. Files already on disk are always preferred to a download. When a dataset is found in no
root, torchvision's dataset classes download it into the data root (their mirrors, MD5 checks and
extraction; ``download=False`` forbids it). Downloading needs the ``torch`` extra.

Examples
--------
>>> from brian_segdend import datasets
>>> X, y = datasets.load("mnist", "test")          # doctest: +SKIP
>>> X.shape, X.dtype, y.dtype                        # doctest: +SKIP
((10000, 784), dtype('float32'), dtype('int64'))
>>> datasets.locate("cifar10").format                # doctest: +SKIP
'cifar-10-python'
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "SPLITS",
    "IMAGE_SHAPES",
    "N_CLASSES",
    "FORMATS",
    "Source",
    "load",
    "locate",
    "data_roots",
    "default_data_root",
    "cache_dir",
    "train_val_split",
    "stratified_kfold",
    "subset",
]

DATASETS = ("mnist", "fashion-mnist", "cifar10")
SPLITS = ("train", "test")

#: Channels-first image shape of each dataset; ``X`` rows are these images flattened.
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
N_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10}

_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_BATCHES = (*(f"data_batch_{k}" for k in range(1, 6)), "test_batch", "batches.meta")
#: ``{dataset: {format: files relative to a data root}}``, preferred format first; the first format
#: of each dataset is what torchvision downloads.
FORMATS = {
    "mnist": {"idx": tuple(f"MNIST/raw/{f}" for f in _IDX)},
    "fashion-mnist": {"idx": tuple(f"FashionMNIST/raw/{f}" for f in _IDX)},
    "cifar10": {
        "cifar-10-python": tuple(f"cifar-10-batches-py/{f}" for f in _CIFAR_BATCHES),
        "cifar10-jpeg": ("cifar10-jpeg.tar.gz",),
    },
}
_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}
#: Seconds a download may wait for the network before it fails (no endless hang offline).
DOWNLOAD_TIMEOUT_S = 30
_CACHE_FORMAT = 2  # 2: CIFAR-10 JPEGs in a fixed mixed order (see _decode_cifar_jpeg)


@dataclass(frozen=True)
class Source:
    """Where a dataset's files were found: its ``format`` (a key of :data:`FORMATS`) and data ``root``."""

    name: str
    format: str
    root: Path

    @property
    def files(self) -> list[Path]:
        return [self.root / f for f in FORMATS[self.name][self.format]]

    def to_dict(self) -> dict:
        """What a run records about its data (``results.json``)."""
        return {"format": self.format, "root": str(self.root)}


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are: {', '.join(SPLITS)}")
    return split


def cache_dir() -> Path:
    """The cache directory (``$BRIAN_SEGDEND_CACHE`` or ``~/.cache/brian_segdend``), created if needed."""
    path = Path(os.environ.get("BRIAN_SEGDEND_CACHE") or Path.home() / ".cache" / "brian_segdend")
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_data_root() -> Path:
    """Where datasets are downloaded unless a data root is given: ``<cache directory>/data``."""
    return cache_dir() / "data"


def _shared_dirs() -> list[Path]:
    """This project's read-only copies, ``../shared/datasets`` (from the current directory, then the checkout)."""
    checkout = Path(__file__).resolve().parent.parent
    return [Path.cwd() / ".." / "shared" / "datasets", checkout / ".." / "shared" / "datasets"]


def data_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The data roots searched, in order; the first is where a download goes.

    Raises
    ------
    FileNotFoundError
        If a data root given by ``data_dir`` or ``$BRIAN_SEGDEND_DATA`` does not exist.
    """
    for given, origin in (
        (data_dir, "data_dir argument"),
        (os.environ.get("BRIAN_SEGDEND_DATA"), "BRIAN_SEGDEND_DATA"),
    ):
        if given:
            path = Path(given).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"data directory {str(given)!r} (from {origin}) does not exist")
            return [path.resolve()]
    roots = [default_data_root()]
    for path in _shared_dirs():
        if path.is_dir() and path.resolve() not in roots:
            roots.append(path.resolve())
    return roots


def _say(message: str) -> None:
    print(message, flush=True)


def locate(name: str, data_dir=None, download: bool = True, log=_say) -> Source:
    """Find dataset ``name`` on disk (see the module docstring), downloading it if allowed and missing.

    Raises
    ------
    FileNotFoundError
        The files are in no data root and may not or could not be downloaded; the message lists the
        files expected and where to put them.
    """
    _check_name(name)
    roots = data_roots(data_dir)
    for fmt in FORMATS[name]:
        for root in roots:
            source = Source(name, fmt, root)
            if all(f.is_file() for f in source.files):
                return source
    if not download:
        raise FileNotFoundError(_missing(name, roots, "downloading is switched off (--no-download)"))
    return _download(name, roots, log)


def _missing(name: str, roots: list[Path], why: str, error: Exception | None = None) -> str:
    formats = "; or ".join(", ".join(files) for files in FORMATS[name].values())
    return (
        f"dataset {name!r} not found in {', '.join(str(r) for r in roots)}, and {why}.\n"
        f"Expected files (relative to a data root): {formats}.\n"
        f"Put them into {roots[0]}, or pass --data-dir / set BRIAN_SEGDEND_DATA to a folder that holds them."
        + (f"\nThe download failed with: {' '.join(str(error).split())}" if error else "")
    )


@contextlib.contextmanager
def _network_timeout(seconds):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(name: str, roots: list[Path], log) -> Source:
    """Download ``name`` into ``roots[0]`` with torchvision's own class (mirrors, MD5 checks, extraction)."""
    try:
        import torchvision
    except ImportError:
        raise FileNotFoundError(
            _missing(name, roots, "downloading it needs torchvision (pip install 'brian_segdend[torch]')")
        ) from None
    cls = getattr(torchvision.datasets, _TORCHVISION_CLASS[name])
    urls = getattr(cls, "mirrors", None) or [cls.url]
    log(
        f"{name}: not found in {', '.join(str(r) for r in roots)}; downloading it with torchvision.datasets."
        f"{cls.__name__} from {' (or) '.join(urls)} to {roots[0]}"
    )
    try:
        with _network_timeout(DOWNLOAD_TIMEOUT_S):
            cls(str(roots[0]), train=False, download=True)  # fetches, checks and unpacks both splits
    except (RuntimeError, OSError) as exc:
        raise FileNotFoundError(_missing(name, roots, "the download failed", exc)) from None
    source = Source(name, next(iter(FORMATS[name])), roots[0])
    missing = [str(f) for f in source.files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{name}: the download left these files missing: {', '.join(missing)}")
    log(f"{name}: downloaded and verified (MD5) into {roots[0]}")
    return source


def _source_key(source: Source) -> str:
    """A short hash of the source files' paths, sizes and modification times."""
    h = hashlib.sha1(f"{source.name}:{_CACHE_FORMAT}".encode())  # the files tell the formats apart
    for f in source.files:
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


def _decode_idx(source: Source, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        import torchvision
    except ImportError:  # torch is optional for the spiking model: read the IDX files directly
        prefix = "train" if split == "train" else "t10k"
        folder = source.files[0].parent
        images = _read_idx(folder / f"{prefix}-images-idx3-ubyte")
        labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte")
        return images.reshape(len(images), -1).copy(), labels.astype(np.int64)

    cls = getattr(torchvision.datasets, _TORCHVISION_CLASS[source.name])
    ds = cls(root=str(source.root), train=(split == "train"), download=False)
    images = ds.data.numpy().reshape(len(ds.data), -1).astype(np.uint8)
    return images, ds.targets.numpy().astype(np.int64)


def _decode_cifar_python(source: Source, split: str) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's CIFAR10 (python batches, MD5-checked by torchvision) as channels-first rows."""
    import torchvision

    try:
        ds = torchvision.datasets.CIFAR10(root=str(source.root), train=(split == "train"), download=False)
    except RuntimeError as exc:  # torchvision's MD5 check failed
        raise ValueError(f"CIFAR-10 python batches in {str(source.root)!r}: {exc}") from None
    images = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)).reshape(len(ds.data), -1)  # HWC -> CHW
    return images.astype(np.uint8), np.asarray(ds.targets, dtype=np.int64)


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


def _decode_cifar_jpeg(source: Source, split: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    import torchvision

    root = _cifar_unpacked(source.files[0], key)
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


def load(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset split as flattened ``float32`` images in ``[0, 1]`` and ``int64`` labels.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``).
    split : str
        ``"train"`` or ``"test"``.
    data_dir : str or Path, optional
        The data root (default: see the module docstring).
    download : bool
        Download the files with torchvision when no data root holds them.

    Returns
    -------
    X : ndarray, float32, shape (n, d)
    y : ndarray, int64, shape (n,)

    Raises
    ------
    ValueError
        Unknown dataset name or split (the message lists the valid ones).
    FileNotFoundError
        The data root does not exist, or the files are missing and not downloaded (the message
        names the files and where to put them).
    """
    _check_name(name)
    _check_split(split)
    source = locate(name, data_dir, download)
    key = _source_key(source)
    cdir = cache_dir()
    x_path = cdir / f"{name}-{split}-{key}-images-uint8.npy"
    y_path = cdir / f"{name}-{split}-{key}-labels.npy"
    if not (x_path.is_file() and y_path.is_file()):
        if source.format == "cifar10-jpeg":
            images, labels = _decode_cifar_jpeg(source, split, key)
        elif source.format == "cifar-10-python":
            images, labels = _decode_cifar_python(source, split)
        else:
            images, labels = _decode_idx(source, split)
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
