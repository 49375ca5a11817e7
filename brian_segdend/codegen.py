"""Dense row propagation of all-to-all ``Synapses`` under ``cpp_standalone`` (a speed option).

Brian's generic synaptic propagation pushes every synapse of a spiking neuron through a spike queue
and then visits each one through index arrays, which the compiler cannot vectorise. The feedforward
weights of this model connect every presynaptic neuron to every postsynaptic one in presynaptic
order (synapse ``i*n_post + j`` joins ``i`` and ``j``), so an event of neuron ``i`` touches the
contiguous row ``i``. :class:`DenseRowsCodeObject` generates exactly the same per-synapse code as Brian,
but loops over rows read straight from the source's event space (templates in ``templates/``),
without the queue. Summed variables (the rate-based feedforward and feedback inputs) likewise sum
row by row instead of through the index arrays (about 3x faster for 784-500-10 rates). The
per-neuron operations of the layers (``run_regularly``: ring shifts, kernel sums, windows) tell the
compiler that each neuron's iteration touches only its own entries (``#pragma GCC ivdep``), so it
vectorises them; loops that call math functions or draws keep Brian's loop, so no result changes
by a bit (about 25 % less time per training example). Only presynaptic pathways, summed variables
and per-neuron operations of the objects built with it change; the objects, their variables and
their results are those of ordinary ``Synapses`` and ``NeuronGroup`` s (the equivalence tests run
both, the reference test compares bit for bit). Other devices and runtime targets use Brian's code
unchanged.
"""

from __future__ import annotations

from brian2 import get_device
from brian2.codegen.templates import Templater
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

__all__ = ["DenseRowsCodeObject", "dense_rows_code_object"]

#: Brian template -> the template of this package that replaces it for dense rows
DENSE_TEMPLATES = {
    "synapses": "dense_rows_synapses",
    "synapses_push_spikes": "dense_rows_push_spikes",
    "summed_variable": "dense_rows_summed_variable",
    "stateupdate": "dense_rows_stateupdate",
}


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
        env_globals=CPPStandaloneCodeObject.templater.env_globals,
        templates_dir=("templates",) + CPPStandaloneCodeObject.templater.templates_dir,
    )


def dense_rows_code_object():
    """:class:`DenseRowsCodeObject` when ``cpp_standalone`` itself is the active device, else ``None``
    (Brian's default; devices derived from it, such as ``cuda_standalone``, keep their own code)."""
    return DenseRowsCodeObject if type(get_device()) is CPPStandaloneDevice else None
