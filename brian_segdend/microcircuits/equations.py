"""Equations and update code of the dendritic microcircuit, as Brian2 strings (spec §2, §3, §5, §8).

Symbols follow the spec: ``u`` somatic potential, ``r = phi(u)`` rate, ``v_B`` basal, ``v_A`` apical
(= ``v_td + v_pi``, top-down and interneuron parts), ``v_D`` interneuron dendrite, ``b`` bias, ``w``
a weight. Conductances are quantities in 1/ms (namespace constants); potentials are dimensionless.

Two dynamics share the objects (see :mod:`brian_segdend.microcircuits.network`):

* ``continuous`` (spec §5.1): somata are ODEs integrated by Brian's ``euler``; dendrites are
  ``(summed)`` variables of the current rates; plasticity is the low-pass filtered rule
  ``tau_w dDelta/dt = -Delta + E``, ``dw/dt = eta Delta`` as clock-driven synaptic ODEs.
* ``sweep`` (spec §5.2): one clock step is one image; the forward and backward passes are
  assignments ordered inside the step; errors and presynaptic rates of the last ``B`` images are kept
  in rings (``e_0 .. e_{B-1}``, ``q_0 ..``) and every ``B``-th image applies the minibatch mean
  ``w += eta/B sum_b e_b q_b`` in one pass over the synapses.
"""

from __future__ import annotations

import numpy as np
from brian2 import Equations, Function

from ..equations import lag_names, shift_code, variables  # noqa: F401 (re-exported)

__all__ = [
    "CONTROLLER",
    "CONTROLLER_ADVANCE",
    "rate_function",
    "inverse_rate",
    "input_equations",
    "group_equations",
    "synapse_equations",
    "apply_code",
    "bias_apply_code",
    "lag_names",
    "shift_code",
]

# ---------------------------------------------------------------------------------------------
# Controller: one neuron counting steps within a pattern and patterns within a run.
CONTROLLER = """
step : integer (shared)                     # step within the current pattern
example : integer (shared)                  # pattern index within this run (chunk)
batch_pos : integer (shared)                # images learned in the current minibatch (sweep)
n_examples : integer (shared, constant)
steps_per_example : integer (shared, constant)
plastic : integer (shared, constant)        # 1: plasticity on (learning runs)
eta_scale : 1 (shared, constant)            # factor on every learning rate in this run (eta_schedule)
stopped : 1                                 # set when the run has presented all its patterns
"""
#: End of every step (after all read-outs and updates): advance the counters.
CONTROLLER_ADVANCE = """
batch_pos = (batch_pos + plastic*int(step == steps_per_example - 1)) % minibatch
example = example + int(step == steps_per_example - 1)
step = (step + 1) % steps_per_example
"""

# ---------------------------------------------------------------------------------------------
# Rate function phi (spec §2.3) as a Brian Function with numpy, C++ and Cython code.


def rate_function(config):
    """``phi`` of the config: the soft rectifier (overflow-safe) or the logistic, named ``phi``."""
    if config.transfer == "softplus":
        g, b, th = float(config.gamma), float(config.beta), float(config.theta)

        def phi(u):
            return g * np.logaddexp(0.0, b * (np.asarray(u) - th))

        body = f"const double z = {b!r}*(u - {th!r}); return {g!r}*(z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)));"
        cython = (
            f"cdef double mc_phi(double u):\n    cdef double z = {b!r}*(u - {th!r})\n"
            f"    return {g!r}*(z + log1p(exp(-z)) if z > 0 else log1p(exp(z)))\n"
        )
    else:

        def phi(u):
            return 1.0 / (1.0 + np.exp(-np.asarray(u)))

        body = "return 1.0/(1.0 + exp(-u));"
        cython = "cdef double mc_phi(double u):\n    return 1.0/(1.0 + exp(-u))\n"
    f = Function(phi, arg_units=[1], return_unit=1)
    f.implementations.add_implementation("cpp", f"double mc_phi(double u) {{ {body} }}", name="mc_phi")
    f.implementations.add_implementation("cython", cython, name="mc_phi")
    return f


