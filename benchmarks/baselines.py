"""Seconds per training epoch of the PyTorch baselines on this machine.

Each (kind, dataset) pair trains for one epoch on a seeded subset of ``--max-train-examples``
training examples with the preset of ``models/<kind>.toml``; the time per full epoch is
extrapolated from the measured training throughput (examples/s, evaluation excluded) to the
full training split (90 % of the training set; the rest is the validation split).

The last printed line is ``bp_mlp_mnist_s_per_epoch=<value>`` (when bp-mlp on MNIST is measured).

Usage::

    python benchmarks/baselines.py                                 # all kinds on MNIST, 10,000 examples
    python benchmarks/baselines.py --kinds bp-mlp bp-cnn --datasets mnist cifar10 --max-train-examples 5000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from brian_segdend import baselines, datasets, registry  # noqa: E402

FULL_TRAIN = {"mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Seconds per epoch of the baselines.")
    parser.add_argument("--kinds", nargs="+", default=list(baselines.KINDS), choices=baselines.KINDS)
    parser.add_argument("--datasets", nargs="+", default=["mnist"], choices=datasets.DATASETS)
    parser.add_argument(
        "--max-train-examples",
        type=int,
        default=10000,
        help="examples per measured epoch (default 10000; the full set if larger)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    rows = []
    for dataset in args.datasets:
        data = {
            "train": datasets.load(dataset, "train", args.data_dir),
            "test": datasets.load(dataset, "test", args.data_dir),
        }
        n_full = int(round(0.9 * len(data["train"][0])))
        for kind in args.kinds:
            params = registry.load_model(kind).params_for(dataset)
            with tempfile.TemporaryDirectory() as tmp:
                m = baselines.train(
                    kind,
                    params,
                    dataset,
                    epochs=1,
                    seed=0,
                    out_dir=tmp,
                    progress=False,
                    device=args.device,
                    max_train_examples=args.max_train_examples,
                    max_test_examples=1000,
                    num_threads=args.threads,
                    data=data,
                )
            s_per_epoch = n_full / m["examples_per_s"]
            rows.append((kind, dataset, m["examples_per_s"], s_per_epoch))
            print(
                f"{kind:7s} {dataset:14s} {m['examples_per_s']:9.0f} examples/s  "
                f"{s_per_epoch:8.1f} s/epoch ({n_full} examples, {args.threads} thread(s))",
                flush=True,
            )
    for kind, dataset, _, s in rows:
        if (kind, dataset) == ("bp-mlp", "mnist"):
            print(f"bp_mlp_mnist_s_per_epoch={s:.2f}")


if __name__ == "__main__":
    main()
