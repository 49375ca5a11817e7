"""Seconds to build (generate and compile) a ``cpp_standalone`` network from scratch, with and without
the precompiled standard header of ``brian_segdend.devices.with_precompiled_header``, side by side.

Each build runs in a fresh process and a fresh project directory; the two variants alternate, and
the header itself is built before timing starts (once per compiler and flags, then cached).

    python benchmarks/build.py                       # 784-500-100-10, REF-S, 2 rounds
    python benchmarks/build.py --hidden 500 --rounds 3

The last line is ``with_pch_s=<v> without_pch_s=<v> ratio=<without/with>`` (medians).
"""

import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUILD = """
import tempfile, time
from brian2 import prefs
from brian_segdend import devices, ModelConfig, SegregatedDendriteNetwork, Simulator
devices.activate('cpp_standalone', build_directory=tempfile.mkdtemp())
if not {pch!r}:
    prefs.codegen.cpp.extra_compile_args_gcc = [f for f in prefs.codegen.cpp.extra_compile_args_gcc
                                                 if not f.startswith('-include')]
t = time.perf_counter()
Simulator(SegregatedDendriteNetwork(ModelConfig(n_hidden={hidden!r}), seed=0, capacity=10)).build()
print('RESULT', time.perf_counter() - t)
"""


def build_seconds(hidden, pch):
    out = subprocess.run(
        [sys.executable, "-c", BUILD.format(hidden=tuple(hidden), pch=pch)], capture_output=True, text=True, cwd=ROOT
    )
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
    with_s, without_s = statistics.median(times[True]), statistics.median(times[False])
    print(f"with_pch_s={with_s:.1f} without_pch_s={without_s:.1f} ratio={without_s / with_s:.2f}")


if __name__ == "__main__":
    main()
