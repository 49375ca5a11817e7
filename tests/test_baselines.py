"""Tests of the PyTorch baselines, the dataset loaders and the run records.

Runs in well under 3 minutes on 2 CPU cores. The learning tests use a 2,000-example
MNIST subset (seeded), evaluated on the first 500 test images.
"""

from __future__ import annotations

import fractions
import json
import os
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from brian_segdend import baselines, datasets, registry  # noqa: E402
from brian_segdend.baselines import rules  # noqa: E402
from brian_segdend.baselines.mlp import (  # noqa: E402
    BackpropMLP,
    DirectFeedbackAlignmentMLP,
    FeedbackAlignmentMLP,
    TargetPropMLP,
)
from brian_segdend.results import (  # noqa: E402
    CheckpointError,
    RunLog,
    atomic_save_npz,
    atomic_write_text,
    load_npz_checkpoint,
)

torch.set_num_threads(1)  # small nets: one thread is as fast and avoids OpenMP spinning on shared cores

CHANCE_ERROR = 90.0


def _data_available(name: str) -> bool:
    try:
        datasets.locate(name, download=False)
    except FileNotFoundError:
        return False
    return True


needs_mnist = pytest.mark.skipif(not _data_available("mnist"), reason="MNIST files not found")


@pytest.fixture(scope="module")
def mnist():
    return {"train": datasets.load("mnist", "train"), "test": datasets.load("mnist", "test")}


def _small_params(kind, **overrides):
    return baselines.make_params(kind, overrides)


# --------------------------------------------------------------------------- backprop


def test_bp_gradients_equal_hand_derived_backprop():
    """BackpropMLP's gradients equal the textbook backprop deltas (and autograd's)."""
    torch.manual_seed(0)
    p = _small_params("bp-mlp", hidden=(7, 5), activation="sigmoid", normalize_input=False)
    model = BackpropMLP(p, n_inputs=6, n_classes=4).double()
    x = torch.rand(9, 6, dtype=torch.float64)
    y = torch.randint(0, 4, (9,))
    model.backward_step(x, y)
    # hand-derived backprop
    W = [layer.weight.detach() for layer in model.layers]
    b = [layer.bias.detach() for layer in model.layers]
    hs, a = [x], []
    for l in range(3):
        a.append(hs[-1] @ W[l].t() + b[l])
        hs.append(torch.sigmoid(a[-1]) if l < 2 else a[-1])
    delta = rules.output_error(hs[-1], y)
    for l in (2, 1, 0):
        assert torch.allclose(model.layers[l].weight.grad, delta.t() @ hs[l], atol=1e-12)
        assert torch.allclose(model.layers[l].bias.grad, delta.sum(0), atol=1e-12)
        if l > 0:
            s = torch.sigmoid(a[l - 1])
            delta = (delta @ W[l]) * s * (1 - s)
    # FA with B = W is exactly backprop
    fa = FeedbackAlignmentMLP(p, n_inputs=6, n_classes=4).double()
    fa.load_state_dict({**model.state_dict(), **{f"feedback{i}": W[i] for i in range(3)}})
    fa.backward_step(x, y)
    for l in range(3):
        assert torch.allclose(fa.layers[l].weight.grad, model.layers[l].weight.grad, atol=1e-12)


# --------------------------------------------------------------------------- feedback alignment


def test_linear_fa_backward_never_reads_forward_weights():
    torch.manual_seed(1)
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    B = torch.randn(3, 4, dtype=torch.float64)
    grad_out = torch.randn(5, 3, dtype=torch.float64)
    delivered = []
    for scale in (1.0, -3.0):  # two very different forward matrices, same feedback
        W = (scale * torch.randn(3, 4, dtype=torch.float64)).requires_grad_(True)
        bias = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        x.grad = None
        rules.linear_fa(x, W, bias, B).backward(grad_out)
        delivered.append(x.grad.clone())
        assert torch.allclose(W.grad, grad_out.t() @ x.detach())
    assert torch.equal(delivered[0], delivered[1])
    assert torch.allclose(delivered[0], grad_out @ B)


