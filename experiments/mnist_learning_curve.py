"""MNIST at the paper's length (Guerguiev et al. 2017, Fig. 5): test error and feedback angle per epoch.

Reads the per-epoch results written by ``segdend train`` (no retraining) of the runs given, e.g. the
60-epoch runs of README's *Results* section (``--resume`` continues a run that was stopped):

    segdend train --model ref-s --epochs 60 --n-train 0 --n-test 0 --out results/mnist/ref-s --resume
    segdend train --model ref-s-2hidden --epochs 60 --n-train 0 --n-test 0 --out results/mnist/ref-s-2hidden --resume
    python experiments/mnist_learning_curve.py results/mnist/ref-s results/mnist/ref-s-2hidden

Writes ``results/mnist/learning_curve.png`` (left: test error against epoch with the paper's values
after 60 epochs marked; right: the angle between each feedback matrix Y and the transposed forward
weights) and ``results/mnist/summary.md``. The plateau-potential picture of a trained network is
``segdend plot RUN`` (``compartments.png``).
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from brian_segdend.plotting import plot_feedback_angle, plot_learning_curve, save_figure

#: Test error (%) after 60 epochs reported by Guerguiev et al. (2017), by network (README: sources).
PAPER = {"784-500-10": 4.1, "784-500-100-10": 3.2}
PAPER_EPOCHS = 60


def network(config):
    """``784-500-10``: the layer sizes of a run's config."""
    return "-".join(map(str, [config["n_inputs"], *config["n_hidden"], 10 * config["units_per_class"]]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories of segdend train")
    p.add_argument("--out", default="results/mnist")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [json.loads((Path(run) / "results.json").read_text()) for run in args.runs]
    # labelled by run directory: two runs of one model (e.g. other learning rates) stay apart
    labelled = [{**res, "model": f"{Path(run).name} ({network(res['config'])})"} for run, res in zip(args.runs, runs)]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_learning_curve(labelled, ax=left, keys=("test_error",), x="epoch")
    for line, res in zip(left.get_lines(), runs):
        paper = PAPER.pop(network(res["config"]), None)  # marked once per network
        if paper is not None:
            left.plot([PAPER_EPOCHS], [paper], "*", ms=11, color=line.get_color(), label=f"paper {paper} %")
    left.set_xlabel("epoch (60 000 training examples each)")
    left.set_ylabel("MNIST test error (%)")
    left.set_ylim(bottom=0)
    left.legend(fontsize=7)
    plot_feedback_angle(labelled, ax=right)
    right.set_title("feedback Y vs transposed forward weights", fontsize=9)
    save_figure(fig, out / "learning_curve.png", dpi=120)

    rows = [
        "| run | network | epoch | examples | train error % (running) | test error % | examples/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for run, res in zip(args.runs, runs):
        rows += [
            f"| {Path(run).name} | {network(res['config'])} | {e['epoch']} | {e['examples_seen']} | {e['train_error']:.2f} | "
            f"{e['test_error']:.2f} | {e['examples_per_s']:.0f} |"
            for e in res["epochs"]
        ]
    (out / "summary.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows[-2:]))


if __name__ == "__main__":
    main()
