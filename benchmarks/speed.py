"""Milliseconds per training and per test example, per device, beside a vectorised NumPy baseline.

Networks: 784-500-10 and 784-500-100-10 with the REF-S defaults (exact truncated kernel, Poisson
spikes, random phase lengths 50 + Wald(2, 1), i.e. ~103 steps per training example and 250 per test
example), on real MNIST images; ``784-500-10-rates`` is the same network in rate mode (REF-NS options:
no conductances, rate feedforward and feedback, N_mem = 1); ``3072-500-10`` is REF-S on CIFAR-10
images (the three colour channels flattened to 3072 inputs: about 14 times the input spikes of MNIST). The baseline
(``benchmarks/numpy_baseline.py``) does REF's work per step with dense NumPy products and records
nothing (the test oracle records full traces, which is no fair speed baseline); it is checked against
the oracle first, then timed in this process on the first of the examples the devices run (same
images, phase lengths and initial weights). Devices run in fresh processes, one after the other.
Compilation is excluded (built once, then timed reruns). ``cpp_standalone-generic`` is cpp_standalone
with Brian's own templates instead of the dense-row ones of ``brian_segdend.codegen``.
``--precision single`` runs the devices in float32 (the baseline stays double).

    python benchmarks/speed.py                      # all devices, all networks
    python benchmarks/speed.py --devices cpp_standalone --networks 784-500-10

The last line is ``train_ms_per_example=<v> test_ms_per_example=<v> speedup_vs_numpy=<v>`` for
cpp_standalone on 784-500-10 (the speed-up of training; the table has the test speed-up too).
"""

import argparse
import os
import subprocess
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core on both sides: the baseline's products single-threaded too

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = dict(conductances=False, spiking_feedforward=False, spiking_feedback=False, spike_memory=1)
#: network name -> ModelConfig options
NETWORKS = {
    "784-500-10": dict(n_hidden=(500,)),
    "784-500-100-10": dict(n_hidden=(500, 100)),
    "784-500-10-rates": dict(n_hidden=(500,), **RATES),
    "3072-500-10": dict(n_hidden=(500,), n_inputs=3072),
}
#: the images of each network (the others: MNIST)
DATASETS = {"3072-500-10": "cifar10"}
DEFAULT_COUNTS = {
    "numpy": (4, 2),
    "cython": (40, 10),
    "cpp_standalone": (2000, 400),
    "cpp_standalone-generic": (1000, 200),
}


def time_device(device, options, n_train, n_test, threads, precision="double", dataset="mnist"):
    """Run in a fresh process (one Brian device per process); returns ms per training and test example,
    wall time then CPU time of the process and the binary (``getrusage``: less sensitive to other jobs
    on the machine than wall time)."""
    generic = device.endswith("-generic")
    code = f"""
import time, numpy as np, tempfile, resource
from brian_segdend import codegen, devices, datasets, ModelConfig, SegregatedDendriteNetwork, Simulator
if {generic!r}:
    codegen.DENSE_TEMPLATES.clear()          # Brian's own templates everywhere
devices.activate({device.removesuffix("-generic")!r}, build_directory=tempfile.mkdtemp(), threads={threads},
                 precision={precision!r})
X, y = datasets.load({dataset!r}, 'train'); Xt, yt = datasets.load({dataset!r}, 'test')
sim = Simulator(SegregatedDendriteNetwork(ModelConfig(**{options!r}), seed=0, capacity={max(n_train, n_test)}))
sim.build()
sim.train(X[:{min(n_train, 50)}], y[:{min(n_train, 50)}], seed=1)     # warm-up (runtime code generation)
def clocks():
    own, binary = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return np.array([time.perf_counter(), own.ru_utime + own.ru_stime + binary.ru_utime + binary.ru_stime])
t = clocks(); sim.train(X[100:100 + {n_train}], y[100:100 + {n_train}], seed=2)
train = 1000 * (clocks() - t) / {n_train}
t = clocks(); sim.error(Xt[:{n_test}], yt[:{n_test}], seed=3)
test = 1000 * (clocks() - t) / {n_test}
print('RESULT', train[0], test[0], train[1], test[1])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return tuple(float(v) for v in line.split()[1:])
    raise RuntimeError(f"{device} failed:\n{out.stderr[-3000:]}")


def numpy_networks(options):
    """The NumPy baseline and the test oracle on the initial weights of the device runs (seed 0)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from numpy_baseline import NumpyNetwork
    from oracle import PARAM_KEYS, OracleNetwork

    from brian_segdend import ModelConfig, initial_weights

    cfg = ModelConfig(**options)
    w = initial_weights(cfg, np.random.default_rng(0))
    params = {**cfg.to_dict(), "n_outputs": cfg.n_outputs}
    return cfg, NumpyNetwork(cfg, w), OracleNetwork({k: params[k] for k in PARAM_KEYS}, w["W"], w["b"], w["Y"], w["c"])


