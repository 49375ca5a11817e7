"""Every equation and update rule of the model, as Brian2 strings (spec sections in comments).

All quantities are dimensionless potentials, counts and rates per step (spec §0, the "step form"),
except the somatic ODE, which is written per ms and integrated by Brian's ``euler`` with the
network's ``dt``. Symbols follow the spec: ``d`` basal (dendritic) potential, ``a`` apical potential,
``u`` somatic potential, ``r`` rate (expected spikes per step), ``S`` spike count, ``b``/``c`` biases,
``w``/``y`` feedforward/feedback weights.

Kernel (spec §2) in two forms, chosen by ``ModelConfig.kernel``:

* ``truncated`` (exact REF): each neuron receiving spikes keeps a ring ``D_0 .. D_{N-1}`` of the
  *weighted* spike input of the last N steps (``D_0`` this step); ``d_ff = sum_k kappa_{k+1} D_k``.
  A spike costs one add per synapse; the ring shift and the FIR sum cost N operations per neuron
  and step. Spiking sources keep their own counts of the last steps (``S``, ``S_1``, ...) for the
  window average of the filtered input and for the weight-change correction below.
* ``untruncated`` (fast event-driven form of spec §10.1): two accumulators ``A_L``, ``A_s`` decaying
  by ``exp(-1/tau_L)``, ``exp(-1/tau_s)`` per step; a spike adds ``w*S*exp(-1/tau)/(tau_L - tau_s)``
  to each. It sums the kernel over the whole history: ~0.997 total gain instead of 0.510 at
  ``spike_memory=10``, i.e. about twice the effective input of REF.

Weight changes and spikes still in memory (spec §10.3): REF recomputes ``d = W p`` with the new W,
so a weight update also re-weights the spikes of the last N steps. Updates are rank one
(``dW = eta P e pbar^T``), so the stored per-step input can be corrected exactly with one scalar per
lag: ``D_k += eta P e * sum_j pbar_j S_j(t-k)``. The scalars are summed by a one-neuron "collector"
group through a pathway that runs once per example.
"""

from __future__ import annotations

from brian2 import Equations

__all__ = [
    "CONTROLLER",
    "CONTROLLER_PHASE_LENGTHS",
    "CONTROLLER_ADVANCE",
    "PHASE",
    "PHASE_EVENTS",
    "POISSON_INPUT",
    "POISSON_NEURONS",
    "BERNOULLI",
    "REPLAY",
    "INPUT",
    "HIDDEN",
    "OUTPUT",
    "SOMA_DYNAMIC_HIDDEN",
    "SOMA_DYNAMIC_OUTPUT",
    "SOMA_STEADY_HIDDEN",
    "SOMA_STEADY_OUTPUT",
    "RATE_UPDATE",
    "HIDDEN_WINDOWS",
    "OUTPUT_WINDOWS",
    "HIDDEN_LEARNING",
    "OUTPUT_LEARNING",
    "FEEDBACK_LEARNING",
    "lag_names",
    "variables",
    "fir_sum",
    "shift_code",
]

# ---------------------------------------------------------------------------------------------
# Controller: one neuron that counts steps and examples; every layer links to it (spec §4).
CONTROLLER = """
step : integer (shared)              # step within the current example, 0-based (spec §4)
example : integer (shared)           # example index within this run (chunk)
run_step : integer (shared)          # steps since the start of this run (index of replayed spikes)
T_f : integer (shared)               # forward-phase length of the current example
T_t : integer (shared)               # target-phase length (0 in test runs, spec §7)
n_examples : integer (shared, constant)
plastic : integer (shared, constant) # 1 in training runs, 0 in test runs
K_f : integer (shared, constant)     # forward window K (K_test in test runs)
K_t : integer (shared, constant)     # target window K
recording : integer (shared, constant)   # 1: the 'record' event fires every step (monitoring runs)
stopped : 1                          # set when the run has presented all its examples
"""
#: At the start of each step: the current example's phase lengths (drawn in Python, spec §4).
#: Tables of examples are ``TimedArray`` s with one row per clock step, so ``f(example*dt)`` is row
#: ``example`` (their grid is the clock's, hence aligned for any dt).
CONTROLLER_PHASE_LENGTHS = """
T_f = int(forward_lengths(example*dt) + 0.5)
T_t = int(target_lengths(example*dt) + 0.5)
"""
#: At the end of each step: advance the step counter, move to the next example after the target phase.
CONTROLLER_ADVANCE = """
step += 1
run_step += 1
example += int(step >= T_f + T_t)
step = step*int(step < T_f + T_t)
"""

