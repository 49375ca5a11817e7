"""The Brian2 releases this package supports: the one place that knows (README, "Supported versions").

The package leans on Brian2 internals (the ``cpp_standalone`` templater and code objects of
:mod:`brian_segdend.codegen`, ``device.run(run_args=...)`` and the build's ``main_queue`` in
:mod:`brian_segdend.simulator`), so each supported release series is tested in CI (``.ci/run``) on
the Python it pairs with. The same code runs on all of them; :func:`check_versions` refuses the
others with a clear error when the package is imported (``brian_segdend/__init__.py`` imports this
module first).
"""

from __future__ import annotations

from importlib import metadata

from packaging.version import Version

__all__ = ["BRIAN2_SERIES", "SUPPORTED_BRIAN2", "check_versions"]

#: Supported brian2 release series -> the pairing that CI tests
SUPPORTED_BRIAN2 = {
    "2.9": "brian2 2.9.0 on Python 3.11 with numpy < 2.4",
    "2.10": "brian2 2.10.1 on Python 3.12 (the release brian2cuda 1.0b1 requires)",
    "2.11": "brian2 2.11.0 on Python 3.13",
}
#: Series whose releases fail with newer numpy -> the first numpy they fail with
NUMPY_BELOW = {"2.9": "2.4"}


def check_versions(brian2_version=None, numpy_version=None):
    """Raise ``RuntimeError`` unless brian2 (and numpy) are versions of :data:`SUPPORTED_BRIAN2`.

    Parameters
    ----------
    brian2_version, numpy_version : str, optional
        Versions to check (default: the installed ones, read from their metadata: brian2 2.9 cannot
        even be imported with numpy 2.4).

    Returns
    -------
    str
        The supported brian2 series, e.g. ``'2.11'``.
    """
    brian2_version = brian2_version or metadata.version("brian2")
    numpy_version = numpy_version or metadata.version("numpy")
    series = ".".join(str(part) for part in Version(brian2_version).release[:2])
    if series not in SUPPORTED_BRIAN2:
        tested = "; ".join(SUPPORTED_BRIAN2.values())
        raise RuntimeError(
            f"brian_segdend does not support the installed brian2 {brian2_version}. Supported (tested in CI): {tested}. "
            f"Install one of them, e.g. pip install 'brian2>=2.9,<2.12' (README, 'Supported versions')."
        )
    limit = NUMPY_BELOW.get(series)
    if limit is not None and Version(numpy_version) >= Version(limit):
        raise RuntimeError(
            f"brian2 {brian2_version} does not work with the installed numpy {numpy_version}: it needs "
            f"numpy < {limit}. Run pip install 'numpy<{limit}', or use a newer Python with a newer brian2 "
            f"(README, 'Supported versions')."
        )
    return series


#: The installed brian2's series, checked when the package is imported
BRIAN2_SERIES = check_versions()
