"""What a model offers the shared stack (simulator, training loop, result files, CLI, study).

A *kind* of model (``'segdend'``: :class:`~brian_segdend.network.SegregatedDendriteNetwork`) is a
class that builds its Brian objects for a number of examples per run and describes how to feed and
read them; :class:`~brian_segdend.simulator.Simulator` runs it on any device, and
:func:`~brian_segdend.training.train` trains it. Named models in ``models/*.toml`` say their
``kind``; :data:`KINDS` maps it to the config and model classes. The interface is
:class:`Model` (``docs/architecture.md`` draws the flow).

This module imports no Brian: the CLI reads it to tell Brian models from the PyTorch baselines.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["Config", "PlainData", "Model", "Stimulus", "KINDS", "config_class", "model_class", "register_kind"]


@dataclass
class Stimulus:
    """Everything one run (chunk) of a model needs besides its carried state.

    Attributes
    ----------
    tables : dict
        ``{TimedArray: values}``: the examples of the run (images, labels, per-example settings).
    variables : dict
        ``{(Brian object, variable name): value}``: constants of the run (number of examples,
        learning on or off, ...).
    steps : int
        Time steps the run takes at most; it ends itself after its last example (``stop_run``).
    """

    tables: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    steps: int = 0

    def write(self) -> None:
        """Write the tables' values and the variables into their Brian objects (runtime devices, or
        standalone before the build); a model's ``load`` does this and restarts its counters."""
        for table, values in self.tables.items():
            table.values[:] = values
        for (obj, name), value in self.variables.items():
            setattr(obj, name, value)


@runtime_checkable
class Config(Protocol):
    """A model's parameters: a frozen dataclass whose fields are plain data (TOML/JSON)."""

    kind: ClassVar[str]  # the model kind these parameters belong to
    n_inputs: int

    @property
    def n_outputs(self) -> int: ...

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config: ...

    def to_dict(self) -> dict: ...

    def replace(self, **changes: Any) -> Config: ...


class PlainData:
    """``from_dict`` / ``to_dict`` / ``replace`` of a :class:`Config`, for a frozen dataclass that inherits it
    (its ``__post_init__`` normalises lists from TOML/JSON, e.g. to tuples, and validates)."""

    #: what error messages call the options (``"unknown model option(s) ..."``)
    options_name: ClassVar[str] = "model"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        """Build a config from a mapping (lists become tuples), rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown {cls.options_name} option(s) {unknown}; valid options are: {', '.join(sorted(known))}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def replace(self, **changes: Any):
        """A copy with some options changed (unknown names raise ``ValueError``)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        """Plain-data form (lists for tuples), suitable for JSON/TOML."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@runtime_checkable
class Model(Protocol):
    """The interface a model implements for :class:`~brian_segdend.simulator.Simulator` and the stack above.

    A model is built for ``capacity`` examples per run under the active device; every object of
    :attr:`brian_network` stays reachable. Per-example work runs in generated code; each run ends
    itself after its last example by calling ``simulator.stop_run`` from generated code.
    """

    config: Config
    capacity: int  # most examples per run
    max_duration: Any  # Quantity: the longest run (a standalone binary is built for it)
    brian_network: Any  # brian2.Network of every object of the model

    def __init__(self, config: Config, weights: dict | None = None, seed: int | None = None, capacity: int = 100): ...

    def draw_settings(self, n: int, rng: np.random.Generator, epoch: int = 0) -> dict[str, np.ndarray]:
        """Per-example settings of the ``n`` training examples of epoch ``epoch`` (0-based), random (e.g.
        phase lengths) or scheduled (e.g. a learning-rate factor); ``{}`` if none."""

    def example_settings(self, n: int, learn: bool, **settings: Any) -> dict[str, np.ndarray]:
        """``settings`` checked and completed with defaults: one array of length ``n`` per setting."""

    def stimulus(
        self, images: np.ndarray, labels: np.ndarray, learn: bool, record: bool = False, **settings
    ) -> Stimulus:
        """The :class:`Stimulus` of one run over at most ``capacity`` examples."""

    def load(self, stimulus: Stimulus) -> None:
        """Write a stimulus into the objects and restart the example counters (runtime devices)."""

    def state_variables(self, weights: bool = True) -> dict[Any, list[str]]:
        """``{Brian object: [variable names]}`` carried from one run to the next (weights too if ``weights``)."""

    def initial_value(self, obj: Any, name: str) -> np.ndarray:
        """A carried variable's value before the first run (standalone devices cannot read it back)."""

    def readout(self, learn: bool) -> tuple[Any, str]:
        """``(EventMonitor, variable)`` that records ``config.n_outputs`` values per example."""

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """Class per example from the read-outs ``(n, n_outputs)``."""

    def read_weights(self, value) -> dict:
        """Named weight arrays, reading each variable through ``value(obj, name)``."""

    def write_weights(self, weights: dict, assign) -> None:
        """Validate ``weights`` and write them through ``assign(obj, name, values)``."""

    def diagnostics(self, weights: dict) -> dict:
        """Per-epoch diagnostics of the weights for the run's results (JSON-ready)."""


#: kind -> (config class, model class) as ``"module:attribute"``, imported when first asked for
KINDS: dict[str, tuple[str, str]] = {
    "segdend": ("brian_segdend.config:ModelConfig", "brian_segdend.network:SegregatedDendriteNetwork"),
    "microcircuit": (
        "brian_segdend.microcircuits.config:MicrocircuitConfig",
        "brian_segdend.microcircuits.network:MicrocircuitNetwork",
    ),
}


def register_kind(kind: str, config: str, model: str) -> None:
    """Add a model kind: its config and model classes as ``"module:attribute"``."""
    KINDS[kind] = (config, model)


def _load(kind: str, which: int):
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; Brian model kinds are: {', '.join(KINDS)}")
    module, _, attribute = KINDS[kind][which].partition(":")
    return getattr(importlib.import_module(module), attribute)


def config_class(kind: str) -> type:
    """The config class of ``kind`` (e.g. :class:`~brian_segdend.config.ModelConfig` for ``'segdend'``)."""
    return _load(kind, 0)


def model_class(kind: str) -> type:
    """The model class of ``kind`` (e.g. :class:`~brian_segdend.network.SegregatedDendriteNetwork`)."""
    return _load(kind, 1)
