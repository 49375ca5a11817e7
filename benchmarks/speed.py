"""Milliseconds per training and per test example, per device, beside the NumPy oracle (one run).

Networks: 784-500-10 and 784-500-100-10 with the REF-S defaults (exact truncated kernel, Poisson
spikes, random phase lengths 50 + Wald(2, 1), i.e. ~103 steps per training example and 250 per test
example), on real MNIST images; ``784-500-10-rates`` is the same network in rate mode (REF-NS options:
no conductances, rate feedforward and feedback, N_mem = 1). The step-by-step NumPy oracle of the test
suite (tests/oracle.py) is timed in the same process as the baseline. Compilation is excluded (built
once, then timed reruns). The device ``cpp_standalone-generic`` is cpp_standalone with Brian's own
templates instead of the dense-row ones of ``brian_segdend.codegen`` (their speed-up, side by side).

    python benchmarks/speed.py                      # all devices, both networks
    python benchmarks/speed.py --devices cpp_standalone --networks 784-500-10

The last line is ``train_ms_per_example=<v> test_ms_per_example=<v> speedup_vs_oracle=<v>`` for
cpp_standalone on 784-500-10.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = dict(conductances=False, spiking_feedforward=False, spiking_feedback=False, spike_memory=1)
#: network name -> ModelConfig options
NETWORKS = {
    "784-500-10": dict(n_hidden=(500,)),
    "784-500-100-10": dict(n_hidden=(500, 100)),
    "784-500-10-rates": dict(n_hidden=(500,), **RATES),
}
DEFAULT_COUNTS = {
    "numpy": (4, 2),
    "cython": (40, 10),
    "cpp_standalone": (2000, 400),
    "cpp_standalone-generic": (1000, 200),
}


def time_device(device, options, n_train, n_test, threads):
    """Run in a fresh process (one Brian device per process); returns (train_ms, test_ms)."""
    generic = device.endswith("-generic")
    code = f"""
import time, numpy as np, tempfile
from brian_segdend import codegen, devices, datasets, ModelConfig, SegregatedDendriteNetwork, Simulator
if {generic!r}:
    codegen.DENSE_TEMPLATES.clear()          # Brian's own templates everywhere
devices.activate({device.removesuffix("-generic")!r}, build_directory=tempfile.mkdtemp(), threads={threads})
X, y = datasets.load('mnist', 'train'); Xt, yt = datasets.load('mnist', 'test')
sim = Simulator(SegregatedDendriteNetwork(ModelConfig(**{options!r}), seed=0, capacity={max(n_train, n_test)}))
sim.build()
sim.train(X[:{min(n_train, 50)}], y[:{min(n_train, 50)}], seed=1)     # warm-up (runtime code generation)
t = time.perf_counter(); sim.train(X[100:100 + {n_train}], y[100:100 + {n_train}], seed=2)
train = 1000 * (time.perf_counter() - t) / {n_train}
t = time.perf_counter(); sim.error(Xt[:{n_test}], yt[:{n_test}], seed=3)
test = 1000 * (time.perf_counter() - t) / {n_test}
print('RESULT', train, test)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return tuple(float(v) for v in line.split()[1:])
    raise RuntimeError(f"{device} failed:\n{out.stderr[-3000:]}")


def time_oracle(options, n_train, n_test):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from oracle import PARAM_KEYS, OracleNetwork

    from brian_segdend import ModelConfig, datasets, draw_phase_lengths, initial_weights

    cfg = ModelConfig(**options)
    params = {**cfg.to_dict(), "n_outputs": cfg.n_outputs}
    w = initial_weights(cfg, np.random.default_rng(0))
    net = OracleNetwork({k: params[k] for k in PARAM_KEYS}, w["W"], w["b"], w["Y"], w["c"])
    X, y = datasets.load("mnist", "train")
    rng = np.random.default_rng(1)
    T_f, T_t = draw_phase_lengths(cfg, n_train, rng)
    t = time.perf_counter()
    for k in range(n_train):
        net.train_example(X[k], y[k], int(T_f[k]), int(T_t[k]), rng=rng)
    train = 1000 * (time.perf_counter() - t) / n_train
    t = time.perf_counter()
    for k in range(n_test):
        net.test_example(X[k], cfg.test_steps, rng=rng)
    return train, 1000 * (time.perf_counter() - t) / n_test


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", nargs="+", default=list(DEFAULT_COUNTS))
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--scale", type=float, default=1.0, help="multiply the example counts")
    p.add_argument("--oracle-examples", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    rows, summary = [], None
    for name in args.networks:
        options = NETWORKS[name]
        o_train, o_test = time_oracle(options, args.oracle_examples, max(2, args.oracle_examples // 4))
        rows.append((name, "numpy oracle (tests/oracle.py)", o_train, o_test, 1.0))
        print(f"{name:15s} {'oracle':15s} train {o_train:8.2f} ms  test {o_test:8.2f} ms", flush=True)
        for device in args.devices:
            n_train, n_test = (max(1, int(c * args.scale)) for c in DEFAULT_COUNTS.get(device, (100, 20)))
            train_ms, test_ms = time_device(device, options, n_train, n_test, args.threads)
            rows.append((name, device, train_ms, test_ms, o_train / train_ms))
            print(
                f"{name:15s} {device:15s} train {train_ms:8.2f} ms  test {test_ms:8.2f} ms  "
                f"speed-up x{o_train / train_ms:.1f}",
                flush=True,
            )
            if name == "784-500-10" and device == "cpp_standalone":
                summary = (train_ms, test_ms, o_train / train_ms)
    print("\n| network | device | train ms/example | test ms/example | train speed-up vs oracle |")
    print("|---|---|---|---|---|")
    for name, device, tr, te, sp in rows:
        print(f"| {name} | {device} | {tr:.2f} | {te:.2f} | {sp:.1f}x |")
    if summary:
        print(
            f"train_ms_per_example={summary[0]:.3f} test_ms_per_example={summary[1]:.3f} "
            f"speedup_vs_oracle={summary[2]:.2f}"
        )


if __name__ == "__main__":
    main()
