"""The `hyperopt` experiment of the study: `python experiments/hyperopt.py --budget smoke|full [--family mlp cnn segdend] ...`.

Same as `segdend experiment hyperopt ...`; `--help` lists the options (evaluations, subsets, epochs,
folds, wall-clock budget, per-evaluation time limit, --resume).
"""

import sys

from brian_segdend.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "hyperopt", *sys.argv[1:]]))
