"""The command line: every bad option stops before anything is built, --set, --version, --help examples."""

import re
import shlex
import subprocess
import sys

import pytest

import brian_segdend
from brian_segdend import cli, devices, registry
from brian_segdend.config import parse_setting
from brian_segdend.study import plans


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory: builds (``builds/``) and the precompiled header (``pch``) would go here."""
    path = tmp_path / "cache"
    monkeypatch.setenv("BRIAN_SEGDEND_CACHE", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def built(cache):
    return sorted(p.name for p in cache.glob("*") if p.name.startswith(("builds", "pch"))) if cache.exists() else []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "-1"], "argument --epochs: must be an integer >= 1, got '-1'"),
        (["--n-train", "-5"], "argument --n-train: must be an integer >= 0, got '-5'"),
        (["--n-test", "ten"], "argument --n-test: must be an integer >= 0, got 'ten'"),
        (["--chunk-size", "0"], "argument --chunk-size: must be an integer >= 1, got '0'"),
        (["--data-dir", "/nonexistent"], "argument --data-dir: directory '/nonexistent' does not exist"),
        (["--val-fraction", "1"], "argument --val-fraction: must be a number in [0, 1), got '1'"),
        (["--seed", "-2"], "argument --seed: must be an integer >= 0, got '-2'"),
        (["--threads", "-1"], "argument --threads: must be an integer >= 0, got '-1'"),
        (["--quick-test", "0"], "argument --quick-test: must be an integer >= 1, got '0'"),
        (["--test-workers", "0"], "argument --test-workers: must be an integer >= 1, got '0'"),
        (["--precision", "half"], "argument --precision: invalid choice: 'half'"),
        (["--dataset", "svhn"], "argument --dataset: invalid choice: 'svhn'"),
    ],
)
def test_bad_option_stops_before_building(cache, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert built(cache) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "n_hidden"], "bad --set 'n_hidden'; expected KEY=VALUE, e.g. n_hidden=100"),
        (["--set", "hiden=[3]"], "unknown key 'hiden' in --set 'hiden=[3]'; valid keys are: n_inputs, n_hidden"),
        (["--set", "n_hidden=[0]"], "model 'ref-s' with --set n_hidden=[0]: n_hidden=(0,) is invalid"),
        (["--set", "kernel=wide"], "kernel='wide' is invalid: choose one of ('truncated', 'untruncated')"),
        (
            ["--model", "bp-mlp", "--set", "n_hidden=[3]"],
            "unknown key 'n_hidden' in --set 'n_hidden=[3]'; valid keys are: activation, batch_size,",
        ),
        (["--model", "nope"], "unknown model 'nope'; valid names are: "),
        (["--model", "missing.toml"], "model file 'missing.toml' does not exist"),
        (["--resume", "--out", "run"], "--resume: no checkpoint at 'run/checkpoint.npz'"),
        (["--quick-test", "1500"], "--quick-test 1500 must be a multiple of --chunk-size 1000"),
        (["--set", "dt=2"], "dt=2 is invalid: the time step must satisfy 0 < dt <= 1 (ms)"),
        (["--set", "update_feedback_weights=true"], "feedback_learning_rates=(0.0,) is invalid"),
    ],
)
def test_bad_model_settings_stop_before_building(cache, capsys, args, message):
    assert cli.main(["train", *args]) == 2
    assert message in capsys.readouterr().err
    assert built(cache) == []


def test_missing_data_without_download_lists_the_files(cache, tmp_path, capsys):
    assert cli.main(["train", "--no-download", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "dataset 'mnist' not found in" in err and "downloading is switched off (--no-download)" in err
    assert "MNIST/raw/train-images-idx3-ubyte" in err and "MNIST/raw/t10k-labels-idx1-ubyte" in err
    assert f"Put them into {tmp_path}, or pass --data-dir" in err
    assert built(cache) == []


def test_console_script_exits_non_zero_without_building(tmp_path):
    env = {"BRIAN_SEGDEND_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "brian_segdend", "train", "--n-train", "-5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 2 and "--n-train: must be an integer >= 0, got '-5'" in out.stderr
    assert "negative dimensions" not in out.stderr and built(tmp_path / "cache") == []


def test_shared_build_directories_are_held_exclusively(cache):
    with devices.shared_build("abc") as first:
        with devices.shared_build("abc") as second:
            assert first != second and first.parent == second.parent == cache / "builds" / "abc"
    with devices.shared_build("abc") as again:
        assert again == first  # reused once free


def test_concurrent_commands_of_one_architecture_build_apart(cache):
    with devices.shared_build("key") as running:  # e.g. another seed of the same model, still training
        with cli._HELD_BUILDS:
            mine = cli._build_directory("key")
            assert mine != running and mine.parent == running.parent
            with devices.shared_build("key") as third:
                assert third not in (mine, running)  # held until the command returns
    with devices.shared_build("key") as after:
        assert after == running  # both released


def test_set_reads_toml_values_into_model_config():
    spec = registry.load_model("ref-s").with_settings(
        ["n_hidden=[20, 10]", "learning_rates=0.1", "conductances=False", "kernel=untruncated", "dt=0.5"]
    )
    config = spec.config()
    assert config.n_hidden == (20, 10) and config.learning_rates == (0.1, 0.1, 0.1)
    assert config.conductances is False and config.kernel == "untruncated" and config.dt == 0.5
    assert registry.load_model("ref-s").config().n_hidden == (500,)  # the named model is unchanged
    assert registry.load_model("ref-s").with_settings(["n_hidden=100"]).config().n_hidden == (100,)  # one layer
    assert registry.load_model("fa").with_settings(["hidden=[30]"]).params["hidden"] == [30]
    for bad, named in (("n_hidden=[2.5]", "n_hidden=(2.5,) is invalid"), ("learning_rates=[1, x]", "learning_rates=")):
        with pytest.raises(ValueError, match=re.escape(named)):
            registry.load_model("ref-s").with_settings([bad])
    with pytest.raises(ValueError, match="batch_norm=3 is invalid: must be True or False"):
        registry.load_model("bp-cnn").with_settings(["batch_norm=3"])


def test_train_and_study_share_one_set_syntax():
    """The same parser reads ``train --set KEY=VALUE`` and the study's ``--set TARGET.KEY=VALUE``."""
    assert parse_setting("n_train=50", ("n_train",), "x") == ("", "n_train", 50)
    assert parse_setting("ref-s.n_train=50", ("n_train",), "x", targets=True) == ("ref-s", "n_train", 50)
    for call in (
        lambda: registry.load_model("ref-s").with_settings(["lr=3"]),
        lambda: plans.parse_overrides(["ref-s.lr=3"], {"ref-s": registry.load_model("ref-s")}),
    ):
        with pytest.raises(ValueError, match=r"unknown key 'lr' in --set '(ref-s\.)?lr=3'; valid keys are: "):
            call()


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"segdend {brian_segdend.__version__}"


