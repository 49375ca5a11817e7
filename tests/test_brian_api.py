"""The model as ordinary Brian2 objects: schedule, monitors, user inputs, user networks, devices."""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, prefs
from conftest import SMALL_OPTIONS

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, devices, schedule

SMALL = ModelConfig(**SMALL_OPTIONS)


def test_schedule_follows_the_reference_order(device):
    """Spec §3 / §10.2: layer by layer within a step; feedback is read before its source updates."""
    net = SegregatedDendriteNetwork(SMALL.replace(n_hidden=(7, 5), broadcast=False), seed=0, capacity=1)
    entries = [(e.name, e.when, e.order) for e in net.brian_network.scheduling_summary().entries]
    position = {name: k for k, (name, _, _) in enumerate(entries)}
    sequence = [
        "input_shift",
        "input_draw",
        "input_neurons_spike_thresholder",
        "hidden1_prepare",
        "hidden1_shift",
        "hidden1_ff_pre",
        "hidden1_soma",
        "hidden1_draw",
        "hidden2_prepare",
        "hidden2_ff_pre",
        "hidden2_soma",
        "hidden2_draw",
        "hidden1_fb_pre",
        "output_shift",
        "output_ff_pre",
        "output_soma",
        "output_draw",
        "hidden2_fb_pre",
        "hidden1_windows",
        "hidden1_ff_learn",
        "controller_advance",
    ]
    assert [position[n] for n in sequence] == sorted(position[n] for n in sequence)


def test_monitor_compartments_without_conductances(device):
    """Spec §3: with conductances off u = k_B d, and the apical potential never reaches the soma."""
    cfg = SMALL.replace(conductances=False)
    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 1, (2, 12)), np.array([3, 4])
    traces = []
    for feedback_scale in (1.0, 3.0):
        net = SegregatedDendriteNetwork(cfg, seed=1, capacity=2, replay=True, replay_steps=60)
        hidden = net.layer("hidden1").neurons
        mon = StateMonitor(hidden, ["d", "a", "u"], record=True, **schedule.at("monitors"))
        net.brian_network.add(mon)
        sim = Simulator(net)
        weights = sim.get_weights()
        weights["Y"] = [feedback_scale * w for w in weights["Y"]]
        sim.set_weights(weights)
        counts = {l: np.random.default_rng(l).poisson(0.2, (60, n)) for l, n in enumerate(cfg.layer_sizes)}
        sim.present(X, y, learn=True, replay=counts)
        np.testing.assert_allclose(mon.u[:], cfg.k_B * mon.d[:], rtol=1e-12)
        traces.append((mon.u[:].copy(), mon.a[:].copy()))
    assert not np.allclose(traces[0][1], traces[1][1])  # the apical potentials differ ...
    np.testing.assert_allclose(traces[0][0][:, :14], traces[1][0][:, :14])  # ... the first phase's somata do not


def test_apical_conductance_couples_apical_input_into_the_soma(device):
    cfg = SMALL.replace(apical_conductance=True)
    us = []
    for feedback_scale in (1.0, 3.0):
        net = SegregatedDendriteNetwork(cfg, seed=1, capacity=1, replay=True, replay_steps=30)
        mon = StateMonitor(net.layer("hidden1").neurons, "u", record=True, **schedule.at("monitors"))
        net.brian_network.add(mon)
        sim = Simulator(net)
        w = sim.get_weights()
        sim.set_weights({**w, "Y": [feedback_scale * y for y in w["Y"]]})
        counts = {l: np.random.default_rng(l).poisson(0.2, (30, n)) for l, n in enumerate(cfg.layer_sizes)}
        sim.present(np.full((1, 12), 0.5), np.array([1]), learn=True, replay=counts)
        us.append(mon.u[:].copy())
    assert np.abs(us[0] - us[1]).max() > 1e-3


