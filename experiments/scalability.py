"""The `scalability` experiment of the study: `python experiments/scalability.py --budget smoke|full [--out DIR] [--resume] ...`.

Same as `segdend experiment scalability ...`; `--help` lists the options.
"""

import sys

from brian_segdend.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "scalability", *sys.argv[1:]]))
