"""Named models: the TOML files of the project's ``models/`` folder, one loader for every kind.

The folder is installed with the package as ``brian_segdend.models`` (package data, read with
:mod:`importlib.resources`), so a wheel and an editable install see the same models. Each file holds
``kind`` (a Brian model kind of :data:`brian_segdend.model.KINDS`, e.g. ``"segdend"`` for the
spiking model, or a baseline kind such as ``"bp-mlp"``), a ``description``, an optional
``reference``, a ``[params]`` table and optional ``[dataset_overrides.<dataset>]`` tables. A Brian
model's params are the fields of its kind's config class (``segdend``:
:class:`~brian_segdend.config.ModelConfig`); a baseline's params are fields of its record in
:mod:`brian_segdend.baselines.params`, and the file named after a baseline kind (``bp-mlp.toml``, ...)
holds that kind's defaults. Unknown keys are rejected by name.

Your own files: pass a path (``load_model("my.toml")``, ``segdend train --model my.toml``) or put
them in a folder named by ``$BRIAN_SEGDEND_MODELS`` (several folders separated by ``os.pathsep``);
names found there come before the packaged ones.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .config import ModelConfig, parse_setting
from .model import KINDS as BRIAN_KINDS
from .model import Config, config_class

__all__ = ["SEGDEND", "ModelSpec", "models_dir", "model_dirs", "list_models", "load_model", "preset_params"]

#: ``kind`` of the segregated-dendrite models; every kind outside :data:`brian_segdend.model.KINDS`
#: is a PyTorch baseline.
SEGDEND = ModelConfig.kind
_FILE_KEYS = ("kind", "description", "reference", "params", "dataset_overrides")


@dataclass(frozen=True)
class ModelSpec:
    """A named model: its ``kind``, parameters, description and source file."""

    name: str
    kind: str
    params: dict
    description: str
    path: Path
    reference: str = ""
    dataset_overrides: dict = dataclasses.field(default_factory=dict)

    def params_for(self, dataset) -> dict:
        """``params`` with the file's ``[dataset_overrides.<dataset>]`` applied."""
        return {**self.params, **self.dataset_overrides.get(dataset, {})}

    @property
    def brian(self) -> bool:
        """Whether this is a Brian model (a kind of :data:`brian_segdend.model.KINDS`), not a baseline."""
        return self.kind in BRIAN_KINDS

    def config(self) -> Config:
        """The config of a Brian model (a :class:`~brian_segdend.config.ModelConfig` for ``segdend``)."""
        if not self.brian:
            raise ValueError(f"model {self.name!r} is a {self.kind!r} baseline, not a Brian model")
        return config_class(self.kind).from_dict(self.params)

    def option_names(self) -> tuple:
        """The parameter names this model's kind accepts."""
        if self.brian:
            return tuple(f.name for f in dataclasses.fields(config_class(self.kind)))
        from .baselines.params import PARAMS_CLASS

        return tuple(f.name for f in dataclasses.fields(PARAMS_CLASS[self.kind]))

    def with_settings(self, items) -> ModelSpec:
        """A copy with ``--set KEY=VALUE`` items applied to ``params`` and validated.

        Raises ``ValueError`` naming the item for bad syntax or an unknown key, and naming the option
        for a bad value.
        """
        if not items:
            return self
        example = "n_hidden=100" if self.brian else "learning_rate=0.01"
        params = dict(self.params)
        for item in items:
            _, key, value = parse_setting(item, self.option_names(), example)
            params[key] = value
        spec = dataclasses.replace(self, params=params)
        try:
            _check_params(spec)
        except ValueError as exc:
            raise ValueError(f"model {self.name!r} with --set {' '.join(items)}: {exc}") from None
        return spec


def models_dir():
    """The packaged named models (the project's ``models/`` folder)."""
    return resources.files("brian_segdend.models")


def model_dirs() -> list:
    """Folders searched for named models: ``$BRIAN_SEGDEND_MODELS`` first, then :func:`models_dir`."""
    own = [Path(p) for p in os.environ.get("BRIAN_SEGDEND_MODELS", "").split(os.pathsep) if p]
    for path in own:
        if not path.is_dir():
            raise FileNotFoundError(f"model directory {str(path)!r} (from BRIAN_SEGDEND_MODELS) does not exist")
    return [*own, models_dir()]


def list_models() -> dict:
    """``{name: ModelSpec}`` of every model file in :func:`model_dirs`, sorted by name."""
    found = {}
    for directory in reversed(model_dirs()):  # earlier folders win
        found.update({f.name[:-5]: f for f in directory.iterdir() if f.name.endswith(".toml")})
    return {name: _read(found[name]) for name in sorted(found)}


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


def preset_params(kind: str) -> dict:
    """``[params]`` of the packaged file named after baseline ``kind``: that kind's defaults."""
    return _parse(models_dir() / f"{kind}.toml").params


def _parse(path) -> ModelSpec:
    """A model file as a :class:`ModelSpec`, with its structure checked (not yet its params)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"model file {str(path)!r} is not valid TOML: {exc}") from exc
    unknown = set(data) - set(_FILE_KEYS)
    if unknown or "kind" not in data:
        raise ValueError(
            f"model file {str(path)!r}: unknown keys {sorted(unknown)} or no 'kind'; "
            "expected kind, description, reference, [params], [dataset_overrides.<dataset>]"
        )
    return ModelSpec(
        path.name.removesuffix(".toml"),
        data["kind"],
        dict(data.get("params", {})),
        data.get("description", ""),
        path,
        data.get("reference", ""),
        dict(data.get("dataset_overrides", {})),
    )


def _check_params(spec: ModelSpec) -> None:
    """Check a spec's params for every dataset (``ValueError`` naming the option)."""
    from .baselines.params import KINDS, make_params

    if spec.brian:
        spec.config()
    elif spec.kind in KINDS:
        for dataset in ("", *spec.dataset_overrides):
            make_params(spec.kind, spec.params_for(dataset))
    else:
        raise ValueError(f"unknown kind {spec.kind!r}; valid kinds are: {', '.join([*BRIAN_KINDS, *KINDS])}")


def _read(path) -> ModelSpec:
    spec = _parse(path)
    try:
        _check_params(spec)
    except ValueError as exc:
        raise ValueError(f"model file {str(path)!r}: {exc}") from None
    return spec
