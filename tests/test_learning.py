"""Learning on real MNIST (../shared/datasets): far below chance after short runs."""

import numpy as np
import pytest
from conftest import DATA_DIR

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, datasets
from brian_segdend.registry import load_model

CHANCE = 90.0


@pytest.fixture(scope="module")
def mnist():
    X, y = datasets.load("mnist", "train", DATA_DIR)
    Xt, yt = datasets.load("mnist", "test", DATA_DIR)
    return X, y, Xt, yt


def test_single_example_error_shrinks_after_its_update(mnist, device):
    """REF-NS (deterministic): one update moves the output towards the example's target (spec §5)."""
    X, y, _, _ = mnist
    cfg = load_model("ref-ns").config()
    sim = Simulator(SegregatedDendriteNetwork(cfg, seed=0, capacity=1))
    lam = cfg.lambda_step
    for k in range(5):
        x, label = X[k : k + 1], y[k : k + 1]
        target = lam * np.eye(10)[label[0]]
        before = sim.present(x, label, learn=False)[0]
        sim.present(x, label, learn=True)
        after = sim.present(x, label, learn=False)[0]
        loss = lambda u, target=target: np.sum((lam / (1 + np.exp(-u)) - target) ** 2)
        assert loss(after) < loss(before)


def test_ref_ns_learns_mnist(mnist, device):
    """Lange's base dynamics (REF-NS) with 100 hidden units, 2000 training examples, 1000 test images:
    error < 30 % (chance 90 %)."""
    X, y, Xt, yt = mnist
    cfg = load_model("lange-base").config().replace(n_hidden=(100,))
    sim = Simulator(SegregatedDendriteNetwork(cfg, seed=0, capacity=1000))
    sim.train(X[:2000], y[:2000], seed=1)
    error = sim.error(Xt[:1000], yt[:1000])
    assert error < 30.0, error


@pytest.mark.standalone_only
def test_ref_s_spiking_learns_mnist(mnist, device):
    """The paper's spiking 784-500-10 network (REF-S defaults), 8000 training examples in chunks of 2000,
    500 test images: error < 45 % (chance 90 %; about 20 % is typical)."""
    X, y, Xt, yt = mnist
    sim = Simulator(SegregatedDendriteNetwork(ModelConfig(), seed=0, capacity=2000))
    rng = np.random.default_rng(0)
    for chunk in range(4):
        idx = rng.permutation(len(X))[:2000]
        sim.train(X[idx], y[idx], seed=10 + chunk)
    error = sim.error(Xt[:500], yt[:500], seed=99)
    assert error < 45.0, error
