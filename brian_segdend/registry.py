"""Named model definitions: the TOML files in ``models/`` (one place, validated by one loader).

Each file holds ``kind`` (a Brian model kind of :data:`brian_segdend.model.KINDS`, e.g.
``"segdend"``, or a baseline kind such as ``"bp-mlp"``), a ``description`` and a ``[params]`` table.
For a Brian model the params are the fields of its config class (``segdend``:
:class:`~brian_segdend.config.ModelConfig`); unknown keys are rejected by name.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .model import KINDS, Config, config_class

__all__ = ["ModelSpec", "models_dir", "list_models", "load_model"]


@dataclass(frozen=True)
class ModelSpec:
    """A named model: its ``kind``, parameters, description and source file."""

    name: str
    kind: str
    params: dict
    description: str
    path: Path
    reference: str = ""
    dataset_overrides: dict = None

    def params_for(self, dataset) -> dict:
        """``params`` with the file's ``[dataset_overrides.<dataset>]`` applied."""
        return {**self.params, **((self.dataset_overrides or {}).get(dataset, {}))}

    def config(self) -> Config:
        """The config of a Brian model (a :class:`~brian_segdend.config.ModelConfig` for ``segdend``)."""
        if self.kind not in KINDS:
            raise ValueError(f"model {self.name!r} is a {self.kind!r} baseline, not a Brian model")
        return config_class(self.kind).from_dict(self.params)


def models_dir() -> Path:
    """``$BRIAN_SEGDEND_MODELS``, else ``models/`` beside the package (a source checkout)."""
    env = os.environ.get("BRIAN_SEGDEND_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def list_models() -> dict:
    """``{name: ModelSpec}`` of every file in :func:`models_dir`, sorted by name."""
    directory = models_dir()
    if not directory.is_dir():
        raise FileNotFoundError(f"model directory {str(directory)!r} not found (set BRIAN_SEGDEND_MODELS)")
    return {p.stem: _read(p) for p in sorted(directory.glob("*.toml"))}


def load_model(name_or_path) -> ModelSpec:
    """A model by name (``'ref-s'``) or by path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        return _read(path)
    models = list_models()
    if str(name_or_path) not in models:
        raise ValueError(f"unknown model {str(name_or_path)!r}; valid names are: {', '.join(models)}")
    return models[str(name_or_path)]


def _read(path: Path) -> ModelSpec:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"model file {str(path)!r} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"kind", "description", "params", "reference", "dataset_overrides"}
    if unknown or "kind" not in data:
        raise ValueError(
            f"model file {str(path)!r}: unknown keys {sorted(unknown)} or no 'kind'; "
            "expected kind, description, reference, [params], [dataset_overrides.<dataset>]"
        )
    spec = ModelSpec(
        path.stem,
        data["kind"],
        dict(data.get("params", {})),
        data.get("description", ""),
        path,
        data.get("reference", ""),
        dict(data.get("dataset_overrides", {})),
    )
    if spec.kind in KINDS:
        spec.config()  # validate now, naming the file on error
    return spec
