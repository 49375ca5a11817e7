"""Milliseconds per MNIST image of the dendritic-microcircuit network, cpp_standalone beside the oracle.

The network is ``models/microcircuit-mnist.toml`` (784-500-500-10, sweep dynamics, one image per
update). Both are timed in this one process on the same real MNIST images: the Brian network compiled
once by ``cpp_standalone`` (compilation excluded; the whole ``present`` call is timed, i.e. the
binary, its start and the transfer of weights and images), and the independent NumPy oracle of the
test suite (``tests/microcircuit_oracle.py``, BLAS matrix products, its weight updates included).

    python benchmarks/microcircuit_speed.py
    python benchmarks/microcircuit_speed.py --train 5000 --test 2000 --oracle 100

The last line is ``train_ms_per_example=<v> oracle_ms_per_example=<v> speedup=<v>``.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="microcircuit-mnist")
    parser.add_argument("--train", type=int, default=2000, help="training images timed on cpp_standalone")
    parser.add_argument("--test", type=int, default=2000, help="test images timed on cpp_standalone")
    parser.add_argument("--oracle", type=int, default=50, help="training images timed on the oracle")
    args = parser.parse_args(argv)

    from microcircuit_oracle import Oracle, params_of

    from brian_segdend import datasets, devices
    from brian_segdend.microcircuits import (
        MicrocircuitNetwork,
        MicrocircuitSimulator,
        class_targets,
        initial_weights,
        load_config,
    )

    devices.activate("cpp_standalone")
    cfg = load_config(args.model)
    X, y = datasets.load("mnist", "train")
    X, U = X.astype(float), class_targets(cfg, y)
    weights = initial_weights(cfg, np.random.default_rng(0))
    capacity = max(args.train, args.test, 100)
    sim = MicrocircuitSimulator(MicrocircuitNetwork(cfg, weights=weights, capacity=capacity), tempfile.mkdtemp())
    t = time.perf_counter()
    sim.build()
    build = time.perf_counter() - t
    sim.train(X[:100], U[:100])  # warm-up
    t = time.perf_counter()
    sim.train(X[100 : 100 + args.train], U[100 : 100 + args.train])
    train = 1000 * (time.perf_counter() - t) / args.train
    t = time.perf_counter()
    sim.test(X[: args.test])
    test = 1000 * (time.perf_counter() - t) / args.test

    oracle = Oracle(params_of(cfg), weights)
    t = time.perf_counter()
    for x, u in zip(X[100 : 100 + args.oracle], U[100 : 100 + args.oracle]):
        oracle.sweep_learn(x, u)
    oracle_ms = 1000 * (time.perf_counter() - t) / args.oracle

    print(f"network {'-'.join(map(str, cfg.layer_sizes))} ({args.model}), build {build:.1f} s")
    print("| implementation | train ms/image | test ms/image |")
    print("|---|---|---|")
    print(f"| NumPy oracle ({args.oracle} images) | {oracle_ms:.3f} | - |")
    print(f"| cpp_standalone ({args.train} / {args.test} images) | {train:.3f} | {test:.3f} |")
    print(f"epoch of 55 000 training + 15 000 test images: {(55000 * train + 15000 * test) / 60000:.1f} min")
    print(f"train_ms_per_example={train:.3f} oracle_ms_per_example={oracle_ms:.3f} speedup={oracle_ms / train:.2f}")


if __name__ == "__main__":
    main()