def test_untruncated_kernel_doubles_the_input_gain(device):
    """Spec §2/§10.1: a constant input drives d_ff to ~0.997 x rate x W (untruncated) vs 0.510 x (truncated)."""
    gains = {}
    for kernel in ("truncated", "untruncated"):
        cfg = SMALL.replace(
            kernel=kernel, spike_memory=10, forward_steps=80, target_steps=20, window_steps=20, spiking_feedback=False
        )
        net = SegregatedDendriteNetwork(cfg, seed=1, capacity=1, replay=True, replay_steps=100)
        mon = StateMonitor(net.layer("hidden1").neurons, "d", record=True, **schedule.at("monitors"))
        net.brian_network.add(mon)
        sim = Simulator(net)
        ones = {l: np.ones((100, n), int) for l, n in enumerate(cfg.layer_sizes)}
        W, b = sim.get_weights()["W"][0], sim.get_weights()["b"][0]
        sim.present(np.full((1, 12), 0.5), np.array([1]), learn=True, replay=ones)
        gains[kernel] = (mon.d[:, 60] - b) / W.sum(axis=1)
    np.testing.assert_allclose(gains["truncated"], sum(SMALL.replace(spike_memory=10).kernel_values()), rtol=1e-9)
    # 61 spikes so far (steps 0..60): the untruncated sum over 61 lags, close to its limit 0.99723
    np.testing.assert_allclose(gains["untruncated"], sum(SMALL.replace(spike_memory=61).kernel_values()), rtol=1e-9)
    assert gains["untruncated"][0] / gains["truncated"][0] > 1.9


def user_input_network():
    """A user's Poisson population drives hidden1's free basal slot d_ext (summed synapses)."""
    net = SegregatedDendriteNetwork(SMALL, seed=2, capacity=2)
    hidden = net.layer("hidden1").neurons
    drive = NeuronGroup(3, "rate : 1", name="user_drive")
    drive.rate = 2.0
    syn = Synapses(drive, hidden, "w_user : 1\nd_ext_post = w_user*rate_pre : 1 (summed)", name="user_syn")
    syn.connect()
    syn.w_user = 0.25  # d_ext = 3 x 0.25 x 2 = 1.5
    mon = StateMonitor(hidden, ["d", "d_ff", "b", "d_ext"], record=[0, 3], **schedule.at("monitors"))
    spikes = SpikeMonitor(hidden)
    user_net = Network(net.objects, drive, syn, mon, spikes)
    return net, user_net, mon, spikes


@pytest.mark.standalone_compatible
def test_user_population_drives_basal_input_and_model_runs_in_user_network(device):
    net, user_net, mon, spikes = user_input_network()
    X = np.random.default_rng(0).uniform(0, 1, (2, 12))
    duration = net.load_examples(X, np.array([1, 2]), learn=False)
    user_net.run(duration, namespace={})
    if device == "cpp_standalone":
        from brian2 import device as active

        active.build(direct_call=False, **active.build_options)
    np.testing.assert_allclose(mon.d_ext[:], 1.5)
    np.testing.assert_allclose(mon.d[:], mon.d_ff[:] + mon.b[:] + 1.5, rtol=1e-12)
    assert len(spikes.i[:]) > 0
    assert net.example_readout.u_f[:].shape == (2 * 10,)  # two test read-outs of 10 units
    assert mon.t[:][-1] < duration  # the model stopped the run itself


def test_device_choice_errors():
    with pytest.raises(ValueError, match="unknown device 'gpu'; choose one of .*cpp_standalone"):
        devices.activate("gpu")
    try:
        import brian2cuda  # noqa: F401 (CI's Python 3.12 environment has it)
    except ImportError:
        with pytest.raises(RuntimeError, match="pip install brian2cuda"):
            devices.activate("cuda_standalone")
    else:
        with pytest.raises(NotImplementedError, match="brian2cuda 1.0b1 is installed, but .* stop_run"):
            devices.activate("cuda_standalone")


