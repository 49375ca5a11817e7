"""Options, presets and bad input (spec §8)."""

import numpy as np
import pytest

from brian_segdend import FLAGS, ModelConfig
from brian_segdend.registry import list_models, load_model

pytestmark = pytest.mark.codegen_independent


def test_defaults_are_ref_s():
    cfg = ModelConfig()
    assert cfg.layer_sizes == (784, 500, 10)
    assert (cfg.conductances, cfg.broadcast, cfg.spiking_feedback, cfg.spiking_feedforward) == (True,) * 4
    assert cfg.weight_optimization and not cfg.sparse_feedback and cfg.random_phase_lengths
    assert cfg.spike_memory == 10 and cfg.forward_steps == cfg.target_steps == 50
    assert (cfg.window_steps, cfg.test_steps, cfg.test_window_steps) == (20, 250, 220)
    assert cfg.kernel == "truncated" and cfg.spike_counts == "poisson"
    assert cfg.learning_rates == (0.21, 0.21)
    assert len(FLAGS) == 11


def test_derived_constants_match_spec():
    cfg = ModelConfig()
    assert cfg.g_L == pytest.approx(0.1)
    assert cfg.k_B == pytest.approx(0.857142857)
    assert cfg.k_D == pytest.approx(0.857142857)
    assert cfg.replace(apical_conductance=True).k_B == pytest.approx(0.8)
    assert (cfg.P_hidden, cfg.P_output) == (pytest.approx(100), pytest.approx(500))
    half = cfg.replace(dt=0.5)
    assert half.lambda_step == pytest.approx(0.1) and half.P_hidden == pytest.approx(100)  # P before x dt
    kappa = cfg.kernel_values()
    np.testing.assert_allclose(
        kappa, [0.0269, 0.0436, 0.0533, 0.0581, 0.0597, 0.0591, 0.0571, 0.0543, 0.0510, 0.0475], atol=6e-5
    )
    assert sum(kappa) == pytest.approx(0.510, abs=1e-3)


@pytest.mark.parametrize(
    "changes, named",
    [
        (dict(n_hidden=(500,) * 7), "n_hidden"),
        (dict(n_hidden=(0,)), "n_hidden"),
        (dict(dt=0.0), "dt"),
        (dict(dt=-1.0), "dt"),
        (dict(lambda_max=-0.2), "lambda_max"),
        (dict(learning_rates=(-0.1,)), "learning_rates"),
        (dict(learning_rates=(0.1, 0.2, 0.3)), "learning_rates"),
        (dict(n_hidden=(5, 5), learning_rates=(0.1, 0.2)), "learning_rates"),
        (dict(feedback_learning_rates=(float("nan"),)), "feedback_learning_rates"),
        (dict(tau_s=10.0), "tau_s"),
        (dict(window_steps=60), "window_steps"),
        (dict(kernel="gaussian"), "kernel"),
        (dict(spike_counts="binomial"), "spike_counts"),
        (dict(conductances=1), "conductances"),
        (dict(spike_memory=0), "spike_memory"),
    ],
)
def test_bad_values_raise_naming_the_option(changes, named):
    with pytest.raises(ValueError, match=named):
        ModelConfig(**changes)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model option\(s\) \['sparse_feedbak'\].*sparse_feedback"):
        ModelConfig.from_dict({"sparse_feedbak": True})


def test_named_models_load_and_validate():
    models = list_models()
    for name in ("ref-s", "ref-s-2hidden", "ref-ns", "lange-base", "ref-s-sparse"):
        assert models[name].kind == "segdend"
    assert models["ref-s-2hidden"].config().layer_sizes == (784, 500, 100, 10)
    ns = models["ref-ns"].config()
    assert (ns.conductances, ns.spiking_feedforward, ns.forward_steps, ns.spike_memory) == (False, False, 2, 1)
    assert models["lange-base"].config().learning_rates == (0.21, 0.21)


def test_unknown_model_name_lists_choices():
    with pytest.raises(ValueError, match="unknown model 'ref-x'; valid names are: .*ref-s"):
        load_model("ref-x")


