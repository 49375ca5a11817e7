"""Every equation and update rule of the model, as Brian2 strings (spec sections in comments).

Constants hold the fixed equations; small builders with explicit arguments write the parts whose
form depends on the config (kernel memories, spike inputs, corrections); no template is formatted or
edited. :mod:`~brian_segdend.layers` assembles a layer's ``NeuronGroup`` from them.

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

import math

from brian2 import Equations

from .config import ModelConfig

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
    "learn_pre": _LEARNING_STEP + " and pbar_f != 0",  # a source whose window average is 0 changes no weight
    "update": _LEARNING_STEP,  # later in that step: biases, ring corrections
    "backprop": _LEARNING_STEP,  # backpropagated errors, layer by layer from the top (§5)
    "rebuild": _LEARNING_STEP,  # symmetric broadcast feedback rebuilt from W, layer by layer from the top (§5)
    "example_end": "step == T_f + T_t - 1",  # read-outs, window reset
    "forward_end": "step == T_f - 1",  # training-error diagnostic (§7)
    "example_start": "plastic == 0 and step == 0",  # test runs: zero all state (§7)
    "new_example": "step == 0",  # fresh Exp(1) amounts of the spike draws
    # a training example's forward window: sources average their output for learning (test runs skip it)
    "learning_window": "plastic == 1 and step >= T_f - K_f and step < T_f",
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


def replay_counts(array: str) -> dict:
    """Spike-count form that replays the counts of the ``TimedArray`` called ``array`` (indexed by the
    run's step), for step-by-step comparisons with a reference."""
    step = f"S = int({array}(run_step*dt, i) + 0.5)"
    return {"variables": "", "step": step, "threshold": "S > 0", "reset": "", "new_example": ""}


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


def plateau_times(table: str) -> str:
    """Random plateau times (spec §4): each neuron's apical windows end ``plateau_offset`` steps before the
    end of their phase; the offsets of example ``k`` are rows ``2k`` (forward) and ``2k + 1`` (target) of
    the ``TimedArray`` called ``table``."""
    return f"""
plateau_offset = int({table}((2*example + in_target)*dt, i) + 0.5) : integer
in_apical_forward_window = int(step >= T_f - K_f - plateau_offset and step < T_f - plateau_offset) : integer
in_apical_target_window = int(step >= T_f + T_t - K_t - plateau_offset and step < T_f + T_t - plateau_offset) : integer
"""


#: The apical averages with random plateau times (the somatic average stays at the phase's end).
HIDDEN_WINDOWS_PLATEAU_TIMES = """
u_f += u*in_forward_window/K_f
a_f += a*in_apical_forward_window/K_f
a_t += a*in_apical_target_window/K_t
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
# Backpropagated errors (spec §5: REF's ``backprop`` control, and its angle diagnostic). The synapses of
# W_{l+1} sum W_{l+1}^T e^bp_{l+1} into layer l, reading each weight as it is after this example's update
# (REF's top-down order); the output layer's backprop error is its error.
BACKPROP = """
bp_sum : 1                           # W_{l+1}^T e^bp_{l+1}, summed by the synapses of W_{l+1}
error_bp : 1                         # e^bp_l of spec §5
"""
OUTPUT_BACKPROP = "error_bp = error : 1   # the output's backprop error is its error"
#: a postsynaptic pathway of W_{l+1} (on its target's 'backprop' event), reading W_{l+1} after its update
BACKPROP_SUM = "bp_sum_pre += (w + eta_P_post*error_post*pbar_f_pre)*error_bp_post"
BACKPROP_ERROR = "error_bp = k_B*lambda_step*sigma_f*(1 - sigma_f)*bp_sum\nbp_sum = 0"
LEARN_FROM_BACKPROP = "error = error_bp"  # ``backprop``: hidden layers learn from e^bp instead of plateaus
FEEDBACK_LEARNING = """
error_Y : 1                          # e^Y_l of spec §5 (see FEEDBACK_ERROR)
eta_Y : 1 (shared, constant)
"""


# Synapses: weights w (W_l) and y (Y_l); rate modes sum their input every step (spec §2).
SYMMETRIC_FEEDBACK = "fb_gain : 1 (constant)\nfb_noise : 1"  # Y_{l-1} = gain*(W_l^T + noise), spec §5


def summed_rate(target: str, weight: str, receiver: str = "post") -> str:
    """Rate input summed over the synapses every step: ``d_ff_post = w*r_pre`` (``receiver='pre'``: backwards)."""
    sender = {"post": "pre", "pre": "post"}[receiver]
    return f"{target}_{receiver} = {weight}*r_{sender} : 1 (summed)"


# Synaptic side of the learning rule (spec §5), once per training example on the 'learn' pathways.
FEEDFORWARD_UPDATE = "w += eta_P_post*error_post*pbar_f_pre"  # W_l += eta_l P e_l pbar_f^T


def feedback_update(rescale: float | None = None, config: ModelConfig | None = None) -> str:
    """``Y_l += eta^Y_l e^Y_l qbar_f^T``, times ``rescale`` (REF's sparse-feedback regrowth, spec §5).

    With ``config`` (spiking sparse feedback, whose update is not rank one over the connected synapses)
    each synapse also re-weights the spikes in the receiver's memory by its change (:func:`reweighted`).
    """
    new = "(y + eta_Y_post*error_Y_post*qbar_f_pre)" + ("" if rescale is None else f"*{rescale!r}")
    return f"y = {new}" if config is None else reweighted(config, new)


def reweighted(config: ModelConfig, new: str) -> str:
    """Feedback synapse code setting ``y`` to ``new`` and adding the change times the source's spikes of
    each lag to the receiver's apical memory: REF's ``Y q`` with the new Y, exactly (spec §10.3)."""
    lines = [f"y_new = {new}", "dy = y_new - y"]
    lines += [f"{t}_post += dy*{x}_pre" for t, x in zip(memory_variables(config, "apical"), source_memory(config))]
    return "\n".join(lines + ["y = y_new"])


def symmetric_feedback_weight(noisy: bool) -> str:
    """Entry of Y_{l-1} = W_l^T held by W_l's synapse: ``w``, plus noise, times the sparse gain (spec §5)."""
    return "fb_gain*(w + fb_noise)" if noisy else "fb_gain*w"


def noise_redraw(sd: float) -> str:
    """New noise of every entry of noisy symmetric feedback (broadcast), with each weight update."""
    return f"fb_noise = {sd!r}*randn()"


def scalar_noise_redraw(sd: float) -> str:
    """QUIRK (spec §5): one scalar noise for all entries, redrawn at the end of each training example."""
    return (
        "fb_noise = fb_noise + int(plastic_post == 1 and step_post == T_f_post + T_t_post - 1)"
        f"*({sd!r}*randn() - fb_noise)"
    )


# Symmetric broadcast feedback with several hidden layers (spec §5): Y_L = W_{L+1}^T, Y_l = W_{l+1}^T Y_{l+1}
# (with noise: W^T + N, N redrawn with each update), rebuilt after every update. Each hidden neuron keeps
# its row of Y_l (``yrow_0`` ...); a postsynaptic pathway of W_{l+1} sums the rows, then the feedback
# synapses from the output take their new weights and re-weight the spikes still in memory by the change.
def row_names(n_outputs: int) -> list[str]:
    """``yrow_0 .. yrow_{n-1}``: a hidden neuron's row of Y_l (broadcast feedback from ``n_outputs`` units)."""
    return lag_names("yrow", n_outputs)


def row_sum(n_outputs: int, top: bool, noisy: bool) -> str:
    """Postsynaptic pathway of W_{l+1}: ``Y_l[pre, k] += (w + noise) * Y_{l+1}[post, k]`` (``top``: Y_{l+1} = 1)."""
    w = "(w + fb_noise)" if noisy else "w"
    rows = row_names(n_outputs)
    return "\n".join(f"{r}_pre += {w}*" + (f"int(j == {k})" if top else f"{r}_post") for k, r in enumerate(rows))


def rebuilt_feedback(config: ModelConfig, n_outputs: int, gain: float) -> str:
    """Postsynaptic pathway of the feedback synapses output -> hidden: ``y = gain * Y_l[post, pre]``; with
    spiking feedback, the change re-weights the spikes in the receiver's memory (exact, spec §10.3)."""
    row = " + ".join(f"{r}_post*int(i == {k})" for k, r in enumerate(row_names(n_outputs)))
    return reweighted(config, f"{gain!r}*({row})") if config.spiking_feedback else f"y = {gain!r}*({row})"


# ---------------------------------------------------------------------------------------------
# Kernel (spec §2): input memories of a receiving compartment and the traces of a source.
#: receiving compartment -> (ring of the truncated kernel, accumulators of the untruncated kernel)
MEMORIES = {"basal": ("D", "A"), "apical": ("B", "B")}


def decays(config: ModelConfig) -> tuple[float, float]:
    """Per-step decay factors ``exp(-1/tau_L)``, ``exp(-1/tau_s)`` of the untruncated kernel."""
    return math.exp(-1 / config.tau_L), math.exp(-1 / config.tau_s)


def spike_gains(config: ModelConfig) -> tuple[float, float]:
    """What one spike adds to the two accumulators: ``exp(-1/tau)/(tau_L - tau_s)`` (kappa(1) after a step)."""
    return tuple(d / (config.tau_L - config.tau_s) for d in decays(config))


def kernel_constants(config: ModelConfig) -> dict[str, float]:
    """The kernel's values (spec §2) as shared constants of each layer, set at run time, so that
    networks differing only in tau_L, tau_s share their compiled code: ``kappa_1 .. kappa_N`` of the
    truncated kernel, or the untruncated kernel's per-step decays and what one spike adds
    (``decay_L, decay_s, gain_L, gain_s``)."""
    if config.kernel == "truncated":
        return dict(zip(lag_names("kappa", config.spike_memory, first=1), config.kernel_values()))
    (d_L, d_s), (g_L, g_s) = decays(config), spike_gains(config)
    return {"decay_L": d_L, "decay_s": d_s, "gain_L": g_L, "gain_s": g_s}


def memory_variables(config: ModelConfig, compartment: str) -> list[str]:
    """``D_0 .. D_{N-1}`` (truncated) or ``A_L, A_s`` (untruncated): the spike-input memory of a
    ``'basal'`` or ``'apical'`` compartment."""
    ring, accumulators = MEMORIES[compartment]
    if config.kernel == "truncated":
        return lag_names(ring, config.spike_memory)
    return [f"{accumulators}_L", f"{accumulators}_s"]


def memory_sum(config: ModelConfig, compartment: str) -> str:
    """The filtered input ``sum_k kappa(k+1) D_k`` (or ``A_L - A_s``) of a compartment."""
    names = memory_variables(config, compartment)
    return (
        fir_sum(names, list(kernel_constants(config))) if config.kernel == "truncated" else f"{names[0]} - {names[1]}"
    )


def memory_step(config: ModelConfig, compartment: str) -> str:
    """Per-step code before new input arrives: shift the ring (``D_0 = 0``) or decay the accumulators."""
    names = memory_variables(config, compartment)
    if config.kernel == "truncated":
        return shift_code(names, "0")
    return "\n".join(f"{n} = {n}*decay_{part}" for n, part in zip(names, "Ls"))


def spike_input(config: ModelConfig, compartment: str, weight: str, receiver: str = "post") -> str:
    """Synaptic code adding this step's weighted spikes of the sender to the receiver's memory.

    ``receiver='pre'`` is the backward direction (symmetric feedback through W's synapses).
    """
    sender = {"post": "pre", "pre": "post"}[receiver]
    names = memory_variables(config, compartment)
    if config.kernel == "truncated":
        return f"{names[0]}_{receiver} += {weight}*S_{sender}"
    return "\n".join(f"{n}_{receiver} += gain_{part}_{receiver}*{weight}*S_{sender}" for n, part in zip(names, "Ls"))


def filtered_output(config: ModelConfig, spiking: bool, lagged: bool) -> str:
    """A source's output as its consumer reads it: p(t) (or p(t-1) if ``lagged``), spec §2.

    Filtered spikes ``sum_k kappa(k) S(t-k+1)`` of a ``spiking`` path, else the rate.
    """
    if not spiking:
        return "r_prev" if lagged else "r"
    if config.kernel == "untruncated":
        return "p_prev" if lagged else "x_L - x_s"
    names = ["S" if n == "S_0" else n for n in lag_names("S", config.spike_memory, first=1 if lagged else 0)]
    return fir_sum(names, list(kernel_constants(config)))


def trace_decay(config: ModelConfig) -> str:
    """Per-step decay of a spiking source's own traces ``x_L``, ``x_s`` (untruncated kernel)."""
    return "x_L = x_L*decay_L\nx_s = x_s*decay_s"


def trace_increments(config: ModelConfig) -> str:
    """Reset code adding this step's spikes to the source's traces (``x*decay + c*S`` in two parts)."""
    return "x_L = x_L + gain_L*S\nx_s = x_s + gain_s*S"


# ---------------------------------------------------------------------------------------------
# Corrections of spikes in memory after a rank-one update (spec §10.3): per lag k the receiver's memory
# gains ``factor_i * sum_j source_factor_j S_j(t-k)``, the sum collected once per example.
#: correction sum -> (receiving compartment, source factor, receiver factor, source event)
CORRECTIONS = {
    "s_ff": ("basal", ("pbar_f",), "eta_P*error", "learn_pre"),  # W_l += eta P e pbar^T
    "s_fb": ("apical", ("qbar_f",), "eta_Y*error_Y", "learn"),  # Y_l += eta^Y e^Y qbar^T
    "s_sym": ("apical", ("eta_P", "error"), "pbar_f", "learn"),  # Y_{l-1} = W_l^T += pbar (eta P e)^T
}


def correction_sums(config: ModelConfig, name: str) -> list[str]:
    """``s_ff_0, s_ff_1, ...``: one sum per memory variable of the receiving compartment."""
    return lag_names(name, len(memory_variables(config, CORRECTIONS[name][0])))


def source_memory(config: ModelConfig) -> list[str]:
    """A spiking source's counts ``S, S_1, ...`` (or traces ``x_L, x_s``) matching a receiver's memory
    variables (:func:`memory_variables`) one to one."""
    if config.kernel == "truncated":
        return ["S"] + lag_names("S", config.spike_memory - 1, first=1)
    return ["x_L", "x_s"]


def correction_collect(config: ModelConfig, name: str) -> str:
    """Source-side code of the collecting pathway: ``s_k += factor*S(t-k)`` per lag (or trace)."""
    spikes = source_memory(config)
    factor = "*".join(f"{v}_pre" for v in CORRECTIONS[name][1])
    return "\n".join(f"{s}_post += {factor}*{x}_pre" for s, x in zip(correction_sums(config, name), spikes))


def correction_apply(config: ModelConfig, name: str) -> list[str]:
    """Receiver-side code: each memory variable gains its factor times the collected sum."""
    compartment, _, factor, _ = CORRECTIONS[name]
    targets = memory_variables(config, compartment)
    return [f"{t} += {factor}*{s}" for t, s in zip(targets, correction_sums(config, name))]


# ---------------------------------------------------------------------------------------------
# Small builders for the parts whose length is the kernel length N (names only; no templates).
def lag_names(prefix: str, n: int, first: int = 0) -> list[str]:
    """``['D_0', 'D_1', ...]``: the names of a ring of ``n`` lags starting at ``first``."""
    return [f"{prefix}_{k}" for k in range(first, first + n)]


def variables(names, unit: str = "1") -> Equations:
    """Equations declaring each name as a plain state variable (``name : unit``)."""
    eqs = Equations("")
    for name in names:
        eqs += Equations(f"{name} : {unit}")
    return eqs


def fir_sum(names, coefficients) -> str:
    """The expression ``c0*n0 + c1*n1 + ...`` (coefficients: names, or numbers written with full precision)."""
    if not names:
        return "0"
    return " + ".join(f"{c if isinstance(c, str) else repr(float(c))}*{n}" for c, n in zip(coefficients, names))


def shift_code(names, newest: str) -> str:
    """Code that moves each lag one step back and stores ``newest`` in the first one."""
    lines = [f"{names[k]} = {names[k - 1]}" for k in range(len(names) - 1, 0, -1)]
    if names:
        lines.append(f"{names[0]} = {newest}")
    return "\n".join(lines)
