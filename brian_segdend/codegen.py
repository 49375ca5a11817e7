"""Code of this package's ``Synapses`` and layers under ``cpp_standalone`` (a speed option).

Brian's generic synaptic propagation pushes every synapse of a spiking neuron through a spike queue
and then visits each one through index arrays, which the compiler cannot vectorise. The feedforward
weights of this model connect every presynaptic neuron to every postsynaptic one in presynaptic
order (synapse ``i*n_post + j`` joins ``i`` and ``j``), so an event of neuron ``i`` touches the
contiguous row ``i``. :class:`DenseRowsCodeObject` generates exactly the same per-synapse code as Brian,
but loops over rows read straight from the source's event space (templates in ``templates/``),
without the queue (which is neither prepared nor filled). Summed variables (the rate-based
feedforward and feedback inputs) likewise sum row by row instead of through the index arrays, and
only when something they read may have changed since their last sum (the arrays of other groups they
read, compared byte for byte, or a run of code of the synapses that may write the weights,
:func:`writes_counter`); otherwise they copy their last sums: the input layer's rates are constant
within an example, so in rate mode its sums run about twice per example instead of every step.
:func:`synapses` makes the package's ``Synapses``: connected all-to-all by ``connect()``, in
presynaptic order on every device, and with one scalar zero delay per pathway.

The layers' ``NeuronGroup`` s use it too (``templates/dense_rows_*.cpp`` say what each changes):

* per-neuron operations tell the compiler that each neuron's iteration touches only its own entries
  (``#pragma GCC ivdep``), so it vectorises them, with glibc's vector ``exp`` for the rates (within
  4 ulp of the scalar one); loops that draw random numbers or call ``log`` keep Brian's loop
  (:func:`vectorisable`);
* an operation that only moves rings one step back (the input memories and past counts of the
  truncated kernel) swaps the arrays' pointers instead of moving every value;
* event conditions test their per-step terms (``plastic == 1 and step == ...``) before the loop over
  neurons, and count without a branch;
* event code that every neuron runs (windows, errors) loops over the neurons in order, vectorised.

The objects, their variables and their results are those of ordinary ``Synapses`` and
``NeuronGroup`` s (the equivalence tests run both at 1e-9; ``tests/test_reference.py`` fixes the
trained weights bit for bit). Other devices and runtime targets use Brian's code unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from brian2 import Synapses, get_device, prefs, second
from brian2.codegen.templates import Templater
from brian2.core.variables import ArrayVariable, DynamicArrayVariable
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

__all__ = ["DenseRowsCodeObject", "dense_rows_code_object", "synapses"]

#: Brian template -> the template of this package that replaces it for dense rows
DENSE_TEMPLATES = {
    "synapses": "dense_rows_synapses",
    "synapses_push_spikes": "dense_rows_push_spikes",
    "synapses_create_generator": "dense_rows_create_generator",
    "summed_variable": "dense_rows_summed_variable",
    "stateupdate": "dense_rows_stateupdate",
    "threshold": "dense_rows_threshold",
    "reset": "dense_rows_reset",
}


def vectorisable(vector_code) -> bool:
    """Whether per-neuron code (Brian's lines) may run as a vectorised loop: it draws no random numbers
    (draws have a state) and calls no ``log`` (only ``exp`` has its vector version declared, in
    ``templates/dense_rows_common.cpp``)."""
    code = "\n".join(vector_code)
    return not any(name in code for name in ("rand", "poisson(", "log("))


def writes_counter(group) -> str | None:
    """C++ name of the count of the runs of code that may write the synaptic variables of ``group``
    (``None`` unless ``group`` is a ``Synapses``): its pathways and per-synapse operations add one,
    and the cached sums of ``dense_rows_summed_variable.cpp`` compare it."""
    return f"_segdend_writes_{group.name}" if isinstance(group, Synapses) else None


def summed_inputs(variables, synapses, target, vector_code) -> list | None:
    """What a summed variable of ``synapses`` into ``target`` reads besides the synapses' own variables:
    the ``(array, bytes)`` of each array its sums may depend on (the presynaptic and postsynaptic
    variables, the clock's time), which ``dense_rows_summed_variable.cpp`` compares with their values at
    the last sum. ``None`` (compute every time) if the code draws random numbers, reads an array it
    cannot compare (a dynamic array of another group), or runs in OpenMP threads."""
    if not vectorisable(vector_code) or prefs.devices.cpp_standalone.openmp_threads:
        return None
    device, inputs = get_device(), set()
    for var in variables.values():
        if not isinstance(var, ArrayVariable) or var.owner.name == synapses.name or var is target:
            continue
        if isinstance(var, DynamicArrayVariable):
            return None
        inputs.add((device.get_array_name(var), var.size * np.dtype(var.dtype).itemsize))
    return sorted(inputs)


class _DenseRowsTemplater(Templater):
    """Brian's C++ standalone templates, with :data:`DENSE_TEMPLATES` swapped in."""

    def __getattr__(self, item):
        try:
            return self.templates.get_template(DENSE_TEMPLATES.get(item, item))
        except KeyError as exc:  # attribute look-ups (hasattr, the ABC checks of brian2 >= 2.10) need AttributeError
            raise AttributeError(item) from exc


class DenseRowsCodeObject(CPPStandaloneCodeObject):
    """``cpp_standalone`` code object whose presynaptic pathways loop over contiguous rows."""

    templater = _DenseRowsTemplater(
        ("brian_segdend",) + CPPStandaloneCodeObject.templater.package_names,
        ".cpp",
        env_globals={
            **CPPStandaloneCodeObject.templater.env_globals,
            "vectorisable": vectorisable,
            "writes_counter": writes_counter,
            "summed_inputs": summed_inputs,
        },
        templates_dir=("templates",) + CPPStandaloneCodeObject.templater.templates_dir,
    )


def dense_rows_code_object():
    """:class:`DenseRowsCodeObject` when ``cpp_standalone`` itself is the active device, else ``None``
    (Brian's default; devices derived from it, such as ``cuda_standalone``, keep their own code)."""
    return DenseRowsCodeObject if type(get_device()) is CPPStandaloneDevice else None


def synapses(source, target, dense: bool = True, **kwds) -> Synapses:
    """``Synapses`` of this package: every pathway without delay, and by default all-to-all.

    Each pathway's delay is one scalar zero (Brian's ``delay=`` keyword) instead of an array of
    delays per synapse (8 bytes per synapse and pathway that the models never use). ``dense``:
    connected all-to-all in presynaptic order (synapse ``i*N_target + j`` joins ``i`` and ``j``, the
    order of Brian's ``connect()`` on every device), with :class:`DenseRowsCodeObject` under
    ``cpp_standalone``; otherwise Brian's code, and the caller connects.
    """
    pathways = [
        name
        for code, default in ((kwds.get("on_pre"), "pre"), (kwds.get("on_post"), "post"))
        if code
        for name in (code if isinstance(code, Mapping) else [default])
    ]
    codeobj_class = dense_rows_code_object() if dense else None
    syn = Synapses(source, target, delay=dict.fromkeys(pathways, 0 * second), codeobj_class=codeobj_class, **kwds)
    if dense:
        syn.connect()
    return syn
