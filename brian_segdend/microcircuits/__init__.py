"""Dendritic cortical microcircuits (Sacramento, Costa, Bengio & Senn, NeurIPS 2018) in Brian2.

Pyramidal neurons with basal and apical compartments, interneurons that learn to predict the
layer above, and dendritic-prediction plasticity that runs continuously. The contract is
``../shared/spec/dendritic-microcircuits.md``.
"""

from .config import (
    DYNAMICS,
    INITS,
    NOISE,
    NUDGES,
    TRANSFERS,
    MicrocircuitConfig,
    coupling_conductance,
    inverse_mixing_rates,
    load_config,
)
from .network import MicrocircuitLayer, MicrocircuitNetwork
from .simulator import MicrocircuitSimulator
from .tasks import Teacher, class_targets
from .weights import check_weights, initial_weights, self_predicting

__all__ = [
    "MicrocircuitConfig",
    "DYNAMICS",
    "TRANSFERS",
    "NOISE",
    "NUDGES",
    "INITS",
    "coupling_conductance",
    "inverse_mixing_rates",
    "load_config",
    "Teacher",
    "MicrocircuitLayer",
    "MicrocircuitNetwork",
    "MicrocircuitSimulator",
    "class_targets",
    "initial_weights",
    "self_predicting",
    "check_weights",
]
