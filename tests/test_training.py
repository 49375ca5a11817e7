"""Training loop: reproducibility, checkpoints, resume, errors (runtime numpy, tiny synthetic data)."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from brian_segdend import ModelConfig
from brian_segdend.results import CheckpointError
from brian_segdend.training import evaluate, load_network, train

CFG = ModelConfig(
    n_inputs=16,
    n_hidden=(12,),
    forward_steps=12,
    target_steps=10,
    window_steps=4,
    test_steps=15,
    test_window_steps=6,
    spike_memory=4,
)


pytestmark = pytest.mark.usefixtures("device")


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (60, 16))
    y = rng.integers(0, 10, 60)
    return X[:40], y[:40], X[40:], y[40:]


def weights_of(record):
    return record["simulator"].get_weights()


def test_same_seed_same_result_and_resume_is_bit_identical(tmp_path):
    full = train(CFG, data=data(), epochs=2, seed=3, chunk_size=15, out=tmp_path / "full", progress=False, log=None)
    again = train(CFG, data=data(), epochs=2, seed=3, chunk_size=15, out=tmp_path / "again", progress=False, log=None)
    for a, b in zip(weights_of(full)["W"], weights_of(again)["W"]):
        np.testing.assert_array_equal(a, b)
    # a run "killed" after one epoch, then resumed, ends with the same weights
    train(CFG, data=data(), epochs=1, seed=3, chunk_size=15, out=tmp_path / "killed", progress=False, log=None)
    resumed = train(
        CFG,
        data=data(),
        epochs=2,
        seed=3,
        chunk_size=15,
        out=tmp_path / "killed",
        resume=True,
        progress=False,
        log=None,
    )
    for a, b in zip(weights_of(full)["W"], weights_of(resumed)["W"]):
        np.testing.assert_array_equal(a, b)
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert [e["epoch"] for e in results["epochs"]] == [1, 2]
    assert results["seed"] == 3 and "brian2" in results["versions"]
    assert [e["precision"] for e in results["epochs"]] == ["double", "double"]  # devices.activate's default
    assert (tmp_path / "full" / "results.csv").read_text().count("\n") == 3
    config, _ = load_network(tmp_path / "full" / "network.npz")
    assert config.n_hidden == (12,)
    with pytest.raises(ValueError, match="network expects 16 inputs; mnist images have 784"):
        evaluate(tmp_path / "full", "mnist")


def test_different_seed_differs(tmp_path):
    a = train(CFG, data=data(), epochs=1, seed=1, progress=False, log=None)
    b = train(CFG, data=data(), epochs=1, seed=2, progress=False, log=None)
    assert not np.array_equal(weights_of(a)["W"][0], weights_of(b)["W"][0])


def test_checkpoint_of_other_architecture_is_refused(tmp_path):
    train(CFG, data=data(), epochs=1, seed=0, out=tmp_path / "run", progress=False, log=None)
    with pytest.raises(ValueError, match="another architecture"):
        train(
            CFG.replace(n_hidden=(7,)),
            data=data(),
            epochs=2,
            seed=0,
            out=tmp_path / "run",
            resume=True,
            progress=False,
            log=None,
        )


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    train(CFG, data=data(), epochs=1, seed=0, out=tmp_path / "run", progress=False, log=None)
    path = tmp_path / "run" / "checkpoint.npz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="checkpoint.npz"):
        train(CFG, data=data(), epochs=2, seed=0, out=tmp_path / "run", resume=True, progress=False, log=None)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(CFG, data=data(), epochs=2, seed=0, out=tmp_path / "none", resume=True, progress=False, log=None)


def test_bad_inputs(tmp_path):
    from brian_segdend import SegregatedDendriteNetwork, Simulator

    sim = Simulator(SegregatedDendriteNetwork(CFG, seed=0, capacity=4))
    X, y, _, _ = data()
    with pytest.raises(ValueError, match=r"images have shape \(4, 15\); expected \(n, 16\)"):
        sim.present(X[:4, :15], y[:4], learn=True)
    with pytest.raises(ValueError, match="labels must be classes 0..9"):
        sim.present(X[:4], np.array([0, 1, 2, 12]), learn=True)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sim.present(X[:4] * 3, y[:4], learn=True)
    with pytest.raises(ValueError, match="epochs=0"):
        train(CFG, data=data(), epochs=0, progress=False)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "brian_segdend", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_lists_models_and_rejects_unknown_names():
    out = run_cli("models")
    assert out.returncode == 0 and "ref-s" in out.stdout and "bp-mlp" in out.stdout
    bad = run_cli("train", "--model", "nope")
    assert bad.returncode == 2 and "valid names are" in bad.stderr
    bad = run_cli("train", "--dataset", "svhn")
    assert bad.returncode == 2 and "mnist" in bad.stderr
    bad = run_cli("train", "--device", "gpu")
    assert bad.returncode == 2 and "cpp_standalone" in bad.stderr


@pytest.mark.long
@pytest.mark.standalone_only
def test_resume_is_bit_identical_under_cpp_standalone(device, tmp_path):
    """Same as above with the binary rerun per chunk (three builds: ~3 minutes, so ``-m long``)."""
    from brian2 import device as active

    from brian_segdend import devices

    def run(out, epochs, resume=False):
        active.reinit()  # a fresh build per training run
        devices.activate("cpp_standalone", build_directory=tmp_path / "build")
        record = train(
            CFG,
            data=data(),
            epochs=epochs,
            seed=3,
            chunk_size=15,
            out=tmp_path / out,
            resume=resume,
            progress=False,
            log=None,
            build_directory=tmp_path / "build",
        )
        return weights_of(record)

    full = run("full", 2)
    run("killed", 1)
    resumed = run("killed", 2, resume=True)
    for key in ("W", "b", "Y"):
        for a, b in zip(full[key], resumed[key]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.standalone_compatible
def test_test_runs_split_over_processes_give_the_serial_results(device):
    """``workers``: the chunks of a test run go to forked processes; read-outs and the state left
    behind are exactly those of the serial run (each chunk is seeded ``seed + chunk`` either way)."""
    from brian_segdend import SegregatedDendriteNetwork, Simulator

    sim = Simulator(SegregatedDendriteNetwork(CFG, seed=0, capacity=4))
    X, y, Xt, yt = data()
    sim.train(X[:8], y[:8], seed=1)
    serial = sim.present(Xt[:10], yt[:10], learn=False, seed=5)  # 3 chunks
    state = sim.get_state()
    parallel = sim.present(Xt[:10], yt[:10], learn=False, seed=5, workers=2)
    np.testing.assert_array_equal(parallel, serial)
    assert not np.array_equal(serial[:4], serial[4:8])  # different examples, different read-outs
    for key, value in sim.get_state().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    with pytest.raises(ValueError, match="workers=0"):
        sim.test(Xt[:4], yt[:4], workers=0)
    if device == "cpp_standalone":  # the files Brian wrote for the runs' run_args are gone after present()
        from brian2 import device as active

        assert not glob.glob(os.path.join(active.project_dir, "static_arrays", "init_*"))


def test_quick_tests_follow_refs_schedule_and_resume(tmp_path):
    """Spec §8: REF tests 100 images every 1000 examples (here 5 every 10), not after an epoch's last
    example; each test zeroes the state (spec §2), so training continues differently than without."""
    kwargs = dict(data=data(), seed=3, chunk_size=10, progress=False, log=None, quick_test_size=5)
    full = train(CFG, epochs=2, out=tmp_path / "full", quick_test_every=10, **kwargs)
    epochs = json.loads((tmp_path / "full" / "results.json").read_text())["epochs"]
    for epoch, entry in enumerate(epochs):
        assert [n for n, _ in entry["quick_test"]] == [40 * epoch + 10, 40 * epoch + 20, 40 * epoch + 30]
        assert all(err in (0, 20, 40, 60, 80, 100) for _, err in entry["quick_test"])  # 5 images each
    from brian_segdend.plotting import plot_learning_curve

    lines = {line.get_label(): line for line in plot_learning_curve(tmp_path / "full").get_lines()}
    assert list(lines["custom quick test"].get_xdata()) == [10, 20, 30, 50, 60, 70]
    train(CFG, epochs=1, out=tmp_path / "killed", quick_test_every=10, **kwargs)
    resumed = train(CFG, epochs=2, out=tmp_path / "killed", quick_test_every=10, resume=True, **kwargs)
    again = json.loads((tmp_path / "killed" / "results.json").read_text())["epochs"]
    assert [e["quick_test"] for e in again] == [e["quick_test"] for e in epochs]
    np.testing.assert_array_equal(weights_of(resumed)["W"][0], weights_of(full)["W"][0])
    plain = train(CFG, epochs=2, **kwargs)
    assert "quick_test" not in plain and not np.array_equal(weights_of(plain)["W"][0], weights_of(full)["W"][0])
    with pytest.raises(ValueError, match="quick_test_every=15 must be a positive multiple of the chunk size"):
        train(CFG, epochs=1, quick_test_every=15, **kwargs)


def test_backprop_angle_per_epoch_in_the_results_and_its_figure(tmp_path):
    """REF's diagnostic: the epoch record holds each hidden layer's mean angle between its update and the
    backprop update: 0 when it learns by backprop, clearly above 0 when it learns from plateaus."""
    kwargs = dict(data=data(), seed=3, chunk_size=20, progress=False, log=None)
    plateau = train(CFG.replace(record_backprop_angle=True, n_hidden=(12, 8)), epochs=1, out=tmp_path / "p", **kwargs)
    backprop = train(CFG.replace(record_backprop_angle=True, backprop=True), epochs=1, **kwargs)
    assert len(plateau["backprop_angle"]) == 2 and all(5 < a < 175 for a in plateau["backprop_angle"])
    assert backprop["backprop_angle"][0] < 1e-3
    assert "backprop_angle" not in train(CFG, epochs=1, **kwargs)
    from brian_segdend.plotting import plot_backprop_angle

    lines = plot_backprop_angle(tmp_path / "p").get_lines()
    assert [line.get_label() for line in lines[:2]] == ["hidden 1 vs backprop", "hidden 2 vs backprop"]
    assert list(lines[0].get_ydata()) == [plateau["backprop_angle"][0]]
