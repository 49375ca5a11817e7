"""Command line: ``segdend train | test | models | data | plot | experiment`` (also ``python -m brian_segdend``).

Every option is checked before anything is built: bad values stop the command at once with a message
that names the option and the value, and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

__all__ = ["main"]

TEST_WORKERS_HELP = (
    "processes the test (and validation) examples of a spiking model are split over; "
    "results identical to 1 (default: 1)"
)
PRECISION_HELP = "floating point of a spiking model: double (exact, default) or single (faster, within 1e-4)"
EXAMPLES = {
    None: """\
  segdend train                                    # the paper's network on 5000 MNIST images
  segdend train --model bp-mlp --dataset cifar10   # a PyTorch baseline
  segdend experiment scalability --budget smoke    # the study, end to end on small subsets""",
    "train": """\
  segdend train --model ref-s --epochs 3 --n-train 0 --n-test 0 --out runs/ref-s
  segdend train --set n_hidden=100 --set 'learning_rates=[0.1, 0.05]' --n-train 1000 --device numpy
  segdend train --model my-model.toml --dataset fashion-mnist --data-dir ~/data --no-download""",
    "test": """\
  segdend test runs/ref-s                          # all 10 000 MNIST test images
  segdend test runs/ref-s --n-test 1000 --device numpy""",
    "models": """\
  segdend models
  BRIAN_SEGDEND_MODELS=~/my-models segdend models  # your own TOML files too""",
    "data": """\
  segdend data                                     # where each dataset is (downloads what is missing)
  segdend data mnist cifar10 --data-dir ~/data     # fetch two datasets into ~/data (must exist)
  segdend data --no-download                       # check only""",
    "selfpredict": """\
  segdend selfpredict --model microcircuit-regression --patterns 2000 --out runs/selfpredict""",
    "plot": """\
  segdend plot runs/ref-s
  segdend plot runs/ref-s --out figures/ref-s""",
    "experiment": """\
  segdend experiment scalability --budget smoke
  segdend experiment learning_dynamics --budget full --runs results/scalability/runs
  segdend experiment hyperopt --budget smoke""",
}


def _examples(command):
    return f"examples:\n{EXAMPLES[command]}"


