"""brian_segdend: deep learning with segregated dendrites (Guerguiev et al. 2017) in Brian2."""

# compat first: an unsupported brian2 stops here, with a clear error, before its internals are used
from . import compat  # noqa: F401
from .config import FLAGS, KERNELS, SPIKE_COUNTS, ModelConfig
from .network import Layer, SegregatedDendriteNetwork
from .schedule import draw_phase_lengths
from .simulator import Simulator
from .weights import initial_weights

__version__ = "0.1.0"
__all__ = [
    "ModelConfig",
    "FLAGS",
    "KERNELS",
    "SPIKE_COUNTS",
    "SegregatedDendriteNetwork",
    "Layer",
    "Simulator",
    "draw_phase_lengths",
    "initial_weights",
    "__version__",
]
