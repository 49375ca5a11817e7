"""Datasets on a user's machine: no ../shared, an empty data root, torchvision downloads from a mirror.

The mirror is a local folder built from ../shared/datasets in the layout and compression that
torchvision's classes expect, served over HTTP on 127.0.0.1 by a thread of the test, so torchvision's
real download (``urlopen``, progress bar), MD5 check and extraction run. (``file://`` URLs do not work
with torchvision 0.29: its download reads ``response.length``, which file responses lack.) The
mirror's gzip files are not byte-identical to the published ones, so the tests give the classes the
mirror's own MD5s; the package's own checks are untouched.
"""

import functools
import gzip
import hashlib
import http.server
import io
import json
import pickle
import socket
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_DIR

torchvision = pytest.importorskip("torchvision")

from brian_segdend import cli, datasets  # noqa: E402

MNIST_RAW = Path(DATA_DIR) / "MNIST" / "raw"
needs_mnist = pytest.mark.skipif(not MNIST_RAW.is_dir(), reason="no ../shared/datasets/MNIST")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """``(folder, url)``: a folder served at ``url`` (``http://127.0.0.1:<port>/``) during this module."""
    folder = tmp_path_factory.mktemp("mirror")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def user_machine(tmp_path, monkeypatch):
    """No ../shared/datasets, an empty default data root, the current directory elsewhere."""
    monkeypatch.setattr(datasets, "_shared_dirs", lambda: [])
    monkeypatch.delenv("BRIAN_SEGDEND_DATA", raising=False)
    monkeypatch.setenv("BRIAN_SEGDEND_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache" / "data"


@pytest.fixture(scope="module")
def mnist_mirror(mirror):
    """The four MNIST files gzipped into the mirror; ``(url, [(name.gz, md5)])`` as torchvision lists them."""
    folder, url = mirror
    resources = []
    for name, _ in torchvision.datasets.MNIST.resources:
        target = folder / name
        target.write_bytes(gzip.compress((MNIST_RAW / name[:-3]).read_bytes(), compresslevel=1, mtime=0))
        resources.append((name, md5(target)))
    return url, resources


@needs_mnist
def test_train_fetches_mnist_through_torchvision_and_trains(user_machine, mnist_mirror, monkeypatch, capsys):
    from brian2 import prefs

    url, resources = mnist_mirror
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    short = ["n_hidden=[20]", "forward_steps=10", "target_steps=10", "window_steps=4", "test_steps=20"]
    short += ["test_window_steps=10", "random_phase_lengths=false"]  # a few steps per example: seconds in numpy
    args = ["train", "--device", "numpy", "--n-train", "20", "--n-test", "10", *(f"--set={s}" for s in short)]
    try:
        code = cli.main([*args, "--out", "run", "--quiet"])
    finally:
        prefs.codegen.target = "auto"
    out = capsys.readouterr().out
    assert code == 0
    assert f"downloading it with torchvision.datasets.MNIST from {url} to {user_machine}" in out
    assert f"mnist: downloaded and verified (MD5) into {user_machine}" in out
    X, y = datasets.load("mnist", "test", download=False)  # now found in the default data root
    X_ref, y_ref = datasets.load("mnist", "test", data_dir=DATA_DIR)
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)
    record = json.loads((user_machine.parent.parent / "run" / "results.json").read_text())
    assert record["data_source"] == {"format": "idx", "root": str(user_machine)}
    assert record["config"]["n_hidden"] == [20] and record["config"]["test_steps"] == 20
    assert record["epochs"][-1]["examples_seen"] == 20 and 0 <= record["epochs"][-1]["test_error"] <= 100


@needs_mnist
def test_a_corrupt_download_is_refused(user_machine, mnist_mirror, monkeypatch):
    url, resources = mnist_mirror
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", [(resources[0][0], "0" * 32), *resources[1:]])
    with pytest.raises(
        FileNotFoundError, match="The download failed with: Error downloading train-images-idx3-ubyte.gz"
    ):
        datasets.locate("mnist")
    assert not (user_machine / "MNIST/raw/train-images-idx3-ubyte").exists()


def test_unreachable_mirror_fails_fast_and_says_where_to_put_the_files(user_machine, monkeypatch):
    """A server that accepts the connection but never answers: the download gives up after its timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    monkeypatch.setattr(datasets, "DOWNLOAD_TIMEOUT_S", 1)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [f"http://127.0.0.1:{silent.getsockname()[1]}/"])
    t0 = time.perf_counter()
    try:
        with pytest.raises(FileNotFoundError) as info:
            datasets.load("fashion-mnist", "test")
    finally:
        silent.close()
    assert time.perf_counter() - t0 < 20
    msg = str(info.value)
    assert "and the download failed." in msg and "timed out" in msg
    assert "FashionMNIST/raw/t10k-images-idx3-ubyte" in msg and f"into {user_machine}" in msg


def fake_cifar_tarball(path, n_per_batch=4):
    """A tiny ``cifar-10-python.tar.gz`` in torchvision's layout; returns the images and labels per split."""
    rng = np.random.default_rng(0)
    batches, split = {}, {"train": [], "test": []}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        batches[name] = {"data": data, "labels": labels}
        split["test" if name == "test_batch" else "train"].append((data, labels))
    batches["batches.meta"] = {
        "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    }
    md5s = {}
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            blob = pickle.dumps(content)
            md5s[name] = hashlib.md5(blob).hexdigest()
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    expected = {s: (np.concatenate([d for d, _ in v]), np.concatenate([lab for _, lab in v])) for s, v in split.items()}
    return md5s, expected


def test_cifar10_python_batches_are_the_primary_format(user_machine, mirror, monkeypatch):
    folder, url = mirror
    tarball = folder / "cifar-10-python.tar.gz"
    md5s, expected = fake_cifar_tarball(tarball)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "url", url + tarball.name)
    monkeypatch.setattr(cls, "tgz_md5", md5(tarball))
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{k}", md5s[f"data_batch_{k}"]] for k in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5s["batches.meta"]})
    (user_machine / "cifar10-jpeg.tar.gz").parent.mkdir(parents=True)
    (user_machine / "cifar10-jpeg.tar.gz").write_bytes(b"")  # an incomplete fallback does not count ...
    assert datasets.locate("cifar10").format == "cifar10-jpeg"
    (user_machine / "cifar10-jpeg.tar.gz").unlink()  # ... so without it, the download runs
    for split in ("train", "test"):
        X, y = datasets.load("cifar10", split)
        images, labels = expected[split]
        assert np.array_equal(X, images / np.float32(255)) and np.array_equal(y, labels)  # channels first, as stored
    assert datasets.locate("cifar10", download=False) == datasets.Source("cifar10", "cifar-10-python", user_machine)
    (user_machine / "cifar10-jpeg.tar.gz").write_bytes(b"")
    assert datasets.locate("cifar10").format == "cifar-10-python"  # preferred to the JPEG tarball


def test_cifar10_falls_back_to_the_jpeg_tarball_of_shared(tmp_path, monkeypatch):
    if not (Path(DATA_DIR) / "cifar10-jpeg.tar.gz").is_file():
        pytest.skip("no ../shared/datasets/cifar10-jpeg.tar.gz")
    monkeypatch.setenv("BRIAN_SEGDEND_CACHE", str(tmp_path / "cache"))  # an empty default data root
    monkeypatch.setattr(datasets, "_shared_dirs", lambda: [Path(DATA_DIR)])
    source = datasets.locate("cifar10", download=False)
    assert source.format == "cifar10-jpeg" and source.to_dict()["root"] == str(Path(DATA_DIR).resolve())