def _integer(low):
    """An argparse type: an integer >= ``low``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def _directory(text):
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"directory {text!r} does not exist")
    return str(path)


def _dataset(text):
    from .datasets import DATASETS

    if text not in DATASETS:
        raise argparse.ArgumentTypeError(f"unknown dataset {text!r}; valid names are: {', '.join(DATASETS)}")
    return text


def _data_options(parser, download=True):
    parser.add_argument(
        "--data-dir",
        type=_directory,
        default=None,
        help="data root (default: $BRIAN_SEGDEND_DATA, else ~/.cache/brian_segdend/data, then ../shared/datasets)",
    )
    if download:
        parser.add_argument("--no-download", action="store_true", help="never download a missing dataset (offline use)")


def _parser():
    from . import __version__
    from .datasets import DATASETS
    from .devices import DEVICES

    def command(name, **kwargs):
        return sub.add_parser(
            name, epilog=_examples(name), formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
        )

    p = argparse.ArgumentParser(
        prog="segdend",
        description=__doc__,
        epilog=_examples(None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = command("train", help="train a model (default: a short MNIST job with the paper's network)")
    t.add_argument("--model", default="ref-s", help="a name from `segdend models` or a .toml path (default: ref-s)")
    t.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="change one model parameter (a ModelConfig field, or a baseline's parameter), "
        "VALUE in TOML syntax, e.g. --set n_hidden=100 --set 'n_hidden=[500, 100]' --set conductances=false; "
        "repeatable",
    )
    t.add_argument("--dataset", default="mnist", choices=DATASETS)
    t.add_argument("--epochs", type=_integer(1), default=1)
    t.add_argument("--n-train", type=_integer(0), default=5000, help="training examples per epoch (0: all)")
    t.add_argument("--n-test", type=_integer(0), default=1000, help="test examples (0: all)")
    t.add_argument("--val-fraction", type=_fraction, default=0.0, help="part of the training set held out")
    t.add_argument("--device", default="auto", choices=("auto",) + DEVICES)
    t.add_argument("--threads", type=_integer(0), default=0, help="OpenMP threads (cpp_standalone)")
    t.add_argument("--chunk-size", type=_integer(1), default=1000, help="examples per simulation run")
    t.add_argument(
        "--quick-test",
        type=_integer(1),
        default=None,
        metavar="N",
        help="REF's quick test: 100 test images after every N training examples (a multiple of --chunk-size)",
    )
    t.add_argument("--seed", type=_integer(0), default=0)
    t.add_argument("--test-workers", type=_integer(1), default=1, help=TEST_WORKERS_HELP)
    t.add_argument("--precision", choices=("double", "single"), default="double", help=PRECISION_HELP)
    t.add_argument("--out", default=None, help="run directory (default: runs/<model>-<dataset>-s<seed>)")
    t.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    _data_options(t)
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = command("test", help="test error of a saved network or run directory")
    e.add_argument("network", help="run directory or network.npz")
    e.add_argument("--dataset", default="mnist", choices=DATASETS)
    e.add_argument("--n-test", type=_integer(0), default=0, help="test examples (0: all)")
    e.add_argument("--device", default="auto", choices=("auto",) + DEVICES)
    e.add_argument("--test-workers", type=_integer(1), default=1, help=TEST_WORKERS_HELP)
    e.add_argument("--precision", choices=("double", "single"), default="double", help=PRECISION_HELP)
    _data_options(e)

    command("models", help="list the named models")

    s = command("selfpredict", help="pre-train a microcircuit into the self-predicting state (spec §4) and check it")
    s.add_argument("--model", default="microcircuit-regression", help="a microcircuit model (name or .toml)")
    s.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", help="change one model parameter")
    s.add_argument("--patterns", type=_integer(1), default=2000, help="patterns U(-1, 1) without target")
    s.add_argument("--checks", type=_integer(1), default=4, help="measurements during the pre-training")
    s.add_argument("--seed", type=_integer(0), default=0)
    s.add_argument("--device", default="auto", choices=("auto",) + DEVICES)
    s.add_argument("--out", default=None, help="run directory (default: runs/<model>-selfpredict-s<seed>)")

    d = command("data", help="find the datasets (downloading missing ones) and print where they are")
    d.add_argument("names", nargs="*", type=_dataset, metavar="DATASET", help=f"default: {' '.join(DATASETS)}")
    _data_options(d)

    x = command("experiment", help="run a study experiment (scalability, learning_dynamics, hyperopt)")
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
        _data_options(xp, download=False)
        xp.add_argument("--resume", action="store_true", help="continue from the files already in --out")
        xp.add_argument("--quiet", action="store_true", help="no progress bars")
        module.add_arguments(xp)

    f = command("plot", help="figures of a training run directory")
    f.add_argument("run", help="run directory (with results.json and network.npz)")
    f.add_argument("--out", default=None, help="where to write the PNGs (default: the run directory)")
    _data_options(f, download=False)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        with _HELD_BUILDS:
            return _run(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"segdend: error: {exc}", file=sys.stderr)
        return 2


#: the build directories a command holds until it returns (see :func:`_build_directory`)
_HELD_BUILDS = contextlib.ExitStack()


def _build_directory(key, precision="double"):
    """The command's own ``cpp_standalone`` project for ``key`` in ``precision`` (:func:`~.devices.shared_build`,
    held until the command returns): concurrent commands of one architecture never share a directory."""
    from .devices import shared_build

    return _HELD_BUILDS.enter_context(shared_build(key if precision == "double" else f"{key}-{precision}"))


def _run(args):
    from . import datasets, registry

    if args.command == "models":
        for name, spec in registry.list_models().items():
            print(f"{name:16s} {spec.kind:8s} {spec.description}")
        return 0
    if args.command == "data":
        for name in args.names or datasets.DATASETS:
            source = datasets.locate(name, args.data_dir, download=not args.no_download)
            print(f"{name:14s} {source.format:16s} {source.root}")
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
        return _test(args)
    if args.command == "selfpredict":
        return _selfpredict(args)
    return _train(args)


def _test(args):
    from . import datasets, devices
    from .training import NETWORK, evaluate

    network = Path(args.network)
    if not (network / NETWORK if network.is_dir() else network).is_file():
        raise FileNotFoundError(f"no saved network at {args.network!r} (a run directory or a network.npz)")
    datasets.locate(args.dataset, args.data_dir, download=not args.no_download)
    build = _build_directory("test", args.precision)
    device = devices.activate(args.device, build_directory=build, precision=args.precision)
    err = evaluate(network, args.dataset, n_test=args.n_test or None, data_dir=args.data_dir, workers=args.test_workers)
    print(f"test error {err:.2f} % ({args.dataset}, device {device})")
    return 0


def _selfpredict(args):
    """``segdend selfpredict``: the pre-training phase, its check printed and saved, the network saved."""
    import json

    from . import devices, registry
    from .results import atomic_write_text
    from .training import NETWORK, build_key, save_network

    spec = registry.load_model(args.model).with_settings(args.set)
    if spec.kind != "microcircuit":
        raise ValueError(f"--model {spec.name!r} is of kind {spec.kind!r}; selfpredict needs a microcircuit model")
    config = spec.config()
    out = Path(args.out or f"runs/{spec.name}-selfpredict-s{args.seed}")
    from .microcircuits.selfprediction import pretrain_and_check

    build = None
    if args.device in ("auto", "cpp_standalone"):  # one build per configuration and pattern count
        build = _build_directory(f"selfpredict-{build_key(config, args.patterns)}")
    device = devices.activate(args.device, build_directory=build)
    print(f"model {spec.name}, device {device}: {args.patterns} patterns without target, W^IP and W^PI learning")
    sim, report = pretrain_and_check(config, args.patterns, args.seed, args.checks, build_directory=build)
    for row in report["history"]:
        print(
            f"{row['patterns']:7d} patterns: "
            + "; ".join(
                f"{layer} " + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
                for layer, values in row.items()
                if layer != "patterns"
            )
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "selfprediction.json", json.dumps({"model": spec.name, **report}, indent=1))
    save_network(out / NETWORK, sim.simulator)
    print(f"self-predicting state {'reached' if report['reached'] else 'NOT reached'}; network in {out / NETWORK}")
    return 0 if report["reached"] else 1


def _train(args):
    """``segdend train``: everything is checked (and the data fetched) before the device is set up."""
    from . import datasets, devices, registry
    from .results import BASELINE_CHECKPOINT, BRIAN_CHECKPOINT

    spec = registry.load_model(args.model).with_settings(args.set)
    if args.quick_test and args.quick_test % args.chunk_size:
        raise ValueError(f"--quick-test {args.quick_test} must be a multiple of --chunk-size {args.chunk_size}")
    out = Path(args.out or f"runs/{spec.name}-{args.dataset}-s{args.seed}")
    checkpoint = out / (BRIAN_CHECKPOINT if spec.brian else BASELINE_CHECKPOINT)
    if args.resume and not checkpoint.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {str(checkpoint)!r}")
    if not spec.brian:
        try:
            from .baselines import train as train_baseline
        except ImportError as exc:
            raise RuntimeError(
                f"the {spec.kind} baseline needs PyTorch ({exc}); install the extra: pip install 'brian_segdend[torch]'"
            ) from exc
    datasets.locate(args.dataset, args.data_dir, download=not args.no_download)

    if not spec.brian:
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

    from .training import build_key, train

    config = spec.config()
    build = None
    if args.device in ("auto", "cpp_standalone", "cuda_standalone"):
        build = _build_directory(build_key(config, args.chunk_size), args.precision)
    device = devices.activate(args.device, build_directory=build, threads=args.threads, precision=args.precision)
    kernel = f", kernel {config.kernel}" if spec.kind == registry.SEGDEND else ""  # spec §2: say which kernel runs
    print(f"model {spec.name}: {spec.description}\ndevice {device}{kernel}, run directory {out}")
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
        test_workers=args.test_workers,
        quick_test_every=args.quick_test,
    )
    print(
        f"test error {record['test_error']:.2f} % after {args.epochs} epoch(s) of "
        f"{args.n_train or 'all'} examples ({args.dataset}, {spec.name}, {device})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
