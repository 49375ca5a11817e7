"""Device fixtures in Brian2's style: one test body, several code-generation targets."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/oracle.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("BRIAN_SEGDEND_DATA", os.path.join(ROOT, "..", "shared", "datasets"))


def pytest_configure(config):
    from brian2 import prefs

    prefs.logging.console_log_level = "ERROR"


@pytest.fixture
def numpy_target():
    """Run the test's simulations with Brian's runtime numpy target."""
    from brian2 import prefs

    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = "auto"
