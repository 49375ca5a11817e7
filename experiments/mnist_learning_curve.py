"""MNIST learning curves of the spiking segregated-dendrite networks (Guerguiev et al. 2017, Fig. 5).

Reads the per-epoch results written by ``segdend train`` (no retraining) and draws test error against
epochs for each run directory given, e.g. the runs of README's *Results* section:

    segdend train --model ref-s --epochs 3 --n-train 0 --n-test 0 --out results/mnist/ref-s
    segdend train --model ref-s-2hidden --epochs 2 --n-train 0 --n-test 0 --out results/mnist/ref-s-2hidden
    python experiments/mnist_learning_curve.py results/mnist/ref-s results/mnist/ref-s-2hidden

Writes ``results/mnist/learning_curve.png`` and ``results/mnist/summary.md``.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="results/mnist")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    rows = [
        "| run | network | epoch | examples | train error % (running) | test error % | examples/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in args.runs:
        res = json.loads((Path(run) / "results.json").read_text())
        sizes = [res["config"]["n_inputs"], *res["config"]["n_hidden"], 10 * res["config"]["units_per_class"]]
        net = "-".join(map(str, sizes))
        epochs = [e["epoch"] for e in res["epochs"]]
        ax.plot(epochs, [e["test_error"] for e in res["epochs"]], "o-", label=f"{res['model']} ({net})")
        for e in res["epochs"]:
            rows.append(
                f"| {res['model']} | {net} | {e['epoch']} | {e['examples_seen']} | {e['train_error']:.2f} | "
                f"{e['test_error']:.2f} | {e['examples_per_s']:.0f} |"
            )
    ax.set_xlabel("epoch (60 000 examples)")
    ax.set_ylabel("MNIST test error (%)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    (out / "summary.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