def time_numpy(options, n_train, n_test, n_device_train, dataset="mnist"):
    """ms per training and test example of the NumPy baseline (wall, then CPU time), on the first
    examples the device runs (same images, phase lengths and initial weights); first checks it against
    the oracle."""
    from brian_segdend import datasets, draw_phase_lengths

    cfg, net, oracle = numpy_networks(options)
    X, y = datasets.load(dataset, "train")
    Xt = datasets.load(dataset, "test")[0]
    T_f, T_t = draw_phase_lengths(cfg, n_device_train, np.random.default_rng(2))  # as Simulator.train(seed=2)
    X, y = X[100 : 100 + n_train], y[100 : 100 + n_train]
    rngs = np.random.default_rng(7), np.random.default_rng(7)  # same draws: the baseline follows the oracle
    same = (
        net.train_example(X[0], y[0], T_f[0], T_t[0], rngs[0])
        == oracle.train_example(X[0], y[0], T_f[0], T_t[0], rng=rngs[1])["prediction"]
    )
    gap = max(np.abs(a - b).max() for a, b in zip(net.W, oracle.W))
    if not same or gap > 1e-9:
        raise RuntimeError(f"the NumPy baseline does not follow the oracle (weight gap {gap:.2e})")

    def clocks():
        return np.array([time.perf_counter(), time.process_time()])

    t = clocks()
    for k in range(n_train):
        net.train_example(X[k], y[k], int(T_f[k]), int(T_t[k]), rngs[0])
    train, t = 1000 * (clocks() - t) / n_train, clocks()
    for k in range(n_test):
        net.test_example(Xt[k], rngs[0])
    test = 1000 * (clocks() - t) / n_test
    return train[0], test[0], train[1], test[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", nargs="+", default=list(DEFAULT_COUNTS))
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--scale", type=float, default=1.0, help="multiply the example counts")
    p.add_argument("--numpy-examples", type=int, default=40, help="training examples of the NumPy baseline")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--precision", choices=("double", "single"), default="double", help="of the Brian devices")
    args = p.parse_args()
    rows, summary, baselines = [], None, {}
    for name in args.networks:
        options, dataset = NETWORKS[name], DATASETS.get(name, "mnist")
        counts = {d: tuple(max(1, int(c * args.scale)) for c in DEFAULT_COUNTS.get(d, (100, 20))) for d in args.devices}
        n_device_train = max([c[0] for c in counts.values()] + [args.numpy_examples])
        base = time_numpy(options, args.numpy_examples, max(2, args.numpy_examples // 4), n_device_train, dataset)
        rows.append((name, "numpy (vectorised, records nothing)", *base))
        for device in args.devices:
            times = time_device(device, options, *counts[device], args.threads, args.precision, dataset)
            rows.append((name, device, *times))
            if name == "784-500-10" and device == "cpp_standalone":
                summary = (times[0], times[1], base[0] / times[0])
        for row in rows[-1 - len(args.devices) :]:
            print(
                f"{name:16s} {row[1]:36s} train/test ms: wall {row[2]:8.2f} {row[3]:8.2f}  cpu {row[4]:8.2f} {row[5]:8.2f}"
            )
        baselines[name] = base
    print(
        "\n| network | device | train ms (wall / CPU) | test ms (wall / CPU) | speed-up vs NumPy, train (wall / CPU) | test (wall / CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for name, device, tr, te, tr_cpu, te_cpu in rows:
        b = baselines[name]
        print(
            f"| {name} | {device} | {tr:.2f} / {tr_cpu:.2f} | {te:.2f} / {te_cpu:.2f} | "
            f"{b[0] / tr:.1f}x / {b[2] / tr_cpu:.1f}x | {b[1] / te:.1f}x / {b[3] / te_cpu:.1f}x |"
        )
    if summary:
        print(
            f"train_ms_per_example={summary[0]:.3f} test_ms_per_example={summary[1]:.3f} "
            f"speedup_vs_numpy={summary[2]:.2f}"
        )


if __name__ == "__main__":
    main()
