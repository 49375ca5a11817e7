"""Record compartments of chosen neurons during chosen runs, without slowing the others.

A recorder is an ``EventMonitor`` on the ``record`` event of a layer's (sub)group. The event fires at
the end of every step of a run started with ``Simulator.present(..., record=True)`` and never
otherwise, so unrecorded runs pay one comparison per neuron and step. Works under every device
(create recorders before the first run: ``cpp_standalone`` builds them into the binary).

Examples
--------
>>> rec = record(net, "hidden1", ["d", "a", "u"], neurons=range(10))      # doctest: +SKIP
>>> sim.present(X[:1], y[:1], learn=True, record=True)                    # doctest: +SKIP
>>> t, v = traces(rec, "u")                                               # (steps,), (10, steps)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from brian2 import EventMonitor, ms

from . import schedule

if TYPE_CHECKING:
    from .network import SegregatedDendriteNetwork

__all__ = ["record", "traces", "recordable_variables"]


def recordable_variables(network: SegregatedDendriteNetwork, layer: str) -> list[str]:
    """Names of the variables a recorder of ``layer`` can record."""
    group = network.layer(layer).neurons
    return sorted(
        n
        for n, v in group.variables.items()
        if not n.startswith("_")
        and n not in ("N", "i", "t", "dt", "t_in_timesteps", "timestep")
        and getattr(v, "size", 1) not in (0,)
    )


def record(
    network: SegregatedDendriteNetwork, layer: str, variables, neurons=None, name: str | None = None
) -> EventMonitor:
    """Add a recorder of ``variables`` of ``neurons`` (indices, default all) of ``layer`` to ``network``.

    Raises ``KeyError`` naming the valid variables when one does not exist.
    """
    group = network.layer(layer).neurons
    variables = [variables] if isinstance(variables, str) else list(variables)
    valid = recordable_variables(network, layer)
    unknown = [v for v in variables if v not in valid]
    if unknown:
        raise KeyError(f"layer {layer!r} has no variable(s) {unknown}; recordable: {', '.join(valid)}")
    idx = np.arange(group.N) if neurons is None else np.unique(np.asarray(list(neurons), dtype=int))
    if idx.size == 0 or idx[0] < 0 or idx[-1] >= group.N:
        raise ValueError(f"neurons must be indices in 0..{group.N - 1}, got {list(idx)[:10]}")
    selected = network.recorded_neurons.setdefault(layer, np.zeros(group.N, dtype=int))
    selected[idx] = 1  # the event fires for the union of all recorders' neurons
    group.recorded = selected
    monitor = EventMonitor(group, "record", variables=variables, name=name or f"{layer}_recorder*")
    schedule.place(monitor, "monitors")
    monitor.namespace = group.namespace  # recorded expressions may read the model's tables (the input's x, r)
    monitor.add_attribute("neurons")
    monitor.neurons = idx
    network.brian_network.add(monitor)
    return monitor


def traces(monitor: EventMonitor, variable: str) -> tuple[np.ndarray, np.ndarray]:
    """``(t, values)``: recorded times (ms) and a ``(neurons, steps)`` array of ``variable``."""
    t = np.asarray(monitor.t[:] / ms)
    i = np.asarray(monitor.i[:])
    v = np.asarray(getattr(monitor, variable)[:])
    times = np.unique(t)
    out = np.full((len(monitor.neurons), len(times)), np.nan)
    rows = {n: k for k, n in enumerate(monitor.neurons)}
    keep = np.isin(i, monitor.neurons)
    out[[rows[n] for n in i[keep]], np.searchsorted(times, t[keep])] = v[keep]
    return times, out
