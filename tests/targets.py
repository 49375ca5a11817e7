"""A ``device`` fixture: one test body under runtime numpy and under ``cpp_standalone`` (param: the name).

Import it as ``from targets import device_fixture  # noqa: F401``; the fixture is called ``device``.
"""

import pytest


@pytest.fixture(name="device", params=["numpy", "cpp_standalone"])
def device_fixture(request, tmp_path):
    """Activate ``request.param`` for the test (standalone: a fresh project in ``tmp_path``), then reset."""
    from brian2 import prefs, set_device
    from brian2.devices.device import reinit_and_delete

    from brian_segdend import devices

    if request.param == "numpy":
        devices.activate("numpy")
        yield request.param
        prefs.codegen.target = "auto"
        return
    devices.activate("cpp_standalone", build_directory=tmp_path / "build", make_jobs=2)
    try:
        yield request.param
    finally:
        reinit_and_delete()
        set_device("runtime")
