"""Recorders and figures (runtime numpy, small networks)."""

import numpy as np
import pytest
from brian2 import StateMonitor
from conftest import SMALL_OPTIONS

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, schedule
from brian_segdend.monitoring import record, traces
from brian_segdend.training import train

CFG = ModelConfig(**SMALL_OPTIONS, random_phase_lengths=False)


pytestmark = pytest.mark.usefixtures("device")


def test_recorder_records_only_recorded_runs_and_matches_a_state_monitor():
    net = SegregatedDendriteNetwork(CFG, seed=0, capacity=2)
    rec = record(net, "hidden1", ["d", "u"], neurons=[1, 4])
    full = StateMonitor(net.layer("hidden1").neurons, ["u"], record=True, **schedule.at("monitors"))
    net.brian_network.add(full)
    sim = Simulator(net)
    X = np.random.default_rng(0).uniform(0, 1, (2, 12))
    sim.train(X, np.array([1, 2]), seed=1)
    assert len(rec.t[:]) == 0
    sim.present(X[:1], np.array([3]), learn=True, seed=2, record=True)
    t, u = traces(rec, "u")
    assert u.shape == (2, 26)
    np.testing.assert_array_equal(u, full.u[[1, 4], -26:])


def test_recording_an_unknown_variable_names_the_valid_ones():
    net = SegregatedDendriteNetwork(CFG, seed=0, capacity=1)
    with pytest.raises(KeyError, match="no variable\\(s\\) \\['v'\\]; recordable: .*u_f"):
        record(net, "hidden1", ["v"])
    with pytest.raises(KeyError, match="no layer named 'hidden3'"):
        record(net, "hidden3", ["u"])


def test_segdend_plot_writes_all_figures(tmp_path):
    from brian_segdend import datasets
    from brian_segdend.plotting import plot_run

    X, y = datasets.load("mnist", "test")
    cfg = CFG.replace(n_inputs=784)
    train(cfg, data=(X[:30], y[:30], X[30:40], y[30:40]), epochs=2, out=tmp_path, progress=False, log=None)
    paths = plot_run(tmp_path)
    assert {p.name for p in paths} == {
        "learning_curve.png",
        "weight_statistics.png",
        "feedback_angle.png",
        "compartments.png",
        "output_rates.png",
        "raster.png",
    }
    assert all(p.stat().st_size > 5000 for p in paths)


@pytest.mark.codegen_independent
def test_every_figure_draws_on_the_given_axes_and_save_figure_writes_it(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from brian_segdend import plotting

    epoch = {"epoch": 1, "examples_seen": 10, "test_error": 50.0, "train_error": 60.0, "val_error": None}
    run = {
        "model": "m",
        "epochs": [
            {**epoch, "weight_mean": [0.1], "weight_std": [0.2], "feedback_angle": [80.0], "backprop_angle": [70.0]}
        ],
    }
    calls = [
        (plotting.plot_compartments, (np.arange(4.0), np.zeros(4), np.ones(4), np.zeros(4), 2, 2, 1)),
        (plotting.plot_output_rates, (np.zeros(10), np.ones(10), 3, 0.2)),
        (plotting.plot_raster, (np.array([1.0, 2.0]), np.array([0, 1]))),
        (plotting.plot_learning_curve, (run,)),
        (plotting.plot_weight_statistics, (run,)),
        (plotting.plot_feedback_angle, (run,)),
        (plotting.plot_backprop_angle, (run,)),
    ]
    fig, axs = plt.subplots(len(calls), figsize=(5, 12))
    for ax, (figure, args) in zip(axs, calls):
        assert figure(*args, ax=ax) is ax and ax.has_data(), figure.__name__
    path = plotting.save_figure(fig, tmp_path / "all.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob("*.tmp"))
    assert not plt.fignum_exists(fig.number)  # closed
