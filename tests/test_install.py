"""The package as a user gets it: a wheel with every module, template and named model, run outside the repository.

The wheel is built from a copy of the sources (no build files in the checkout). The full install into a
fresh virtual environment (brian2 and friends from pip, no torch) is ``-m long`` and a step of ``.ci/run``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "brian_segdend", "models")


def shipped_files():
    """Paths inside the wheel that the package needs: every module and template, every named model."""
    package = [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "brian_segdend").rglob("*") if p.suffix in (".py", ".cpp")
    ]
    models = [f"brian_segdend/models/{p.name}" for p in (ROOT / "models").glob("*") if p.suffix in (".py", ".toml")]
    return {p for p in package if "__pycache__" not in p} | set(models)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools")
    work = tmp_path_factory.mktemp("wheel")
    (work / "src").mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, work / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, work / "src" / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(work / "src")],
        cwd=work,
        check=True,
        capture_output=True,
    )
    return next(work.glob("brian_segdend-*.whl"))


def test_wheel_ships_every_module_template_and_named_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = shipped_files()
    assert {"brian_segdend/models/ref-s.toml", "brian_segdend/templates/dense_rows_synapses.cpp"} <= expected
    assert sorted(expected - names) == []  # e.g. a package missing from setup.cfg's list
    assert not any(n.startswith(("models/", "tests/")) for n in names)  # nothing at the top level but the package


def run(args, **kwargs):
    out = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, args))} failed:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.mark.long
def test_installed_wheel_lists_models_and_trains_outside_the_repository(wheel, tmp_path):
    """pip install the wheel (no torch) into a fresh venv; run it from a folder that is not the repository."""
    if not (Path(DATA_DIR) / "MNIST").is_dir():
        pytest.skip("no ../shared/datasets/MNIST")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([venv / "bin" / "pip", "install", "-q", str(wheel)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIAN_SEGDEND_")}
    env["BRIAN_SEGDEND_CACHE"] = str(tmp_path / "cache")
    segdend = str(venv / "bin" / "segdend")

    where = run([venv / "bin" / "python", "-c", "import brian_segdend; print(brian_segdend.__file__)"], cwd=elsewhere)
    assert where.stdout.startswith(str(venv))  # the installed copy, not the checkout
    assert run([segdend, "--version"], cwd=elsewhere, env=env).stdout.startswith("segdend 0.")
    models = run([segdend, "models"], cwd=elsewhere, env=env).stdout
    assert re.search(r"^ref-s +segdend ", models, re.M) and re.search(r"^bp-mlp +bp-mlp ", models, re.M)

    args = ["train", "--n-train", "20", "--n-test", "10", "--chunk-size", "10", "--set", "n_hidden=[20]"]
    args += ["--device", "cpp_standalone", "--data-dir", DATA_DIR, "--out", "run"]
    trained = run([segdend, *args], cwd=elsewhere, env=env)
    assert (
        "test error" in trained.stdout
        and "after 1 epoch(s) of 20 examples (mnist, ref-s, cpp_standalone)" in trained.stdout
    )
    record = json.loads((elsewhere / "run" / "results.json").read_text())
    assert record["config"]["n_hidden"] == [20] and record["epochs"][0]["examples_seen"] == 20
    assert record["data_source"] == {"format": "idx", "root": str(Path(DATA_DIR).resolve())}
    # The second chunk reruns the binary with a new seed; Brian's INFO line about it prints above the bar
    info = trained.stderr.index('Overwriting environment variable "BRIAN_SEGDEND_SEED"')
    assert trained.stderr[: info - len("INFO       ")].endswith(("\r", "\n")), trained.stderr
