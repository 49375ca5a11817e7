"""Seconds to build (generate and compile) a ``cpp_standalone`` network from scratch, with and without
the precompiled standard header of ``brian_segdend.devices.with_precompiled_header``, side by side;
and the build of a new hyperparameter point in the project directory of the previous one (another
learning rate, time constants, conductances, phase lengths: the same ``training.build_key``), which
rewrites the code and recompiles what changed.

Each build runs in a fresh process; the from-scratch builds in a fresh project directory, the two
variants alternating; the header itself is built before timing starts (once per compiler and flags,
then cached).

    python benchmarks/build.py                       # 784-500-100-10, REF-S, 2 rounds
    python benchmarks/build.py --hidden 500 --rounds 3

The last line is ``with_pch_s=<v> without_pch_s=<v> ratio=<without/with> new_point_s=<v>`` (medians).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUILD = """
import tempfile, time
from brian2 import prefs
from brian_segdend import devices, ModelConfig, SegregatedDendriteNetwork, Simulator
directory = {directory!r} or tempfile.mkdtemp()
devices.activate('cpp_standalone', build_directory=directory)
if not {pch!r}:
    prefs.codegen.cpp.extra_compile_args_gcc = [f for f in prefs.codegen.cpp.extra_compile_args_gcc
                                                 if not f.startswith('-include')]
t = time.perf_counter()
config = ModelConfig(n_hidden={hidden!r}, **{values!r})
Simulator(SegregatedDendriteNetwork(config, seed=0, capacity=10), build_directory=directory).build()
print('RESULT', time.perf_counter() - t)
"""


#: a second hyperparameter point of the same architecture
POINT = dict(tau_s=2.0, tau_L=12.0, g_B=0.5, forward_steps=30, lambda_max=0.3)


def build_seconds(hidden, pch, directory=None, values=None):
    code = BUILD.format(hidden=tuple(hidden), pch=pch, directory=directory, values=values or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return float(line.split()[1])
    raise RuntimeError(f"build failed:\n{out.stderr[-3000:]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 100], help="hidden layer sizes")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    from brian2 import prefs

    from brian_segdend import devices

    devices.with_precompiled_header(prefs.codegen.cpp.extra_compile_args_gcc)  # build the header now
    times = {True: [], False: []}
    for r in range(args.rounds):
        for pch in (True, False):
            times[pch].append(build_seconds(args.hidden, pch))
            print(
                f"round {r + 1}: {'with' if pch else 'without'} precompiled header {times[pch][-1]:6.1f} s", flush=True
            )
    points = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as directory:
            build_seconds(args.hidden, True, directory)
            rates = (0.1,) * (len(args.hidden) + 1)
            points.append(build_seconds(args.hidden, True, directory, {**POINT, "learning_rates": rates}))
        print(f"round {r + 1}: a new point in the previous point's directory {points[-1]:6.1f} s", flush=True)
    with_s, without_s = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"with_pch_s={with_s:.1f} without_pch_s={without_s:.1f} ratio={without_s / with_s:.2f} "
        f"new_point_s={statistics.median(points):.1f}"
    )


if __name__ == "__main__":
    main()
