"""Choosing the Brian2 code-generation target or device (the only module that calls ``set_device``).

Library code never switches devices; scripts and the CLI call :func:`activate` once, before any
network is built.
"""
from __future__ import annotations

import os
import shutil

__all__ = ["DEVICES", "activate", "fastest_available"]

#: Names accepted by :func:`activate` (``runtime`` = cython if it compiles here, else numpy).
DEVICES = ("runtime", "numpy", "cython", "cpp_standalone", "cuda_standalone")

CUDA_HELP = (
    "cuda_standalone needs brian2cuda, which is not importable here. brian2cuda 1.0b1 requires "
    "Python >= 3.12 and brian2 == 2.10.1 and a CUDA toolkit: in a fresh Python 3.12 environment run "
    "`pip install brian2cuda==1.0b1 'brian2==2.10.1' -e .` (see README, 'Run on a GPU')."
)


def fastest_available() -> str:
    """``cpp_standalone`` where a C++ compiler exists, else ``runtime``."""
    return "cpp_standalone" if shutil.which("g++") or shutil.which("c++") else "runtime"


def activate(name="auto", build_directory=None, threads=0, compiler_flags=None):
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
            import brian2cuda  # noqa: F401
        except ImportError as exc:
            raise RuntimeError(CUDA_HELP) from exc
    prefs.devices.cpp_standalone.openmp_threads = int(threads)
    # Brian's default `make -j` starts every compiler at once (~100 MB each), which can exhaust the
    # memory of a small machine; one job per core compiles as fast.
    prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
    kwargs = {"build_on_run": False}
    if build_directory is not None:
        kwargs["directory"] = str(build_directory)
    set_device(name, **kwargs)
    return name


def _cython_works() -> bool:
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return shutil.which("gcc") is not None or shutil.which("cc") is not None
