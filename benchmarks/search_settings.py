"""Which initial design and acquisition find the compartment model's good regions (issue 13).

Evaluating the real objective 50 times per setting and repetition costs hours per search, so the
search settings are compared on a *surrogate* of the objective (Eggensperger et al. 2015): a random
forest fitted to logged evaluations, i.e. to what the compartment model really scored at those
points. The landscape is Lange's own MNIST compartment-model search (``--lange-log``: his
``logs/bo_logs_comp_dnn_mnist.json``, 41 points, 10 epochs on all images; not shipped here), whose
good points sit in a corner of the space (rate mode, dt = 1, short phases), optionally with this
project's logs (``--logs``, e.g. ``results/hyperopt-6000/mnist/segdend/log.jsonl``). Every setting runs
the search's own :class:`~brian_segdend.study.hyperopt.search.Proposer` for ``--evaluations`` points
per repetition, with different seeds; failed points count as chance (10 %).

    python benchmarks/search_settings.py --lange-log /path/to/bo_logs_comp_dnn_mnist.json --repeats 5

Prints one row per setting (mean best accuracy after 10/25/50 evaluations, how many repetitions
reached the target, the median evaluation that first did) and, last, ``best_setting=...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brian_segdend.study.hyperopt import SearchSettings, search_space  # noqa: E402
from brian_segdend.study.hyperopt.search import Proposer, read_log  # noqa: E402
from brian_segdend.study.hyperopt.space import lange_point  # noqa: E402

#: name -> SearchSettings fields (the first is the search before issue 13; "lange" mimics bayes_opt's
#: single random point before the GP)
SETTINGS = {
    "random-10-LCB (before)": dict(initial_design="random", initial_points=10, acquisition="LCB"),
    "random-1-LCB (Lange-like)": dict(initial_design="random", initial_points=1, acquisition="LCB"),
    "sobol-10-LCB": dict(initial_design="sobol", initial_points=10, acquisition="LCB"),
    "lhs-10-LCB": dict(initial_design="lhs", initial_points=10, acquisition="LCB"),
    "sobol-10-EI": dict(initial_design="sobol", initial_points=10, acquisition="EI"),
    "sobol-10-gp_hedge": dict(initial_design="sobol", initial_points=10, acquisition="gp_hedge"),
    "sobol-20-LCB": dict(initial_design="sobol", initial_points=20, acquisition="LCB"),
}


def landscape(lange_log, logs):
    """``(X, accuracy)`` of every logged compartment-model point (failed points at 10 %)."""
    names = [d.name for d in search_space("segdend")]
    X, acc = [], []
    if lange_log:
        for line in Path(lange_log).read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                point = lange_point(record["params"])
                X.append([float(point[n]) for n in names])
                acc.append(100.0 * record["target"])
    for path in logs or ():
        for e in read_log(path):
            if e.get("x") is not None and e["family"] == "segdend":
                X.append([float(v) for v in e["x"]])
                acc.append(e["accuracy"] if e["accuracy"] is not None else 10.0)
    if not X:
        raise SystemExit("no logged compartment-model points: give --lange-log and/or --logs")
    return np.array(X), np.array(acc)


def surrogate(X, acc, seed=0):
    """A random forest of accuracy over the space (inputs scaled to [0, 1] per dimension)."""
    from sklearn.ensemble import RandomForestRegressor

    space = search_space("segdend")
    low = np.array([d.low for d in space], dtype=float)
    span = np.array([d.high - d.low for d in space], dtype=float)
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=1, random_state=seed).fit((X - low) / span, acc)
    return lambda x: float(forest.predict(((np.asarray(x, float) - low) / span)[None])[0])


def run_search(settings, f, evaluations, seed):
    """Best-so-far surrogate accuracy after each of ``evaluations`` sequential evaluations."""
    proposer = Proposer(SearchSettings("segdend", evaluations=evaluations, seed=seed, **settings))
    best, curve = 0.0, []
    for k in range(evaluations):
        x = proposer.ask(k, [])
        a = f(x)
        proposer.tell(x, 100.0 - a)
        best = max(best, a)
        curve.append(best)
    return curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lange-log", default=None, help="Lange's bo_logs_comp_dnn_mnist.json")
    parser.add_argument("--logs", nargs="*", default=None, help="this project's segdend log.jsonl files")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=50)
    parser.add_argument("--target", type=float, default=85.0, help="accuracy counted as 'found' (%)")
    parser.add_argument("--settings", nargs="*", default=None, help=f"subset of: {', '.join(SETTINGS)}")
    parser.add_argument("--out", default=None, help="JSON file for the curves")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    X, acc = landscape(args.lange_log, args.logs)
    f = surrogate(X, acc)
    print(
        f"landscape: {len(acc)} logged points, accuracy best {acc.max():.1f} %, median {np.median(acc):.1f} %, "
        f"{np.mean(acc >= args.target):.0%} at >= {args.target:g} %",
        flush=True,
    )
    print(
        f"| setting | best after 10 | after 25 | after {args.evaluations} | repeats reaching target | median eval reaching it | s per run |"
    )
    print("|---|---|---|---|---|---|---|")
    results = {}
    for name in args.settings or SETTINGS:
        t0 = time.perf_counter()
        curves = np.array([run_search(SETTINGS[name], f, args.evaluations, seed) for seed in range(args.repeats)])
        hits = [int(np.argmax(c >= args.target)) + 1 for c in curves if c[-1] >= args.target]
        after = {n: curves[:, min(n, args.evaluations) - 1].mean() for n in (10, 25, args.evaluations)}
        results[name] = {"curves": curves.tolist(), "hits": hits, "final_mean": after[args.evaluations]}
        print(
            f"| {name} | {after[10]:.1f} | {after[25]:.1f} | {after[args.evaluations]:.1f} | {len(hits)}/{args.repeats} | "
            f"{np.median(hits) if hits else '-'} | {(time.perf_counter() - t0) / args.repeats:.0f} |",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    best = max(results, key=lambda n: (len(results[n]["hits"]), results[n]["final_mean"]))
    print(
        f"best_setting={best} hits={len(results[best]['hits'])}/{args.repeats} final_mean={results[best]['final_mean']:.2f}"
    )


if __name__ == "__main__":
    main()
