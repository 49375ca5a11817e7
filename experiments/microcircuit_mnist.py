"""MNIST with the dendritic-microcircuit network of Sacramento et al. (2018), Fig. 3 (spec §6.3).

784-500-500-10 in the ``sweep`` dynamics (``models/microcircuit-mnist.toml``), 55 000 training /
5 000 validation images of the MNIST training set, all 10 000 test images; the order of the training
images is reshuffled every epoch. After every chunk of images the whole network state (weights,
biases, minibatch rings) is checkpointed atomically; ``--resume`` continues from the last chunk with
bit-identical results. Per epoch the validation and test errors go to ``results.json`` / ``results.csv``.

    python experiments/microcircuit_mnist.py --out results/microcircuit-mnist --epochs 50
    python experiments/microcircuit_mnist.py --out results/microcircuit-mnist --epochs 50 --resume

A resumed run keeps the settings it began with (stored in its checkpoint), whatever ``--model`` says.

The protocol of ``segdend train --model microcircuit-mnist --n-train 0 --n-test 0
--val-fraction 0.0833333 --chunk-size 5000 --epochs 50`` (the generic loop's result files and
checkpoint); this driver is kept so that runs begun with it resume (its ``checkpoint.npz``: a ``meta``
JSON and ``state/<object>.<variable>`` arrays; ``tests/test_microcircuit_training.py``). The paper
reports 1.96 % test error.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from brian_segdend import datasets, devices
from brian_segdend.microcircuits import (
    MicrocircuitConfig,
    MicrocircuitNetwork,
    MicrocircuitSimulator,
    class_targets,
    load_config,
)
from brian_segdend.results import atomic_save_npz, atomic_write_text, load_npz_checkpoint, write_csv


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="microcircuit-mnist")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--n-train", type=int, default=55000)
    p.add_argument("--n-val", type=int, default=5000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--chunk", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--device", default="cpp_standalone", choices=devices.DEVICES)
    args = p.parse_args(argv)
    out = Path(args.out)
    ckpt_path = out / "checkpoint.npz"
    if ckpt_path.exists() and not args.resume:
        raise SystemExit(f"{ckpt_path} exists: pass --resume to continue it, or choose another --out")

    devices.activate(args.device)
    cfg = load_config(args.model)
    X, y = datasets.load("mnist", "train")
    X_test, y_test = datasets.load("mnist", "test")
    train_idx, val_idx = datasets.train_val_split(len(y), args.n_val / len(y), args.seed)
    train_idx = train_idx[: args.n_train]
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    meta = {"model": args.model, "config": cfg.to_dict(), "seed": args.seed, "epoch": 0, "chunk": 0, "epochs": []}
    arrays = load_npz_checkpoint(ckpt_path) if args.resume and ckpt_path.exists() else None
    if arrays is not None:  # the run's own settings (the named model's may have changed since it began)
        meta = json.loads(str(arrays.pop("meta")))
        cfg = MicrocircuitConfig.from_dict(meta["config"])
    net = MicrocircuitNetwork(cfg, seed=args.seed, capacity=args.chunk)
    sim = MicrocircuitSimulator(net, tempfile.mkdtemp(prefix="microcircuit_mnist_"))
    if arrays is not None:
        sim.set_state({key.removeprefix("state/"): value for key, value in arrays.items()})
        print(f"resumed at epoch {meta['epoch'] + 1}, chunk {meta['chunk']}", flush=True)
    sim.build()
    while meta["epoch"] < args.epochs:
        epoch = meta["epoch"]
        order = np.random.default_rng([args.seed, epoch]).permutation(train_idx)
        chunks = [order[i : i + args.chunk] for i in range(0, len(order), args.chunk)]
        start = time.perf_counter()
        for c in range(meta["chunk"], len(chunks)):
            sim.train(X[chunks[c]], class_targets(cfg, y[chunks[c]]))
            meta["chunk"] = c + 1
            atomic_save_npz(ckpt_path, meta=json.dumps(meta), **{f"state/{k}": v for k, v in sim.get_state().items()})
        train_seconds = time.perf_counter() - start
        row = {
            "epoch": epoch + 1,
            "examples": (epoch + 1) * len(train_idx),
            "val_error": round(sim.error(X[val_idx], y[val_idx]), 3),
            "test_error": round(sim.error(X_test, y_test), 3),
            "train_seconds": round(train_seconds, 1),
        }
        meta["epochs"].append(row)
        meta["epoch"], meta["chunk"] = epoch + 1, 0
        atomic_save_npz(ckpt_path, meta=json.dumps(meta), **{f"state/{k}": v for k, v in sim.get_state().items()})
        atomic_write_text(out / "results.json", json.dumps(meta, indent=1))
        write_csv(out / "results.csv", meta["epochs"])
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
