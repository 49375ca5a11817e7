"""Parameters of the dendritic cortical microcircuit (Sacramento et al. 2018), validated in one place.

Every parameter of ``../shared/spec/dendritic-microcircuits.md`` is a field of
:class:`MicrocircuitConfig`; the defaults are the spec's continuous-time values for the teacher-student
regression network (Fig. 2). Each default carries its tag: **[P]** stated in the paper, **[R]** from
reimplementations (unverified), **[C]** chosen by the spec. Named presets (regression, MNIST) live as
data in ``models/microcircuit-*.toml``.

Units: potentials are dimensionless, times in ms, conductances in 1/ms. Fields accept Brian2
quantities of the right dimension (``0.1/ms``, ``3*ms``), which are converted to these units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..model import PlainData

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
]

#: 'continuous': Eqs. 1-9 integrated with Euler (spec §5.1); 'sweep': the paper's two-pass steady state (§5.2)
DYNAMICS = ("continuous", "sweep")
#: 'softplus': gamma*log(1 + exp(beta*(u - theta))) [P §3.3]; 'logistic': 1/(1 + exp(-u)) [P §3.4]
TRANSFERS = ("softplus", "logistic")
#: 'per_step': sigma*N(0,1) held for one Euler step [R]; 'white': Brian's white noise sigma*xi (option)
NOISE = ("per_step", "white")
#: teaching input of the output somata: 'current' g_som*(u_trgt - u), or the identical conductance form
NUDGES = ("current", "conductance")
#: 'uniform': every matrix ~ U(-init_scale, init_scale) (regression, [C]);
#: 'glorot': U(+-init_scale*sqrt(6/(n_in+n_out))) (MNIST [C])
INITS = ("uniform", "glorot")


@dataclass(frozen=True)
class MicrocircuitConfig(PlainData):
    """All parameters of a dendritic-microcircuit network, with the spec's defaults.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Input rates r_0 and output pyramidal neurons (30 and 10 for the regression task).
    n_hidden : tuple of int
        Pyramidal neurons per hidden layer (1 to 6 layers). Hidden layer k has ``n_{k+1}``
        interneurons, one per pyramidal neuron of the layer above [P §2.1].
    dynamics : {'continuous', 'sweep'}
        See :data:`DYNAMICS`. ``sweep`` is the MNIST approximation (minibatch updates, no noise).
    sweep_literal : bool
        ``sweep`` as the paper words it (spec §9.6): unattenuated forward hidden potentials
        ``g_B v_B/(g_lk + g_B)`` and the hidden bracket ``phi(u) - phi(alpha v_B)``.
    transfer : {'softplus', 'logistic'}
        Rate function phi; ``gamma``, ``beta``, ``theta`` parameterise the soft rectifier
        (0.1, 1, 3 [P §3.3]).
    g_lk, g_B, g_A, g_D, g_som : float or Quantity
        Leak, basal, apical, interneuron-dendrite and nudging conductances in 1/ms
        (0.1, 1.0, 0.8, 1.0, 0.8 [R]).
    sigma : float or Quantity
        Noise amplitude while learning (1/ms per step for ``per_step``, ms^-1/2 for ``white``);
        0.3 for the regression task [R]; always 0 at test [P §3.3].
    noise : {'per_step', 'white'}
        See :data:`NOISE`.
    dt, T_pres, T_test, tau_in, tau_w : float or Quantity
        Euler step (0.1 ms), presentation of a training / test pattern (100 ms each), input
        low-pass filter (3 ms) and plasticity low-pass filter (30 ms), all [R] (T_test [C]).
    eta_ff : tuple of float
        Learning rate of each bottom-up matrix W^PP_{k,k-1}, k = 1..N (one value is repeated):
        1/ms in ``continuous``, per minibatch step (dimensionless) in ``sweep``. 0 keeps it fixed.
    eta_td, eta_ip, eta_pi : tuple of float
        Learning rates of the top-down, pyramidal-to-interneuron and interneuron-to-pyramidal
        matrices of each hidden layer (Eqs. 10, 8, 9); 0 keeps a matrix fixed.
    biases : bool
        A learnable bias on every basal and interneuron dendrite [P §3.4] (MNIST).
    nudge : {'current', 'conductance'}
        See :data:`NUDGES`; ``E_exc``, ``E_inh`` are the reversal potentials of the conductance form
        (14/3 and -1/3 [C]).
    minibatch : int
        Images per weight update in ``sweep`` (10 [P §3.4]).
    init : {'uniform', 'glorot'}
        Initial weights (see :data:`INITS`); ``init_scale`` is the uniform range (1 [C]), or the gain on
        Glorot's range (4 for logistic units, Glorot & Bengio 2010 [C]).
    self_predicting_init : bool
        Start interneuron weights in the closed-form self-predicting state (spec §4; MNIST [P]).
    target_low, target_high : float
        Target rates of wrong and correct classes in classification tasks (0.1, 0.8 [C]).
    eta_schedule : tuple of (int, float)
        Learning-rate schedule of :func:`~brian_segdend.training.train`: pairs ``(epoch, factor)``,
        epochs (1-based) increasing; from each listed epoch on, every learning rate (weights and
        biases) is multiplied by its factor, e.g. ``((130, 0.1),)``. Empty: constant rates. A resumed run
        may change the schedule of the epochs it has not trained yet (see :meth:`eta_scale`).
    """

    kind: ClassVar[str] = "microcircuit"  # the model kind (brian_segdend.model.KINDS)
    options_name: ClassVar[str] = "microcircuit"
    #: fields that change training only from some epoch on: not part of a run's architecture or build
    #: key, so a resumed run may change them for the epochs it has not trained yet (training.train checks)
    schedule_fields: ClassVar[tuple] = ("eta_schedule",)

    n_inputs: int = 30
    n_hidden: tuple = (50,)
    n_outputs: int = 10
    dynamics: str = "continuous"
    sweep_literal: bool = False
    transfer: str = "softplus"
    gamma: float = 0.1
    beta: float = 1.0
    theta: float = 3.0
    g_lk: float = 0.1
    g_B: float = 1.0
    g_A: float = 0.8
    g_D: float = 1.0
    g_som: float = 0.8
    sigma: float = 0.3
    noise: str = "per_step"
    dt: float = 0.1
    T_pres: float = 100.0
    T_test: float = 100.0
    tau_in: float = 3.0
    tau_w: float = 30.0
    eta_ff: tuple = (0.0011875, 0.0005)
    eta_td: tuple = (0.0,)
    eta_ip: tuple = (0.0011875,)
    eta_pi: tuple = (0.0059375,)
    biases: bool = False
    nudge: str = "current"
    E_exc: float = 14.0 / 3.0
    E_inh: float = -1.0 / 3.0
    minibatch: int = 10
    init: str = "uniform"
    init_scale: float = 1.0
    self_predicting_init: bool = False
    target_low: float = 0.1
    target_high: float = 0.8
    eta_schedule: tuple = ()

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for name in ("dt", "T_pres", "T_test", "tau_in", "tau_w"):
            set_(name, _in_units(name, getattr(self, name), "ms"))
        for name in ("g_lk", "g_B", "g_A", "g_D", "g_som"):
            set_(name, _in_units(name, getattr(self, name), "1/ms"))
        set_("sigma", _in_units("sigma", self.sigma, "ms**-0.5" if self.noise == "white" else "1/ms"))
        if isinstance(self.n_hidden, (int, float)) or not all(_is_int(n) for n in self.n_hidden):
            raise ValueError(f"n_hidden={self.n_hidden!r} is invalid: expected a sequence of integers")
        set_("n_hidden", tuple(int(n) for n in self.n_hidden))
        if not 1 <= len(self.n_hidden) <= 6 or any(n < 1 for n in self.n_hidden):
            raise ValueError(
                f"n_hidden={self.n_hidden!r} is invalid: between 1 and 6 hidden layers of at least one neuron each"
            )
        eta_unit = "1/ms" if self.dynamics == "continuous" else "1"
        set_("eta_ff", _rates("eta_ff", self.eta_ff, len(self.n_hidden) + 1, eta_unit))
        for name in ("eta_td", "eta_ip", "eta_pi"):
            set_(name, _rates(name, getattr(self, name), len(self.n_hidden), eta_unit))
        set_("eta_schedule", _schedule(self.eta_schedule))
        self._validate()

    # ------------------------------------------------------------------ derived constants (spec §2.3)
    @property
    def layer_sizes(self) -> tuple:
        """Pyramidal neurons per layer, input (k = 0) to output (k = N)."""
        return (self.n_inputs, *self.n_hidden, self.n_outputs)

    @property
    def n_layers(self) -> int:
        """N: the index of the output layer."""
        return len(self.n_hidden) + 1

    @property
    def alpha_hidden(self) -> float:
        """Basal attenuation of a hidden soma, g_B/(g_lk + g_B + g_A)."""
        return self.g_B / (self.g_lk + self.g_B + self.g_A)

    @property
    def alpha_output(self) -> float:
        """Basal attenuation of an output soma (no apical compartment), g_B/(g_lk + g_B)."""
        return self.g_B / (self.g_lk + self.g_B)

    def alpha(self, k) -> float:
        """alpha_k of layer k = 1..N."""
        return self.alpha_output if k == self.n_layers else self.alpha_hidden

    @property
    def delta_I(self) -> float:
        """Dendritic attenuation of an interneuron, g_D/(g_lk + g_D)."""
        return self.g_D / (self.g_lk + self.g_D)

    @property
    def lambda_hidden(self) -> float:
        """Apical coupling of a hidden soma, g_A/(g_lk + g_B + g_A)."""
        return self.g_A / (self.g_lk + self.g_B + self.g_A)

    @property
    def lambda_output(self) -> float:
        """Nudging of an output soma, g_som/(g_lk + g_B + g_som)."""
        return self.g_som / (self.g_lk + self.g_B + self.g_som)

    @property
    def lambda_I(self) -> float:
        """Nudging of an interneuron by the layer above, g_som/(g_lk + g_D + g_som)."""
        return self.g_som / (self.g_lk + self.g_D + self.g_som)

    def self_prediction_factor(self, k) -> float:
        """alpha_{k+1}/delta_I: W^IP_{k,k} = factor * W^PP_{k+1,k} in the self-predicting state (spec §4)."""
        return self.alpha(k + 1) / self.delta_I

    def plastic(self, kind, k) -> bool:
        """Whether matrix ``kind`` ('ff', 'td', 'ip', 'pi') of layer ``k`` (1-based) learns."""
        return getattr(self, f"eta_{kind}")[k - 1] != 0

    def eta_scale(self, epoch) -> float:
        """Factor of :attr:`eta_schedule` on every learning rate in epoch ``epoch`` (0-based)."""
        factors = [factor for start, factor in self.eta_schedule if start <= epoch + 1]
        return factors[-1] if factors else 1.0

    @property
    def steps_per_example(self) -> int:
        """Clock steps per training pattern (``sweep``: one step is one image)."""
        return 1 if self.dynamics == "sweep" else _steps(self.T_pres, self.dt)

    @property
    def steps_per_test(self) -> int:
        """Clock steps per test pattern."""
        return 1 if self.dynamics == "sweep" else _steps(self.T_test, self.dt)

    # ------------------------------------------------------------------ validation
    def _validate(self):
        def bad(name, why):
            raise ValueError(f"{name}={getattr(self, name)!r} is invalid: {why}")

        for name in ("n_inputs", "n_outputs", "minibatch"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                bad(name, "must be a positive integer")
        for name, choices in (
            ("dynamics", DYNAMICS),
            ("transfer", TRANSFERS),
            ("noise", NOISE),
            ("nudge", NUDGES),
            ("init", INITS),
        ):
            if getattr(self, name) not in choices:
                bad(name, f"choose one of {choices}")
        for name in ("sweep_literal", "biases", "self_predicting_init"):
            if not isinstance(getattr(self, name), bool):
                bad(name, "must be True or False")
        for name in ("g_lk", "g_B", "g_D", "g_som", "dt", "T_pres", "T_test", "tau_in", "tau_w", "beta", "gamma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                bad(name, "must be a positive finite number")
        for name in ("g_A", "sigma", "init_scale"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                bad(name, "must be a non-negative finite number")
        for name in ("theta", "E_exc", "E_inh"):
            if not math.isfinite(getattr(self, name)):
                bad(name, "must be finite")
        if self.E_exc <= self.E_inh:
            bad("E_exc", f"the excitatory reversal potential must exceed E_inh={self.E_inh!r}")
        if self.dynamics == "continuous":
            for name in ("T_pres", "T_test"):
                _steps(getattr(self, name), self.dt, name)
            if self.dt * max(self.g_lk + self.g_B + self.g_A, self.g_lk + self.g_D + self.g_som) >= 1:
                bad("dt", "the Euler step must satisfy dt*(total conductance) < 1 (stability)")
        if self.dynamics == "sweep" and self.sigma != 0:
            bad("sigma", "the sweep dynamics has no noise (spec §5.2); set sigma=0")
        if self.sweep_literal and self.dynamics != "sweep":
            bad("sweep_literal", "applies only to dynamics='sweep'")
        if self.transfer == "logistic" and (self.gamma, self.beta, self.theta) != (0.1, 1.0, 3.0):
            bad("transfer", "gamma, beta and theta parameterise the softplus only; leave them at their defaults")
        if not 0 < self.target_low < self.target_high:
            bad("target_low", f"need 0 < target_low < target_high={self.target_high!r}")
        if self.transfer == "logistic" and self.target_high >= 1:
            bad("target_high", "the logistic rate is below 1")


def coupling_conductance(coupling: float, g_lk: float = 0.1, g_B: float = 1.0) -> float:
    """Conductance g that gives the coupling ``lambda = g/(g_lk + g_B + g)``, in 1/ms (spec §2.3).

    With ``g_A = g_som = g`` (and ``g_D = g_B``) every layer's apical coupling and nudging is ``coupling``:
    ``g = coupling (g_lk + g_B)/(1 - coupling)``.
    """
    if not 0 < coupling < 1:
        raise ValueError(f"coupling={coupling!r} is invalid: a coupling lambda lies strictly between 0 and 1")
    return coupling * (g_lk + g_B) / (1 - coupling)


def inverse_mixing_rates(config: MicrocircuitConfig, eta_0: float) -> dict:
    """Learning rates of spec §6.3: ``eta_ff`` and ``eta_ip`` rescaled by the inverse mixing factors.

    eta^PP_k = eta_0/kappa_k with kappa_k = lambda_N prod_{l=k}^{N-1} lambda_l (1 - lambda_I), and
    eta^IP_k = (alpha_{k+1}/delta_I) eta^PP_{k+1}/lambda_I [C]. Returns ``{'eta_ff': ..., 'eta_ip': ...}``
    for :meth:`MicrocircuitConfig.replace`.
    """
    N = config.n_layers
    kappa = [config.lambda_output * (config.lambda_hidden * (1 - config.lambda_I)) ** (N - k) for k in range(1, N + 1)]
    eta_ff = tuple(eta_0 / kap for kap in kappa)
    eta_ip = tuple(config.self_prediction_factor(k) * eta_ff[k] / config.lambda_I for k in range(1, N))
    return {"eta_ff": eta_ff, "eta_ip": eta_ip}


# ---------------------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _steps(duration, dt, name=None):
    """``duration/dt`` as an integer number of steps (``name`` given: raise if it is not one)."""
    n = duration / dt
    if name is not None and (abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1):
        raise ValueError(f"{name}={duration!r} ms is invalid: must be a positive multiple of dt={dt!r} ms")
    return int(round(n))


def _in_units(name, value, unit):
    """A float in ``unit`` ('ms', '1/ms', 'ms**-0.5' or '1'), from a number or a Brian quantity."""
    from brian2 import Quantity, ms
    from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

    scale = {"ms": ms, "1/ms": 1 / ms, "ms**-0.5": ms**-0.5, "1": DIMENSIONLESS}[unit]
    if isinstance(value, Quantity):
        expected = DIMENSIONLESS if unit == "1" else get_dimensions(scale)
        if value.dim is not expected:
            raise ValueError(f"{name}={value!r} is invalid: expected a quantity in {unit}")
        value = float(value / scale) if unit != "1" else float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}={value!r} is invalid: expected a number (in {unit}) or a Brian quantity")
    return float(value)


def _rates(name, value, n, unit):
    """Learning rates as a tuple of ``n`` floats (one value is repeated)."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    values = [_in_units(name, v, unit) for v in values]
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise ValueError(f"{name}={list(values)!r} is invalid: expected one value or {n} values (one per layer)")
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"{name}={list(values)!r} is invalid: learning rates must be finite and >= 0")
    return tuple(values)


