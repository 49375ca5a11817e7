"""Code of this package's ``Synapses`` and layers under ``cpp_standalone`` (a speed option).

Brian's generic synaptic propagation pushes every synapse of a spiking neuron through a spike queue
and then visits each one through index arrays, which the compiler cannot vectorise. The feedforward
weights of this model connect every presynaptic neuron to every postsynaptic one in presynaptic
order (synapse ``i*n_post + j`` joins ``i`` and ``j``), so an event of neuron ``i`` touches the
contiguous row ``i``. :class:`DenseRowsCodeObject` generates exactly the same per-synapse code as Brian,
but loops over rows read straight from the source's event space (templates in ``templates/``),
without the queue. Summed variables (the rate-based feedforward and feedback inputs) likewise sum
row by row instead of through the index arrays (about 3x faster for 784-500-10 rates).

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
    "threshold": "dense_rows_threshold",
    "reset": "dense_rows_reset",
}


def vectorisable(vector_code) -> bool:
    """Whether per-neuron code (Brian's lines) may run as a vectorised loop: it draws no random numbers
    (draws have a state) and calls no ``log`` (only ``exp`` has its vector version declared, in
    ``templates/dense_rows_common.cpp``)."""
    code = "\n".join(vector_code)
    return not any(name in code for name in ("rand", "poisson(", "log("))


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
        env_globals={**CPPStandaloneCodeObject.templater.env_globals, "vectorisable": vectorisable},
        templates_dir=("templates",) + CPPStandaloneCodeObject.templater.templates_dir,
    )


def dense_rows_code_object():
    """:class:`DenseRowsCodeObject` when ``cpp_standalone`` itself is the active device, else ``None``
    (Brian's default; devices derived from it, such as ``cuda_standalone``, keep their own code)."""
    return DenseRowsCodeObject if type(get_device()) is CPPStandaloneDevice else None