def test_fa_feedback_is_fixed_random_and_not_transposed_weights():
    torch.manual_seed(2)
    p = _small_params("fa", hidden=(16, 16))
    model = FeedbackAlignmentMLP(p, 20, 10, generator=torch.Generator().manual_seed(0))
    before = [B.clone() for B in model.feedback]
    assert not any(B.requires_grad for B in model.feedback)
    assert all(B.data_ptr() not in {q.data_ptr() for q in model.parameters()} for B in model.feedback)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.rand(32, 20), torch.randint(0, 10, (32,))
    for _ in range(5):
        opt.zero_grad()
        model.backward_step(x, y)
        opt.step()
    for B, B0, layer in zip(model.feedback, before, model.layers):
        assert torch.equal(B, B0)
        assert not torch.allclose(B, layer.weight.detach(), atol=1e-3)
    # the delivered error of the FA net differs from backprop's (same weights)
    bp = BackpropMLP(p, 20, 10)
    bp.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("feedback")})
    model.zero_grad()
    model.backward_step(x, y)
    bp.backward_step(x, y)
    assert torch.allclose(model.layers[-1].weight.grad, bp.layers[-1].weight.grad)  # top layer: same local rule
    assert not torch.allclose(model.layers[0].weight.grad, bp.layers[0].weight.grad, atol=1e-6)


def test_dfa_delivers_output_error_through_fixed_matrices():
    torch.manual_seed(3)
    p = _small_params("dfa", hidden=(12, 8), activation="tanh", normalize_input=False)
    model = DirectFeedbackAlignmentMLP(p, 10, 5, generator=torch.Generator().manual_seed(1)).double()
    D_before = [D.clone() for D in model.feedback]
    x, y = torch.rand(7, 10, dtype=torch.float64), torch.randint(0, 5, (7,))
    logits = model.backward_step(x, y)
    e = rules.output_error(logits, y)
    # expected: delta_l = (e D_l) * f'(a_l), weight grad = delta_l^T h_{l-1}; no forward weight above layer l is used
    h = x
    for l, D in enumerate(model.feedback):
        a = h @ model.layers[l].weight.detach().t() + model.layers[l].bias.detach()
        delta = (e @ D) * (1 - torch.tanh(a) ** 2)
        assert torch.allclose(model.layers[l].weight.grad, delta.t() @ h, atol=1e-12)
        h = torch.tanh(a)
    assert torch.allclose(model.layers[-1].weight.grad, e.t() @ h, atol=1e-12)
    # the delivered error does not depend on forward weights (pure function of e and D)
    assert all(torch.equal(g, e @ D) for g, D in zip(rules.dfa_hidden_gradients(e, model.feedback), model.feedback))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(-2.0)
    assert all(torch.equal(g, e @ D) for g, D in zip(rules.dfa_hidden_gradients(e, model.feedback), model.feedback))
    assert all(torch.equal(D, D0) for D, D0 in zip(model.feedback, D_before))
    assert model.feedback[-1].shape == (5, 8)


# --------------------------------------------------------------------------- target propagation


def _invertible_tp_model(variant):
    """A linear (identity activation) TP net with square layers and exact inverses."""
    torch.manual_seed(4)
    p = _small_params(variant, hidden=(6, 6), activation="identity", normalize_input=False)
    model = TargetPropMLP(p, 6, 6, variant=variant).double()
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.copy_(torch.eye(6, dtype=torch.float64) + 0.3 * torch.randn(6, 6, dtype=torch.float64))
        for l in range(2, len(model.layers) + 1):
            W, b = model.layers[l - 1].weight, model.layers[l - 1].bias
            Winv = torch.linalg.inv(W)
            model.inverses[l - 2].weight.copy_(Winv)
            model.inverses[l - 2].bias.copy_(-Winv @ b)
    return model


