"""The `learning_dynamics` experiment of the study: `python experiments/learning_dynamics.py --budget smoke|full [--out DIR] [--resume] ...`.

Same as `segdend experiment learning_dynamics ...`; `--help` lists the options.
"""

import sys

from brian_segdend.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "learning_dynamics", *sys.argv[1:]]))
