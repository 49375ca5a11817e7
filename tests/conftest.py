"""Device fixtures in Brian2's style: one test body, several code-generation targets."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))          # tests/oracle.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("BRIAN_SEGDEND_DATA", os.path.join(ROOT, "..", "shared", "datasets"))


def pytest_configure(config):
    from brian2 import prefs
    prefs.logging.console_log_level = "ERROR"


@pytest.fixture(params=["numpy", "cpp_standalone"])
def device_name(request, tmp_path):
    """Activate a Brian device for one test; reset it afterwards."""
    from brian2 import device, prefs, set_device
    from brian2.devices.device import reinit_and_delete
    if request.param == "cpp_standalone":
        set_device("cpp_standalone", build_on_run=False, directory=str(tmp_path / "build"))
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]
        prefs.codegen.cpp.extra_compile_args_gcc = ["-O1", "-w"]
    else:
        prefs.codegen.target = request.param
    yield request.param
    if request.param == "cpp_standalone":
        reinit_and_delete()
        set_device("runtime")
        prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only",
                                                    "-march=native", "-std=c++11"]
    else:
        device.reinit()
    prefs.codegen.target = "auto"
