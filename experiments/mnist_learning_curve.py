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

from brian_segdend.plotting import plot_learning_curve, save_figure


def network(config):
    """``784-500-10``: the layer sizes of a run's config."""
    return "-".join(map(str, [config["n_inputs"], *config["n_hidden"], 10 * config["units_per_class"]]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="results/mnist")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [json.loads((Path(run) / "results.json").read_text()) for run in args.runs]
    labelled = [{**res, "model": f"{res['model']} ({network(res['config'])})"} for res in runs]
    ax = plot_learning_curve(labelled, keys=("test_error",), x="epoch")
    ax.set_xlabel("epoch (60 000 examples)")
    ax.set_ylabel("MNIST test error (%)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    save_figure(ax, out / "learning_curve.png", dpi=120)
    rows = [
        "| run | network | epoch | examples | train error % (running) | test error % | examples/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in runs:
        rows += [
            f"| {res['model']} | {network(res['config'])} | {e['epoch']} | {e['examples_seen']} | {e['train_error']:.2f} | "
            f"{e['test_error']:.2f} | {e['examples_per_s']:.0f} |"
            for e in res["epochs"]
        ]
    (out / "summary.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
