"""The `baselines` experiment of the study: `python experiments/baselines_10epochs.py [--only bp-mlp:mnist ...]`.

Same as `segdend experiment baselines --budget full --resume ...` (an interrupted sweep continues
where it stopped); `--help` lists the options, `--summary-only` rebuilds the summary from results/.
"""

import sys

from brian_segdend.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "baselines", "--budget", "full", "--resume", *sys.argv[1:]]))