def inverse_rate(config, r):
    """phi^-1(r): the potential whose rate is ``r`` (targets given as rates, spec §2.4)."""
    r = np.asarray(r, dtype=float)
    if config.transfer == "softplus":
        if np.any(r <= 0):
            raise ValueError("soft-rectifier target rates must be > 0")
        return config.theta + np.log(np.expm1(r / config.gamma)) / config.beta
    if np.any((r <= 0) | (r >= 1)):
        raise ValueError("logistic target rates must lie in (0, 1)")
    return np.log(r / (1 - r))


# ---------------------------------------------------------------------------------------------
# Neurons. Every group links to the controller's counters ('example', 'plastic', ...).

#: Input rates r_0: low-pass filtered patterns (continuous, spec §5.1 step 1) or the patterns (sweep).
INPUT_CONTINUOUS = """
dr/dt = (patterns(example*dt, i) - r)/tau_in : 1
"""
INPUT_SWEEP = """
r_ff : 1                                    # this image
"""

#: Hidden pyramidal neuron (Eqs. 1, 3, 4): basal and apical dendrites, soma.
PYRAMIDAL = """
v_B : 1                                     # basal potential v_ff + b of this step (Eq. 3)
v_A = v_td + v_pi : 1                       # apical potential (Eq. 4)
v_ff : 1                                    # W^PP_{k,k-1} r_{k-1}
v_td : 1                                    # W^PP_{k,k+1} r_{k+1} (top-down)
v_pi : 1                                    # W^PI_{k,k} r^I_k (interneurons)
r : 1                                       # phi(u)
"""
#: Output pyramidal neuron: no apical compartment; target and nudge switch per pattern.
OUTPUT = """
v_B : 1                                     # v_ff + b of this step
v_ff : 1
r : 1
u_trgt = target_potentials(example*dt, i) : 1         # target potential of this pattern
nudge = nudged(example*dt) : 1              # 1: the pattern has a target
"""
#: Interneuron (Eqs. 2, 5), nudged one-to-one by the pyramidal neuron above (u_up).
INTERNEURON = """
v_D : 1                                     # dendritic potential v_ip + b of this step (Eq. 5)
v_ip : 1                                    # W^IP_{k,k} r_k
u_up : 1 (linked)                           # u^P_{k+1,i}
r : 1
"""

SOMA = {  # continuous somata (spec §2.1); I_noise is substituted by the noise term
    "hidden": "du/dt = -g_lk*u + g_B*(v_B - u) + g_A*(v_A - u) + I_noise : 1",
    "output": "du/dt = -g_lk*u + g_B*(v_B - u) + nudge*I_teach + I_noise : 1",
    "interneuron": "du/dt = -g_lk*u + g_D*(v_D - u) + g_som*(u_up - u) + I_noise : 1",
}
TEACH = {  # teaching input of the output somata (spec §2.4): identical forms
    "current": "I_teach = g_som*(u_trgt - u) : 1/second",
    "conductance": (
        "I_teach = g_exc*(E_exc - u) + g_inh*(E_inh - u) : 1/second\n"
        "g_exc = g_som*(u_trgt - E_inh)/(E_exc - E_inh) : 1/second\n"
        "g_inh = -g_som*(u_trgt - E_exc)/(E_exc - E_inh) : 1/second"
    ),
}
NOISE = {  # noise term while learning (sigma = 0 at test, spec §2.3); sigma in 1/ms or ms^-1/2
    "per_step": "sigma*randn()/ms",  # held for one Euler step [R], via a 'constant over dt' subexpression
    "white": "sigma*xi/sqrt_ms",
}


def _noise(config):
    """(substitution for ``I_noise``, extra equations) of the continuous somata."""
    if config.sigma == 0:
        return "0/ms", Equations("")
    if config.noise == "white":
        return NOISE["white"], Equations("sigma : 1 (linked)")
    return "I_noise", Equations(f"I_noise = {NOISE['per_step']} : 1/second (constant over dt)\nsigma : 1 (linked)")


def ring(prefix, config):
    """Equations of a ring of ``minibatch`` values ``prefix_0 .. prefix_{B-1}`` (sweep)."""
    return variables(lag_names(prefix, config.minibatch))


def input_equations(config, rings):
    """Input rates r_0; ``rings`` names the sweep rings the group keeps."""
    eqs = Equations(INPUT_CONTINUOUS if config.dynamics == "continuous" else INPUT_SWEEP)
    eqs += Equations("example : integer (linked)\nplastic : integer (linked)\nbatch_pos : integer (linked)")
    for prefix in rings:
        eqs += ring(prefix, config)
    return eqs


