"""Every Python code block of README.md runs as written."""

import re
from pathlib import Path

import pytest
from brian2 import prefs

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_promised_sections():
    for heading in ("### Inspect the voltages", "### Use it inside your own Brian2 model", "### Run on a GPU"):
        assert heading in README
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_block_runs(k, capsys):
    try:
        exec(compile(BLOCKS[k], f"README.md block {k}", "exec"), {})
    finally:
        prefs.codegen.target = "auto"
    assert capsys.readouterr().out.strip()  # every block prints its result
