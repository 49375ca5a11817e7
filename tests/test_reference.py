"""Seeded ``cpp_standalone`` trainings give exactly the weights stored in ``tests/data/`` (bit for bit).

The reference files were written by ``python tests/test_reference.py --write`` before the
restructuring of issue 15 (equations, schedule, topology and model interface moved, behaviour
unchanged), so any change of the generated code that alters a single bit of the trained weights fails
here. Each case trains 200 MNIST images in 2 chunks of 100 (chunk carry-over of weights and state),
through :func:`brian_segdend.training.train` (example order, phase lengths and spike seeds).

The cases compile with Brian's default flags without ``-march=native`` (:data:`PORTABLE_FLAGS`): with
it, the machine code (and the last bit of the weights) depends on the CPU the tests run on (the
references written on one machine differed by 1e-15 on the next), so a reference is exact for one
compiler version on every x86-64 CPU. Regenerate it (``--write``) only for a change of the code that
is meant to alter the weights, or another compiler, and say so in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from brian_segdend import ModelConfig, datasets
from brian_segdend.registry import load_model
from brian_segdend.training import train

DATA = Path(__file__).resolve().parent / "data"
CASES = {
    # REF-S (spiking, Poisson counts, truncated kernel, random phase lengths), small hidden layer
    "ref-s": ModelConfig(n_hidden=(20,)),
    # REF-NS rate mode, two hidden layers without broadcast, feedback learning with feedback bias
    "rates": load_model("ref-ns")
    .config()
    .replace(
        n_hidden=(20, 10),
        broadcast=False,
        update_feedback_weights=True,
        feedback_learning_rates=(0.05,),
        feedback_bias=True,
    ),
}


#: Brian's default C++ flags without ``-march=native``
PORTABLE_FLAGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-std=c++11"]


def activate_portable(build_directory):
    """A fresh ``cpp_standalone`` device compiling with :data:`PORTABLE_FLAGS`."""
    from brian2 import device

    from brian_segdend import devices

    device.reinit()
    devices.activate("cpp_standalone", build_directory=build_directory, compiler_flags=PORTABLE_FLAGS)


def trained_weights(config, build_directory):
    """Weights after one seeded epoch of 200 MNIST training images in 2 chunks (active device)."""
    X, y = datasets.load("mnist", "train")
    X_test, y_test = datasets.load("mnist", "test")
    record = train(
        config,
        data=(X[:200], y[:200], X_test[:10], y_test[:10]),
        epochs=1,
        seed=0,
        chunk_size=100,
        progress=False,
        log=None,
        build_directory=build_directory,
    )
    weights = record["simulator"].get_weights()
    return {f"{key}_{k}": a for key in ("W", "b", "Y", "c") for k, a in enumerate(weights[key])}


def reference_path(case):
    return DATA / f"reference_{case}.npz"


@pytest.mark.standalone_only
@pytest.mark.parametrize("case", sorted(CASES))
def test_seeded_standalone_training_reproduces_the_reference_weights(case, device, tmp_path):
    reference = np.load(reference_path(case))
    activate_portable(tmp_path / "build")
    weights = trained_weights(CASES[case], tmp_path / "build")
    assert sorted(weights) == sorted(reference.files)
    for key in reference.files:
        np.testing.assert_array_equal(weights[key], reference[key], err_msg=key)


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    DATA.mkdir(exist_ok=True)
    for case, config in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            activate_portable(tmp)
            weights = trained_weights(config, tmp)
        np.savez(reference_path(case), **weights)
        print(reference_path(case), sum(a.nbytes for a in weights.values()), "bytes")
