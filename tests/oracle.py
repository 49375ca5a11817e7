"""Step-by-step NumPy reference ("oracle") of the segregated-dendrites model.

This module is written only from ``/work/shared/spec/segregated-dendrites.md``
(sections 0-8) and is deliberately independent of ``brian_segdend``. It is
meant to be slow, small and obviously correct: explicit loops over layers and
time steps, full spike-count histories kept as Python lists, one function or
method per rule of the spec.

Indexing conventions
--------------------
The spec numbers layers 0 (input), 1..L (hidden) and L+1 (output).

* ``W``, ``b``, ``learning_rates`` and the per-layer traces ``'d'``, ``'u'``,
  ``'r'``, ``'p'`` (and the per-layer window means) are lists whose index
  ``i`` belongs to spec layer ``i + 1``.
* ``Y``, ``c``, ``sparse_masks``, ``feedback_learning_rates`` and the hidden
  traces ``'a'``, ``'q'`` (and hidden window means) are lists whose index
  ``i`` belongs to hidden layer ``i + 1``.
* Spike counts (argument ``spikes`` and returned ``'spikes'``) are dicts keyed
  by the spec layer number itself (0 = input, L+1 = output).

Random numbers
--------------
Whenever something has to be drawn, the draws are made from the numpy
``Generator`` passed as ``rng``, in this order within a time step: input
(``rng.poisson(lambda_step * x)``), hidden layers 1..L, output. Layers whose
counts are given through ``spikes`` draw nothing. Noisy symmetric feedback
draws its noise top-down (hidden layer L first) after the example's updates,
and once at initialisation (:func:`initial_weights`). The plateau times of
``random_plateau_times`` are inputs of :meth:`OracleNetwork.train_example`
(like the phase lengths), drawn by the caller, e.g. with
:func:`draw_plateau_offsets`, so that another implementation can be given the
same draws.

Decisions where the spec leaves room (each with the reason)
------------------------------------------------------------
* ``backprop`` (spec section 5): ``e_l = kB lambda sigma'(u_l) * W_{l+1}^T e_{l+1}``
  with ``W_{l+1}`` *after* this example's update of layer l+1 and ``e_{l+1}``
  the backprop error of layer l+1 (the output error at the top). Spec section 5
  gives REF's order: from the output down, each layer computes its error and
  applies its own updates before the layer below computes its error, and says
  that only the backprop option depends on that order.
* Backprop-angle diagnostic (REF ``record_backprop_angle``): the backprop
  errors above are computed for every example even when ``backprop`` is off;
  ``bp_angle[l]`` is the angle in degrees between hidden layer l's update
  error (plateau-based, or backprop with ``backprop`` on) and its backprop
  error. The weight and bias updates are ``eta P e pbar^T`` and ``eta P e``,
  so this is also the angle between the plateau-based and the backprop updates
  of W_l (and of b_l). REF records it for the first hidden layer.
* ``random_plateau_times`` (spec section 4; REF draws before each epoch an
  independent offset per example, phase and hidden neuron): neuron j of hidden
  layer l averages its apical potential over the K steps ending at (0-based)
  step ``T - 1 - offset[j]`` of the phase, with
  ``offset = min(|int(N(0, 3))|, 5)``. Only the apical averages (so the
  plateaus ``alpha`` and the feedback-learning error) move; the somatic, basal
  and feedback-input averages stay at the phase's end (REF: ``plateau_f`` /
  ``plateau_t`` versus ``calc_averages``). A window that would reach before the
  phase's first step raises ``ValueError`` (REF's never-cleared ring buffer
  would read the previous phase there).
"""

import numpy as np

#: Keys that ``params`` must contain (names shared with ``brian_segdend``).
PARAM_KEYS = (
    "n_inputs",
    "n_hidden",
    "n_outputs",
    "units_per_class",
    "dt",
    "spike_memory",
    "window_steps",
    "test_window_steps",
    "lambda_max",
    "tau_s",
    "tau_L",
    "g_B",
    "g_A",
    "E_E",
    "E_I",
    "conductances",
    "broadcast",
    "spiking_feedback",
    "spiking_feedforward",
    "symmetric_weights",
    "noisy_symmetric_weights",
    "sparse_feedback",
    "update_feedback_weights",
    "apical_conductance",
    "feedback_bias",
    "learning_rates",
    "feedback_learning_rates",
    "kernel",
    "sparse_feedback_rescale_each_example",
    "backprop",
    "random_plateau_times",
)

#: Constants of the weight initialisation (spec section 6).
V_MEAN = 3.0
V_SD = 3.0
B_MEAN = 0.8
B_SD = 0.001

#: Spread factor of the optimised initial weights (spec section 6, QUIRK).
SPREAD = 3.465