# ---------------------------------------------------------------------------------------------
# Phase clock of every layer: linked to the controller (spec §4).
PHASE = """
step : integer (linked)
example : integer (linked)
run_step : integer (linked)
T_f : integer (linked)
T_t : integer (linked)
K_f : integer (linked)
K_t : integer (linked)
plastic : integer (linked)
recording : integer (linked)
recorded : integer (constant)        # 1: monitoring recorders take this neuron (see monitoring.py)
in_target = int(step >= T_f) : integer                                   # teaching on (spec §3.3.2)
in_forward_window = int(step >= T_f - K_f and step < T_f) : integer      # last K steps of forward phase
in_target_window = int(step >= T_f + T_t - K_t and step >= T_f) : integer
"""
#: Per-example events of every group (conditions read the linked phase clock).
_LEARNING_STEP = "plastic == 1 and step == T_f + T_t - 1"  # end of a training example's target phase
PHASE_EVENTS = {
    "learn": _LEARNING_STEP,  # errors, weight updates (§5)
    "update": _LEARNING_STEP,  # later in that step: biases, ring corrections
    "example_end": "step == T_f + T_t - 1",  # read-outs, window reset
    "forward_end": "step == T_f - 1",  # training-error diagnostic (§7)
    "example_start": "plastic == 0 and step == 0",  # test runs: zero all state (§7)
    "new_example": "step == 0",  # fresh Exp(1) amounts of the spike draws
    "forward_window": "step >= T_f - K_f and step < T_f",  # accumulate the filtered input
    "record": "recording == 1 and recorded == 1",  # monitoring runs (see monitoring.py)
}

# ---------------------------------------------------------------------------------------------
# Input layer: Poisson pixels at lambda_max x intensity (spec §1).
INPUT = """
x = images(example*dt, i) : 1        # intensity in [0, 1] of this pixel in the current example
r = lambda_step*x : 1                # expected spike count per step
lambda_step : 1 (shared, constant)
"""

# ---------------------------------------------------------------------------------------------
# Spike counts S (spec §1, §3.2.6) as each group's threshold and reset: every step starts with the
# ``step`` code (S = 0, ...), the threshold marks the neurons that fire this step and the reset sets
# their counts, so work per neuron and step is a subtraction and a comparison, and draws happen only
# for spikes. Poisson counts by time rescaling: a unit-rate Poisson process on the axis of integrated
# rate; each neuron keeps the amount left until its next event (Exp(1) distributed). A step of rate r
# uses up r of it; when it runs out, the step's count is 1 + Poisson(the rest of the step), and the
# amount left after the step is a fresh Exp(1) (memorylessness). The counts are exactly Poisson(r)
# per step and independent across steps; redrawing the Exp(1) amount at a step boundary is exact too,
# which every group does at the first step of each example (so a zeroed state needs no care).
POISSON_INPUT = {  # rate constant within an example, so the amount left is kept in steps
    "variables": "wait : 1   # time from the start of this step to the next input spike (steps)",
    "step": "S = 0\nwait = wait - 1",
    "threshold": "wait < 1",
    "reset": "S = 1 + poisson(r*(1 - wait))\nwait = 1 - log(rand())/(r + 1e-300)",
    "new_example": "wait = 1 - log(rand())/(r + 1e-300)",
}
POISSON_NEURONS = {  # hidden and output somata: the rate changes every step
    "variables": "hazard : 1   # integrated rate left until the next spike (Exp(1) distributed)",
    "step": "S = 0\nhazard = hazard - r",
    "threshold": "hazard < 0",
    "reset": "S = 1 + poisson(-hazard)\nhazard = -log(rand())",
    "new_example": "hazard = -log(rand())",
}
BERNOULLI = {"variables": "", "step": "S = 0", "threshold": "rand() < r", "reset": "S = 1", "new_example": ""}
#: replayed counts (step-by-step comparisons): ``{array}`` is the layer's replay ``TimedArray``
REPLAY = {
    "variables": "",
    "step": "S = int({array}(run_step*dt, i) + 0.5)",
    "threshold": "S > 0",
    "reset": "",
    "new_example": "",
}

# Hidden layer: basal d, apical a, soma u (spec §3, step 2).
HIDDEN = """
d = d_ff + b + d_ext : 1             # basal potential W p + b (+ user input), spec §3.2.2
b : 1                                # feedforward bias
d_ext : 1                            # free slot: the user's own Synapses may write here
a : 1                                # apical potential Y q (+ c), computed first in the layer's step
c : 1                                # feedback bias (stays 0 unless feedback_bias)
a_ext : 1                            # free slot for the user's own apical input
u : 1                                # somatic potential
r : 1                                # rate lambda sigma(u) of the last update (0 after a reset)
lambda_step : 1 (shared, constant)
g_L : 1 (shared, constant)
g_B : 1 (shared, constant)
g_A : 1 (shared, constant)           # 0 unless apical_conductance
k_B : 1 (shared, constant)
"""
SOMA_DYNAMIC_HIDDEN = "u = u + dt/ms*(-g_L*u + g_B*(d - u) + g_A*(a - u))"  # §3.2.5, explicit Euler
SOMA_STEADY_HIDDEN = "u = k_B*d"  # conductances off

