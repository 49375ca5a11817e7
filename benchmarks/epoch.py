"""One full MNIST epoch with a full test, through the code behind ``segdend train``, and the test split.

Trains the REF-S 784-500-10 network (exact truncated kernel, ``cpp_standalone``) for one epoch on all
60 000 training images, then tests it on all 10 000 test images with the test runs split over
``--workers`` processes (``brian_segdend.training.train(test_workers=...)``, i.e. ``segdend train
--epochs 1 --n-train 0 --n-test 0 --test-workers 2``). Then, side by side on the trained network, the
same test serially and split, timed one after the other, and their predictions compared (they must be
identical). Compilation is excluded (``sim.build()`` before the clock starts, as in ``train``).

    python benchmarks/epoch.py                          # the full epoch (minutes)
    python benchmarks/epoch.py --n-train 2000 --n-test 2000   # quicker

Last line: ``epoch_wall_s=<training + split test> test_speedup=<serial test s / split test s>``.
"""

import argparse
import tempfile
import time

import numpy as np

from brian_segdend import ModelConfig, datasets, devices
from brian_segdend.training import train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=60000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2, help="processes of the split test")
    args = p.parse_args()
    devices.activate("cpp_standalone", build_directory=tempfile.mkdtemp())
    record = train(
        ModelConfig(),
        "mnist",
        epochs=1,
        seed=0,
        n_train=args.n_train,
        n_test=args.n_test,
        chunk_size=args.chunk_size,
        test_workers=args.workers,
        progress=False,
    )
    train_s, test_s = record["wall_time_s"], record["test_seconds"]
    print(f"epoch: training {train_s:.1f} s for {args.n_train} examples, test {test_s:.1f} s for {args.n_test}")

    sim = record["simulator"]
    X, y = datasets.load("mnist", "test")
    X, y = X[: args.n_test], y[: args.n_test]
    timed = {}
    for workers in (1, args.workers):
        t0 = time.perf_counter()
        predicted = sim.test(X, y, seed=11, workers=workers)
        timed[workers] = (time.perf_counter() - t0, predicted)
    (serial_s, serial), (split_s, split) = timed[1], timed[args.workers]
    if not np.array_equal(serial, split):
        raise RuntimeError(f"the split test differs from the serial one in {np.sum(serial != split)} predictions")
    print(
        f"test of {args.n_test} examples: serial {serial_s:.1f} s, over {args.workers} processes {split_s:.1f} s "
        f"(identical predictions, error {100 * np.mean(serial != y):.2f} %)"
    )
    print(f"epoch_wall_s={train_s + test_s:.1f} test_speedup={serial_s / split_s:.2f}")


if __name__ == "__main__":
    main()
