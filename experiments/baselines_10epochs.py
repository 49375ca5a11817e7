"""Baseline accuracies after 10 epochs on CPU (Lange 2018, review of Guerguiev et al. 2017).

Trains the PyTorch baselines with the presets in ``models/<kind>.toml`` on the full
training sets (90 % train / 10 % validation split, seed 0) and reports the test error of
the last epoch next to the targets:

* BP-MLP: accuracy >= 98.2 / 89 / 50 % on MNIST / Fashion-MNIST / CIFAR-10,
* BP-CNN: accuracy >= 99.1 / 90.5 / 65 %,
* FA, DFA, DTP, SDTP on MNIST: test error within 1 point of the published one
  (Bartunov et al. 2018, fully connected MNIST: FA 1.85, DTP 1.83, SDTP 2.28 %;
  Nøkland 2016, DFA: ~1.8-2 %, taken as 2.0 %).

CIFAR-10 is the JPEG copy of the dataset (lossy), so its numbers can differ slightly
from results on the original binary batches.

Writes ``results/baselines/<kind>_<dataset>/results.json|csv``, ``results/baselines/summary.md``
and ``summary.csv``. Checkpoints stay in ``--work-dir`` (default ``runs/baselines``, ignored
by git); an interrupted sweep continues where it stopped (``--no-resume`` starts over).

Usage::

    python experiments/baselines_10epochs.py                      # everything (about 1 h on 1 core)
    python experiments/baselines_10epochs.py --only bp-mlp:mnist fa:mnist
    python experiments/baselines_10epochs.py --summary-only       # rebuild the summary from results/
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from brian_segdend import baselines, registry  # noqa: E402
from brian_segdend.results import atomic_write_text  # noqa: E402

RUNS = [
    ("bp-mlp", "mnist"),
    ("bp-mlp", "fashion-mnist"),
    ("bp-mlp", "cifar10"),
    ("fa", "mnist"),
    ("dfa", "mnist"),
    ("tp", "mnist"),
    ("dtp", "mnist"),
    ("sdtp", "mnist"),
    ("bp-cnn", "mnist"),
    ("bp-cnn", "fashion-mnist"),
    ("bp-cnn", "cifar10"),
]

# (kind, dataset) -> (target, rule, reference)
TARGETS = {
    ("bp-mlp", "mnist"): ("accuracy >= 98.2 %", lambda err: 100 - err >= 98.2),
    ("bp-mlp", "fashion-mnist"): ("accuracy >= 89 %", lambda err: 100 - err >= 89.0),
    ("bp-mlp", "cifar10"): ("accuracy >= 50 %", lambda err: 100 - err >= 50.0),
    ("bp-cnn", "mnist"): ("accuracy >= 99.1 %", lambda err: 100 - err >= 99.1),
    ("bp-cnn", "fashion-mnist"): ("accuracy >= 90.5 %", lambda err: 100 - err >= 90.5),
    ("bp-cnn", "cifar10"): ("accuracy >= 65 %", lambda err: 100 - err >= 65.0),
    ("fa", "mnist"): ("error <= 2.85 % (Bartunov 2018: 1.85 %)", lambda err: err <= 2.85),
    ("dfa", "mnist"): ("error <= 3.0 % (Nøkland 2016: ~1.8-2 %)", lambda err: err <= 3.0),
    ("dtp", "mnist"): ("error <= 2.83 % (Bartunov 2018: 1.83 %)", lambda err: err <= 2.83),
    ("sdtp", "mnist"): ("error <= 3.28 % (Bartunov 2018: 2.28 %)", lambda err: err <= 3.28),
}


def run_one(kind, dataset, args) -> None:
    params = registry.load_model(kind).params_for(dataset)
    work = Path(args.work_dir) / f"{kind}_{dataset}"
    print(f"== {kind} on {dataset}: {params}", flush=True)
    baselines.train(
        kind,
        params,
        dataset,
        epochs=args.epochs,
        seed=args.seed,
        out_dir=work,
        resume=not args.no_resume,
        progress=args.progress,
        data_dir=args.data_dir,
        device=args.device,
        max_train_examples=args.max_train_examples,
        num_threads=args.threads,
    )
    dest = Path(args.out) / f"{kind}_{dataset}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "results.csv"):
        shutil.copyfile(work / name, dest / name)


def summarize(out: Path) -> str:
    rows = []
    for kind, dataset in RUNS:
        path = out / f"{kind}_{dataset}" / "results.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        last = record["epochs"][-1] if record["epochs"] else None
        if last is None:
            continue
        err = last["test_error"]
        target, rule = TARGETS.get((kind, dataset), ("-", None))
        s_per_epoch = sum(e.get("epoch_time_s") or 0 for e in record["epochs"]) / len(record["epochs"])
        rows.append(
            {
                "kind": kind,
                "dataset": dataset,
                "epochs": last["epoch"],
                "test_error_percent": round(err, 2),
                "test_accuracy_percent": round(100 - err, 2),
                "val_error_percent": None if last["val_error"] is None else round(last["val_error"], 2),
                "best_val_epoch": min(
                    record["epochs"], key=lambda e: e["val_error"] if e["val_error"] is not None else 1e9
                )["epoch"],
                "target": target,
                "met": "-" if rule is None else ("yes" if rule(err) else "no"),
                "s_per_epoch": round(s_per_epoch, 1),
                "torch": record.get("versions", {}).get("torch"),
            }
        )
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(out / "summary.csv", buf.getvalue())
    lines = [
        "# Baselines after 10 epochs (CPU)",
        "",
        "Produced by `python experiments/baselines_10epochs.py` (presets in `models/<kind>.toml`, seed 0,",
        "full training sets with 10 % held out for validation, 1 torch thread). Errors are the test error of the",
        "last epoch, in percent. CIFAR-10 is the lossy JPEG copy of the dataset, so its numbers can differ",
        "slightly from results on the original binary batches.",
        "",
        "| kind | dataset | epochs | test acc. % | test err. % | val err. % | target | met | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['dataset']} | {r['epochs']} | {r['test_accuracy_percent']:.2f} | "
            f"{r['test_error_percent']:.2f} | {r['val_error_percent']} | {r['target']} | {r['met']} | {r['s_per_epoch']} |"
        )
    lines += [
        "",
        "Notes:",
        "- `tp` (vanilla target propagation) has no published MNIST target here; it is much weaker than DTP,",
        "  as expected without the difference correction (with the DTP settings it collapsed to chance; see",
        "  `models/tp.toml`).",
        "- Published references are after many more epochs than 10; `met` compares the 10-epoch test error with",
        "  the published error + 1 point (FA, DFA, DTP, SDTP) or with the issue's accuracy targets (BP).",
        "- `s/epoch` is the mean wall time per epoch including validation and test evaluation, on 2 shared CPU",
        "  cores (other jobs ran at the same time, so timings are indicative only).",
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "summary.md", text)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", metavar="KIND:DATASET", help="run only these pairs")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "results" / "baselines"))
    parser.add_argument("--work-dir", default=str(ROOT / "runs" / "baselines"), help="checkpoints go here")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--max-train-examples", type=int, default=None)
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--progress", action="store_true", help="show tqdm bars")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)

    runs = RUNS
    if args.only:
        runs = [tuple(item.split(":", 1)) for item in args.only]
        for kind, _dataset in runs:
            baselines.make_params(kind, {})  # validates the kind
    if not args.summary_only:
        for kind, dataset in runs:
            run_one(kind, dataset, args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
