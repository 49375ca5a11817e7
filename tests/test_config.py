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


def test_unsupported_combination_is_explained():
    with pytest.raises(ValueError, match="broadcast=False or a single hidden layer"):
        ModelConfig(n_hidden=(50, 20), symmetric_weights=True, broadcast=True)


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