@pytest.mark.parametrize("variant", ["dtp", "sdtp"])
def test_dtp_difference_correction_exact_for_perfect_inverse(variant):
    model = _invertible_tp_model(variant)
    x = torch.rand(5, 6, dtype=torch.float64)
    y = torch.randint(0, 6, (5,))
    hs = [x]
    for l in range(1, 4):
        hs.append(model.f_layer(l, hs[-1]))
    targets = model.targets(hs, y)
    assert set(targets) == {1, 2}
    assert not torch.allclose(targets[2], hs[2])  # the targets really move
    # propagating the lower target forward reproduces the upper one exactly
    assert torch.allclose(model.f_layer(2, targets[1]), targets[2], atol=1e-10)
    if variant == "sdtp":
        top = hs[3] - model.params.target_step * (torch.softmax(hs[3], 1) - torch.nn.functional.one_hot(y, 6))
        assert torch.allclose(model.f_layer(3, targets[2]), top, atol=1e-10)


def test_dtp_correction_fixes_imperfect_inverse_where_tp_does_not():
    torch.manual_seed(5)
    inverse = torch.nn.Linear(4, 3).double()  # an arbitrary (bad) inverse
    g = lambda h: torch.tanh(inverse(h))  # noqa: E731
    h_below = torch.rand(6, 3, dtype=torch.float64)
    h_above = torch.rand(6, 4, dtype=torch.float64)
    assert torch.equal(rules.dtp_target(g, h_above, h_above, h_below), h_below)
    assert not torch.allclose(rules.tp_target(g, h_above), h_below)


def test_tp_inverse_loss_trains_only_the_inverse():
    model = TargetPropMLP(_small_params("dtp", hidden=(8, 8)), 10, 4, variant="dtp")
    x, y = torch.rand(16, 10), torch.randint(0, 4, (16,))
    model.backward_step(x, y, torch.Generator().manual_seed(0))
    assert all(q.grad is not None for q in model.layers.parameters())
    assert model.inverses[0].weight.grad is not None  # g_2 used by DTP
    assert model.inverses[1].weight.grad is None  # g_L unused by DTP (gradient top target)
    sdtp = TargetPropMLP(_small_params("sdtp", hidden=(8, 8)), 10, 4, variant="sdtp")
    sdtp.backward_step(x, y, torch.Generator().manual_seed(0))
    assert sdtp.inverses[1].weight.grad is not None  # g_L used by SDTP


# --------------------------------------------------------------------------- learning


_SMALL_MLP = {"hidden": [256, 256]}
LEARN_OVERRIDES = {kind: _SMALL_MLP for kind in ("bp-mlp", "fa", "dfa", "tp", "dtp", "sdtp")}
LEARN_OVERRIDES["bp-cnn"] = {"channels": [8, 16], "fc_hidden": [32], "dropout": 0.0}
# Stated margins (chance is 90 % error). Measured with these settings: BP 10.4, FA 12.6, DFA 11.2,
# TP 36.2, DTP 14.0, SDTP 18.2, CNN 5.0 % test error.
LEARN_MAX_ERROR = {"bp-mlp": 25.0, "fa": 25.0, "dfa": 25.0, "tp": 50.0, "dtp": 25.0, "sdtp": 25.0, "bp-cnn": 25.0}


@needs_mnist
@pytest.mark.parametrize("kind", baselines.KINDS)
def test_each_rule_learns_mnist_subset(kind, mnist, tmp_path):
    """2,000 training examples (1,800 after the validation split), 3 epochs, 500 test images."""
    metrics = baselines.train(
        kind,
        LEARN_OVERRIDES[kind],
        "mnist",
        epochs=3,
        seed=0,
        out_dir=tmp_path,
        progress=False,
        max_train_examples=2000,
        max_test_examples=500,
        data=mnist,
    )
    assert metrics["test_error"] < LEARN_MAX_ERROR[kind], metrics
    assert metrics["epoch"] == 3 and metrics["examples_seen"] == 3 * 1800


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kind, params, fragment",
    [
        ("bp-mlp", {"hidden": []}, "zero layers"),
        ("bp-mlp", {"learning_rate": -0.1}, "-0.1"),
        ("fa", {"activation": "swish"}, "'swish'"),
        ("dtp", {"backward_learning_rate": -1.0}, "-1.0"),
        ("bp-mlp", {"hidden": [500, 0]}, "0"),
        ("bp-mlp", {"n_hidden": 3}, "'n_hidden'"),
        ("bp-cnn", {"channels": []}, "zero layers"),
        ("bp-cnn", {"kernel_size": 0}, "0"),
        ("bp-cnn", {"augment": "mixup"}, "'mixup'"),
    ],
)
def test_bad_config_raises_value_error_naming_value(kind, params, fragment):
    with pytest.raises(ValueError, match=None) as info:
        baselines.make_params(kind, params)
    assert fragment in str(info.value)