#: Sparse feedback: fraction of entries zeroed and multiplier applied after zeroing (spec section 5).
SPARSE_FRACTION = 0.8
SPARSE_SCALE = 5.0
#: Standard deviation of the noise of noisy symmetric weights (spec section 5).
SYMMETRIC_NOISE_SD = 0.05
#: Random plateau times: offset = min(|int(N(0, PLATEAU_OFFSET_SD^2))|, PLATEAU_OFFSET_MAX) (spec section 4).
PLATEAU_OFFSET_SD = 3.0
PLATEAU_OFFSET_MAX = 5

N_CLASSES = 10


def sigma(x):
    """Logistic function.

    Parameters
    ----------
    x : array_like
        Input.

    Returns
    -------
    ndarray
        ``1 / (1 + exp(-x))``.
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def sigma_prime(x):
    """Derivative of the logistic function, ``sigma(x) * (1 - sigma(x))``.

    Parameters
    ----------
    x : array_like
        Input.

    Returns
    -------
    ndarray
        The derivative at ``x``.
    """
    s = sigma(x)
    return s * (1.0 - s)


def kernel(spike_memory, tau_s, tau_L):
    """Unnormalised double-exponential PSP kernel at lags 1..N (spec section 2).

    Parameters
    ----------
    spike_memory : int
        Number of lags N.
    tau_s, tau_L : float
        Rise and decay time constants, in steps.

    Returns
    -------
    ndarray, shape (N,)
        ``kappa[k-1] = (exp(-k/tau_L) - exp(-k/tau_s)) / (tau_L - tau_s)``
        for ``k = 1..N``; ``kappa[0]`` weights the count of the current step.
    """
    if tau_L == tau_s:
        raise ValueError("tau_L and tau_s must differ")
    k = np.arange(1, int(spike_memory) + 1, dtype=float)
    return (np.exp(-k / tau_L) - np.exp(-k / tau_s)) / (tau_L - tau_s)


def init_statistics(fan_in, lambda_step):
    """Mean and SD of the optimised initial weights (spec section 6).

    Parameters
    ----------
    fan_in : int
        Fan-in N of the layer.
    lambda_step : float
        Maximal rate per step, ``lambda_max * dt``.

    Returns
    -------
    W_mean : float
        Mean weight W̄(N).
    W_sd : float
        Standard-deviation parameter Wsd(N) (the realised SD of REF's
        ``W̄ + 3.465 Wsd U(-1, 1)`` is about ``2 Wsd``).
    """
    N = float(fan_in)
    nu = lambda_step / 4.0
    V2 = V_SD**2 + V_MEAN**2
    W_mean = (V_MEAN - B_MEAN) / (nu * N * V_MEAN)
    M2 = (V2 + nu**2 * (N - N**2) * W_mean**2 * V_MEAN**2 - 2.0 * N * nu * B_MEAN * V_MEAN * W_mean - B_MEAN**2) / (
        N * nu**2 * V2
    )
    W_sd = np.sqrt(M2 - W_mean**2)
    return W_mean, W_sd


def draw_plateau_offsets(n_units, rng):
    """Steps before the end of a phase at which each neuron takes its plateau (spec section 4).

    Parameters
    ----------
    n_units : int
        Number of neurons.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int, shape (n_units,)
        ``min(|int(N(0, 3^2))|, 5)`` per neuron (``int`` truncates towards 0).
    """
    z = rng.normal(0.0, PLATEAU_OFFSET_SD, size=int(n_units))
    return np.minimum(np.abs(np.trunc(z)).astype(int), PLATEAU_OFFSET_MAX)


def angle_degrees(u, v):
    """Angle between two vectors in degrees (``nan`` if one of them is zero)."""
    norm = np.linalg.norm(u) * np.linalg.norm(v)
    if norm == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / norm, -1.0, 1.0))))


def symmetric_feedback(params, W, rng=None):
    """Feedback weights rebuilt from the feedforward weights (spec section 5, symmetric weights).

    Broadcast: ``Y_L = W_{L+1}^T`` and ``Y_l = W_{l+1}^T Y_{l+1}`` (the new
    ``Y_{l+1}``, before any sparsity). Not broadcast: ``Y_l = W_{l+1}^T``. With
    noisy symmetric weights an i.i.d. N(0, 0.05^2) matrix is added to each
    ``W^T`` factor (broadcast), or one scalar N(0, 0.05^2) draw per layer to
    every entry (not broadcast, REF QUIRK); drawn top-down from ``rng``.

    Parameters
    ----------
    params : dict
        Needs 'broadcast' and 'noisy_symmetric_weights'.
    W : list of ndarray
        W_1 .. W_{L+1}.
    rng : numpy.random.Generator, optional
        Required with noisy symmetric weights.

    Returns
    -------
    list of ndarray
        Y_1 .. Y_L.
    """
    L = len(W) - 1
    noisy = params["noisy_symmetric_weights"]
    if noisy and rng is None:
        raise ValueError("noisy symmetric weights need rng")
    Y = [None] * L
    for l in range(L, 0, -1):
        Wt = np.array(W[l], dtype=float).T  # W_{l+1}^T (a copy)
        if noisy and params["broadcast"]:
            Wt = Wt + rng.normal(0.0, SYMMETRIC_NOISE_SD, size=Wt.shape)
        elif noisy:
            Wt = Wt + rng.normal(0.0, SYMMETRIC_NOISE_SD)
        Y[l - 1] = Wt @ Y[l] if (params["broadcast"] and l < L) else Wt
    return Y


def initial_weights(params, rng):
    """Initial W, b, Y, c and sparse masks as spec section 6 draws them.

    Draw order: W_l then b_l for l = 1..L+1; Y_l then (with feedback bias)
    c_l for l = 1..L; the sparse index sets for l = 1..L; then the noise of
    noisy symmetric weights (top-down, as after every example).

    Parameters
    ----------
    params : dict
        Needs the sizes, 'lambda_max', 'dt', the flags 'weight_optimization',
        'feedback_bias', 'broadcast', 'symmetric_weights',
        'noisy_symmetric_weights' and 'sparse_feedback'.
    rng : numpy.random.Generator

    Returns
    -------
    dict
        'W', 'b', 'Y' (lists), 'c' (list, or None without feedback bias) and
        'sparse_masks' (list of bool arrays, True = dropped; None without
        sparse feedback).
    """
    n_hidden = tuple(int(n) for n in params["n_hidden"])
    sizes = (int(params["n_inputs"]),) + n_hidden + (int(params["n_outputs"]),)
    L = len(n_hidden)
    lambda_step = float(params["lambda_max"]) * float(params["dt"])
    optimised = params["weight_optimization"]

    def draw(fan_in, shape):
        if not optimised:
            return rng.uniform(-1.0, 1.0, size=shape)
        W_mean, W_sd = init_statistics(fan_in, lambda_step)
        return W_mean + SPREAD * W_sd * rng.uniform(-1.0, 1.0, size=shape)

    def bias(n):
        if not optimised:
            return rng.uniform(-1.0, 1.0, size=n)
        return B_MEAN + SPREAD * B_SD * rng.uniform(-1.0, 1.0, size=n)

    W, b = [], []
    for l in range(1, L + 2):
        shape = (sizes[l], sizes[l - 1])
        W.append(draw(sizes[l - 1], shape) * (1.0 if optimised else 0.1))
        b.append(bias(sizes[l]))
    Y, c = [], []
    for l in range(1, L + 1):
        source = L + 1 if params["broadcast"] else l + 1
        # QUIRK: the statistics of the layer above, fan-in n_l (rows of Y_l)
        Y.append(draw(sizes[l], (sizes[l], sizes[source])))
        if params["feedback_bias"]:
            c.append(bias(sizes[l]))
    masks = None
    if params["sparse_feedback"]:
        masks = []
        for y in Y:
            dropped = rng.choice(y.size, int(SPARSE_FRACTION * y.size), replace=False)
            mask = np.zeros(y.size, dtype=bool)
            mask[dropped] = True
            masks.append(mask.reshape(y.shape))
    if params["symmetric_weights"]:
        Y = symmetric_feedback(params, W, rng)
    if masks is not None:
        Y = [np.where(m, 0.0, SPARSE_SCALE * y) for y, m in zip(Y, masks)]
    return {"W": W, "b": b, "Y": Y, "c": c if params["feedback_bias"] else None, "sparse_masks": masks}


def _copy_list(arrays):
    """Return a list of float copies of ``arrays``."""
    return [np.array(a, dtype=float, copy=True) for a in arrays]


class OracleNetwork:
    """Reference segregated-dendrites network (spec sections 1-7).

    Parameters
    ----------
    params : dict
        Model parameters; must contain every key of :data:`PARAM_KEYS`.
        ``lambda_max`` is per ms; the per-step rate is
        ``lambda_step = lambda_max * dt``. ``P_hid = 20 / lambda_max`` and
        ``P_out = 20 / lambda_max**2`` use ``lambda_max`` before the ``* dt``.
        ``tau_s``, ``tau_L`` are in steps for the kernel and ``gL = 1/tau_L``
        per ms for the soma. ``kernel`` is ``'truncated'`` (spec FIR with
        ``spike_memory`` lags) or ``'untruncated'`` (same kernel over the
        whole history since the last reset).
    W, b : list of ndarray
        Feedforward weights ``W_l`` (n_l x n_{l-1}) and biases ``b_l`` (n_l),
        for l = 1..L+1. Copied.
    Y : list of ndarray
        Feedback weights of hidden layers 1..L, shape n_l x n_{L+1}
        (broadcast) or n_l x n_{l+1} (not broadcast); already symmetrised
        and sparsified as wanted at initialisation. Copied.
    c : list of ndarray, optional
        Feedback biases (required iff ``params['feedback_bias']``). Copied.
    sparse_masks : list of ndarray of bool, optional
        One per hidden layer, True = entry of ``Y_l`` forced to zero. Required
        iff sparse feedback is on and Y changes after examples (symmetric
        weights or feedback learning).

    Attributes
    ----------
    W, b, Y, c : list of ndarray
        Current weights, updated in place by :meth:`train_example`.
    kB, kD : float
        Steady-state dendro-somatic gains (spec section 3).
    lambda_step, gL, gB, gD, gA, P_hid, P_out : float
        Derived constants.
    """

    def __init__(self, params, W, b, Y, c=None, sparse_masks=None):
        missing = [key for key in PARAM_KEYS if key not in params]
        if missing:
            raise KeyError("missing parameters: %s" % ", ".join(missing))
        self.params = dict(params)
        p = self.params

        self.n_hidden = tuple(int(n) for n in p["n_hidden"])
        self.L = len(self.n_hidden)
        self.units_per_class = int(p["units_per_class"])
        # sizes[l] = number of units of spec layer l (0 = input, L+1 = output)
        self.sizes = (int(p["n_inputs"]),) + self.n_hidden + (int(p["n_outputs"]),)
        if self.sizes[-1] != N_CLASSES * self.units_per_class:
            raise ValueError("n_outputs must equal 10 * units_per_class")
        if p["kernel"] not in ("truncated", "untruncated"):
            raise ValueError("kernel must be 'truncated' or 'untruncated'")

        # Derived constants (spec sections 3, 5 and 8).
        self.dt = float(p["dt"])
        self.lambda_step = float(p["lambda_max"]) * self.dt
        self.gL = 1.0 / float(p["tau_L"])
        self.gB = float(p["g_B"])
        self.gD = self.gB
        self.gA = float(p["g_A"]) if p["apical_conductance"] else 0.0
        self.kB = self.gB / (self.gL + self.gB + self.gA)
        self.kD = self.gD / (self.gL + self.gD)
        self.P_hid = 20.0 / float(p["lambda_max"])
        self.P_out = 20.0 / float(p["lambda_max"]) ** 2

        L = self.L
        self.W = _copy_list(W)
        self.b = _copy_list(b)
        self.Y = _copy_list(Y)
        if len(self.W) != L + 1 or len(self.b) != L + 1 or len(self.Y) != L:
            raise ValueError("need L+1 W and b, and L Y matrices")
        for l in range(1, L + 2):
            if self.W[l - 1].shape != (self.sizes[l], self.sizes[l - 1]):
                raise ValueError("W_%d has shape %s" % (l, self.W[l - 1].shape))
            if self.b[l - 1].shape != (self.sizes[l],):
                raise ValueError("b_%d has shape %s" % (l, self.b[l - 1].shape))
        for l in range(1, L + 1):
            if self.Y[l - 1].shape != (self.sizes[l], self.sizes[self._feedback_source(l)]):
                raise ValueError("Y_%d has shape %s" % (l, self.Y[l - 1].shape))

        if p["feedback_bias"]:
            if c is None or len(c) != L:
                raise ValueError("feedback_bias needs one c per hidden layer")
            self.c = _copy_list(c)
        else:
            self.c = None

        self.sparse_masks = None
        if sparse_masks is not None:
            self.sparse_masks = [np.array(m, dtype=bool, copy=True) for m in sparse_masks]
        if (
            p["sparse_feedback"]
            and L > 0
            and self.sparse_masks is None
            and (p["symmetric_weights"] or p["update_feedback_weights"])
        ):
            raise ValueError("sparse_feedback needs sparse_masks")

        self.learning_rates = [float(e) for e in p["learning_rates"]]
        if len(self.learning_rates) != L + 1:
            raise ValueError("need one learning rate per layer 1..L+1")
        if p["update_feedback_weights"]:
            if p["feedback_learning_rates"] is None or len(p["feedback_learning_rates"]) != L:
                raise ValueError("feedback learning needs one rate per hidden layer")
            self.feedback_learning_rates = [float(e) for e in p["feedback_learning_rates"]]
        else:
            self.feedback_learning_rates = None

        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self):
        """Zero all dynamic state: spike histories (input included), u and r."""
        # history[l]: list of spike-count vectors of spec layer l, oldest first
        self.history = [[] for _ in range(self.L + 2)]
        # u[l], r[l] for spec layers l = 1..L+1 (index 0 unused)
        self.u = [None] + [np.zeros(n) for n in self.sizes[1:]]
        self.r = [None] + [np.zeros(n) for n in self.sizes[1:]]

    def _feedback_source(self, l):
        """Spec layer number that feeds the apical compartment of layer ``l``."""
        return self.L + 1 if self.params["broadcast"] else l + 1

    def _filtered(self, layer):
        """Kernel-filtered spike history of ``layer``: sum_k kappa(k) S(t-k+1).

        The newest stored count gets ``kappa(1)``. Truncated: at most
        ``spike_memory`` lags; untruncated: the whole history since reset.
        """
        hist = self.history[layer]
        if self.params["kernel"] == "truncated":
            n_lags = min(int(self.params["spike_memory"]), len(hist))
        else:
            n_lags = len(hist)
        if n_lags == 0:
            return np.zeros(self.sizes[layer])
        kappa = kernel(n_lags, self.params["tau_s"], self.params["tau_L"])
        newest_first = np.array(hist[len(hist) - n_lags :][::-1], dtype=float)
        return kappa @ newest_first

    def _presynaptic(self, l, x_in):
        """p_l(t): input to layer ``l``'s basal/dendritic compartment.

        Layer ``l - 1`` has already updated in this step.
        """
        if self.params["spiking_feedforward"]:
            return self._filtered(l - 1)
        if l == 1:
            return x_in.copy()
        return self.r[l - 1].copy()

    def _spikes(self, layer, rate, given, rng):
        """Counts of ``layer`` this step: the given row, or Poisson(rate)."""
        if layer in given:
            return np.array(given[layer], dtype=float)
        if rng is None:
            raise ValueError("rng is required: spikes of layer %d must be drawn" % layer)
        return rng.poisson(rate).astype(float)

    def _teaching(self, label):
        """Teaching conductances (g_E, g_I); ``label=None`` means no teaching."""
        n_out = self.sizes[-1]
        if label is None:
            return np.zeros(n_out), np.zeros(n_out)
        one_hot = np.zeros(N_CLASSES)
        one_hot[int(label)] = 1.0
        g_E = np.repeat(one_hot, self.units_per_class)
        return g_E, 1.0 - g_E

    # --------------------------------------------------------------- dynamics

    def _step(self, x_in, label, given, rng):
        """Advance the network by one step in the exact order of spec section 3.

        Parameters
        ----------
        x_in : ndarray
            Scaled image ``lambda_step * x``.
        label : int or None
            Class label in the target phase, None in forward/test phases.
        given : dict
            {layer: counts of this step} replacing Poisson draws.
        rng : numpy.random.Generator or None

        Returns
        -------
        dict
            This step's values: lists over layers of 'd', 'u', 'r', 'p',
            hidden 'a', 'q', and 'spikes' (dict by layer).
        """
        p = self.params
        L = self.L
        rec = {"d": [], "u": [], "r": [], "p": [], "a": [], "q": [], "spikes": {}}

        # Snapshot of every layer as it was at step t-1 (feedback lag).
        prev_rate = [None] + [r.copy() for r in self.r[1:]]
        prev_filtered = [None] + [self._filtered(l) for l in range(1, L + 2)]

        # 1. Input counts (drawn even if unused).
        S0 = self._spikes(0, x_in, given, rng)
        self.history[0].append(S0)
        rec["spikes"][0] = S0

        # 2. Hidden layers in increasing order.
        for l in range(1, L + 1):
            p_l = self._presynaptic(l, x_in)
            d = self.W[l - 1] @ p_l + self.b[l - 1]
            src = self._feedback_source(l)
            q = prev_filtered[src] if p["spiking_feedback"] else prev_rate[src]
            a = self.Y[l - 1] @ q
            if p["feedback_bias"]:
                a = a + self.c[l - 1]
            if p["conductances"]:
                u_old = self.u[l]
                du = -self.gL * u_old + self.gB * (d - u_old)
                if p["apical_conductance"]:
                    du = du + self.gA * (a - u_old)
                u = u_old + self.dt * du
            else:
                u = self.kB * d
            r = self.lambda_step * sigma(u)
            S = self._spikes(l, r, given, rng)
            self.u[l], self.r[l] = u, r
            self.history[l].append(S)
            for key, value in (("p", p_l), ("d", d), ("u", u), ("r", r), ("a", a), ("q", q)):
                rec[key].append(value)
            rec["spikes"][l] = S

        # 3. Output layer.
        l = L + 1
        p_l = self._presynaptic(l, x_in)
        d = self.W[l - 1] @ p_l + self.b[l - 1]
        g_E, g_I = self._teaching(label)
        E_E, E_I = float(p["E_E"]), float(p["E_I"])
        if p["conductances"]:
            u_old = self.u[l]
            I = g_E * (E_E - u_old) + g_I * (E_I - u_old)
            u = u_old + self.dt * (-self.gL * u_old + self.gD * (d - u_old) + I)
        elif label is None:
            u = self.kD * d
        else:
            u = (self.gD * d + g_E * E_E + g_I * E_I) / (self.gL + self.gD + g_E + g_I)
        r = self.lambda_step * sigma(u)
        S = self._spikes(l, r, given, rng)
        self.u[l], self.r[l] = u, r
        self.history[l].append(S)
        for key, value in (("p", p_l), ("d", d), ("u", u), ("r", r)):
            rec[key].append(value)
        rec["spikes"][l] = S
        return rec

    def _check_spikes(self, spikes, n_steps):
        """Validate the ``spikes`` argument and return it as a dict of arrays."""
        if spikes is None:
            return {}
        out = {}
        for layer, counts in spikes.items():
            if not 0 <= layer <= self.L + 1:
                raise ValueError("no layer %r" % (layer,))
            counts = np.asarray(counts)
            if counts.shape != (n_steps, self.sizes[layer]):
                raise ValueError("spikes[%d] must have shape %s" % (layer, (n_steps, self.sizes[layer])))
            out[layer] = counts
        return out

    def _run_phase(self, x, n_steps, label, spikes, first_row, rng):
        """Run ``n_steps`` steps; return per-step traces stacked as arrays.

        ``spikes`` rows ``first_row .. first_row + n_steps - 1`` are used.
        """
        x_in = self.lambda_step * np.asarray(x, dtype=float)
        if x_in.shape != (self.sizes[0],):
            raise ValueError("x must have length n_inputs")
        steps = []
        for t in range(n_steps):
            given = {layer: counts[first_row + t] for layer, counts in spikes.items()}
            steps.append(self._step(x_in, label, given, rng))
        traces = {}
        for key, n_layers in (
            ("d", self.L + 1),
            ("u", self.L + 1),
            ("r", self.L + 1),
            ("p", self.L + 1),
            ("a", self.L),
            ("q", self.L),
        ):
            traces[key] = [np.array([s[key][i] for s in steps]) for i in range(n_layers)]
        traces["spikes"] = {layer: np.array([s["spikes"][layer] for s in steps]) for layer in range(self.L + 2)}
        return traces

    @staticmethod
    def _join(first, second):
        """Concatenate two phases' traces along the step axis."""
        out = {}
        for key in ("d", "u", "r", "p", "a", "q"):
            out[key] = [np.concatenate([x, y]) for x, y in zip(first[key], second[key])]
        out["spikes"] = {
            layer: np.concatenate([first["spikes"][layer], second["spikes"][layer]]) for layer in first["spikes"]
        }
        return out

    # ---------------------------------------------------------------- training

    def train_example(self, x, label, T_f, T_t, spikes=None, rng=None, plateau_offsets=None):
        """Present one training example and apply plasticity (spec sections 3-5).

        Parameters
        ----------
        x : array_like, shape (n_inputs,)
            Image in [0, 1].
        label : int
            Class 0..9.
        T_f, T_t : int
            Forward and target phase lengths (steps).
        spikes : dict, optional
            {layer: array (T_f + T_t, n_layer)} of counts used instead of
            Poisson draws for that layer (0 = input, L+1 = output).
        rng : numpy.random.Generator, optional
            Needed if anything is drawn (Poisson counts, symmetric noise).
        plateau_offsets : tuple (forward, target), optional
            Required iff ``random_plateau_times``: for each phase a list over
            hidden layers of int arrays (n_l,), the steps before the phase's
            end at which each neuron takes its plateau (spec section 4; see
            :func:`draw_plateau_offsets`).

        Returns
        -------
        dict
            Per-step traces over both phases (T_f + T_t rows): 'd', 'u', 'r',
            'p' (lists for layers 1..L+1), 'a', 'q' (hidden layers),
            'spikes' ({layer: counts}, input included). Window values:
            'u_f_mean', 'p_f_mean', 'r_f_mean' (layers 1..L+1), 'a_f_mean',
            'q_f_mean', 'a_t_mean', 'alpha_f', 'alpha_t' (hidden layers),
            'r_t_mean' (output array), 'e' (the errors that changed W and b,
            layers 1..L+1), 'e_bp' (backprop errors, layers 1..L+1; the
            output's is its error), 'bp_angle' (degrees between 'e' and 'e_bp'
            per hidden layer), 'e_Y' (feedback errors per hidden layer, or
            None), 'loss', and 'prediction' (argmax class of the
            forward-window output u).
        """
        K = int(self.params["window_steps"])
        T_f, T_t = int(T_f), int(T_t)
        if K > T_f or K > T_t:
            raise ValueError("window_steps must not exceed T_f or T_t")
        if K < 1:
            raise ValueError("window_steps must be >= 1")
        spikes = self._check_spikes(spikes, T_f + T_t)
        offsets = self._check_plateau_offsets(plateau_offsets)

        fwd = self._run_phase(x, T_f, None, spikes, 0, rng)
        tgt = self._run_phase(x, T_t, label, spikes, T_f, rng)

        L = self.L
        lam = self.lambda_step

        def window(trace):
            return trace[-K:].mean(axis=0)

        def apical_window(trace, phase):
            """Spec section 4: the last K steps, or per neuron the K steps up to its plateau time."""
            if offsets is None:
                return [window(tr) for tr in trace]
            out = []
            for tr, offset in zip(trace, offsets[phase]):
                ends = len(tr) - 1 - offset
                if np.any(ends - K + 1 < 0):
                    raise ValueError("a plateau window reaches before the start of its phase")
                out.append(np.array([tr[end - K + 1 : end + 1, j].mean() for j, end in enumerate(ends)]))
            return out

        u_f_mean = [window(tr) for tr in fwd["u"]]
        p_f_mean = [window(tr) for tr in fwd["p"]]
        r_f_mean = [window(tr) for tr in fwd["r"]]
        a_f_mean = apical_window(fwd["a"], 0)
        q_f_mean = [window(tr) for tr in fwd["q"]]
        a_t_mean = apical_window(tgt["a"], 1)
        r_t_mean = window(tgt["r"][L])
        alpha_f = [sigma(a) for a in a_f_mean]
        alpha_t = [sigma(a) for a in a_t_mean]
        u_out = u_f_mean[L]
        loss = float(np.mean((r_t_mean - lam * sigma(u_out)) ** 2))

        # Plasticity in REF's order (spec section 5): from the output down, each
        # layer computes its error, then updates its feedback and feedforward
        # weights, before the layer below computes its error.
        e = [None] * (L + 1)
        e_bp = [None] * (L + 1)
        e_Y = [None] * L if self.params["update_feedback_weights"] else None
        for i in range(L, -1, -1):
            gain = lam * sigma_prime(u_f_mean[i])
            if i == L:
                e[i] = self.kD * gain * (r_t_mean - lam * sigma(u_f_mean[i]))
                e_bp[i] = e[i]
            else:
                # self.W[i + 1] (spec W_{l+1}) has had this example's update already
                e_bp[i] = self.kB * gain * (self.W[i + 1].T @ e_bp[i + 1])
                plateau = self.kB * gain * (alpha_t[i] - alpha_f[i])
                e[i] = e_bp[i] if self.params["backprop"] else plateau
                if e_Y is not None:  # feedback learning (no P factor)
                    e_Y[i] = sigma_prime(a_f_mean[i]) * (lam * sigma(u_f_mean[i]) - alpha_f[i])
                    eta_Y = self.feedback_learning_rates[i]
                    self.Y[i] += eta_Y * np.outer(e_Y[i], q_f_mean[i])
                    if self.params["feedback_bias"]:
                        self.c[i] += eta_Y * e_Y[i]
            # Feedforward learning: W_l += eta_l P e_l p_f^T, b_l += eta_l P e_l.
            step = self.learning_rates[i] * (self.P_out if i == L else self.P_hid)
            self.W[i] += step * np.outer(e[i], p_f_mean[i])
            self.b[i] += step * e[i]

        # Post-processing of feedback weights: symmetric, then sparse.
        if self.params["symmetric_weights"]:
            self.rebuild_symmetric_feedback(rng)
        if (
            self.params["sparse_feedback"]
            and L > 0
            and (self.params["symmetric_weights"] or self.params["update_feedback_weights"])
        ):
            rescale = self.params["symmetric_weights"] or self.params["sparse_feedback_rescale_each_example"]
            for i in range(L):
                self.Y[i][self.sparse_masks[i]] = 0.0
                if rescale:
                    self.Y[i] *= SPARSE_SCALE

        out = self._join(fwd, tgt)
        out.update(
            u_f_mean=u_f_mean,
            p_f_mean=p_f_mean,
            r_f_mean=r_f_mean,
            a_f_mean=a_f_mean,
            q_f_mean=q_f_mean,
            a_t_mean=a_t_mean,
            alpha_f=alpha_f,
            alpha_t=alpha_t,
            r_t_mean=r_t_mean,
            e=e,
            e_bp=e_bp,
            bp_angle=[angle_degrees(e[i], e_bp[i]) for i in range(L)],
            e_Y=e_Y,
            loss=loss,
            prediction=self.predict(u_out),
        )
        return out

    def _check_plateau_offsets(self, plateau_offsets):
        """Validate ``plateau_offsets`` (required iff random plateau times); None when off."""
        if not self.params["random_plateau_times"]:
            if plateau_offsets is not None:
                raise ValueError("plateau_offsets given, but random_plateau_times is off")
            return None
        if plateau_offsets is None or len(plateau_offsets) != 2:
            raise ValueError("random_plateau_times needs plateau_offsets = (forward, target)")
        checked = []
        for phase in plateau_offsets:
            if len(phase) != self.L:
                raise ValueError("plateau_offsets need one array per hidden layer")
            arrays = [np.asarray(o) for o in phase]
            for l, o in enumerate(arrays, start=1):
                if o.shape != (self.sizes[l],) or np.any(o < 0) or np.any(o != np.round(o)):
                    raise ValueError("plateau offsets of layer %d must be %d integers >= 0" % (l, self.sizes[l]))
            checked.append([o.astype(int) for o in arrays])
        return checked

    def rebuild_symmetric_feedback(self, rng=None):
        """Set every Y from the current W (:func:`symmetric_feedback`, spec section 5)."""
        self.Y = symmetric_feedback(self.params, self.W, rng)

    # ----------------------------------------------------------------- testing

    def predict(self, u_out_mean):
        """Class whose output-unit group has the largest mean (first on ties).

        Parameters
        ----------
        u_out_mean : ndarray, shape (n_outputs,)

        Returns
        -------
        int
        """
        groups = np.asarray(u_out_mean).reshape(N_CLASSES, self.units_per_class).mean(axis=1)
        return int(np.argmax(groups))

    def test_example(self, x, T_test, spikes=None, rng=None):
        """Reset, then run one forward phase without teaching or plasticity (spec 7).

        The caller must call :meth:`reset` after a test run before training
        resumes (spec section 2).

        Parameters
        ----------
        x : array_like, shape (n_inputs,)
        T_test : int
        spikes : dict, optional
            {layer: array (T_test, n_layer)}, as in :meth:`train_example`.
        rng : numpy.random.Generator, optional

        Returns
        -------
        dict
            Per-step traces ('d', 'u', 'r', 'p', 'a', 'q', 'spikes'),
            'u_out_mean' (output u averaged over the last
            ``test_window_steps`` steps), 'class_means' and 'prediction'.
        """
        K = int(self.params["test_window_steps"])
        T_test = int(T_test)
        if not 1 <= K <= T_test:
            raise ValueError("test_window_steps must be in 1..T_test")
        spikes = self._check_spikes(spikes, T_test)
        self.reset()
        out = self._run_phase(x, T_test, None, spikes, 0, rng)
        u_out_mean = out["u"][self.L][-K:].mean(axis=0)
        out["u_out_mean"] = u_out_mean
        out["class_means"] = u_out_mean.reshape(N_CLASSES, self.units_per_class).mean(axis=1)
        out["prediction"] = self.predict(u_out_mean)
        return out

    def test_run(self, images, T_test, spikes=None, rng=None):
        """Test several images, then zero the state (spec sections 2 and 7).

        Parameters
        ----------
        images : array_like, shape (n, n_inputs)
        T_test : int
        spikes : list of dict, optional
            One :meth:`test_example` ``spikes`` dict per image.
        rng : numpy.random.Generator, optional

        Returns
        -------
        list of dict
            The :meth:`test_example` results, in order.
        """
        spikes = [None] * len(images) if spikes is None else spikes
        results = [self.test_example(x, T_test, spikes=s, rng=rng) for x, s in zip(images, spikes)]
        self.reset()
        return results


