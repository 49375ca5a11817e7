"""Hyperparameter robustness (Lange 2018): Bayesian optimisation over his search spaces, k-fold CV.

Three model families are searched with scikit-optimize's ask/tell :class:`skopt.Optimizer`
(Gaussian process, lower confidence bound with kappa = 2.5, i.e. Lange's UCB):

* ``mlp``: backprop MLP (batch size 10-500, SGD learning rate 1e-4-0.05 log-uniform, 1-6 hidden
  layers of 30-500 units, each layer separately);
* ``cnn``: backprop CNN (batch size, learning rate, 1-6 conv layers, channels 3-64, kernel 2-10,
  stride 1-3, padding 1-3; one value per option for every layer as in the report's table; Lange's
  block conv -> batch norm -> ReLU -> 2x2 max pool, then a linear read-out);
* ``segdend``: the segregated-dendrite compartment model, every flag and range of spec section 8
  with LANGE's mapping (integers and flags are rounded, N_mem = int(1/dt), constant phase lengths,
  windows of one step, g_A fixed by the apical-conductance flag).

The objective is the mean error (percent) of a stratified k-fold cross-validation on a stratified
subset of the dataset (train and test images pooled, as Lange did). Every evaluation runs in its own
subprocess (a fresh Brian device per evaluation, a per-evaluation time limit that kills the whole
process group); ``parallel`` of them run at once. Each finished evaluation is appended to
``log.jsonl`` at once; ``resume`` tells the optimizer every logged point and continues. Failed,
diverged and timed-out evaluations are logged and told to the optimizer as :data:`PENALTY`.

Files per family in ``<out>/<dataset>/<family>/`` (``<out>/smoke/...`` for the smoke budget):
``settings.json``, ``log.jsonl``, ``best.json``, ``convergence.png``, ``timing.json``; for
``segdend`` also ``flag_importance.png|csv``. Across families in ``<out>``: ``robustness.png|csv``
and ``summary.json``. The best configuration becomes the named model ``bo-<family>-<dataset>``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from .. import datasets
from ..config import FLAGS
from ..results import atomic_write_text, write_csv

__all__ = [
    "DESCRIPTION",
    "FAMILIES",
    "PENALTY",
    "BUDGET_SETTINGS",
    "LANGE_BEST_ACCURACY",
    "search_space",
    "to_params",
    "stratified_subset",
    "evaluate",
    "run",
    "add_arguments",
]

DESCRIPTION = (
    "Bayesian optimisation (scikit-optimize) of MLP, CNN and the compartment model over "
    "Lange's (2018) search spaces, objective k-fold cross-validated error"
)
FAMILIES = ("mlp", "cnn", "segdend")
#: Objective (error in percent) told to the optimizer for failed, diverged or timed-out evaluations:
#: chance level for ten classes.
PENALTY = 90.0
#: Best Bayesian-optimisation MNIST accuracies of Lange (2018), percent.
LANGE_BEST_ACCURACY = {"mlp": 96.82, "cnn": 99.04, "segdend": 93.04}
#: baseline kind behind each PyTorch family
BASELINE_KIND = {"mlp": "bp-mlp", "cnn": "bp-cnn"}
MAX_LAYERS = 6
#: parallel compiler jobs of one compartment-model build (``make -j<n>``)
MAKE_JOBS = 1

#: Budget presets; ``None`` for a subset means the whole pool (70 000 MNIST images).
BUDGET_SETTINGS = {
    # seed 27: its two random compartment-model points are two small networks (quick to compile)
    "smoke": dict(
        evaluations=2,
        subset=300,
        epochs=1,
        segdend_subset=60,
        segdend_epochs=1,
        folds=3,
        max_minutes=None,
        eval_timeout=400.0,
        initial_points=2,
        seed=27,
    ),
    "full": dict(
        evaluations=50,
        subset=None,
        epochs=10,
        segdend_subset=None,
        segdend_epochs=10,
        folds=3,
        max_minutes=None,
        eval_timeout=None,
        initial_points=None,
    ),
}
#: Rough cost model for the printed duration estimate (seconds: start, per training and per held-out
#: example), replaced by measured times on resume. segdend: the 6000-image run in results/hyperopt
#: (median 116 s of which 41 s compiling, for 24 000 training and 6000 held-out examples).
_COST = {
    "mlp": dict(start=4.0, train=2e-4, test=2e-5),
    "cnn": dict(start=4.0, train=1.5e-3, test=3e-4),
    "segdend": dict(start=40.0, train=0.0025, test=0.0025),
}


# ---------------------------------------------------------------------------------------------- spaces
def search_space(family):
    """Lange's search space of ``family`` as a list of named ``skopt.space`` dimensions.

    Parameters
    ----------
    family : {'mlp', 'cnn', 'segdend'}

    Returns
    -------
    list of skopt.space.Dimension
        Integers (and the eleven flags, as 0/1) are ``Integer``; floats ``Real`` (the baselines'
        learning rate log-uniform, everything else uniform as in Lange's code).
    """
    from skopt.space import Integer, Real

    _check_family(family)
    units = [Integer(30, 500, name=f"units_{k}") for k in range(1, MAX_LAYERS + 1)]
    common = [
        Integer(10, 500, name="batch_size"),
        Real(1e-4, 0.05, prior="log-uniform", name="learning_rate"),
        Integer(1, MAX_LAYERS, name="n_layers"),
    ]
    if family == "mlp":
        return common + units
    if family == "cnn":
        return common + [
            Integer(3, 64, name="channels"),
            Integer(2, 10, name="kernel_size"),
            Integer(1, 3, name="stride"),
            Integer(1, 3, name="padding"),
        ]
    return (
        [Integer(0, 1, name=flag) for flag in FLAGS]
        + [
            Real(0.1, 1.0, name="dt"),
            Integer(2, 50, name="forward_steps"),
            Integer(2, 50, name="target_steps"),
            Integer(50, 100, name="test_steps"),
            Real(0.2, 0.5, name="lambda_max"),
            Real(1.0, 5.0, name="tau_s"),
            Real(7.0, 13.0, name="tau_L"),
            Real(0.3, 0.9, name="g_B"),
            Real(0.02, 0.1, name="g_A"),
            Real(5.0, 12.0, name="E_E"),
            Real(-12.0, -5.0, name="E_I"),
            Real(0.01, 0.5, name="forward_learning_rate"),
            Real(0.01, 0.5, name="backward_learning_rate"),
            Integer(1, MAX_LAYERS, name="n_layers"),
        ]
        + units
    )


def to_params(family, point):
    """Model parameters of a search-space point, with LANGE's mapping.

    Parameters
    ----------
    family : {'mlp', 'cnn', 'segdend'}
    point : dict or sequence
        ``{dimension name: value}`` or values in :func:`search_space` order.

    Returns
    -------
    dict
        ``mlp``/``cnn``: parameters of the ``bp-mlp`` / ``bp-cnn`` baseline (plain SGD, no momentum,
        as Lange); ``segdend``: :class:`~brian_segdend.config.ModelConfig` fields. Not validated
        here: an impossible combination raises ``ValueError`` when the model is built.
    """
    names = [d.name for d in search_space(family)]
    if not isinstance(point, dict):
        if len(point) != len(names):
            raise ValueError(f"a {family} point needs {len(names)} values, got {len(point)}")
        point = dict(zip(names, point))
    missing = sorted(set(names) - set(point))
    if missing:
        raise ValueError(f"{family} point lacks {missing}")
    r = {k: int(round(float(v))) for k, v in point.items()}  # Lange: int(round(x))
    n_layers = r["n_layers"]
    if family == "mlp":
        return dict(
            hidden=[r[f"units_{k}"] for k in range(1, n_layers + 1)],
            activation="relu",
            batch_size=r["batch_size"],
            learning_rate=float(point["learning_rate"]),
            momentum=0.0,
            optimizer="sgd",
            lr_decay=1.0,
            normalize_input=True,
        )
    if family == "cnn":
        return dict(
            channels=[r["channels"]] * n_layers,
            kernel_size=r["kernel_size"],
            stride=r["stride"],
            padding=r["padding"],
            pool=True,
            batch_norm=True,
            fc_hidden=[],
            dropout=0.0,
            activation="relu",
            batch_size=r["batch_size"],
            learning_rate=float(point["learning_rate"]),
            momentum=0.0,
            optimizer="sgd",
            lr_decay=1.0,
            normalize_input=True,
        )
    dt = float(point["dt"])
    params = {flag: bool(r[flag]) for flag in FLAGS}
    params.update(
        dt=dt,
        spike_memory=max(1, int(1.0 / dt)),
        forward_steps=r["forward_steps"],
        target_steps=r["target_steps"],
        test_steps=r["test_steps"],
        window_steps=1,
        test_window_steps=1,
        random_phase_lengths=False,
        lambda_max=float(point["lambda_max"]),
        tau_s=float(point["tau_s"]),
        tau_L=float(point["tau_L"]),
        g_B=float(point["g_B"]),
        g_A=0.05,  # LANGE overwrites the sampled g_A (spec section 8)
        E_E=float(point["E_E"]),
        E_I=float(point["E_I"]),
        learning_rates=[float(point["forward_learning_rate"])],
        feedback_learning_rates=[float(point["backward_learning_rate"])],
        n_hidden=[r[f"units_{k}"] for k in range(1, n_layers + 1)],
    )
    return params


def _check_family(family):
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")


def _check_folds(folds):
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds (k of the k-fold cross-validation) must be an integer >= 2, got {folds!r}")


# ---------------------------------------------------------------------------------------------- data
def stratified_subset(y, n, seed):
    """Sorted indices of ``n`` examples of ``y`` with the class proportions of ``y`` (all if ``n`` is None)."""
    y = np.asarray(y)
    if n is None or n >= len(y):
        return np.arange(len(y))
    if n < 1:
        raise ValueError(f"subset size must be a positive number of images, got {n}")
    classes, counts = np.unique(y, return_counts=True)
    share = counts * n / len(y)
    quota = np.floor(share).astype(int)
    quota[np.argsort(-(share - quota), kind="stable")[: n - quota.sum()]] += 1
    rng = np.random.default_rng(seed)
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), q, replace=False) for c, q in zip(classes, quota)])
    )


def _pool(dataset, data_dir):
    """Train and test images together (Lange cross-validated on all 70 000 MNIST images)."""
    X, y = datasets.load(dataset, "train", data_dir)
    Xt, yt = datasets.load(dataset, "test", data_dir)
    return np.concatenate([X, Xt]), np.concatenate([y, yt])


# ---------------------------------------------------------------------------------------------- objective
def evaluate(
    family,
    params,
    dataset="mnist",
    subset=None,
    folds=3,
    epochs=1,
    seed=0,
    data_dir=None,
    threads=1,
    device="auto",
    build_directory=None,
    data=None,
):
    """k-fold cross-validated error of one configuration (runs in the calling process).

    Parameters
    ----------
    family : {'mlp', 'cnn', 'segdend'}
    params : dict
        Output of :func:`to_params`.
    subset : int, optional
        Stratified subset of the pooled train + test images (default: all).
    folds : int
        k of the stratified k-fold split (``datasets.stratified_kfold``), at least 2.
    epochs : int
        Training epochs inside every fold.
    threads : int
        Torch threads (baselines).
    device : str
        Brian device of the compartment model (``brian_segdend.devices.activate``; call this once
        per process: it switches the device).
    build_directory : path, optional
        ``cpp_standalone`` project directory (reused: only changed files recompile).
    data : tuple, optional
        ``(X, y)`` instead of loading ``dataset`` (then ``subset`` applies to it).

    Returns
    -------
    dict
        ``status`` ('ok' or 'diverged'), ``fold_errors`` (percent), ``error`` (their mean), and
        ``compile_s`` for the compartment model.
    """
    _check_family(family)
    _check_folds(folds)
    X, y = _pool(dataset, data_dir) if data is None else data
    keep = stratified_subset(y, subset, seed)
    X, y = X[keep], y[keep]
    splits = datasets.stratified_kfold(y, folds, seed)
    if family == "segdend":
        return _evaluate_segdend(params, X, y, splits, epochs, seed, device, build_directory)
    return _evaluate_baseline(BASELINE_KIND[family], params, dataset, X, y, splits, epochs, seed, threads)


def _evaluate_baseline(kind, params, dataset, X, y, splits, epochs, seed, threads):
    from ..baselines import conv_output_sizes, make_params, train

    record = make_params(kind, params)
    if kind == "bp-cnn":
        conv_output_sizes(record, datasets.IMAGE_SHAPES[dataset][1])  # invalid geometry -> ValueError
    errors, status = [], "ok"
    with tempfile.TemporaryDirectory(prefix="segdend-hyperopt-") as tmp:
        for k, (tr, va) in enumerate(splits):
            entry = train(
                kind,
                record,
                dataset,
                epochs,
                seed,
                Path(tmp) / f"fold{k}",
                progress=False,
                val_fraction=0.0,
                num_threads=threads,
                data={"train": (X[tr], y[tr]), "test": (X[va], y[va])},
            )
            errors.append(float(entry["test_error"]))
            loss = entry.get("train_loss")
            if loss is None or not math.isfinite(loss):
                status = "diverged"
                break
    return {"status": status, "fold_errors": errors, "error": float(np.mean(errors))}


def _evaluate_segdend(params, X, y, splits, epochs, seed, device, build_directory):
    from .. import devices
    from ..config import ModelConfig
    from ..training import build_simulator

    config = ModelConfig.from_dict({**params, "n_inputs": int(X.shape[1])})  # ValueError names the option
    active = devices.activate(device, make_jobs=MAKE_JOBS)  # parallel evaluations share the cores
    capacity = min(1000, max(len(tr) for tr, _ in splits))
    t0 = time.perf_counter()
    sim = build_simulator(
        config,
        seed=seed,
        capacity=capacity,
        build_directory=str(build_directory) if build_directory and "standalone" in active else None,
    )
    sim.build()  # compiled once; every fold reruns the binary
    compile_s = time.perf_counter() - t0
    initial = sim.get_state()
    errors, status = [], "ok"
    for k, (tr, va) in enumerate(splits):
        sim.set_state(initial)  # every fold starts from the same initial network
        for epoch in range(epochs):
            order = tr[np.random.default_rng([seed, k, epoch]).permutation(len(tr))]
            u = sim.present(X[order], y[order], learn=True, seed=int(1000 * k + epoch))
            if not np.all(np.isfinite(u)):
                status = "diverged"
        weights = sim.get_weights()
        if status != "ok" or not all(np.all(np.isfinite(w)) for w in weights["W"]):
            status = "diverged"
            errors.append(PENALTY)
            break
        errors.append(sim.error(X[va], y[va], seed=int(10**6 + k)))
    return {
        "status": status,
        "fold_errors": errors,
        "error": float(np.mean(errors)),
        "compile_s": compile_s,
        "device": active,
    }


def _worker_main(task_path):
    """Subprocess entry: evaluate the task in ``task_path`` (JSON) and write its result file."""
    task = json.loads(Path(task_path).read_text())
    t0 = time.perf_counter()
    try:
        result = evaluate(
            task["family"],
            task["params"],
            dataset=task["dataset"],
            subset=task["subset"],
            folds=task["folds"],
            epochs=task["epochs"],
            seed=task["seed"],
            data_dir=task["data_dir"],
            threads=task["threads"],
            device=task["device"],
            build_directory=task["build_directory"],
        )
    except Exception as exc:  # recorded as a failed evaluation by the parent
        result = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
    result["worker_s"] = time.perf_counter() - t0
    atomic_write_text(task["result"], json.dumps(result))


# ---------------------------------------------------------------------------------------------- execution
_BUILD_LOCK = threading.Lock()
#: command of an evaluation subprocess (the task file is appended)
WORKER_COMMAND = (sys.executable, "-m", __name__)
_RUNNING = set()  # evaluation subprocesses alive now
_RUNNING_LOCK = threading.Lock()


class _BuildSlot:
    """A reusable ``cpp_standalone`` project directory, held exclusively (``flock``) while in use.

    Only changed sources recompile in a reused directory, so a free slot whose last build had the
    same parameters (``key``: a resumed or repeated evaluation) is preferred.
    """

    def __init__(self, key):
        import fcntl

        root = datasets.cache_dir() / "hyperopt-builds"
        root.mkdir(parents=True, exist_ok=True)
        with _BUILD_LOCK:
            existing = sorted(root.glob("slot*.lock"), key=lambda p: int(p.stem[4:]))
            same = [
                p for p in existing if (p.with_suffix(".key").exists() and p.with_suffix(".key").read_text() == key)
            ]
            for path in same + existing + [root / f"slot{k}.lock" for k in range(len(existing), len(existing) + 64)]:
                handle = open(path, "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                self.handle, self.path = handle, path.with_suffix("")
                path.with_suffix(".key").write_text(key)
                return
        raise RuntimeError(f"no free build directory in {root}")

    def release(self):
        self.handle.close()


def _execute(task, timeout):
    """Run one evaluation in a subprocess; returns its result dict (status timeout/failed on trouble).

    The subprocess starts a new session, so a timeout kills it with everything it started
    (compiler, simulation binary).
    """
    key = hashlib.sha256(json.dumps(task["params"], sort_keys=True).encode()).hexdigest()[:16]
    slot = _BuildSlot(key) if task["family"] == "segdend" else None
    try:
        return _run_worker(dict(task, build_directory=str(slot.path) if slot else None), timeout)
    finally:
        if slot:
            slot.release()


def _run_worker(task, timeout):
    """The worker subprocess of :func:`_execute`: started, waited for (or killed), its result read."""
    with tempfile.TemporaryDirectory(prefix="segdend-hyperopt-task-") as tmp:
        task = dict(task, result=str(Path(tmp) / "result.json"))
        (Path(tmp) / "task.json").write_text(json.dumps(task))
        env = dict(os.environ, OMP_NUM_THREADS=str(task["threads"]), PYTHONWARNINGS="ignore")
        with open(Path(tmp) / "output.txt", "w") as output:
            proc = subprocess.Popen(
                [*WORKER_COMMAND, str(Path(tmp) / "task.json")],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
            with _RUNNING_LOCK:
                _RUNNING.add(proc)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                return {"status": "timeout", "message": f"no result within the {timeout:.0f} s limit"}
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.discard(proc)
        if Path(task["result"]).exists():
            return json.loads(Path(task["result"]).read_text())
        tail = (Path(tmp) / "output.txt").read_text()[-800:]
        return {"status": "failed", "message": f"worker exited with code {proc.returncode}: {tail}"}


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _kill_running():
    """Kill every evaluation subprocess still running (with its compiler or simulation)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill(proc)


def _interrupt_on_sigterm():
    """Make SIGTERM raise ``KeyboardInterrupt`` like Ctrl-C (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    return signal.signal(signal.SIGTERM, interrupt)


# ---------------------------------------------------------------------------------------------- log
def read_log(path):
    """Entries of a ``log.jsonl`` (a torn last line from a killed run is ignored)."""
    entries = []
    path = Path(path)
    if not path.exists():
        return entries
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return entries


def _append(path, entry):
    with open(path, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _objective(entry):
    return float(entry["error"]) if entry["status"] == "ok" else PENALTY


# ---------------------------------------------------------------------------------------------- search
def _settings(budget, options):
    """Budget preset updated with the non-None overrides in ``options`` (validated)."""
    if budget not in BUDGET_SETTINGS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGET_SETTINGS)}")
    s = dict(dict(dataset="mnist", seed=0, parallel=2, segdend_device="auto"), **BUDGET_SETTINGS[budget])
    unknown = sorted(set(options) - set(s) - {"models_dir"})
    if unknown:
        raise ValueError(f"unknown hyperopt option(s) {unknown}; valid: {', '.join(sorted(set(s) | {'models_dir'}))}")
    for key, value in options.items():
        if value is not None and key in s:
            s[key] = value
    for key in ("subset", "segdend_subset"):
        if s[key] == 0:
            s[key] = None  # 0 on the command line: the whole pool
    for key in ("evaluations", "epochs", "segdend_epochs", "parallel"):
        if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 1:
            raise ValueError(f"{key.replace('_', '-')} must be a positive integer, got {s[key]!r}")
    _check_folds(s["folds"])
    if s["dataset"] not in datasets.DATASETS:
        raise ValueError(f"unknown dataset {s['dataset']!r}; choose one of {', '.join(datasets.DATASETS)}")
    return s


def _family_settings(family, s):
    """The settings that define one family's study (stored in ``settings.json``; resume checks them)."""
    seg = family == "segdend"
    return {
        "family": family,
        "dataset": s["dataset"],
        "seed": s["seed"],
        "folds": s["folds"],
        "subset": s["segdend_subset" if seg else "subset"],
        "epochs": s["segdend_epochs" if seg else "epochs"],
        "device": s["segdend_device"] if seg else "cpu",
    }


#: images in the pooled train + test splits
POOL_SIZE = {"mnist": 70000, "fashion-mnist": 70000, "cifar10": 60000}


def _pool_size(dataset):
    return POOL_SIZE[dataset]


def _estimate_seconds(family, fs, evaluations, parallel, measured=None):
    """Expected wall time of ``evaluations`` evaluations (measured median if given, else the cost model)."""
    n = fs["subset"] or _pool_size(fs["dataset"])
    if measured is None:
        c = _COST[family]
        measured = c["start"] + c["train"] * n * (fs["folds"] - 1) * fs["epochs"] + c["test"] * n
    return measured * evaluations / parallel


def _ask(opt, pending, seen, rng):
    """Next point: the optimizer's choice with pending points told as a constant lie (never a repeat)."""
    if pending:
        lie = min(opt.yi) if opt.yi else PENALTY
        proxy = opt.copy(random_state=int(rng.integers(2**31)))
        proxy.tell([list(p) for p in pending], [lie] * len(pending))
        x = proxy.ask()
    else:
        x = opt.ask()
    x = _plain(x)
    while tuple(x) in seen:  # a repeat adds nothing: draw a fresh random point
        x = _plain(opt.space.rvs(random_state=int(rng.integers(2**31)))[0])
    return x


def _plain(x):
    return [int(v) if isinstance(v, (int, np.integer)) else float(v) for v in x]


def _search(family, s, directory, resume, progress, log):
    """Run (or continue) one family's Bayesian optimisation; returns its summary dict."""
    from skopt import Optimizer

    directory.mkdir(parents=True, exist_ok=True)
    fs = _family_settings(family, s)
    log_path, settings_path = directory / "log.jsonl", directory / "settings.json"
    if resume and settings_path.exists():
        saved = json.loads(settings_path.read_text())
        differ = {k: (saved.get(k), v) for k, v in fs.items() if saved.get(k) != v}
        if differ:
            raise ValueError(f"cannot resume {str(directory)!r}: settings differ (logged, requested): {differ}")
    elif log_path.exists() and not resume:
        if s["budget"] != "smoke":
            raise ValueError(f"{str(log_path)!r} exists; pass --resume to continue it or choose another --out")
        log_path.unlink()
    atomic_write_text(settings_path, json.dumps({**fs, "search_space": _space_table(family)}, indent=1))
    entries = read_log(log_path) if resume else []
    if resume and log_path.exists():  # drop a torn last line of a killed run before appending
        atomic_write_text(log_path, "".join(json.dumps(e) + "\n" for e in entries))

    space = search_space(family)
    initial = s["initial_points"] or max(1, min(10, s["evaluations"] // 3))
    opt = Optimizer(
        space,
        base_estimator="GP",
        acq_func="LCB",
        acq_func_kwargs={"kappa": 2.5},
        n_initial_points=initial,
        random_state=s["seed"],
    )
    if entries:
        opt.tell([e["x"] for e in entries], [_objective(e) for e in entries])
    seen = {tuple(e["x"]) for e in entries}
    rng = np.random.default_rng([s["seed"], len(entries)])
    todo = s["evaluations"] - len(entries)
    walls = [e["wall_s"] for e in entries if e["status"] == "ok"]
    expected = _estimate_seconds(family, fs, max(todo, 0), s["parallel"], float(np.median(walls)) if walls else None)
    subset_text = f"{fs['subset'] or _pool_size(s['dataset'])}"
    log(
        f"[{family}] {len(entries)} logged, {max(todo, 0)} to run: stratified subset of {subset_text} {s['dataset']} "
        f"images, {fs['folds']}-fold CV, {fs['epochs']} epoch(s) per fold, {s['parallel']} in parallel; expected "
        f"~{expected / 60:.1f} min"
    )
    deadline = time.monotonic() + 60 * s["max_minutes"] if s["max_minutes"] else None
    timeout = s["eval_timeout"]
    task_base = {
        "family": family,
        "dataset": s["dataset"],
        "subset": fs["subset"],
        "folds": fs["folds"],
        "epochs": fs["epochs"],
        "seed": s["seed"],
        "data_dir": s["data_dir"],
        "device": fs["device"],
        "threads": max(1, 2 // s["parallel"]),
    }
    pending = {}
    started = len(entries)
    with ThreadPoolExecutor(max_workers=s["parallel"]) as pool:
        try:
            while True:
                while (
                    len(pending) < s["parallel"]
                    and started < s["evaluations"]
                    and (deadline is None or time.monotonic() < deadline)
                ):
                    x = _ask(opt, list(pending.values()), seen, rng)
                    seen.add(tuple(x))
                    params = to_params(family, x)
                    future = pool.submit(_timed_execute, dict(task_base, params=params), timeout)
                    pending[future] = x
                    started += 1
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    x = pending.pop(future)
                    result, wall = future.result()
                    entry = _entry(len(entries), family, x, result, wall)
                    _append(log_path, entry)
                    entries.append(entry)
                    opt.tell(x, _objective(entry))
                    if progress:
                        best = min(_objective(e) for e in entries)
                        log(
                            f"[{family}] eval {len(entries)}/{s['evaluations']}: {entry['status']}, cv acc "
                            f"{_accuracy_text(entry)}, best {100 - best:.2f} %, {wall:.0f} s"
                            + (f" ({entry['message'][:120]})" if entry.get("message") else "")
                        )
        except BaseException:  # Ctrl-C or SIGTERM: stop now; finished evaluations are in the log
            _kill_running()
            raise
    if deadline is not None and len(entries) < s["evaluations"]:
        log(f"[{family}] wall-clock budget of {s['max_minutes']} min reached after {len(entries)} evaluations")
    return _finish_family(family, s, fs, directory, entries, log)


def _timed_execute(task, timeout):
    t0 = time.perf_counter()
    try:
        result = _execute(task, timeout)
    except Exception as exc:  # an infrastructure error is still only one failed evaluation
        result = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
    return result, time.perf_counter() - t0


def _entry(index, family, x, result, wall):
    status = result.get("status", "failed")
    entry = {
        "index": index,
        "family": family,
        "x": x,
        "params": to_params(family, x),
        "status": status,
        "fold_errors": result.get("fold_errors"),
        "error": result.get("error"),
        "objective": None,
        "accuracy": None,
        "wall_s": round(wall, 3),
        "message": result.get("message", ""),
    }
    if status == "ok" and (entry["error"] is None or not math.isfinite(entry["error"])):
        entry["status"] = status = "diverged"
    entry["objective"] = entry["error"] if status == "ok" else PENALTY
    entry["accuracy"] = 100.0 - entry["error"] if status == "ok" else None
    for key in ("compile_s", "device"):
        if key in result:
            entry[key] = result[key]
    return entry


def _accuracy_text(entry):
    return f"{entry['accuracy']:.2f} %" if entry["accuracy"] is not None else f"- (penalty {PENALTY:.0f} % error)"


def _space_table(family):
    table = []
    for d in search_space(family):
        table.append(
            {
                "name": d.name,
                "low": d.low,
                "high": d.high,
                "prior": getattr(d, "prior", "uniform"),
                "type": "integer" if type(d).__name__ == "Integer" else "real",
            }
        )
    return table


# ---------------------------------------------------------------------------------------------- outputs
def _finish_family(family, s, fs, directory, entries, log):
    """best.json, the named model, convergence plot, timing, flag importance; returns the summary."""
    ok = [e for e in entries if e["status"] == "ok"]
    walls = [e["wall_s"] for e in entries if e["status"] != "failed"]  # runs only, not rejected configurations
    summary = {
        "family": family,
        **{k: fs[k] for k in ("dataset", "subset", "folds", "epochs")},
        "subset_images": fs["subset"] or _pool_size(fs["dataset"]),
        "evaluations": len(entries),
        "ok": len(ok),
        "status_counts": {
            st: sum(e["status"] == st for e in entries) for st in ("ok", "failed", "diverged", "timeout")
        },
        "median_eval_s": float(np.median(walls)) if walls else None,
        "lange_best_accuracy": LANGE_BEST_ACCURACY[family] if fs["dataset"] == "mnist" else None,
    }
    atomic_write_text(
        directory / "timing.json",
        json.dumps(
            {
                "median_eval_s": summary["median_eval_s"],
                "eval_s": walls,
                "median_compile_s": float(np.median([e["compile_s"] for e in entries if "compile_s" in e]))
                if any("compile_s" in e for e in entries)
                else None,
            },
            indent=1,
        ),
    )
    if ok:
        best = min(ok, key=lambda e: e["error"])
        summary.update(best_accuracy=best["accuracy"], best_index=best["index"], best_params=best["params"])
        atomic_write_text(directory / "best.json", json.dumps({**summary, "best": best}, indent=1))
        model_path = _write_model(family, fs, best, s["models_dir"], len(entries))
        summary["model"] = str(model_path)
    else:
        summary["best_accuracy"] = None
        log(f"[{family}] no evaluation succeeded: no best model written")
    _plot_convergence(family, entries, directory / "convergence.png")
    if family == "segdend" and entries:
        flag_importance(entries, directory)
    if summary["median_eval_s"] is not None:
        log(
            f"[{family}] {len(entries)} evaluations ({summary['status_counts']}), best cv accuracy "
            f"{summary['best_accuracy'] if summary['best_accuracy'] is None else round(summary['best_accuracy'], 2)} %"
            f" (Lange: {LANGE_BEST_ACCURACY[family]} %), median wall time of one evaluation "
            f"{summary['median_eval_s']:.1f} s"
        )
    atomic_write_text(directory / "summary.json", json.dumps(summary, indent=1))
    return summary


def _write_model(family, fs, best, models_dir, n_evals):
    """``<models_dir>/bo-<family>-<dataset>.toml``, loadable by :func:`brian_segdend.registry.load_model`."""
    from ..registry import load_model

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    kind = BASELINE_KIND.get(family, "segdend")
    subset = fs["subset"] or _pool_size(fs["dataset"])
    description = (
        f"Best of {n_evals} Bayesian-optimisation evaluations over Lange's (2018) {family} search space "
        f"(segdend experiment hyperopt): {best['accuracy']:.2f} % {fs['folds']}-fold CV accuracy on a "
        f"stratified subset of {subset} {fs['dataset']} images, {fs['epochs']} epoch(s) per fold"
    )
    lines = [
        f"kind = {_toml(kind)}",
        f"description = {_toml(description)}",
        f"reference = {_toml('Lange (2018) Bayesian-optimisation search spaces; results/hyperopt')}",
        "",
        "[params]",
    ]
    lines += [f"{k} = {_toml(v)}" for k, v in best["params"].items()]
    path = models_dir / f"bo-{family}-{fs['dataset']}.toml"
    path.write_text("\n".join(lines) + "\n")
    load_model(path)  # validate (segdend: ModelConfig)
    return path


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_convergence(family, entries, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    n = np.arange(1, len(entries) + 1)
    obj = np.array([_objective(e) for e in entries], dtype=float)
    ok = np.array([e["status"] == "ok" for e in entries], dtype=bool)
    if len(entries):
        ax.scatter(n[ok], obj[ok], s=14, label="evaluation (CV error)")
        ax.scatter(
            n[~ok], obj[~ok], marker="x", color="tab:red", s=20, label=f"failed/diverged/timeout ({PENALTY:.0f} %)"
        )
        ax.step(n, np.minimum.accumulate(obj), where="post", color="k", label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("cross-validated error (%)")
    ax.set_title(f"Bayesian optimisation: {family}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def flag_importance(entries, directory):
    """Which of the eleven flags matter: mean CV accuracy with each flag on vs off, and a random forest.

    Failed evaluations count at chance level (10 % accuracy). Writes ``flag_importance.csv`` and
    ``flag_importance.png`` in ``directory``; returns the rows (sorted by |on - off|).
    """
    acc = np.array([100.0 - _objective(e) for e in entries])
    flags = np.array([[float(e["params"][f]) for f in FLAGS] for e in entries])
    forest = np.full(len(FLAGS), np.nan)
    if len(entries) >= 8 and np.ptp(acc) > 0:
        from sklearn.ensemble import RandomForestRegressor

        X = np.array([e["x"] for e in entries], dtype=float)
        rf = RandomForestRegressor(n_estimators=300, random_state=0, min_samples_leaf=2).fit(X, acc)
        forest = rf.feature_importances_[: len(FLAGS)]  # flags are the first 11 dimensions
    rows = []
    for j, flag in enumerate(FLAGS):
        on, off = acc[flags[:, j] == 1], acc[flags[:, j] == 0]
        rows.append(
            {
                "flag": flag,
                "n_on": len(on),
                "n_off": len(off),
                "mean_acc_on": float(on.mean()) if len(on) else None,
                "mean_acc_off": float(off.mean()) if len(off) else None,
                "difference": float(on.mean() - off.mean()) if len(on) and len(off) else None,
                "forest_importance": None if np.isnan(forest[j]) else float(forest[j]),
            }
        )
    rows.sort(key=lambda r: -abs(r["difference"] or 0.0))
    write_csv(directory / "flag_importance.csv", rows)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    names = [r["flag"] for r in rows]
    axes[0].barh(names, [r["difference"] or 0.0 for r in rows], color="tab:blue")
    axes[0].set_xlabel("mean CV accuracy, flag on - off (points)")
    axes[1].barh(names, [r["forest_importance"] or 0.0 for r in rows], color="tab:green")
    axes[1].set_xlabel("random-forest importance (all dimensions)")
    axes[0].invert_yaxis()
    fig.suptitle(f"Compartment model: flag importance over {len(entries)} evaluations (failed = 10 % acc.)")
    fig.tight_layout()
    fig.savefig(directory / "flag_importance.png", dpi=120)
    plt.close(fig)
    return rows


def robustness(root):
    """Distribution of CV accuracy over all evaluations per family and dataset (Lange's central question).

    Reads every ``<root>/<dataset>/<family>/log.jsonl``; writes ``robustness.png`` and ``robustness.csv``
    in ``root``. Failed evaluations are counted and drawn at chance level. Returns the CSV rows.
    """
    root = Path(root)
    groups = []
    for log_path in sorted(root.glob("*/*/log.jsonl")):
        family, dataset = log_path.parent.name, log_path.parent.parent.name
        entries = read_log(log_path)
        if family in FAMILIES and entries:
            groups.append((dataset, family, entries))
    if not groups:
        return []
    rows, data, labels = [], [], []
    for dataset, family, entries in groups:
        acc = np.array([100.0 - _objective(e) for e in entries])
        ok = np.array([e["status"] == "ok" for e in entries])
        rows.append(
            {
                "dataset": dataset,
                "family": family,
                "evaluations": len(entries),
                "ok": int(ok.sum()),
                "best_acc": float(acc.max()),
                "median_acc": float(np.median(acc)),
                "q25_acc": float(np.percentile(acc, 25)),
                "q75_acc": float(np.percentile(acc, 75)),
                "share_near_chance": float(np.mean(acc < 20.0)),
                "share_above_90": float(np.mean(acc >= 90.0)),
                "lange_best_acc": LANGE_BEST_ACCURACY[family] if dataset == "mnist" else None,
            }
        )
        data.append(acc)
        labels.append(f"{family}\n{dataset}\n(n={len(entries)}, {int((~ok).sum())} failed)")
    write_csv(root / "robustness.csv", rows)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(2.4 * len(data) + 2, 4))
    ax.boxplot(data, showfliers=False)
    rng = np.random.default_rng(0)
    for k, acc in enumerate(data, start=1):
        ax.scatter(k + rng.uniform(-0.12, 0.12, len(acc)), acc, s=12, alpha=0.7)
        lange = rows[k - 1]["lange_best_acc"]
        if lange is not None:
            ax.hlines(lange, k - 0.3, k + 0.3, colors="k", linestyles="--")
    ax.axhline(10, color="grey", lw=0.8, ls=":")
    ax.set_xticks(range(1, len(data) + 1), labels, fontsize=8)
    ax.set_ylabel("cross-validated accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy over all BO evaluations (dashed: Lange's best; dotted: chance; failed at chance)")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(root / "robustness.png", dpi=120)
    plt.close(fig)
    return rows


# ---------------------------------------------------------------------------------------------- entry points
def add_arguments(parser):
    """Options of ``segdend experiment hyperopt`` (budget presets fill in what is not given)."""
    parser.add_argument(
        "--family",
        nargs="+",
        default=None,
        metavar="FAMILY",
        help=f"families to search: {', '.join(FAMILIES)} or all (default: all)",
    )
    parser.add_argument("--dataset", default=None, choices=datasets.DATASETS, help="default: mnist")
    parser.add_argument(
        "--evaluations", type=int, default=None, help="evaluations per family, logged ones included (smoke 2, full 50)"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=None,
        help="stratified subset of the pooled train+test images for mlp/cnn (0: all; smoke 300)",
    )
    parser.add_argument(
        "--segdend-subset", type=int, default=None, help="the same for the compartment model (0: all; smoke 60)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fold, mlp/cnn (smoke 1, full 10)")
    parser.add_argument("--segdend-epochs", type=int, default=None, help="epochs per fold, compartment model")
    parser.add_argument("--folds", type=int, default=None, help="k of the stratified k-fold CV (default 3)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="wall-clock budget per family: no new evaluation starts after it",
    )
    parser.add_argument(
        "--eval-timeout",
        type=float,
        default=None,
        help="seconds per evaluation before it is killed and logged as 'timeout'",
    )
    parser.add_argument("--parallel", type=int, default=None, help="evaluations at once (default 2)")
    parser.add_argument(
        "--initial-points",
        type=int,
        default=None,
        help="random evaluations before the GP guides (default: evaluations/3, at most 10)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--segdend-device", default=None, help="Brian device of the compartment model (default auto = cpp_standalone)"
    )
    parser.add_argument(
        "--models-dir", default=None, help="where bo-<family>-<dataset>.toml goes (full: models/; smoke: <out>/models)"
    )


def _families(value):
    if value is None:
        return list(FAMILIES)
    names = [value] if isinstance(value, str) else list(value)
    if "all" in names:
        return list(FAMILIES)
    for name in names:
        _check_family(name)
    return list(dict.fromkeys(names))


def run(budget, out, data_dir=None, resume=False, progress=True, **options):
    """Run the hyperopt study under ``budget`` ('smoke' or 'full'); see the module docstring.

    Parameters
    ----------
    budget : {'smoke', 'full'}
    out : path
        Root directory (default ``results/hyperopt``); the smoke budget writes under ``<out>/smoke``.
    data_dir : path, optional
    resume : bool
        Continue from the ``log.jsonl`` files already there.
    progress : bool
        Print one line per finished evaluation.
    **options
        Overrides: ``family``, ``dataset``, ``evaluations``, ``subset``, ``segdend_subset``, ``epochs``,
        ``segdend_epochs``, ``folds``, ``max_minutes``, ``eval_timeout``, ``parallel``,
        ``initial_points``, ``seed``, ``segdend_device``, ``models_dir``.

    Returns
    -------
    dict
        ``{'families': {family: summary}, 'robustness': rows, 'out': root}``.
    """
    from ..registry import models_dir as default_models_dir

    families = _families(options.pop("family", None))
    s = _settings(budget, options)
    s.update(budget=budget, data_dir=None if data_dir is None else str(data_dir))
    out = Path(out if out is not None else "results/hyperopt")
    root = out / "smoke" if budget == "smoke" else out
    s["models_dir"] = str(options.get("models_dir") or (root / "models" if budget == "smoke" else default_models_dir()))
    datasets.load(s["dataset"], "train", data_dir)  # fail early (and cache) if the data is missing

    print(
        f"hyperopt ({budget}): families {', '.join(families)} on {s['dataset']}, "
        f"{s['evaluations']} evaluations each, {s['folds']}-fold CV, {s['parallel']} in parallel",
        flush=True,
    )
    total = sum(_estimate_seconds(f, _family_settings(f, s), s["evaluations"], s["parallel"]) for f in families)
    print(
        f"expected duration of this budget: ~{total / 60:.1f} min before resume "
        f"(cost model; full Lange budget: {_full_estimate_text(families)})",
        flush=True,
    )

    def log(message):
        print(message, flush=True)

    summaries = {}
    previous = _interrupt_on_sigterm()
    try:
        for family in families:
            summaries[family] = _search(family, s, root / s["dataset"] / family, resume, progress, log)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    rows = robustness(root)
    result = {"budget": budget, "families": summaries, "robustness": rows, "out": str(root)}
    atomic_write_text(
        root / "summary.json", json.dumps(_merge_summary(root / "summary.json", result), indent=1, default=str)
    )
    if "segdend" in summaries and summaries["segdend"]["median_eval_s"] is not None:
        sd = summaries["segdend"]
        print(
            f"median wall time of one compartment-model evaluation: {sd['median_eval_s']:.1f} s "
            f"({sd['folds']}-fold CV on a stratified subset of {sd['subset_images']} {sd['dataset']} images, "
            f"{sd['epochs']} epoch(s); Lange: 1.6-4.6 h)",
            flush=True,
        )
    return result


def _merge_summary(path, result):
    """Keep other families' entries of an earlier ``summary.json`` (families run one at a time)."""
    old = json.loads(path.read_text()) if path.exists() else {}
    families = {**old.get("families", {}), **result["families"]}
    return {**result, "families": families}


def _full_estimate_text(families):
    s = dict(dict(dataset="mnist", seed=0, segdend_device="auto"), **BUDGET_SETTINGS["full"])
    parts = []
    for f in families:
        sec = _estimate_seconds(f, _family_settings(f, s), s["evaluations"], 2)
        parts.append(f"{f} ~{sec / 3600:.0f} h")
    return ", ".join(parts)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
