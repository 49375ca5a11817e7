"""Peak memory of the 6 x 500 network beside the bytes its weights and state need (cpp_standalone).

The network is 784-500-500-500-500-500-500-10 with the REF-S defaults (``--hidden`` changes the
count). A first process compiles it; a second one builds the same project again (nothing
recompiles), trains and tests random images in [0, 1] (memory does not depend on their content; the
MNIST arrays would dominate the Python process), and reports:

* needed: the bytes of every array Brian holds for the network's groups and synapses (weights,
  feedback weights, biases, potentials, spike memories, synapse indices, the images of one chunk),
  read from the Brian objects themselves (each array at its size: one value for a scalar, the
  number of synapses or of neurons for the others);
* the peak resident memory of the simulation binary (``/usr/bin/time -f %M`` around each run of
  ``main``, through Brian's ``devices.cpp_standalone.run_cmd_unix``; ``getrusage`` of the children
  would count the Python process's pages at the fork) and of the Python process.

    python benchmarks/memory.py                    # double precision, 6 hidden layers
    python benchmarks/memory.py --precision single

The last line is ``needed_mb=<v> binary_peak_mb=<v> python_peak_mb=<v> binary_over_needed=<v>``.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = """
import resource
import numpy as np
from brian2 import NeuronGroup, Synapses, get_device, prefs
from brian2.core.variables import ArrayVariable
from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, devices

devices.activate("cpp_standalone", build_directory={build!r}, precision={precision!r})
prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-a", "-o", {peaks!r}, "-f", "%M", "./main"]
rng = np.random.default_rng(0)
X, y = rng.random(({chunk} * {chunks}, 784)), rng.integers(0, 10, {chunk} * {chunks})
model = SegregatedDendriteNetwork(ModelConfig(n_hidden=(500,) * {hidden}), seed=0, capacity={chunk})
sim = Simulator(model)
sim.build()
for k in range({chunks}):
    sim.train(X[k * {chunk}:(k + 1) * {chunk}], y[k * {chunk}:(k + 1) * {chunk}], seed=k)
sim.error(X[:{chunk}], y[:{chunk}], seed=99)
arrays = {{}}  # one entry per array (i, j, _presynaptic_idx are other names of _synaptic_pre/post)
for obj in model.brian_network.objects:
    if isinstance(obj, (NeuronGroup, Synapses)):
        for var in obj.variables.values():
            if isinstance(var, ArrayVariable) and var.owner.name == obj.name:
                arrays[get_device().get_array_name(var, access_data=False)] = np.asarray(var.get_value()).nbytes
needed = sum(arrays.values())
binary = max(int(line) for line in open({peaks!r}) if line.strip().isdigit()) * 1024
python = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print("RESULT", needed, binary, python)
"""


def run(build, precision, hidden, chunk, chunks):
    """Run :data:`CODE` in a fresh process; returns (needed, binary peak, Python peak) in bytes."""
    peaks = os.path.join(build, "peak_kb.txt")
    code = CODE.format(build=build, precision=precision, hidden=hidden, chunk=chunk, chunks=chunks, peaks=peaks)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return tuple(int(v) for v in line.split()[1:])
    raise RuntimeError(f"the benchmark process failed:\n{out.stderr[-3000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="double", choices=("double", "single"))
    parser.add_argument("--hidden", type=int, default=6, help="hidden layers of 500 units")
    parser.add_argument("--chunk", type=int, default=100, help="examples per run of the binary")
    parser.add_argument("--chunks", type=int, default=3, help="training runs timed after the build")
    args = parser.parse_args(argv)
    build = tempfile.mkdtemp()
    run(build, args.precision, args.hidden, args.chunk, 1)  # compiles
    needed, binary, python = run(build, args.precision, args.hidden, args.chunk, args.chunks)
    mb = 1024**2
    print(
        f"784-{'500-' * args.hidden}10, {args.precision}: the arrays of its groups and synapses {needed / mb:.1f} MB; "
        f"peak resident memory of the simulation binary {binary / mb:.1f} MB, of the Python process {python / mb:.1f} MB"
    )
    print(
        f"needed_mb={needed / mb:.1f} binary_peak_mb={binary / mb:.1f} python_peak_mb={python / mb:.1f} "
        f"binary_over_needed={binary / needed:.2f}"
    )


if __name__ == "__main__":
    main()
