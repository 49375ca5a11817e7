"""Evaluations per hour of the study's Dask engine with 1 and 2 workers, side by side in one run.

The same small search runs twice, on an embedded ``LocalCluster`` of 1 and then 2 worker processes:
the MLP family on a stratified MNIST subset, every point from the initial design (a fixed Sobol
sequence), so both runs evaluate exactly the same configurations. Time counts from the first
submitted evaluation to the last finished one (the cluster's start is not counted). Run it on a quiet
machine: it measures how the engine scales, so other jobs distort it.

    python benchmarks/study_throughput.py [--evaluations 32 --subset 3000]

Last line: ``evals_per_hour_1=... evals_per_hour_2=... scaling=...``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from brian_segdend.study import engine
from brian_segdend.study.hyperopt import SearchSettings, search


def evals_per_hour(workers: int, settings: SearchSettings) -> tuple[float, list[dict]]:
    """Run the search on ``workers`` local workers; returns evaluations per hour and the log."""
    with engine.connect(engine.EngineSettings(workers=workers)) as client, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        entries = search(settings, Path(tmp), client, progress=False, log=lambda _: None)
        elapsed = time.perf_counter() - t0
    print(f"{workers} worker(s): {len(entries)} evaluations in {elapsed:.1f} s", flush=True)
    return 3600.0 * len(entries) / elapsed, entries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--evaluations",
        type=int,
        default=32,
        help="per run; with 16 or fewer, the last one running alone lowers the 2-worker rate",
    )
    parser.add_argument("--subset", type=int, default=3000, help="stratified MNIST images per evaluation")
    args = parser.parse_args(argv)
    n = args.evaluations
    settings = SearchSettings("mlp", subset=args.subset, epochs=1, evaluations=n, initial_points=n, seed=0)
    one, log1 = evals_per_hour(1, settings)
    two, log2 = evals_per_hour(2, settings)
    assert sorted(map(tuple, (e["x"] for e in log1))) == sorted(map(tuple, (e["x"] for e in log2)))  # same work
    print(f"evals_per_hour_1={one:.1f} evals_per_hour_2={two:.1f} scaling={two / one:.2f}")


if __name__ == "__main__":
    main()