def test_unknown_kind_lists_kinds():
    with pytest.raises(ValueError) as info:
        baselines.make_params("backprop", {})
    assert "'backprop'" in str(info.value) and all(k in str(info.value) for k in baselines.KINDS)


def test_kernel_larger_than_downsampled_image():
    p = baselines.make_params("bp-cnn", {"channels": [8, 8, 8], "kernel_size": 9, "padding": 0})
    with pytest.raises(ValueError, match="kernel_size 9 of conv layer 2"):
        baselines.build_model("bp-cnn", p, (1, 28, 28))
    with pytest.raises(ValueError, match="kernel_size 12"):
        baselines.build_model("bp-cnn", {"channels": [4], "kernel_size": 12, "padding": 0}, (1, 10, 10))
    baselines.build_model("bp-cnn", {"channels": [4], "kernel_size": 10, "padding": 0, "pool": False}, (1, 10, 10))


def test_defaults_of_each_kind_are_its_named_model():
    for kind in baselines.KINDS:
        spec = registry.load_model(kind)
        from_file = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec.params.items()}
        assert baselines.make_params(kind, {}) == baselines.PARAMS_CLASS[kind](**from_file)  # complete file
    assert baselines.make_params("fa", {"learning_rate": 0.5}).activation == "tanh"  # from models/fa.toml
    assert baselines.make_params("bp-mlp", {"learning_rate": 0.5}).activation == "relu"  # from models/bp-mlp.toml
    with pytest.raises(TypeError):
        baselines.MLPParams()  # no defaults of its own: one place for them


# --------------------------------------------------------------------------- datasets


def test_unknown_dataset_lists_choices():
    with pytest.raises(ValueError) as info:
        datasets.load("svhn")
    assert "'svhn'" in str(info.value)
    assert all(name in str(info.value) for name in datasets.DATASETS)