def test_own_model_folders_come_before_the_packaged_models(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text('kind = "segdend"\ndescription = "mine"\n[params]\nn_hidden = [30]\n')
    (tmp_path / "ref-s.toml").write_text('kind = "segdend"\ndescription = "my ref-s"\n[params]\nn_hidden = [40]\n')
    monkeypatch.setenv("BRIAN_SEGDEND_MODELS", str(tmp_path))
    models = list_models()
    assert models["mine"].config().n_hidden == (30,) and models["ref-s"].description == "my ref-s"
    assert models["bp-mlp"].kind == "bp-mlp"  # the packaged ones are still there
    (tmp_path / "bad.toml").write_text('kind = "fa"\n[params]\nhidden = [0]\n')
    with pytest.raises(ValueError, match=r"bad.toml': hidden entry=0 is invalid: must be a positive integer"):
        list_models()
    monkeypatch.setenv("BRIAN_SEGDEND_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere.*BRIAN_SEGDEND_MODELS"):
        list_models()


# ---------------------------------------------------------------- units at the API (spec §10.5)


def test_brian_quantities_are_accepted_and_stored_as_plain_numbers():
    import json

    from brian2 import Hz, ms

    cfg = ModelConfig(dt=1 * ms, lambda_max=200 * Hz, tau_s=3 * ms, tau_L=10 * ms, g_B=0.6 / ms, g_A=50 * Hz)
    assert cfg == ModelConfig()  # the same numbers: ms, per ms
    half = ModelConfig(dt=0.5 * ms, lambda_max=0.3 / ms, tau_L=12 * ms)
    assert (half.dt, half.lambda_max, half.tau_L) == (0.5, pytest.approx(0.3), pytest.approx(12.0))
    assert all(type(getattr(half, k)) is float for k in ("dt", "lambda_max", "tau_s", "tau_L", "g_B", "g_A"))
    assert ModelConfig.from_dict(json.loads(json.dumps(half.to_dict()))) == half  # plain data, JSON round trip
    assert half.lambda_step == pytest.approx(0.15)


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("dt", "1*mV", "a time"),
        ("dt", "1*Hz", "a time"),
        ("tau_s", "3*Hz", "a time"),
        ("tau_L", "10*mV", "a time"),
        ("lambda_max", "0.2*ms", "a rate"),
        ("g_B", "0.6*mV", "a rate"),
        ("g_A", "0.05*ms", "a rate"),
        ("E_E", "8*mV", "a plain number"),
        ("dt", "[1, 2]*ms", "a time"),
    ],
)
def test_quantities_of_the_wrong_dimension_raise_naming_the_value(option, value, expected):
    from brian2 import Hz, ms, mV  # noqa: F401  (used by eval)

    with pytest.raises(ValueError, match=rf"^{option}=.* is invalid: expected {expected}"):
        ModelConfig(**{option: eval(value)})


def test_P_uses_lambda_max_before_the_time_step():
    """Spec §8 (LANGE's mapping): P_hid = 20/lambda_max and P_out = 20/lambda_max^2 with lambda_max per ms,
    while the expected count per step is lambda_max * dt; the two differ only for dt != 1 ms."""
    from brian2 import Hz, ms

    cfg = ModelConfig(dt=0.25 * ms, lambda_max=400 * Hz)
    assert cfg.lambda_step == pytest.approx(0.1)
    assert cfg.P_hidden == pytest.approx(20 / 0.4) and cfg.P_output == pytest.approx(20 / 0.4**2)


# ---------------------------------------------------------------- REF options (spec §4, §5, §8)


def test_feedback_learning_without_a_rate_raises_as_ref_does():
    with pytest.raises(ValueError, match=r"feedback_learning_rates=\(0.0,\) is invalid: update_feedback_weights"):
        ModelConfig(update_feedback_weights=True)
    with pytest.raises(ValueError, match="feedback_learning_rates"):
        ModelConfig(n_hidden=(5, 5), update_feedback_weights=True, feedback_learning_rates=(0.0, 0.0))
    assert ModelConfig(n_hidden=(5, 5), update_feedback_weights=True, feedback_learning_rates=(0.0, 0.1))
    assert ModelConfig(n_hidden=(), update_feedback_weights=True)  # no feedback weights to learn


