"""Command line: ``segdend train | test | models | plot | experiment`` (also ``python -m brian_segdend``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _parser():
    from .datasets import DATASETS
    from .devices import DEVICES

    p = argparse.ArgumentParser(prog="segdend", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (default: a short MNIST job with the paper's network)")
    t.add_argument("--model", default="ref-s", help="name in models/ or a .toml path (default: ref-s)")
    t.add_argument("--dataset", default="mnist", choices=DATASETS)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--n-train", type=int, default=5000, help="training examples per epoch (0: all)")
    t.add_argument("--n-test", type=int, default=1000, help="test examples (0: all)")
    t.add_argument("--val-fraction", type=float, default=0.0)
    t.add_argument("--device", default="auto", choices=("auto",) + DEVICES)
    t.add_argument("--threads", type=int, default=0, help="OpenMP threads (cpp_standalone)")
    t.add_argument("--chunk-size", type=int, default=1000)
    t.add_argument(
        "--quick-test",
        type=int,
        default=None,
        metavar="N",
        help="REF's quick test: 100 test images after every N training examples (a multiple of --chunk-size)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run directory (default: runs/<model>-<dataset>-s<seed>)")
    t.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    t.add_argument("--data-dir", default=None)
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("test", help="test error of a saved network or run directory")
    e.add_argument("network", help="run directory or network.npz")
    e.add_argument("--dataset", default="mnist", choices=DATASETS)
    e.add_argument("--n-test", type=int, default=0)
    e.add_argument("--device", default="auto", choices=("auto",) + DEVICES)
    e.add_argument("--data-dir", default=None)

    sub.add_parser("models", help="list the named models")

    x = sub.add_parser("experiment", help="run a study experiment (scalability, learning_dynamics, hyperopt)")
    xs = x.add_subparsers(dest="experiment", required=True)
    from .study import BUDGETS, EXPERIMENTS, experiment_module

    for name in EXPERIMENTS:
        module = experiment_module(name)
        xp = xs.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        xp.add_argument(
            "--budget",
            default="smoke",
            choices=BUDGETS,
            help="smoke: every step on small subsets in minutes; full: the real study",
        )
        xp.add_argument("--out", default=None, help=f"output directory (default: results/{name})")
        xp.add_argument("--data-dir", default=None)
        xp.add_argument("--resume", action="store_true", help="continue from the files already in --out")
        xp.add_argument("--quiet", action="store_true", help="no progress bars")
        module.add_arguments(xp)

    f = sub.add_parser("plot", help="figures of a training run directory")
    f.add_argument("run", help="run directory (with results.json and network.npz)")
    f.add_argument("--out", default=None, help="where to write the PNGs (default: the run directory)")
    f.add_argument("--data-dir", default=None)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"segdend: error: {exc}", file=sys.stderr)
        return 2


def _run(args):
    from . import datasets, devices, registry

    if args.command == "models":
        for name, spec in registry.list_models().items():
            print(f"{name:16s} {spec.kind:8s} {spec.description}")
        return 0
    if args.command == "experiment":
        from .study import run_experiment

        options = {
            k: v
            for k, v in vars(args).items()
            if k not in ("command", "experiment", "budget", "out", "data_dir", "resume", "quiet")
        }
        run_experiment(
            args.experiment,
            budget=args.budget,
            out=args.out or f"results/{args.experiment}",
            data_dir=args.data_dir,
            resume=args.resume,
            progress=not args.quiet,
            **options,
        )
        return 0
    if args.command == "plot":
        from .plotting import plot_run

        for path in plot_run(args.run, args.out, data_dir=args.data_dir):
            print(path)
        return 0
    if args.command == "test":
        from .training import evaluate

        device = devices.activate(args.device, build_directory=datasets.cache_dir() / "build-test")
        err = evaluate(args.network, args.dataset, n_test=args.n_test or None, data_dir=args.data_dir)
        print(f"test error {err:.2f} % ({args.dataset}, device {device})")
        return 0

    spec = registry.load_model(args.model)
    out = Path(args.out or f"runs/{spec.name}-{args.dataset}-s{args.seed}")
    if spec.kind != "segdend":
        try:
            from .baselines import train as train_baseline
        except ImportError as exc:
            raise RuntimeError(
                f"the {spec.kind} baseline needs PyTorch ({exc}); install the extra with `pip install -e '.[torch]'`"
            ) from exc
        result = train_baseline(
            spec.kind,
            spec.params_for(args.dataset),
            args.dataset,
            args.epochs,
            args.seed,
            out,
            resume=args.resume,
            progress=not args.quiet,
            data_dir=args.data_dir,
            max_train_examples=args.n_train or None,
            val_fraction=args.val_fraction,
        )
        print(f"test error {result['test_error']:.2f} %")
        return 0

    from .training import architecture_key, train

    config = spec.config()
    build = None
    if args.device in ("auto", "cpp_standalone", "cuda_standalone"):
        build = datasets.cache_dir() / f"build-{architecture_key(config, args.chunk_size)}"
    device = devices.activate(args.device, build_directory=build, threads=args.threads)
    print(f"model {spec.name}: {spec.description}\ndevice {device}, kernel {config.kernel}, run directory {out}")
    if device.endswith("standalone"):
        print(f"compiling the network (once per architecture; cached in {build})", flush=True)
    record = train(
        config,
        args.dataset,
        epochs=args.epochs,
        seed=args.seed,
        out=out,
        n_train=args.n_train or None,
        n_test=args.n_test or None,
        val_fraction=args.val_fraction,
        chunk_size=args.chunk_size,
        resume=args.resume,
        progress=not args.quiet,
        data_dir=args.data_dir,
        model_name=spec.name,
        build_directory=build,
        quick_test_every=args.quick_test,
    )
    print(
        f"test error {record['test_error']:.2f} % after {args.epochs} epoch(s) of "
        f"{args.n_train or 'all'} examples ({args.dataset}, {spec.name}, {device})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