# Output layer: dendrite d, soma u, teaching conductances in the target phase (spec §3, step 3).
OUTPUT = """
d = d_ff + b + d_ext : 1
b : 1
d_ext : 1
u : 1
r : 1
class_index : integer (constant)     # class k <-> units k*r ... k*r + r - 1
g_E = in_target*int(class_index == int(labels(example*dt) + 0.5)) : 1   # teaching, §3.3.2
g_I = in_target - g_E : 1
lambda_step : 1 (shared, constant)
g_L : 1 (shared, constant)
g_B : 1 (shared, constant)
k_D : 1 (shared, constant)
E_E : 1 (shared, constant)
E_I : 1 (shared, constant)
"""
SOMA_DYNAMIC_OUTPUT = "u = u + dt/ms*(-g_L*u + g_B*(d - u) + g_E*(E_E - u) + g_I*(E_I - u))"  # I uses the previous u
SOMA_STEADY_OUTPUT = "u = (g_B*d + g_E*E_E + g_I*E_I)/(g_L + g_B + g_E + g_I)"
RATE_UPDATE = "r = lambda_step/(1 + exp(-u))"  # §3.2.6

# ---------------------------------------------------------------------------------------------
# Averaging windows (spec §4) and plasticity (spec §5).
HIDDEN_WINDOWS = """
u_f += u*in_forward_window/K_f
a_f += a*in_forward_window/K_f
a_t += a*in_target_window/K_t
"""
OUTPUT_WINDOWS = """
u_f += u*in_forward_window/K_f
r_t += r*in_target_window/K_t
"""
HIDDEN_LEARNING = """
u_f : 1                              # mean soma over the forward window
a_f : 1                              # mean apical potential over the forward window
a_t : 1                              # ... over the target window
alpha_f = 1/(1 + exp(-a_f)) : 1      # plateau potentials
alpha_t = 1/(1 + exp(-a_t)) : 1
sigma_f = 1/(1 + exp(-u_f)) : 1
error : 1                            # e_l of spec §5, stored once per example (see HIDDEN_ERROR)
eta_P : 1 (shared, constant)         # eta_l * P_hid
"""
OUTPUT_LEARNING = """
u_f : 1
r_t : 1                              # mean rate over the target window
sigma_f = 1/(1 + exp(-u_f)) : 1
error : 1                            # e_out of spec §5 (see OUTPUT_ERROR)
eta_P : 1 (shared, constant)         # eta_{L+1} * P_out
"""
# Errors, computed once per neuron at the end of the target phase (not per synapse).
HIDDEN_ERROR = "error = k_B*lambda_step*sigma_f*(1 - sigma_f)*(alpha_t - alpha_f)"  # hidden, §5
OUTPUT_ERROR = "error = k_D*lambda_step*sigma_f*(1 - sigma_f)*(r_t - lambda_step*sigma_f)"  # output, §5
FEEDBACK_ERROR = "error_Y = alpha_f*(1 - alpha_f)*(lambda_step*sigma_f - alpha_f)"  # feedback, §5
FEEDBACK_LEARNING = """
error_Y : 1                          # e^Y_l of spec §5 (see FEEDBACK_ERROR)
eta_Y : 1 (shared, constant)
"""


# ---------------------------------------------------------------------------------------------
# Small builders for the parts whose length is the kernel length N (names only; no templates).
def lag_names(prefix, n, first=0):
    """``['D_0', 'D_1', ...]``: the names of a ring of ``n`` lags starting at ``first``."""
    return [f"{prefix}_{k}" for k in range(first, first + n)]


def variables(names, unit="1"):
    """Equations declaring each name as a plain state variable (``name : unit``)."""
    eqs = Equations("")
    for name in names:
        eqs += Equations(f"{name} : {unit}")
    return eqs


def fir_sum(names, coefficients):
    """The expression ``c0*n0 + c1*n1 + ...`` (coefficients written with full precision)."""
    if not names:
        return "0"
    return " + ".join(f"{float(c)!r}*{n}" for c, n in zip(coefficients, names))


def shift_code(names, newest):
    """Code that moves each lag one step back and stores ``newest`` in the first one."""
    lines = [f"{names[k]} = {names[k - 1]}" for k in range(len(names) - 1, 0, -1)]
    if names:
        lines.append(f"{names[0]} = {newest}")
    return "\n".join(lines)