def test_missing_files_name_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.load("fashion-mnist", "train", data_dir=tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path) in msg and "--no-download" in msg
    assert "FashionMNIST/raw/train-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/data_batch_1.*; or cifar10-jpeg.tar.gz"):
        datasets.load("cifar10", "test", data_dir=tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        datasets.load("mnist", data_dir=tmp_path / "does-not-exist")


@pytest.mark.parametrize(
    "name, n_train, n_test, d, mean",
    [
        ("mnist", 60000, 10000, 784, 0.1307),
        ("fashion-mnist", 60000, 10000, 784, 0.2860),
    ],
)
def test_grey_datasets_shapes_and_ranges(name, n_train, n_test, d, mean):
    if not _data_available(name):
        pytest.skip(f"{name} files not found")
    X, y = datasets.load(name, "train")
    assert X.shape == (n_train, d) and X.dtype == np.float32
    assert y.shape == (n_train,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert abs(float(X.mean()) - mean) < 1e-3
    assert set(np.unique(y)) == set(range(10))
    Xt, yt = datasets.load(name, "test")
    assert Xt.shape == (n_test, d) and yt.shape == (n_test,)


def test_cifar10_shapes_and_ranges():
    if not _data_available("cifar10"):
        pytest.skip("CIFAR-10 tarball not found")
    X, y = datasets.load("cifar10", "test")  # first call unpacks the tarball into the cache (~10-30 s)
    assert X.shape == (10000, 3072) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert np.bincount(y).tolist() == [1000] * 10
    assert np.bincount(y[:1000], minlength=10).min() >= 70  # mixed order: the first 1000 are a fair subset
    channel_means = X.reshape(-1, 3, 1024).mean(axis=(0, 2))
    assert np.allclose(channel_means, [0.4942, 0.4851, 0.4504], atol=0.01)  # test-split means


def test_data_dir_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIAN_SEGDEND_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="BRIAN_SEGDEND_DATA"):
        datasets.data_roots()
    monkeypatch.setenv("BRIAN_SEGDEND_DATA", str(tmp_path))
    assert datasets.data_roots() == [tmp_path.resolve()]  # a given data root is the only place looked at
    monkeypatch.delenv("BRIAN_SEGDEND_DATA")
    monkeypatch.setenv("BRIAN_SEGDEND_CACHE", str(tmp_path / "cache"))
    assert datasets.data_roots()[0] == tmp_path / "cache" / "data"  # the default root comes first


def test_train_val_split_reproducible_and_disjoint():
    tr, va = datasets.train_val_split(1000, 0.1, seed=3)
    tr2, va2 = datasets.train_val_split(1000, 0.1, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert len(va) == 100 and len(tr) == 900
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(1000))
    assert not np.array_equal(va, datasets.train_val_split(1000, 0.1, seed=4)[1])
    with pytest.raises(ValueError, match="1.5"):
        datasets.train_val_split(10, 1.5, 0)


def test_stratified_kfold_partitions_and_stratifies():
    y = np.repeat(np.arange(3), [30, 60, 90])
    folds = datasets.stratified_kfold(y, 5, seed=0)
    assert len(folds) == 5
    vals = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(vals), np.arange(len(y)))
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
        assert np.bincount(y[va]).tolist() == [6, 12, 18]
    again = datasets.stratified_kfold(y, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    with pytest.raises(ValueError, match="k must"):
        datasets.stratified_kfold(y, 1, seed=0)


# --------------------------------------------------------------------------- run records and checkpoints


def test_runlog_writes_json_and_csv_and_reloads(tmp_path):
    log = RunLog(tmp_path, {"hidden": (5,)}, seed=1, model_name="bp-mlp", dataset="mnist")
    log.add_epoch(
        1,
        examples_seen=10,
        train_error=50.0,
        val_error=40.0,
        test_error=45.0,
        examples_per_s=100.0,
        wall_time_s=0.1,
        extra=7,
    )
    log.add_epoch(
        2,
        examples_seen=20,
        train_error=30.0,
        val_error=float("nan"),
        test_error=35.0,
        examples_per_s=100.0,
        wall_time_s=0.2,
    )
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["model"] == "bp-mlp" and data["dataset"] == "mnist" and data["seed"] == 1
    assert set(data["versions"]) >= {"python", "numpy", "brian2", "torch", "brian_segdend"}
    assert [e["epoch"] for e in data["epochs"]] == [1, 2] and data["epochs"][1]["val_error"] is None
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,examples_seen,train_error,val_error,test_error,examples_per_s,wall_time_s")
    assert len(lines) == 3
    again = RunLog.load(tmp_path)
    assert again.epochs == data["epochs"] and again.config == {"hidden": [5]}
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_checkpoints_raise_checkpoint_error(tmp_path):
    good = tmp_path / "checkpoint.npz"
    atomic_save_npz(good, w=np.arange(1000.0))
    assert np.array_equal(load_npz_checkpoint(good)["w"], np.arange(1000.0))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(os.urandom(300))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w=np.ones(3))
    flipped = tmp_path / "flipped.npz"
    raw = bytearray(good.read_bytes())
    raw[200] ^= 0xFF  # inside the array data: CRC mismatch
    flipped.write_bytes(bytes(raw))
    for path in (truncated, garbage, foreign, flipped):
        with pytest.raises(CheckpointError) as info:
            load_npz_checkpoint(path)
        assert str(path) in str(info.value)
        assert isinstance(info.value, ValueError)
    with pytest.raises(CheckpointError):
        baselines.load_checkpoint(foreign)
    assert zipfile.is_zipfile(good)