def test_ref_options_are_fields_off_by_default():
    cfg = ModelConfig()
    assert (cfg.backprop, cfg.random_plateau_times) == (False, False)
    assert {"backprop", "random_plateau_times"} <= set(cfg.to_dict())
    with pytest.raises(ValueError, match="backprop"):
        ModelConfig(backprop=1)
    with pytest.raises(ValueError, match="record_backprop_angle"):
        ModelConfig(record_backprop_angle="yes")


def test_random_plateau_times_need_room_before_the_end_of_each_phase():
    """The plateau window ends up to 5 steps before a phase's end (spec §4), so K + 5 steps must fit."""
    with pytest.raises(ValueError, match=r"window_steps=20 is invalid: random_plateau_times .* \(24 steps\)"):
        ModelConfig(random_plateau_times=True, forward_steps=24)


@pytest.mark.parametrize(
    "changes",
    [
        dict(backprop=True),
        dict(record_backprop_angle=True),
        dict(random_plateau_times=True, forward_steps=25, target_steps=25),
    ],
)
def test_ref_options_are_accepted(changes):
    assert ModelConfig(**changes).to_dict()[next(iter(changes))] is True


def test_symmetric_broadcast_feedback_with_several_hidden_layers_is_accepted():
    assert ModelConfig(n_hidden=(100, 50), symmetric_weights=True, broadcast=True).symmetric_weights


def test_architecture_key_of_older_runs_is_unchanged():
    """Checkpoints written before the REF options existed resume: their key left them out (value from main)."""
    from brian_segdend.training import architecture_key

    assert architecture_key(ModelConfig(), 1000) == "70e6fdf877784c2a"
    assert architecture_key(ModelConfig(n_hidden=(7,), spike_memory=4), 10) == "07047017bfc8d00a"
    assert architecture_key(ModelConfig(), 1000) != architecture_key(ModelConfig(), 999)


def test_configs_that_differ_in_run_time_values_share_a_build_key():
    """What a search samples (rates, time constants, phase lengths) reaches the network as variables:
    such configs share a build; flags, layer sizes and the chunk capacity do not."""
    from brian_segdend.training import architecture_key, build_key

    base = ModelConfig(n_hidden=(30,))
    sampled = base.replace(learning_rates=(0.1, 0.05), tau_s=2.0, tau_L=12.0, dt=0.5, forward_steps=20, g_A=0.08)
    assert build_key(sampled, 100) == build_key(base, 100)
    assert architecture_key(sampled, 100) != architecture_key(base, 100)  # checkpoints still tell them apart
    for other in (base.replace(n_hidden=(31,)), base.replace(conductances=False), base.replace(spike_memory=4)):
        assert build_key(other, 100) != build_key(base, 100)
    assert build_key(base, 99) != build_key(base, 100)


@pytest.mark.parametrize("kernel", ["truncated", "untruncated"])
def test_kernel_time_constants_reach_the_code_as_values(kernel):
    """Networks that differ only in tau_L, tau_s generate the same code (the kernel's values, or the
    untruncated kernel's decays and spike gains, are constants of each layer): one build serves both."""
    from brian_segdend import SegregatedDendriteNetwork

    def code(config):
        network = SegregatedDendriteNetwork(config, seed=0, capacity=2)
        return {
            obj.name: [str(getattr(obj, "equations", ""))]
            + [str(getattr(runner, "abstract_code", "")) for runner in obj.contained_objects]
            for obj in network.brian_network.objects
        }

    base = ModelConfig(n_hidden=(5,), n_inputs=6, kernel=kernel)
    assert code(base.replace(tau_s=2.0, tau_L=12.0)) == code(base)
