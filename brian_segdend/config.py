"""Model configuration: every parameter and flag of the spec (§8), validated in one place.

The defaults are REF-S, the spiking model of Guerguiev et al. (2017) as the reference code runs it
(spec §8, column REF-S). Lengths are in time steps; at ``dt = 1`` (ms) every number means what the
spec's table says. Named presets (REF-NS, LANGE base, ...) live as data in ``models/``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from brian2.units import Quantity, ms
from brian2.units.fundamentalunits import have_same_dimensions

from .model import PlainData
from .validation import check_choice, check_flag, check_number, check_positive_int, invalid

__all__ = [
    "ModelConfig",
    "FLAGS",
    "REF_FLAGS",
    "KERNELS",
    "SPIKE_COUNTS",
    "PLATEAU_OFFSET_MAX",
    "PLATEAU_OFFSET_SD",
    "parse_setting",
    "parse_value",
]

#: The eleven Boolean options of Lange's search space (spec §8), in his order.
FLAGS = (
    "sparse_feedback",
    "conductances",
    "broadcast",
    "spiking_feedback",
    "spiking_feedforward",
    "symmetric_weights",
    "noisy_symmetric_weights",
    "update_feedback_weights",
    "apical_conductance",
    "weight_optimization",
    "feedback_bias",
)
#: REF's options outside Lange's search space (spec §4, §5, §8), off in every preset.
REF_FLAGS = ("backprop", "random_plateau_times")
#: Random plateau times (spec §4): a hidden neuron's plateau is averaged min(|int(N(0, 3))|, 5) steps
#: before the end of its phase.
PLATEAU_OFFSET_SD, PLATEAU_OFFSET_MAX = 3.0, 5
#: Options that also accept Brian2 quantities: the unit a plain number is read in, and what is expected.
UNITS = {
    "dt": (ms, "a time such as 1*ms or a plain number of ms"),
    "tau_s": (ms, "a time such as 3*ms or a plain number of ms"),
    "tau_L": (ms, "a time such as 10*ms or a plain number of ms"),
    "lambda_max": (1 / ms, "a rate such as 200*Hz or a plain number per ms"),
    "g_B": (1 / ms, "a rate such as 0.6/ms or a plain number per ms"),
    "g_A": (1 / ms, "a rate such as 0.05/ms or a plain number per ms"),
}
#: 'truncated': the spec's FIR kernel over ``spike_memory`` lags (exact REF, the default);
#: 'untruncated': the same double exponential summed over the whole spike history.
KERNELS = ("truncated", "untruncated")
#: How many spikes a soma or pixel emits per step: Poisson counts (REF) or at most one (Bernoulli).
SPIKE_COUNTS = ("poisson", "bernoulli")


@dataclass(frozen=True)
class ModelConfig(PlainData):
    """All parameters of a segregated-dendrite network (spec §8), with REF-S defaults.

    Parameters
    ----------
    n_inputs : int
        Input pixels (784 for MNIST, 3072 for CIFAR-10).
    n_hidden : tuple of int
        Units per hidden layer, 0 to 6 layers of 1 to 5000 units (Lange searched 1-6 x 30-500).
    units_per_class : int
        Output units per class r; the output layer has ``10 * r`` units.
    dt : float or Quantity
        Time step in ms (0 < dt <= 1), or a time (``dt=0.5*ms``). Scales the somatic Euler step and
        the per-step rate ``lambda_max * dt``; kernel lags, phase lengths and windows stay in steps
        (spec §8).
    spike_memory : int
        Kernel length N_mem in steps (REF: 10 at dt = 1).
    forward_steps, target_steps : int
        Minimum forward / target phase length T_f, T_t in steps.
    random_phase_lengths : bool
        Add floor(Wald(2, 1)) steps to each phase of each example (spec §4).
    test_steps : int
        Length of a test example's single forward phase T_test.
    window_steps, test_window_steps : int
        Averaging windows K (last K steps of each training phase) and K_test.
    lambda_max : float or Quantity
        Maximum rate in spikes per ms (0.2 per ms = 200 Hz), or a rate (``lambda_max=200*Hz``). The
        expected count per step is ``lambda_max * dt``; ``P_hid = 20 / lambda_max`` and
        ``P_out = 20 / lambda_max**2`` use the per-ms value, before the ``* dt`` (LANGE's mapping,
        spec §8; it matters only for dt != 1 ms).
    tau_s, tau_L : float or Quantity
        Kernel time constants in ms, or times (``tau_L=10*ms``). The kernel reads the number as
        steps and ``g_L = 1 / tau_L`` is per ms (LANGE's mapping, spec §8; the same at dt = 1 ms).
    g_B, g_A : float or Quantity
        Basal (= output dendritic g_D) and apical coupling conductances per ms, or rates
        (``g_B=0.6/ms``); ``g_A`` is used only with ``apical_conductance``.
    E_E, E_I : float
        Reversal potentials of the teaching conductances.
    learning_rates : tuple of float
        Feedforward learning rate per layer 1..L+1 (a single value is repeated).
    feedback_learning_rates : tuple of float
        Feedback learning rate per hidden layer (used with ``update_feedback_weights``).
    backprop : bool
        REF's control: hidden layers learn from the backpropagated error
        ``e_l = k_B lambda sigma'(u_l) * W_{l+1}^T e_{l+1}`` instead of their plateau potentials
        (spec §5).
    random_plateau_times : bool
        Each hidden neuron averages its plateau potential over the K steps ending
        min(|int(N(0, 3))|, 5) steps before the end of each training phase, drawn per neuron, phase
        and example (spec §4); needs ``window_steps + 5`` steps in the shortest phase.
    record_backprop_angle : bool
        Record, per training example and hidden layer, the angle between the error the layer learned
        from and the backpropagated error (REF's diagnostic; ``Simulator.records['bp_angle']``).
    kernel : {'truncated', 'untruncated'}
        PSP kernel; see :data:`KERNELS`.
    spike_counts : {'poisson', 'bernoulli'}
        Spike generator; see :data:`SPIKE_COUNTS`.
    sparse_feedback_rescale_each_example : bool
        Reproduce the REF bug that multiplies learned sparse feedback weights by 5 after every
        example (off: the fixed behaviour, spec "Decisions").
    sparse_fraction, sparse_scale, symmetric_noise_sd : float
        Fixed constants of spec §5 (0.8, 5, 0.05).
    """

    kind: ClassVar[str] = "segdend"  # the model kind these parameters belong to (see brian_segdend.model)
    #: Options added after the first saved runs: they enter training.architecture_key only when on.
    added_flags: ClassVar[tuple[str, ...]] = REF_FLAGS + ("record_backprop_angle",)
    #: Values that reach the network as variables (shared constants, the clock's dt, the tables of phase
    #: lengths), not as literals in its code: configs that differ only in these share a build
    #: (training.build_key), where a new build recompiles only the file that sets initial values.
    run_time_fields: ClassVar[tuple[str, ...]] = (
        "dt",
        "forward_steps",
        "target_steps",
        "test_steps",
        "window_steps",
        "test_window_steps",
        "lambda_max",
        "tau_s",
        "tau_L",
        "g_B",
        "g_A",
        "E_E",
        "E_I",
        "learning_rates",
        "feedback_learning_rates",
    )

    n_inputs: int = 784
    n_hidden: tuple = (500,)
    units_per_class: int = 1
    dt: float = 1.0
    spike_memory: int = 10
    forward_steps: int = 50
    target_steps: int = 50
    random_phase_lengths: bool = True
    test_steps: int = 250
    window_steps: int = 20
    test_window_steps: int = 220
    lambda_max: float = 0.2
    tau_s: float = 3.0
    tau_L: float = 10.0
    g_B: float = 0.6
    g_A: float = 0.05
    E_E: float = 8.0
    E_I: float = -8.0
    learning_rates: tuple = (0.21,)
    feedback_learning_rates: tuple = (0.0,)
    # the eleven flags (REF-S values)
    sparse_feedback: bool = False
    conductances: bool = True
    broadcast: bool = True
    spiking_feedback: bool = True
    spiking_feedforward: bool = True
    symmetric_weights: bool = False
    noisy_symmetric_weights: bool = False
    update_feedback_weights: bool = False
    apical_conductance: bool = False
    weight_optimization: bool = True
    feedback_bias: bool = False
    # REF's options outside Lange's search space
    backprop: bool = False
    random_plateau_times: bool = False
    record_backprop_angle: bool = False
    # implementation choices and fixed constants
    kernel: str = "truncated"
    spike_counts: str = "poisson"
    sparse_feedback_rescale_each_example: bool = False
    sparse_fraction: float = 0.8
    sparse_scale: float = 5.0
    symmetric_noise_sd: float = 0.05

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Quantity):
                unit, expected = UNITS.get(field.name, (1, "a plain number (no physical unit)"))
                object.__setattr__(self, field.name, _in_unit(field.name, value, unit, expected))
        object.__setattr__(self, "n_hidden", _layer_sizes(self.n_hidden))
        n_layers = len(self.n_hidden) + 1
        lr = _as_tuple(self.learning_rates, n_layers, "learning_rates")
        flr = _as_tuple(self.feedback_learning_rates, max(len(self.n_hidden), 1), "feedback_learning_rates")
        object.__setattr__(self, "learning_rates", lr)
        object.__setattr__(self, "feedback_learning_rates", flr[: len(self.n_hidden)])
        self._validate()

    # ------------------------------------------------------------------ derived constants
    @property
    def layer_sizes(self) -> tuple:
        """Sizes of all layers, input to output."""
        return (self.n_inputs, *self.n_hidden, self.n_outputs)

    @property
    def n_outputs(self) -> int:
        return 10 * self.units_per_class

    @property
    def lambda_step(self) -> float:
        """Maximum expected spike count per step, ``lambda_max * dt``."""
        return self.lambda_max * self.dt

    @property
    def g_L(self) -> float:
        return 1.0 / self.tau_L

    @property
    def g_A_effective(self) -> float:
        """Apical coupling actually used: ``g_A`` with apical conductance, else 0 (spec §3)."""
        return self.g_A if self.apical_conductance else 0.0

    @property
    def k_B(self) -> float:
        return self.g_B / (self.g_L + self.g_B + self.g_A_effective)

    @property
    def k_D(self) -> float:
        return self.g_B / (self.g_L + self.g_B)

    @property
    def P_hidden(self) -> float:
        """Hidden-layer learning-rate factor 20 / lambda_max (lambda before the x dt, spec §8)."""
        return 20.0 / self.lambda_max

    @property
    def P_output(self) -> float:
        return 20.0 / self.lambda_max**2

    def kernel_values(self):
        """kappa(1..N_mem) of spec §2 (a list of floats)."""
        tl, ts = self.tau_L, self.tau_s
        return [(math.exp(-k / tl) - math.exp(-k / ts)) / (tl - ts) for k in range(1, self.spike_memory + 1)]

    # ------------------------------------------------------------------ validation
    def _validate(self):
        def bad(name, why):
            raise invalid(name, getattr(self, name), why)

        for name in (
            "n_inputs",
            "units_per_class",
            "spike_memory",
            "forward_steps",
            "target_steps",
            "test_steps",
            "window_steps",
            "test_window_steps",
        ):
            check_positive_int(name, getattr(self, name))
        if not 0 <= len(self.n_hidden) <= 6:
            bad("n_hidden", "between 0 and 6 hidden layers are supported")
        if any(n < 1 or n > 5000 for n in self.n_hidden):
            bad("n_hidden", "each hidden layer needs 1 to 5000 units")
        if not (isinstance(self.dt, (int, float)) and 0 < self.dt <= 1):
            bad("dt", "the time step must satisfy 0 < dt <= 1 (ms)")
        for name in ("lambda_max", "tau_s", "tau_L", "g_B"):
            check_number(name, getattr(self, name), positive=True)
        check_number("g_A", self.g_A, minimum=0)
        if self.tau_s == self.tau_L:
            bad("tau_s", "tau_s and tau_L must differ (the kernel divides by tau_L - tau_s)")
        if self.lambda_step > 1:
            bad("lambda_max", "lambda_max * dt is an expected count per step and must be <= 1")
        for name in ("E_E", "E_I"):
            check_number(name, getattr(self, name))
        for name in ("learning_rates", "feedback_learning_rates"):
            if any(not math.isfinite(v) or v < 0 for v in getattr(self, name)):
                bad(name, "learning rates must be finite and >= 0")
        if self.window_steps > min(self.forward_steps, self.target_steps):
            bad(
                "window_steps",
                f"the window must fit in the shortest phase ({min(self.forward_steps, self.target_steps)} steps)",
            )
        if self.test_window_steps > self.test_steps:
            bad("test_window_steps", f"the test window must fit in test_steps={self.test_steps}")
        for name in (
            FLAGS
            + REF_FLAGS
            + (
                "random_phase_lengths",
                "sparse_feedback_rescale_each_example",
                "record_backprop_angle",
            )
        ):
            check_flag(name, getattr(self, name))
        check_choice("kernel", self.kernel, KERNELS)
        check_choice("spike_counts", self.spike_counts, SPIKE_COUNTS)
        if not 0 <= self.sparse_fraction < 1:
            bad("sparse_fraction", "must be in [0, 1)")
        if self.update_feedback_weights and self.n_hidden and not any(self.feedback_learning_rates):
            bad("feedback_learning_rates", "update_feedback_weights=True needs a non-zero feedback learning rate (REF)")
        shortest = min(self.forward_steps, self.target_steps)
        if self.random_plateau_times and self.window_steps + PLATEAU_OFFSET_MAX > shortest:
            bad(
                "window_steps",
                f"random_plateau_times averages up to {PLATEAU_OFFSET_MAX} steps before a phase's end, so "
                f"window_steps + {PLATEAU_OFFSET_MAX} must fit in the shortest phase ({shortest} steps)",
            )


def _in_unit(name, value, unit, expected):
    """The Brian2 quantity ``value`` as a plain number in ``unit``, after a dimension check."""
    if not have_same_dimensions(value, unit) or value.size != 1:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")
    return float(value / unit)


def _layer_sizes(value):
    """``n_hidden`` as a tuple of ints (a single int: one hidden layer)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(int(n) for n in value)
        whole = all(isinstance(n, numbers.Real) and not isinstance(n, bool) and n == int(n) for n in value)
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ValueError(f"n_hidden={value!r} is invalid: expected a list of layer sizes (integers), e.g. [500]")
    return sizes


def _as_tuple(value, n, name):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value),) * n
    try:
        value = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is invalid: expected a number or a list of numbers") from None
    if len(set(value)) == 1:  # one rate for every layer (also after a change of depth)
        return value[:1] * n
    if len(value) != n:
        raise ValueError(f"{name}={list(value)!r} is invalid: expected one value or {n} values (one per layer)")
    return value


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``5``, ``0.1``, ``true``, ``[20, 10]``, ``"a b"``), else the text.

    ``True``/``False`` are accepted in any case, so ``conductances=False`` means what it says.
    """
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def parse_setting(item: str, keys: Sequence[str], example: str, targets: bool = False) -> tuple[str, str, Any]:
    """One ``--set`` item as ``(target, key, value)``: the one syntax of every ``--set`` option.

    The item is ``KEY=VALUE`` or, with ``targets=True``, ``TARGET.KEY=VALUE`` (``target`` is ``''``
    otherwise). ``KEY`` must be one of ``keys``; ``VALUE`` is read by :func:`parse_value`.

    Raises
    ------
    ValueError
        Bad syntax or an unknown key; the message names the item and lists the valid keys.
    """
    name, sep, text = item.partition("=")
    target, dot, key = name.strip().rpartition(".") if targets else ("", "", name.strip())
    form = "TARGET.KEY=VALUE" if targets else "KEY=VALUE"
    if not sep or not key or (targets and not (dot and target)):
        raise ValueError(f"bad --set {item!r}; expected {form}, e.g. {example}")
    if key not in keys:
        raise ValueError(f"unknown key {key!r} in --set {item!r}; valid keys are: {', '.join(keys)}")
    return target, key, parse_value(text)