def test_baseline_checkpoints_hold_tensors_and_plain_data_only(tmp_path):
    """torch.save / torch.load(weights_only=True): a state of tensors round-trips exactly; a pickled
    object of any other class is refused by name, as is a truncated file."""
    state = {"model": {"w": torch.randn(3, 2)}, "optimizer": {"lr": 0.1}, "epoch": 2, "meta": {"seed": float("nan")}}
    path = tmp_path / baselines.CHECKPOINT_NAME
    baselines.save_checkpoint(path, state)
    loaded = baselines.load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["epoch"] == 2
    assert not list(tmp_path.glob("*.tmp"))
    torch.save({**state, "epoch": fractions.Fraction(1, 2)}, path)  # not a weights-only type
    with pytest.raises(CheckpointError, match=str(path)):
        baselines.load_checkpoint(path)
    baselines.save_checkpoint(path, state)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=str(path)):
        baselines.load_checkpoint(path)
    (tmp_path / "checkpoint.npz").write_bytes(b"")  # a run of brian_segdend 0.1 is not restarted silently
    data = {
        "train": (np.zeros((20, 784), np.float32), np.zeros(20, np.int64)),
        "test": (np.zeros((5, 784), np.float32), np.zeros(5, np.int64)),
    }
    path.unlink()
    with pytest.raises(CheckpointError, match="written by brian_segdend 0.1"):
        baselines.train("bp-mlp", {"hidden": [4]}, "mnist", 1, 0, tmp_path, resume=True, progress=False, data=data)


def test_atomic_write_text_replaces(tmp_path):
    path = tmp_path / "a" / "b.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two" and not list(path.parent.glob("*.tmp"))


@needs_mnist
@pytest.mark.parametrize(
    "kind, params",
    [
        ("bp-cnn", {"channels": [4], "fc_hidden": [8], "dropout": 0.3, "augment": "flip-crop", "momentum": 0.9}),
        ("dtp", {"hidden": [16, 16]}),
    ],
)
def test_resume_after_interruption_gives_identical_weights(kind, params, mnist, tmp_path):
    common = dict(seed=7, progress=False, max_train_examples=400, max_test_examples=100, data=mnist)
    straight = baselines.train(kind, params, "mnist", epochs=3, out_dir=tmp_path / "straight", **common)
    baselines.train(kind, params, "mnist", epochs=1, out_dir=tmp_path / "resumed", **common)
    resumed = baselines.train(kind, params, "mnist", epochs=3, out_dir=tmp_path / "resumed", resume=True, **common)
    a = baselines.load_checkpoint(tmp_path / "straight" / baselines.CHECKPOINT_NAME)
    b = baselines.load_checkpoint(tmp_path / "resumed" / baselines.CHECKPOINT_NAME)
    assert a["epoch"] == b["epoch"] == 3
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key in ("train_error", "val_error", "test_error", "examples_seen"):
        assert straight[key] == resumed[key]
    log = RunLog.load(tmp_path / "resumed")
    assert [e["epoch"] for e in log.epochs] == [1, 2, 3]
    # a different configuration refuses to resume
    with pytest.raises(ValueError, match="differs"):
        baselines.train(
            kind,
            {**params, "learning_rate": 0.123},
            "mnist",
            epochs=4,
            out_dir=tmp_path / "resumed",
            resume=True,
            **common,
        )


@needs_mnist
def test_evaluate_saved_run_matches_log(mnist, tmp_path):
    m = baselines.train(
        "bp-mlp",
        {"hidden": [32]},
        "mnist",
        epochs=1,
        seed=0,
        out_dir=tmp_path,
        progress=False,
        max_train_examples=500,
        max_test_examples=500,
        data=mnist,
    )
    assert baselines.evaluate(tmp_path, "test", max_examples=500) == pytest.approx(m["test_error"])


def test_same_seed_same_result(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32)
    y = (X[:, :10].argmax(1)).astype(np.int64)
    data = {"train": (X, y), "test": (X[:100], y[:100])}
    runs = [
        baselines.train(
            "fa", {"hidden": [20]}, "mnist", 2, seed=3, out_dir=tmp_path / str(i), progress=False, data=data
        )
        for i in range(2)
    ]
    for key in ("train_error", "val_error", "test_error"):
        assert runs[0][key] == runs[1][key]
