"""The study experiments `scalability` and `learning_dynamics` (issue 6): smoke budget, resume, plots."""

import csv
import dataclasses
import json

import pytest

import brian_segdend.baselines
import brian_segdend.training
from brian_segdend import datasets
from brian_segdend.cli import main
from brian_segdend.study import dynamics, engine, run_experiment, scalability, tables

N_MODELS, N_DATASETS = len(scalability.MODELS), 3


def _forbid_training(monkeypatch):
    """Make every train function and the engine raise, so a test fails if anything would be trained."""

    def refuse(*args, **kwargs):
        raise AssertionError("training was called")

    monkeypatch.setattr(brian_segdend.training, "train", refuse)
    monkeypatch.setattr(brian_segdend.baselines, "train", refuse)
    monkeypatch.setattr(engine, "connect", refuse)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The whole smoke budget of `scalability` (every model x dataset; runtime numpy for the spiking models)."""
    from brian2 import prefs

    out = tmp_path_factory.mktemp("scalability")
    try:
        result = run_experiment("scalability", "smoke", out, progress=False)
    finally:
        prefs.codegen.target = "auto"
    return out, result


def _table(out):
    with open(out / "table.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_smoke_writes_table_figure_and_run_directories(smoke):
    out, result = smoke
    rows = _table(out)
    assert len(rows) == N_MODELS * N_DATASETS
    assert {(r["model"], r["dataset"]) for r in rows} == {
        (m, d) for m in scalability.MODELS for d in ("mnist", "fashion-mnist", "cifar10")
    }
    for column in (
        "test_accuracy_mean",
        "test_accuracy_sd",
        "n_seeds",
        "epochs",
        "n_train",
        "n_test",
        "val_accuracy_mean",
        "lange_10_epochs",
    ):
        assert column in rows[0]
    for r in rows:
        assert 0.0 <= float(r["test_accuracy_mean"]) <= 100.0
        assert r["n_seeds"] == "1" and r["epochs"] == "1"
        assert r["n_train"] == ("40" if r["model"] == "ref-s" else "200")
    lange = {(r["model"], r["dataset"]): r["lange_10_epochs"] for r in rows}
    assert lange["bp-cnn", "cifar10"] == "47.63" and lange["fa", "mnist"] == ""
    markdown = (out / "table.md").read_text()
    assert markdown.count("\n| ") == N_MODELS * N_DATASETS and "Budget:" in markdown
    assert (out / "accuracy.png").stat().st_size > 10_000
    for plan in result["plans"]:
        record = json.loads((out / "runs" / plan.name / "results.json").read_text())
        assert [e["epoch"] for e in record["epochs"]] == [1]
        assert record["epochs"][0]["val_error"] is not None
        assert json.loads((out / "runs" / plan.name / "study.json").read_text())["budget"] == plan.budget()
    # the spiking model on CIFAR-10 gets all 3072 RGB inputs
    cifar = json.loads((out / "runs" / "ref-s_cifar10_s0" / "results.json").read_text())
    assert cifar["config"]["n_inputs"] == 3072 and cifar["config"]["n_hidden"] == [20]
    assert cifar["data_source"] == datasets.locate("cifar10", download=False).to_dict()  # which CIFAR-10 files


def test_resume_skips_finished_runs(smoke, monkeypatch, capsys):
    out, _ = smoke
    before = (out / "table.csv").read_text()
    _forbid_training(monkeypatch)
    result = run_experiment("scalability", "smoke", out, resume=True, progress=False)
    assert set(result["status"].values()) == {"done"}
    assert (out / "table.csv").read_text() == before
    assert f"{N_MODELS * N_DATASETS} finished already" in capsys.readouterr().out


def test_existing_run_needs_resume_and_the_same_budget(smoke, tmp_path):
    stray = tmp_path / "runs" / "bp-mlp_mnist_s0"
    stray.mkdir(parents=True)
    (stray / "checkpoint.npz").write_bytes(b"")  # left by another budget, without study.json
    with pytest.raises(ValueError, match="checkpoint of unknown budget"):
        scalability.run("smoke", tmp_path, resume=True, progress=False, models="bp-mlp", datasets="mnist")
    out, _ = smoke
    with pytest.raises(ValueError, match="pass --resume"):
        scalability.run("smoke", out, progress=False, models="bp-mlp", datasets="mnist")
    with pytest.raises(ValueError, match="another budget.*'epochs': \\(1, 2\\)"):
        scalability.run("smoke", out, resume=True, progress=False, models="bp-mlp", datasets="mnist", epochs=2)


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    options = dict(
        models="bp-mlp", datasets="mnist", seeds=2, epochs=2, n_train=100, n_val=20, n_test=50, progress=False
    )
    runs = tmp_path / "runs"
    done, killed = scalability.plan_runs("smoke", "bp-mlp", "mnist", 2, 2, 100, 20, 50)
    scalability.train_run(done, runs / done.name)  # seed 0 finished
    scalability.train_run(dataclasses.replace(done, seed=1, epochs=1), runs / killed.name)  # seed 1 killed ...
    (runs / killed.name / "study.json").write_text(json.dumps({"budget": killed.budget()}))  # ... after epoch 1
    finished = (runs / done.name / "results.json").read_text()
    first_epoch = json.loads((runs / killed.name / "results.json").read_text())["epochs"]
    assert [e["epoch"] for e in first_epoch] == [1]
    partial = scalability.run("smoke", tmp_path, table_only=True, **options)  # trains nothing
    assert partial["status"] == {done.name: "done", killed.name: "partial"}
    assert [r["n_seeds"] for r in partial["rows"]] == [1] and (tmp_path / "table.md").exists()

    result = scalability.run("smoke", tmp_path, resume=True, workers=1, **options)
    assert (runs / done.name / "results.json").read_text() == finished  # seed 0 skipped
    epochs = json.loads((runs / killed.name / "results.json").read_text())["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]  # seed 1 continued from its checkpoint
    assert epochs[0]["test_error"] == first_epoch[0]["test_error"]
    assert epochs[1]["examples_seen"] == 2 * 100
    assert result["rows"][0]["n_seeds"] == 2 and result["rows"][0]["epochs"] == 2


def test_a_failed_run_is_reported_and_the_others_finish(tmp_path):
    options = dict(models="bp-mlp,fa", datasets="mnist", n_train=60, n_val=10, n_test=20, progress=False)
    (broken,) = scalability.plan_runs("smoke", "bp-mlp", "mnist", None, None, 60, 10, 20)
    run_dir = tmp_path / "runs" / broken.name
    (run_dir / "results.csv").mkdir(parents=True)  # the run cannot write its results
    (run_dir / "study.json").write_text(json.dumps({"budget": broken.budget()}))
    with pytest.raises(RuntimeError, match="1 run\\(s\\) failed: bp-mlp_mnist_s0: failed"):
        scalability.run("smoke", tmp_path, resume=True, workers=2, **options)
    assert json.loads((tmp_path / "runs" / "fa_mnist_s0" / "results.json").read_text())["epochs"]
    assert [r["model"] for r in _table(tmp_path)] == ["fa"]


def test_full_budget_prints_its_expected_duration(tmp_path, capsys):
    result = scalability.run("full", tmp_path, dry_run=True)
    assert len(result["plans"]) == N_MODELS * N_DATASETS * 3
    text = capsys.readouterr().out
    assert "expected duration:" in text and " h " in text
    assert not (tmp_path / "runs").exists()
    few = scalability.plan_runs(
        "full",
        models="ref-s,bp-mlp",
        datasets_="mnist",
        seeds=2,
        n_train=1000,
        overrides=["ref-s.n_train=500", "baselines.epochs=3"],
    )
    assert [(p.model, p.seed, p.epochs, p.n_train) for p in few] == [
        ("ref-s", 0, 10, 500),
        ("ref-s", 1, 10, 500),
        ("bp-mlp", 0, 3, 1000),
        ("bp-mlp", 1, 3, 1000),
    ]
    assert scalability.expected_seconds(few) > scalability.expected_seconds(few[2:])
    assert tables.budget_note(few) == (
        "Budget: ref-s: 2 seed(s) x 10 epoch(s) of 500 training examples, 5000 validation, all test examples; "
        "bp-mlp: 2 seed(s) x 3 epoch(s) of 1000 training examples, 5000 validation, all test examples."
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(models="bp-mlp,nope"), "unknown model 'nope'"),
        (dict(datasets="svhn"), "unknown dataset 'svhn'"),
        (dict(overrides=["ref-s.lr=3"]), "unknown key 'lr' in --set 'ref-s.lr=3'; valid keys are: seeds"),
        (dict(overrides=["epochs=3"]), "bad --set 'epochs=3'; expected TARGET.KEY=VALUE"),
        (dict(overrides=["ref-s.epochs=2.5"]), "epochs=2.5 is not an integer"),
        (dict(overrides=["resnet.epochs=3"]), "unknown override target 'resnet'"),
        (dict(overrides=["bp-mlp.n_hidden=3"]), "n_hidden applies to Brian models only"),
        (dict(epochs=0), "epochs=0 must be >= 1"),
    ],
)
def test_bad_values_are_named(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        scalability.run("full", tmp_path, dry_run=True, **options)


def test_unknown_budget_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        run_experiment("scalability", "huge", tmp_path)
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        scalability.plan_runs("huge")


# ------------------------------------------------------------------ learning dynamics


def _write_run(runs, model, dataset, seed, train, val, n=1000):
    folder = runs / f"{model}_{dataset}_s{seed}"
    folder.mkdir(parents=True)
    epochs = [
        {"epoch": k + 1, "examples_seen": (k + 1) * n, "train_error": t, "val_error": v, "test_error": v}
        for k, (t, v) in enumerate(zip(train, val))
    ]
    (folder / "results.json").write_text(
        json.dumps({"model": model, "dataset": dataset, "config": {}, "seed": seed, "epochs": epochs})
    )


def test_learning_dynamics_plots_saved_results_without_training(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _write_run(runs, "bp-mlp", "mnist", 0, [20, 10, 5], [15, 8, 4])
    _write_run(runs, "bp-mlp", "mnist", 1, [30, 12, 7], [17, 10, 6])
    _write_run(runs, "ref-s", "mnist", 0, [80, 40], [50, 30], n=300)
    _write_run(runs, "fa", "cifar10", 0, [90, 80], [85, 75])
    _forbid_training(monkeypatch)
    result = dynamics.run("full", tmp_path / "fig", runs=runs)
    assert [f.name for f in result["figures"]] == ["learning_dynamics_mnist.png", "learning_dynamics_cifar10.png"]
    assert all(f.stat().st_size > 10_000 for f in result["figures"])
    with open(tmp_path / "fig" / "curves.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], r["epoch"]) for r in rows if r["dataset"] == "mnist"] == [
        ("ref-s", "1"),
        ("ref-s", "2"),
        ("bp-mlp", "1"),
        ("bp-mlp", "2"),
        ("bp-mlp", "3"),
    ]
    mlp2 = next(r for r in rows if r["model"] == "bp-mlp" and r["epoch"] == "2")
    assert float(mlp2["train_error_mean"]) == pytest.approx(11.0)
    assert float(mlp2["train_error_sd"]) == pytest.approx(2**0.5)
    assert float(mlp2["val_error_mean"]) == pytest.approx(9.0) and mlp2["n_seeds"] == "2"
    assert float(mlp2["examples_seen"]) == 2000
    ref = next(r for r in rows if r["model"] == "ref-s" and r["epoch"] == "2")
    assert ref["train_error_sd"] == "" and float(ref["val_error_mean"]) == 30.0
    only = dynamics.run("smoke", tmp_path / "fig2", runs=runs, datasets="cifar10")
    assert [f.name for f in only["figures"]] == ["learning_dynamics_cifar10.png"]


def test_learning_dynamics_refuses_without_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no run results .* run `segdend experiment scalability` first"):
        dynamics.run("smoke", tmp_path / "fig", runs=tmp_path / "empty")
    assert not (tmp_path / "fig").exists()
    code = main(["experiment", "learning_dynamics", "--runs", str(tmp_path / "missing"), "--out", str(tmp_path / "f")])
    assert code == 2 and "no run results" in capsys.readouterr().err
    _write_run(tmp_path / "runs", "bp-mlp", "mnist", 0, [1], [1])
    with pytest.raises(ValueError, match="unknown model 'bogus'"):
        dynamics.run("smoke", tmp_path / "fig", runs=tmp_path / "runs", models="bogus")


def test_learning_dynamics_from_the_smoke_runs(smoke, tmp_path, monkeypatch):
    out, _ = smoke
    _forbid_training(monkeypatch)
    code = main(
        ["experiment", "learning_dynamics", "--budget", "smoke", "--runs", str(out / "runs"), "--out", str(tmp_path)]
    )
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "learning_dynamics_cifar10.png",
        "learning_dynamics_fashion-mnist.png",
        "learning_dynamics_mnist.png",
    ]
    with open(tmp_path / "curves.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N_MODELS * N_DATASETS
    assert all(0 <= float(r["train_error_mean"]) <= 100 for r in rows)
