"""Throughput of a full-epoch-sized training job in cpp_standalone, and the overhead of chunking.

Runs ``brian_segdend.training.train`` (the code behind ``segdend train``) on MNIST with the REF-S
784-500-10 network: chunked reruns of the compiled binary with carried-over weights and state, and an
atomic checkpoint after every chunk. The overhead is the time outside the simulation itself (writing
run_args, reading results back, checkpoints, Python) relative to the time inside the binary, i.e. the
in-simulation per-step cost that benchmarks/speed.py measures.

    python benchmarks/train_throughput.py                  # 60000 examples (one epoch), chunks of 1000
    python benchmarks/train_throughput.py --n-train 5000   # quicker

Last line: ``train_ms_per_example=<v> overhead_pct=<v>``.
"""

import argparse
import tempfile
import time

from brian_segdend import ModelConfig, devices
from brian_segdend.training import train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=60000)
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    devices.activate("cpp_standalone", build_directory=tempfile.mkdtemp(), threads=args.threads)
    out = tempfile.mkdtemp()
    t0 = time.perf_counter()
    record = train(
        ModelConfig(),
        "mnist",
        epochs=1,
        seed=0,
        out=out,
        n_train=args.n_train,
        n_test=1,
        chunk_size=args.chunk_size,
        progress=True,
    )
    wall = record["wall_time_s"]  # the training chunks incl. checkpoints, no compilation
    n_runs = -(-args.n_train // args.chunk_size)
    inside = record["simulation_s"]  # time inside the binary during the training chunks
    print(
        f"total {time.perf_counter() - t0:.1f} s (incl. compilation); training {wall:.1f} s for "
        f"{args.n_train} examples in {n_runs} runs; inside the binary {inside:.1f} s"
    )
    print(f"train_ms_per_example={1000 * wall / args.n_train:.3f} overhead_pct={100 * (wall - inside) / inside:.1f}")


if __name__ == "__main__":
    main()