def _schedule(value):
    """``eta_schedule`` as a tuple of ``(epoch, factor)`` pairs (validated)."""
    pairs = list(value) if isinstance(value, (list, tuple)) else None
    ok = pairs is not None and all(
        isinstance(p, (list, tuple))
        and len(p) == 2
        and _is_int(p[0])
        and p[0] >= 1
        and isinstance(p[1], (int, float))
        and not isinstance(p[1], bool)
        and math.isfinite(p[1])
        and p[1] >= 0
        for p in pairs
    )
    if not ok or any(a[0] >= b[0] for a, b in zip(pairs, pairs[1:])):
        shown = [list(p) if isinstance(p, (list, tuple)) else p for p in pairs] if pairs is not None else value
        raise ValueError(
            f"eta_schedule={shown!r} is invalid: expected [[epoch, factor], ...] with increasing epochs >= 1 "
            "and finite factors >= 0, e.g. [[130, 0.1]]"
        )
    return tuple((int(epoch), float(factor)) for epoch, factor in pairs)


def load_config(name_or_path) -> MicrocircuitConfig:
    """The :class:`MicrocircuitConfig` of a named model (``'microcircuit-mnist'``) or TOML file of kind
    ``microcircuit`` (see :mod:`brian_segdend.registry`)."""
    from ..registry import load_model

    spec = load_model(name_or_path)
    if spec.kind != "microcircuit":
        raise ValueError(f"model {spec.name!r} is of kind {spec.kind!r}, not a microcircuit model")
    return MicrocircuitConfig.from_dict(spec.params)