@pytest.mark.standalone_only
def test_standalone_builds_one_compiler_job_per_core(device, tmp_path):
    """Brian's default ``make -j`` starts every compiler at once; ours is bounded by the cores."""
    import os

    assert prefs.devices.cpp_standalone.extra_make_args_unix == [f"-j{os.cpu_count()}"]
    devices.activate("cpp_standalone", build_directory=tmp_path, make_jobs=1)  # parallel evaluations
    assert prefs.devices.cpp_standalone.extra_make_args_unix == ["-j1"]


@pytest.mark.parametrize("device", ["numpy"], indirect=True)  # restores the compiler flags afterwards
def test_standalone_compiles_with_a_precompiled_standard_header(device, tmp_path, monkeypatch):
    """activate('cpp_standalone') adds one ``-include`` of a header precompiled for exactly its flags
    (once, however often it is called); another compiler in ``$CXX`` gets the flags unchanged."""
    from pathlib import Path

    monkeypatch.setenv("BRIAN_SEGDEND_CACHE", str(tmp_path / "cache"))
    base = list(prefs.codegen.cpp.extra_compile_args_gcc)
    for _ in range(2):
        devices.activate("cpp_standalone", build_directory=tmp_path / "build")
    flags = prefs.codegen.cpp.extra_compile_args_gcc
    includes = [f for f in flags if f.startswith("-include")]
    assert len(includes) == 1 and flags[:-1] == [f for f in base if not f.startswith("-include")]
    header = Path(includes[0][len("-include") :])
    assert header.parent.parent == tmp_path / "cache" / "pch"
    assert "#include <random>" in header.read_text()
    assert Path(f"{header}.gch").stat().st_size > 0
    monkeypatch.setenv("CXX", "clang++")
    assert devices.with_precompiled_header(flags) == flags[:-1]


@pytest.mark.standalone_only
def test_a_temporary_project_directory_goes_with_its_simulator(device):
    """Without ``build_directory`` a simulator compiles into a temporary folder and removes it when it
    is collected, not in a process forked from it (a test split), where the folder is still in use."""
    import gc
    import os

    from brian2 import device as brian_device

    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 1, (4, SMALL.n_inputs)), rng.integers(0, 10, 4)
    sim = Simulator(SegregatedDendriteNetwork(SMALL, seed=0, capacity=2))
    sim.error(X, y, seed=1, workers=2)  # two chunks, one per forked process
    directory = brian_device.project_dir
    assert os.path.basename(directory).startswith("brian_segdend_") and os.path.isdir(directory)
    del sim
    gc.collect()
    assert not os.path.exists(directory)


@pytest.mark.standalone_only
def test_standalone_binary_holds_the_weights_once(device):
    """The synapses hold weights and the two index arrays, no delays per synapse (one scalar zero per
    pathway); the build keeps no copy of the weights set before it (each run sets them through
    ``run_args``) and connects all-to-all without arrays of indices."""
    from brian2 import device as brian_device

    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 1, (4, SMALL.n_inputs)), rng.integers(0, 10, 4)
    model = SegregatedDendriteNetwork(SMALL, seed=0, capacity=4)
    ff = model.layers[1].ff
    delays = [var for name, var in ff.variables.items() if name.startswith("delay")]  # none, or references
    assert all(var.scalar for var in delays + [path.variables["delay"] for path in (ff.pre, ff.learn)])
    sim = Simulator(model)
    sim.error(X, y, seed=1)  # a test run: the weights the binary ends with are those it was given
    assert len(ff) == SMALL.n_inputs * SMALL.n_hidden[0]
    assert not any(ff.name in name or model.layers[1].fb.name in name for name in brian_device.static_arrays)
    assert np.array_equal(ff.i[:], np.repeat(np.arange(SMALL.n_inputs), SMALL.n_hidden[0]))
    assert np.array_equal(np.asarray(ff.w[:]), model.initial_value(ff, "w"))
