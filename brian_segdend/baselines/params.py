"""Frozen parameter records of the baselines, with defaults and validation.

One record type per family:

* :class:`MLPParams` -- backprop MLP (``"bp-mlp"``), feedback alignment (``"fa"``) and
  direct feedback alignment (``"dfa"``); the two FA variants use ``feedback_scale``.
* :class:`TargetPropParams` -- target propagation (``"tp"``), difference target
  propagation (``"dtp"``) and simplified DTP (``"sdtp"``).
* :class:`CNNParams` -- backprop CNN (``"bp-cnn"``).

Ranges of Lange (2018, supplementary "Bayesian Optimization Hyperparameter Spaces"):
batch size 10-500, SGD learning rate 1e-4-0.05, 1-6 hidden layers of 30-500 units;
CNN channels 3-64, kernel 2-10, stride 1-3, padding 1-3. The records accept values
outside these ranges (they are a search space, not a law) but reject meaningless ones
with a ``ValueError`` that names the bad value.

The records have no defaults of their own: the defaults of each kind are its named model,
``models/<kind>.toml`` (:func:`make_params` fills in what is not given).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..validation import check_choice as _check_choice
from ..validation import check_flag as _check_bool
from ..validation import check_number
from ..validation import check_positive_int as _check_positive_int

__all__ = [
    "ACTIVATIONS",
    "OPTIMIZERS",
    "AUGMENTATIONS",
    "MLPParams",
    "TargetPropParams",
    "CNNParams",
    "KINDS",
    "PARAMS_CLASS",
    "make_params",
    "conv_output_sizes",
]

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
OPTIMIZERS = ("sgd", "adam")
AUGMENTATIONS = ("none", "flip", "flip-crop")

KINDS = ("bp-mlp", "bp-cnn", "fa", "dfa", "tp", "dtp", "sdtp")


def _check_nonneg(name: str, value: Any) -> None:
    check_number(name, value, minimum=0)


def _as_int_tuple(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    try:
        value = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {value!r}") from None
    if len(value) == 0:
        raise ValueError(f"{name} must have at least one layer, got {value!r} (zero layers)")
    for v in value:
        _check_positive_int(f"{name} entry", v)
    return value


@dataclass(frozen=True)
class TrainingParams:
    """What every baseline shares: the hidden nonlinearity, the optimizer and the input scaling.

    Parameters
    ----------
    activation : str
        Hidden nonlinearity, one of :data:`ACTIVATIONS`. The output layer is linear + softmax
        with cross-entropy loss.
    batch_size : int
        Mini-batch size (Lange: 10-500).
    learning_rate : float
        Optimizer step size (Lange: SGD, 1e-4-0.05).
    momentum : float
        SGD momentum (0 = plain SGD as in Lange's search space; the presets use 0.9).
    optimizer : str
        ``"sgd"`` or ``"adam"``.
    weight_decay : float
        L2 penalty passed to the optimizer.
    lr_decay : float
        Learning rate of epoch ``e`` (0-based) is ``learning_rate * lr_decay**e``.
    normalize_input : bool
        Standardise inputs with the training set's per-channel mean and std (stored in the model).
    """

    activation: str
    batch_size: int
    learning_rate: float
    momentum: float
    optimizer: str
    weight_decay: float
    lr_decay: float
    normalize_input: bool

    def __post_init__(self):
        _check_positive_int("batch_size", self.batch_size)
        _check_nonneg("learning_rate", self.learning_rate)
        _check_nonneg("momentum", self.momentum)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {self.momentum!r}")
        _check_nonneg("weight_decay", self.weight_decay)
        _check_nonneg("lr_decay", self.lr_decay)
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay (per-epoch learning-rate factor) must be in (0, 1], got {self.lr_decay!r}")
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_bool("normalize_input", self.normalize_input)


@dataclass(frozen=True)
class MLPParams(TrainingParams):
    """Multi-layer perceptron trained by backprop, feedback alignment or direct feedback alignment.

    Parameters
    ----------
    hidden : tuple of int
        Units per hidden layer (Lange: 1-6 layers of 30-500 units).
    activation, batch_size, learning_rate, momentum, optimizer, weight_decay, lr_decay, normalize_input
        As in :class:`TrainingParams`.
    feedback_scale : float
        FA/DFA only: the fixed random feedback matrices are drawn uniformly from
        ``±feedback_scale / sqrt(fan)``, like the forward weights' default initialisation.
    """

    hidden: tuple[int, ...]
    feedback_scale: float

    def __post_init__(self):
        object.__setattr__(self, "hidden", _as_int_tuple("hidden", self.hidden))
        super().__post_init__()
        _check_nonneg("feedback_scale", self.feedback_scale)


@dataclass(frozen=True)
class TargetPropParams(TrainingParams):
    """MLP trained by target propagation (TP), difference TP (DTP) or simplified DTP (SDTP).

    Parameters
    ----------
    hidden
        As in :class:`MLPParams`.
    activation, batch_size, optimizer, momentum, weight_decay, lr_decay, normalize_input
        As in :class:`TrainingParams`.
    learning_rate : float
        Step size of the forward weights (Lange: "Forward Learning R.").
    backward_learning_rate : float
        Step size of the learned inverse (feedback) weights (Lange: "Backward Learning R.").
    target_step : float
        Step size ``eta_hat`` of the output target ``h_L - eta_hat * dL/dh_L`` (and, for TP and
        DTP, of the penultimate target ``h_{L-1} - eta_hat * dL/dh_{L-1}``).
    noise_std : float
        Std of the Gaussian corruption used to train the inverses (Lee et al. 2015).
    """

    hidden: tuple[int, ...]
    backward_learning_rate: float
    target_step: float
    noise_std: float

    def __post_init__(self):
        object.__setattr__(self, "hidden", _as_int_tuple("hidden", self.hidden))
        super().__post_init__()
        _check_nonneg("backward_learning_rate", self.backward_learning_rate)
        _check_nonneg("target_step", self.target_step)
        _check_nonneg("noise_std", self.noise_std)


IntOrTuple = int | tuple[int, ...]


@dataclass(frozen=True)
class CNNParams(TrainingParams):
    """Convolutional network trained by backprop.

    Each conv layer is ``conv -> [batch norm] -> activation -> [2x2 max pool]``; then
    the feature maps are flattened into ``fc_hidden`` fully connected layers and a
    linear softmax read-out.

    Parameters
    ----------
    channels : tuple of int
        Output channels per conv layer (Lange: 3-64).
    kernel_size, stride, padding : int or tuple of int
        One value for all conv layers or one per layer (Lange: kernel 2-10, stride 1-3,
        padding 1-3).
    pool : bool or tuple of bool
        2x2 max pooling after each conv layer (one value or one per layer).
    batch_norm : bool
        Batch normalisation after each conv and hidden fully connected layer.
    fc_hidden : tuple of int
        Units of the fully connected hidden layers (may be empty).
    dropout : float
        Dropout probability before each fully connected layer.
    augment : str
        Training-time augmentation: ``"none"``, ``"flip"`` (random horizontal flip) or
        ``"flip-crop"`` (flip + random 4-pixel-padded crop). Test data is never augmented.
    activation, batch_size, learning_rate, momentum, optimizer, weight_decay, lr_decay, normalize_input
        As in :class:`TrainingParams`.
    """

    channels: tuple[int, ...]
    kernel_size: IntOrTuple
    stride: IntOrTuple
    padding: IntOrTuple
    pool: bool | tuple[bool, ...]
    batch_norm: bool
    fc_hidden: tuple[int, ...]
    dropout: float
    augment: str

    def __post_init__(self):
        channels = _as_int_tuple("channels", self.channels)
        object.__setattr__(self, "channels", channels)
        n = len(channels)
        for name in ("kernel_size", "stride"):
            object.__setattr__(self, name, self._per_layer(name, getattr(self, name), n, minimum=1))
        object.__setattr__(self, "padding", self._per_layer("padding", self.padding, n, minimum=0))
        pool = self.pool
        pool = (pool,) * n if isinstance(pool, bool) else tuple(pool)
        if len(pool) != n or not all(isinstance(p, bool) for p in pool):
            raise ValueError(f"pool must be a bool or {n} bools (one per conv layer), got {self.pool!r}")
        object.__setattr__(self, "pool", pool)
        fc = self.fc_hidden
        fc = (fc,) if isinstance(fc, int) and not isinstance(fc, bool) else tuple(fc)
        for v in fc:
            _check_positive_int("fc_hidden entry", v)
        object.__setattr__(self, "fc_hidden", fc)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        _check_choice("augment", self.augment, AUGMENTATIONS)
        _check_bool("batch_norm", self.batch_norm)
        super().__post_init__()

    @staticmethod
    def _per_layer(name: str, value: Any, n: int, minimum: int) -> tuple[int, ...]:
        values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
        if len(values) != n:
            raise ValueError(f"{name} must be an int or {n} ints (one per conv layer), got {value!r}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise ValueError(f"{name} must be integers >= {minimum}, got {v!r}")
        return values


def conv_output_sizes(p: CNNParams, image_size: int) -> list[int]:
    """Spatial size after each conv layer (after pooling) for square ``image_size`` inputs.

    Raises
    ------
    ValueError
        If a kernel is larger than the (padded, possibly downsampled) image it is applied to.
    """
    sizes = []
    size = image_size
    for i, (k, s, pad, pool) in enumerate(zip(p.kernel_size, p.stride, p.padding, p.pool)):
        if k > size + 2 * pad:
            raise ValueError(
                f"kernel_size {k} of conv layer {i} is larger than its input: a {size}x{size} image "
                f"(padding {pad}, so {size + 2 * pad} pixels wide)"
            )
        size = (size + 2 * pad - k) // s + 1
        if pool:
            if size < 2:
                raise ValueError(f"conv layer {i} output is {size}x{size}, too small for 2x2 pooling")
            size //= 2
        sizes.append(size)
    return sizes


PARAMS_CLASS = {
    "bp-mlp": MLPParams,
    "fa": MLPParams,
    "dfa": MLPParams,
    "tp": TargetPropParams,
    "dtp": TargetPropParams,
    "sdtp": TargetPropParams,
    "bp-cnn": CNNParams,
}


def make_params(kind: str, params: dict | None = None):
    """The parameter record of ``kind``: the defaults of ``models/<kind>.toml`` updated with ``params``.

    Unknown kinds or keys raise ``ValueError`` listing the valid ones.
    """
    from ..registry import preset_params

    if kind not in KINDS:
        raise ValueError(f"unknown baseline kind {kind!r}; valid kinds are: {', '.join(KINDS)}")
    cls = PARAMS_CLASS[kind]
    params = dict(params or {})
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for kind {kind!r}; valid: {', '.join(valid)}"
        )
    merged = {**preset_params(kind), **params}
    missing = [k for k in valid if k not in merged]
    if missing:
        raise ValueError(f"models/{kind}.toml, the defaults of {kind!r}, lacks {', '.join(missing)}")
    for key in ("hidden", "channels", "fc_hidden", "kernel_size", "stride", "padding", "pool"):
        if isinstance(merged.get(key), list):
            merged[key] = tuple(merged[key])
    return cls(**merged)
