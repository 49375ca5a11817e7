"""Milliseconds per training example of 784-500-10 (REF-S) on every available device, side by side,
and the cost of a recorder on 10 hidden neurons during a recorded example.

    python benchmarks/devices.py

Last line: ``cpp_standalone_ms=<v> cython_ms=<v> numpy_ms=<v>``.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speed import DEFAULT_COUNTS, NETWORKS, ROOT, time_device  # noqa: E402

RECORDER = """
import time, tempfile, numpy as np
from brian_segdend import devices, datasets, ModelConfig, SegregatedDendriteNetwork, Simulator
from brian_segdend.monitoring import record
devices.activate('cpp_standalone', build_directory=tempfile.mkdtemp())
X, y = datasets.load('mnist', 'train')
net = SegregatedDendriteNetwork(ModelConfig(random_phase_lengths=False), seed=0, capacity=200)
rec = record(net, 'hidden1', ['d', 'a', 'u'], neurons=range(10))
sim = Simulator(net); sim.build()
plain, recorded = [], []
for rep in range(3):
    for flag, out in ((False, plain), (True, recorded)):
        t = time.perf_counter(); sim.present(X[:200], y[:200], learn=True, seed=rep, record=flag)
        out.append((time.perf_counter() - t) / 200)
print('RESULT', 1000 * min(plain), 1000 * min(recorded))
"""


def main():
    results = {}
    for device in ("numpy", "cython", "cpp_standalone"):
        n_train, n_test = DEFAULT_COUNTS[device]
        results[device] = time_device(device, NETWORKS["784-500-10"], n_train, 1, 0)[0]
        print(f"{device:15s} {results[device]:9.2f} ms per training example", flush=True)
    out = subprocess.run([sys.executable, "-c", RECORDER], capture_output=True, text=True, cwd=ROOT)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
    if line:
        plain, recorded = (float(v) for v in line[0].split()[1:])
        print(
            f"recorder on 10 hidden neurons (d, a, u), every example recorded: {plain:.2f} -> {recorded:.2f} ms "
            f"per example (+{100 * (recorded / plain - 1):.1f} %); unrecorded runs pay only the event check"
        )
    else:
        print(out.stderr[-2000:])
    print(
        f"cpp_standalone_ms={results['cpp_standalone']:.3f} cython_ms={results['cython']:.3f} "
        f"numpy_ms={results['numpy']:.3f}"
    )


if __name__ == "__main__":
    main()
