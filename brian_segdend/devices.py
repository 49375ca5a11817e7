"""Choosing the Brian2 code-generation target or device (the only module that calls ``set_device``).

Library code never switches devices; scripts and the CLI call :func:`activate` once, before any
network is built.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["DEVICES", "PRECISIONS", "activate", "active_precision", "fastest_available", "shared_build"]

#: Names accepted by :func:`activate` (``runtime`` = cython if it compiles here, else numpy).
DEVICES = ("runtime", "numpy", "cython", "cpp_standalone", "cuda_standalone")
#: Floating-point precision of every state variable and weight -> Brian's ``core.default_float_dtype``
#: (double is exact to the spec's reference; single halves the memory and is within the tolerance of
#: ``tests/test_equivalence.py::test_single_precision_stays_close_to_the_oracle``).
PRECISIONS = {"double": "float64", "single": "float32"}

CUDA_HELP = (
    "cuda_standalone needs brian2cuda, which is not importable here. brian2cuda 1.0b1 requires "
    "Python >= 3.12, brian2 == 2.10.1 and a CUDA toolkit: in a fresh Python 3.12 environment run "
    "`pip install brian2cuda==1.0b1 'brian2==2.10.1' -e .` (see README, 'Run on a GPU')."
)
#: Why the model cannot run on brian2cuda yet (found by generating its CUDA project without a GPU)
CUDA_NOT_YET = (
    "cuda_standalone: brian2cuda {version} is installed, but this model cannot run on it yet: its "
    "end-of-run function stop_run (brian_segdend.simulator) has no CUDA implementation, so Brian stops "
    "while generating the code, and the per-chunk seeding that Simulator inserts into main() uses "
    "cpp_standalone's random generators, which a CUDA project does not have. Use --device "
    "cpp_standalone (README, 'Run on a GPU')."
)


def active_precision() -> str:
    """``'double'`` or ``'single'``: the precision of the networks built now (see :data:`PRECISIONS`)."""
    from brian2 import prefs

    names = {np.dtype(dtype): name for name, dtype in PRECISIONS.items()}
    return names.get(np.dtype(prefs.core.default_float_dtype), str(np.dtype(prefs.core.default_float_dtype)))


def fastest_available() -> str:
    """``cpp_standalone`` where a C++ compiler exists, else ``runtime``."""
    return "cpp_standalone" if shutil.which("g++") or shutil.which("c++") else "runtime"


def activate(name="auto", build_directory=None, threads=0, compiler_flags=None, make_jobs=None, precision="double"):
    """Make ``name`` the active Brian device or runtime target.

    Parameters
    ----------
    name : str
        One of :data:`DEVICES`, or ``'auto'`` for :func:`fastest_available`.
    build_directory : str, optional
        Project directory of a standalone device.
    threads : int
        OpenMP threads of ``cpp_standalone`` (0: no OpenMP).
    compiler_flags : list of str, optional
        Replaces Brian's default C++ compiler flags.
    make_jobs : int, optional
        Parallel compiler jobs of a standalone build (default: one per core).
    precision : {'double', 'single'}
        Floating-point type of the networks built from now on (see :data:`PRECISIONS`).

    Returns
    -------
    str
        The device or target now active.
    """
    from brian2 import prefs, set_device

    if name == "auto":
        name = fastest_available()
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)} or 'auto'")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is invalid: choose one of {', '.join(PRECISIONS)}")
    prefs.core.default_float_dtype = getattr(np, PRECISIONS[precision])
    if compiler_flags is not None:
        prefs.codegen.cpp.extra_compile_args_gcc = list(compiler_flags)
    if name in ("runtime", "numpy", "cython"):
        set_device("runtime")
        if name == "runtime":
            name = "cython" if _cython_works() else "numpy"
        prefs.codegen.target = name
        return name
    if name == "cuda_standalone":
        try:
            import brian2cuda
        except ImportError as exc:
            raise RuntimeError(CUDA_HELP) from exc
        raise NotImplementedError(CUDA_NOT_YET.format(version=brian2cuda.__version__))
    if name == "cpp_standalone":
        prefs.codegen.cpp.extra_compile_args_gcc = with_precompiled_header(prefs.codegen.cpp.extra_compile_args_gcc)
    prefs.devices.cpp_standalone.openmp_threads = int(threads)
    # Brian's default `make -j` starts every compiler at once (~100 MB each), which can exhaust the
    # memory of a small machine; one job per core compiles as fast.
    prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{make_jobs or os.cpu_count() or 1}"]
    kwargs = {"build_on_run": False}
    if build_directory is not None:
        kwargs["directory"] = str(build_directory)
    set_device(name, **kwargs)
    return name


@contextlib.contextmanager
def shared_build(key: str) -> Iterator[Path]:
    """A ``cpp_standalone`` project directory for the architecture ``key``, held exclusively.

    Directories live in ``<cache>/builds/<key>/<n>`` and are reused by every later run of the same
    architecture (only changed files recompile, usually none); a process that finds every directory
    of its key in use by other processes (two seeds of one model at once, two study workers) takes a
    new one. The lock is a ``flock``, so a killed process frees its directory.
    """
    from .datasets import cache_dir

    root = cache_dir() / "builds" / key
    root.mkdir(parents=True, exist_ok=True)
    for lane in range(1024):
        handle = open(root / f"{lane}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield root / str(lane)
        finally:
            handle.close()
        return
    raise RuntimeError(f"no free build directory in {root}")


#: Standard headers that every generated C++ file includes, precompiled once per compiler and flags.
PRECOMPILED_HEADERS = (
    "algorithm",
    "climits",
    "cmath",
    "cstdio",
    "cstdlib",
    "ctime",
    "fstream",
    "iostream",
    "map",
    "random",
    "set",
    "string",
    "utility",
    "vector",
)
PCH_NAME = "segdend_std.h"


def with_precompiled_header(flags):
    """``flags`` plus ``-include`` of a precompiled header of :data:`PRECOMPILED_HEADERS`.

    Parsing the standard headers is most of the cost of compiling one of Brian's small generated
    files; precompiled, a standalone project builds about 2x faster (``benchmarks/build.py``). The header is compiled once per
    g++ version and flag set into ``pch/`` of :func:`brian_segdend.datasets.cache_dir`, written
    atomically. g++ skips a precompiled header that does not match and reads the plain header, so the
    result never changes; where ``$CXX`` names another compiler or the header cannot be built,
    ``flags`` come back unchanged.

    Parameters
    ----------
    flags : list of str
        Compiler flags (``prefs.codegen.cpp.extra_compile_args_gcc``); the ``-include`` flag of an
        earlier call is replaced.

    Returns
    -------
    list of str
    """
    from .datasets import cache_dir

    flags = [f for f in flags if not (f.startswith("-include") and f.endswith(PCH_NAME))]  # an earlier call's
    compiler = os.environ.get("CXX", "g++").split()[-1]  # e.g. "ccache g++" -> g++
    if Path(compiler).name not in ("g++", "c++") or not shutil.which(compiler):
        return flags
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True).stdout
        key = hashlib.sha256("\n".join([version, *flags, *PRECOMPILED_HEADERS]).encode()).hexdigest()[:16]
        directory = cache_dir() / "pch" / key
        header = directory / PCH_NAME
        if not (directory / f"{PCH_NAME}.gch").exists():
            directory.mkdir(parents=True, exist_ok=True)
            header.write_text("".join(f"#include <{h}>\n" for h in PRECOMPILED_HEADERS))
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".gch.tmp")
            os.close(fd)
            try:
                subprocess.run(
                    [compiler, "-x", "c++-header", *flags, str(header), "-o", tmp], capture_output=True, check=True
                )
                os.replace(tmp, directory / f"{PCH_NAME}.gch")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except (OSError, subprocess.CalledProcessError):
        return flags
    return flags + [f"-include{header}"]  # one token: Brian checks each flag on its own


def _cython_works() -> bool:
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return shutil.which("gcc") is not None or shutil.which("cc") is not None
