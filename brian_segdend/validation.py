"""Checks of user input, in one place and one wording: ``name=value is invalid: why``.

Model configs, the baselines' parameters, the training loop and the simulator call these before
anything is built or trained, so a bad value is reported by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "invalid",
    "check_positive_int",
    "check_number",
    "check_choice",
    "check_flag",
    "check_examples",
    "check_arrays",
]


def invalid(name: str, value: Any, why: str) -> ValueError:
    """The error for a bad value: ``ValueError("name=value is invalid: why")`` (raise it)."""
    return ValueError(f"{name}={value!r} is invalid: {why}")


def check_positive_int(name: str, value: Any) -> int:
    """``value`` if it is an integer >= 1 (not a bool), else a :func:`invalid` error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid(name, value, "must be a positive integer")
    return int(value)


def check_number(name: str, value: Any, minimum: float | None = None, positive: bool = False) -> float:
    """``value`` if it is a finite real number (``> 0`` if ``positive``, ``>= minimum`` if given)."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not real or not math.isfinite(value):
        raise invalid(name, value, "must be a finite number")
    if positive and not value > 0:
        raise invalid(name, value, "must be a positive finite number")
    if minimum is not None and value < minimum:
        raise invalid(name, value, f"must be a finite number >= {minimum}")
    return float(value)


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise invalid(name, value, f"choose one of {tuple(choices)}")
    return value


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise invalid(name, value, "must be True or False")
    return value


def check_examples(images, labels, n_inputs: int, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, n_inputs)`` of finite intensities in [0, 1] and integer labels ``0 .. n_classes - 1``,
    as arrays."""
    images = np.asarray(images, dtype=float)
    labels = np.asarray(labels)
    n = len(images)
    if images.ndim != 2 or images.shape[1] != n_inputs:
        raise ValueError(f"images have shape {images.shape}; expected (n, {n_inputs})")
    if labels.shape != (n,):
        raise ValueError(f"labels have shape {labels.shape}; expected ({n},)")
    if n and (labels.min() < 0 or labels.max() > n_classes - 1):
        raise ValueError(f"labels must be classes 0..{n_classes - 1}, got values in [{labels.min()}, {labels.max()}]")
    if not np.all(np.isfinite(images)) or (n and (images.min() < 0 or images.max() > 1)):
        raise ValueError("images must be finite intensities in [0, 1]")
    return images, labels


def check_arrays(name: str, arrays: Any, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """``arrays`` as numpy arrays if there is one finite array per entry of ``shapes``, of that shape;
    else an error naming the entry, e.g. ``weights['W'][1] has shape (3, 4); expected (5, 4)``."""
    if len(arrays) != len(shapes):
        raise ValueError(f"{name} has {len(arrays)} arrays; this network needs {len(shapes)}")
    checked = []
    for k, (array, shape) in enumerate(zip(arrays, shapes)):
        array = np.asarray(array)
        if array.shape != shape:
            raise ValueError(f"{name}[{k}] has shape {array.shape}; expected {shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}[{k}] contains {int(np.sum(~np.isfinite(array)))} NaN or infinite value(s)")
        checked.append(array)
    return checked