def quick_test_points(n_examples, every):
    """Examples seen at REF's quick tests within one epoch (spec section 8).

    REF tests after every ``every`` training examples, except after the
    epoch's last one (where it runs its full test instead).

    Parameters
    ----------
    n_examples : int
        Training examples in the epoch.
    every : int

    Returns
    -------
    list of int
    """
    return [n for n in range(every, n_examples, every)]


def train_with_quick_tests(net, images, labels, T_f, T_t, test_images, test_labels, T_test, test_indices, every, rng):
    """One epoch of REF's schedule: train example by example, quick-testing (spec section 8).

    Parameters
    ----------
    net : OracleNetwork
    images, labels : arrays
        Training examples in presentation order.
    T_f, T_t : arrays of int
        Phase lengths per training example.
    test_images, test_labels : arrays
        The test set.
    T_test : int
    test_indices : list of arrays of int
        For each quick test (in order), the test images it uses (REF: the
        first ``n_quick_test`` of a fresh shuffle of the test set).
    every : int
        Training examples between quick tests (REF 1000).
    rng : numpy.random.Generator
        Spike draws.

    Returns
    -------
    list of (int, float)
        ``(examples seen, test error in percent)`` per quick test.
    """
    points = quick_test_points(len(images), every)
    if len(test_indices) != len(points):
        raise ValueError("need one set of test indices per quick test (%d)" % len(points))
    curve = []
    for n in range(len(images)):
        net.train_example(images[n], labels[n], T_f[n], T_t[n], rng=rng)
        if n + 1 in points:
            idx = np.asarray(test_indices[points.index(n + 1)])
            results = net.test_run(np.asarray(test_images)[idx], T_test, rng=rng)
            correct = sum(r["prediction"] == int(test_labels[i]) for r, i in zip(results, idx))
            curve.append((n + 1, 100.0 * (1.0 - correct / len(idx))))
    return curve
