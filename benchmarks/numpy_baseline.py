"""A vectorised NumPy implementation of the segregated-dendrite network that records nothing.

The speed baseline of ``benchmarks/speed.py``: the same work per step as the paper's own NumPy loop
(dense matrix-vector products with every weight every step, the truncated kernel over the last
``spike_memory`` counts of every layer, Poisson draws for every unit), without the per-step traces
that the test oracle (``tests/oracle.py``) keeps. It covers the options of the benchmarked networks
(REF-S and the REF-NS rate options: spiking or rate feedforward and feedback, conductances on or
off, broadcast feedback, fixed Y); other options raise ``ValueError``. It draws its spikes in the
oracle's order from the same ``Generator``, so on the same weights, examples and seed it follows the
oracle (``speed.py`` checks that before timing).
"""

import numpy as np

UNSUPPORTED = (
    "symmetric_weights",
    "sparse_feedback",
    "update_feedback_weights",
    "feedback_bias",
    "apical_conductance",
)


def _sigma(x):
    return 1.0 / (1.0 + np.exp(-x))


class NumpyNetwork:
    """REF's network as dense NumPy arrays: ``train_example`` and ``test_example`` per example.

    Parameters
    ----------
    config : brian_segdend.ModelConfig
    weights : dict
        ``{'W': [...], 'b': [...], 'Y': [...]}`` in the spec's shapes (copied).
    """

    def __init__(self, config, weights):
        bad = [name for name in UNSUPPORTED if getattr(config, name)]
        if bad or config.kernel != "truncated" or not config.broadcast or config.units_per_class != 1:
            raise ValueError(f"the NumPy baseline covers REF-S and REF-NS options only, not {bad or config}")
        self.cfg = config
        self.W = [np.array(w, dtype=float) for w in weights["W"]]
        self.b = [np.array(b, dtype=float) for b in weights["b"]]
        self.Y = [np.array(y, dtype=float) for y in weights["Y"]]
        self.sizes = config.layer_sizes
        self.L = len(config.n_hidden)
        self.kappa = np.array(config.kernel_values())
        self.eta_P = [
            rate * (config.P_output if i == self.L else config.P_hidden) for i, rate in enumerate(config.learning_rates)
        ]
        self.reset()

    def reset(self):
        """Zero potentials, rates and the spike memory of every layer."""
        n_mem = self.cfg.spike_memory
        self.u = [np.zeros(n) for n in self.sizes[1:]]
        self.r = [np.zeros(n) for n in self.sizes[1:]]
        self.ring = [np.zeros((n_mem, n)) for n in self.sizes]  # ring[l][t % n_mem]: counts of step t
        self.t = 0

    def _filtered(self, layer, newest):
        """``sum_k kappa(k) S(t-k+1)`` of ``layer``, from the counts in ring slot ``newest`` backwards."""
        return self.kappa @ self.ring[layer][(newest - np.arange(len(self.kappa))) % len(self.kappa)]

    def _step(self, x_in, g_E, rng):
        """One step in the order of spec §3 (``g_E``: the one-hot teaching signal, or ``None``).

        Returns the apical potentials of the hidden layers and the inputs ``p`` of every layer.
        """
        cfg, L, lam = self.cfg, self.L, self.cfg.lambda_step
        slot = self.t % cfg.spike_memory
        q = self._filtered(L + 1, slot - 1) if cfg.spiking_feedback else self.r[L].copy()  # one step old
        self.ring[0][slot] = rng.poisson(x_in)
        a, ps = [], []
        for l in range(1, L + 2):
            if cfg.spiking_feedforward:
                p = self._filtered(l - 1, slot)
            else:
                p = x_in if l == 1 else self.r[l - 2]
            d = self.W[l - 1] @ p + self.b[l - 1]
            u_old = self.u[l - 1]
            if l <= L:
                a.append(self.Y[l - 1] @ q)
                u = u_old + cfg.dt * (-cfg.g_L * u_old + cfg.g_B * (d - u_old)) if cfg.conductances else cfg.k_B * d
            elif cfg.conductances:
                drive = 0.0 if g_E is None else g_E * (cfg.E_E - u_old) + (1 - g_E) * (cfg.E_I - u_old)
                u = u_old + cfg.dt * (-cfg.g_L * u_old + cfg.g_B * (d - u_old) + drive)
            elif g_E is None:
                u = cfg.k_D * d
            else:
                u = (cfg.g_B * d + g_E * cfg.E_E + (1 - g_E) * cfg.E_I) / (cfg.g_L + cfg.g_B + 1.0)
            self.u[l - 1] = u
            self.r[l - 1] = lam * _sigma(u)
            self.ring[l][slot] = rng.poisson(self.r[l - 1])
            ps.append(p)
        self.t += 1
        return a, ps

    def train_example(self, x, label, T_f, T_t, rng):
        """Forward phase, target phase, then the updates of spec §5; returns the predicted class."""
        cfg, L, lam, K = self.cfg, self.L, self.cfg.lambda_step, self.cfg.window_steps
        x_in = lam * np.asarray(x, dtype=float)
        g_E = np.zeros(self.sizes[-1])
        g_E[int(label)] = 1.0
        u_f = [np.zeros(n) for n in self.sizes[1:]]
        p_f = [np.zeros(n) for n in self.sizes[:-1]]
        a_f = [np.zeros(n) for n in cfg.n_hidden]
        a_t = [np.zeros(n) for n in cfg.n_hidden]
        r_t = np.zeros(self.sizes[-1])
        for step in range(T_f + T_t):
            a, ps = self._step(x_in, None if step < T_f else g_E, rng)
            if T_f - K <= step < T_f:
                for i in range(L + 1):
                    u_f[i] += self.u[i] / K
                    p_f[i] += ps[i] / K
                for i in range(L):
                    a_f[i] += a[i] / K
            elif step >= T_f + T_t - K:
                r_t += self.r[L] / K
                for i in range(L):
                    a_t[i] += a[i] / K
        s_out = _sigma(u_f[L])
        errors = [
            cfg.k_B * lam * _sigma(u) * (1 - _sigma(u)) * (_sigma(at) - _sigma(af)) for u, af, at in zip(u_f, a_f, a_t)
        ]
        errors.append(cfg.k_D * lam * s_out * (1 - s_out) * (r_t - lam * s_out))
        for i in range(L + 1):
            self.W[i] += self.eta_P[i] * np.outer(errors[i], p_f[i])
            self.b[i] += self.eta_P[i] * errors[i]
        return int(np.argmax(u_f[L]))

    def test_example(self, x, rng):
        """A test example from a zero state (spec §7); returns the predicted class."""
        cfg, K = self.cfg, self.cfg.test_window_steps
        self.reset()
        x_in = cfg.lambda_step * np.asarray(x, dtype=float)
        u_mean = np.zeros(self.sizes[-1])
        for step in range(cfg.test_steps):
            self._step(x_in, None, rng)
            if step >= cfg.test_steps - K:
                u_mean += self.u[self.L] / K
        self.reset()
        return int(np.argmax(u_mean))
