"""Devices in Brian2's style: one test body, several code-generation targets, chosen by markers.

A test that takes the ``device`` fixture runs under runtime ``numpy``; marked
``standalone_compatible`` it runs under ``cpp_standalone`` too, marked ``standalone_only`` under
``cpp_standalone`` alone (or parametrise ``device`` yourself, e.g. ``['cython']``). The fixture
activates the device, yields its name and afterwards restores Brian's device and preferences, so no
test leaks its device into the next. ``codegen_independent`` marks tests that simulate nothing;
``long`` tests are deselected by default (``-m long`` runs them).
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("BRIAN_SEGDEND_DATA", os.path.join(ROOT, "..", "shared", "datasets"))
#: a network small enough for step-by-step tests: 12-7-10, short phases, N_mem = 4
SMALL_OPTIONS = dict(
    n_inputs=12,
    n_hidden=(7,),
    forward_steps=14,
    target_steps=12,
    window_steps=5,
    test_steps=20,
    test_window_steps=8,
    spike_memory=4,
)


def pytest_configure(config):
    from brian2 import prefs

    prefs.logging.console_log_level = "ERROR"


def pytest_generate_tests(metafunc):
    if "device" not in metafunc.fixturenames:
        return
    if any("device" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test chose its devices itself
    if metafunc.definition.get_closest_marker("standalone_only"):
        names = ["cpp_standalone"]
    elif metafunc.definition.get_closest_marker("standalone_compatible"):
        names = ["numpy", "cpp_standalone"]
    else:
        names = ["numpy"]
    metafunc.parametrize("device", names, indirect=True)


@pytest.fixture
def device(request, tmp_path):
    """Activate the test's device (a build directory in ``tmp_path`` for standalone); restore after."""
    from brian2 import prefs, set_device
    from brian2.devices.device import reinit_and_delete

    from brian_segdend import devices

    name = request.param
    prefs._backup()
    devices.activate(name, build_directory=tmp_path / "build")
    try:
        yield name
    finally:
        reinit_and_delete()
        set_device("runtime")
        prefs._restore()