def group_equations(config, kind, etas, bias_eta, rings):
    """Equations of a hidden (``'hidden'``), output or interneuron group.

    Parameters
    ----------
    kind : {'hidden', 'output', 'interneuron'}
    etas : list of str
        Learning-rate variables of the plastic matrices into this group (``eta_ff``, ...).
    bias_eta : str or None
        The learning rate of the bias (its matrix's), or ``None`` for a fixed bias.
    rings : list of str
        Sweep rings kept by the group (errors ``e*``, presynaptic rates ``q*``).
    """
    eqs = Equations({"hidden": PYRAMIDAL, "output": OUTPUT, "interneuron": INTERNEURON}[kind])
    eqs += Equations("example : integer (linked)\nplastic : integer (linked)\nbatch_pos : integer (linked)")
    for eta in etas:  # 1/ms in continuous, per minibatch in sweep
        eqs += Equations(f"{eta} : 1 (shared, constant)")
    if etas or bias_eta:
        eqs += Equations("eta_scale : 1 (linked)")
    if config.dynamics == "continuous":
        noise, extra = _noise(config)
        eqs += Equations(SOMA[kind], I_noise=noise) + extra + Equations("err : 1  # plasticity bracket (Eqs. 7, 8)")
        if "eta_td" in etas:
            eqs += Equations("err_td : 1  # plasticity bracket of Eq. 10")
        if kind == "output":
            # feedforward prediction (alpha inserted: monitors evaluate it without the group's namespace)
            eqs += Equations(TEACH[config.nudge]) + Equations("u_ff = alpha*v_B : 1", alpha=config.alpha_output)
        if bias_eta is not None:  # the bias follows its matrix's rule with presynaptic rate 1 (spec §3)
            eqs += Equations(
                f"dDelta_b/dt = plastic*(err - Delta_b)/tau_w : 1\ndb/dt = plastic*eta_scale*{bias_eta}*Delta_b/ms : 1"
            )
        else:
            eqs += Equations("b : 1")
    else:
        eqs += Equations("u : 1\nu_ff : 1  # forward pass\nr_ff : 1\nb : 1")
    for prefix in rings:
        eqs += ring(prefix, config)
    return eqs


# ---------------------------------------------------------------------------------------------
# Synapses: the dendritic sum and, for a learning matrix, its rule (Eqs. 7-10).


def synapse_equations(config, target_var, rate_pre, error_post, eta_post, plastic):
    """Model of one weight matrix.

    Parameters
    ----------
    target_var : str
        Dendritic sum it writes (``v_ff``, ``v_td``, ``v_pi``, ``v_ip``).
    rate_pre : str
        Presynaptic rate of the sum (and of the rule).
    error_post : str
        Postsynaptic factor of the continuous rule (a stored bracket, or ``-v_A``).
    eta_post : str
        Learning-rate variable of the postsynaptic group.
    plastic : bool
        Continuous: add the low-pass filtered rule as clock-driven ODEs (sweep: see :func:`apply_code`).
    """
    eqs = Equations(f"{target_var}_post = w*{rate_pre}_pre : 1 (summed)")
    if plastic and config.dynamics == "continuous":
        return eqs + Equations(
            f"dDelta/dt = plastic_post*({error_post}*{rate_pre}_pre - Delta)/tau_w : 1 (clock-driven)\n"
            f"dw/dt = plastic_post*eta_scale_post*{eta_post}_post*Delta/ms : 1 (clock-driven)"
        )
    return eqs + Equations("w : 1")


def apply_code(config, error_ring, rate_ring, eta_post):
    """Sweep: the minibatch update ``w += eta/B sum_b e_b q_b`` of one matrix (on the ``apply`` event);
    ``eta`` is the matrix's rate times the run's ``eta_scale``."""
    B = config.minibatch
    terms = " + ".join(f"{e}_post*{q}_pre" for e, q in zip(lag_names(error_ring, B), lag_names(rate_ring, B)))
    return f"w += eta_scale_post*{eta_post}_post*({terms})/{B}"


def bias_apply_code(config, error_ring, eta):
    """Sweep: the bias's minibatch change (presynaptic rate 1), ``eta_scale*eta*(e_0 + ...)/B``."""
    B = config.minibatch
    return f"eta_scale*{eta}*({' + '.join(lag_names(error_ring, B))})/{B}"
