"""Supported Brian2 releases: the version check, the install pins and README agree (brian_segdend.compat)."""

import configparser
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from brian_segdend.codegen import DENSE_TEMPLATES, DenseRowsCodeObject
from brian_segdend.compat import SUPPORTED_BRIAN2, check_versions

ROOT = Path(__file__).resolve().parent.parent


def _pairings():
    """(brian2 version, Python version) of each entry of :data:`SUPPORTED_BRIAN2`."""
    return [re.match(r"brian2 (\S+) on Python (\S+)", text).groups() for text in SUPPORTED_BRIAN2.values()]


def test_installed_brian2_is_a_supported_series():
    series = check_versions()
    assert metadata.version("brian2").startswith(series + ".")
    assert series in {brian2.rsplit(".", 1)[0] for brian2, _ in _pairings()}


@pytest.mark.parametrize("version", ["2.8.0.4", "2.12.0", "3.0.0"])
def test_unsupported_brian2_is_refused_by_name(version):
    with pytest.raises(RuntimeError, match=f"installed brian2 {re.escape(version)}"):
        check_versions(version, "2.3.5")


def test_brian2_2_9_with_numpy_2_4_is_refused():
    """brian2 2.9.0 cannot even be imported with numpy 2.4 (``np.ndarray.ptp`` is gone)."""
    with pytest.raises(RuntimeError, match=r"numpy 2\.4\.0: it needs numpy < 2\.4"):
        check_versions("2.9.0", "2.4.0")
    assert check_versions("2.9.0", "2.3.5") == "2.9"
    assert check_versions("2.11.0", "2.5.5") == "2.11"


def test_install_requires_admit_exactly_the_supported_pairings():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    requirements = [Requirement(line) for line in cfg["options"]["install_requires"].splitlines() if line.strip()]

    def specifier(name, python):
        (spec,) = [
            r.specifier
            for r in requirements
            if r.name == name and (r.marker is None or r.marker.evaluate({"python_version": python}))
        ]
        return spec

    pairings = _pairings()
    for brian2, python in pairings:
        assert specifier("brian2", python).contains(brian2)
        assert specifier("numpy", python).contains("2.3.5" if brian2.startswith("2.9.") else "2.5.5")
    assert not specifier("numpy", "3.11").contains("2.4.0")  # brian2 2.9 fails with numpy 2.4
    for version in ("2.8.0.4", "2.12.0"):
        assert not specifier("brian2", "3.13").contains(version)
    newest = int(pairings[-1][1].split(".")[1])
    assert cfg["options"]["python_requires"] == f">={pairings[0][1]},<3.{newest + 1}"


def test_readme_table_lists_each_supported_pairing():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Supported versions", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| 3.")]
    assert [tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows] == [(p, b) for b, p in _pairings()]


def test_dense_rows_templater_answers_attribute_lookups_like_brian():
    """Brian >= 2.10 makes code objects ABCs, whose class creation asks each attribute for
    ``__isabstractmethod__``: a missing template must be an AttributeError, not a KeyError."""
    templater = DenseRowsCodeObject.templater
    assert not hasattr(templater, "__isabstractmethod__")
    for brian_name, ours in DENSE_TEMPLATES.items():
        source = getattr(templater, brian_name).template_source
        assert "Dense row" in source or "brian_segdend.codegen" in source, ours
    assert "brian_segdend" not in templater.spikemonitor.template_source  # the others are Brian's