@pytest.mark.parametrize("command", [None, "train", "test", "models", "data", "plot", "experiment"])
def test_help_ends_with_examples_that_parse(command, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"] if command else ["--help"])
    text = capsys.readouterr().out.rstrip()
    examples = text.split("\nexamples:\n")[1].splitlines()
    assert 2 <= len(examples) <= 3 and text.endswith(examples[-1])
    monkeypatch.setattr(cli, "_directory", str)  # the examples' folders need not exist here
    for line in examples:
        words = shlex.split(line.split("#")[0])
        words = words[words.index("segdend") + 1 :]
        assert command is None or words[0] == command
        cli._parser().parse_args(words)  # SystemExit here would fail the test


def test_brian_log_lines_print_above_the_progress_bar(capfd):
    from brian2.utils.logger import get_logger
    from tqdm import tqdm

    from brian_segdend.training import brian_log_above

    bar = tqdm(total=2, desc="epoch 1/1", file=sys.stderr, mininterval=0)
    bar.update(1)
    with brian_log_above(bar):
        get_logger("brian2.devices.test").warn("a message from Brian")
    bar.update(1)
    bar.close()
    err = capfd.readouterr().err
    before, after = err.split("WARNING    a message from Brian")
    assert before.rstrip(" ").endswith(("\r", "\n")) and "epoch 1/1:  50%" in before  # cleared bar, then the line
    assert after.startswith(" [brian2.devices.test]\n") and "epoch 1/1: 100%" in after  # then the bar again
