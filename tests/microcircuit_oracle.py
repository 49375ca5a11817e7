"""Independent NumPy oracle of ../shared/spec/dendritic-microcircuits.md (Sacramento et al. 2018).

Written from the spec alone, as plain matrix algebra, for step-by-step comparisons with the Brian2
model. Layers k = 0..N; pyramidal potentials ``uP[k]`` (k >= 1), interneurons ``uI[k]`` (hidden k).
Weights in the spec's shapes: ``ff[k-1]`` = W^PP_{k,k-1}, ``td[k-1]`` = W^PP_{k,k+1},
``ip[k-1]`` = W^IP_{k,k}, ``pi[k-1]`` = W^PI_{k,k}, biases ``b[k-1]``, ``b_I[k-1]``.

* ``continuous``: spec §5.1 step by step (explicit Euler, Jacobi, dt in ms).
* ``sweep``: spec §5.2 (two passes per image, minibatch mean of E), incl. ``sweep_literal`` (§9.6).
* closed-form self-predicting weights: spec §4.
"""

import numpy as np

MATRICES = ("ff", "td", "ip", "pi")


def params_of(config):
    """The oracle's parameter dict from any object with the spec's parameter names as attributes
    (e.g. a ``MicrocircuitConfig``): sizes, couplings, phi, times, learning rates per matrix."""
    names = ("transfer", "gamma", "beta", "theta", "g_lk", "g_B", "g_A", "g_D", "g_som", "dt", "tau_in", "tau_w")
    names += ("biases", "nudge", "E_exc", "E_inh", "minibatch", "sweep_literal")
    p = {name: getattr(config, name) for name in names}
    p["sizes"] = tuple(config.layer_sizes)
    p["eta"] = {key: tuple(getattr(config, f"eta_{key}")) for key in MATRICES}
    return p


class Oracle:
    """The microcircuit of the spec.

    Parameters
    ----------
    p : dict
        ``sizes`` (n_0..n_N), ``transfer`` ('softplus'/'logistic'), ``gamma``, ``beta``, ``theta``,
        ``g_lk``, ``g_B``, ``g_A``, ``g_D``, ``g_som``, ``dt``, ``tau_in``, ``tau_w``, ``eta`` (dict
        matrix -> list per layer), ``biases``, ``nudge`` ('current'/'conductance'), ``E_exc``, ``E_inh``,
        ``minibatch``, ``sweep_literal``.
    weights : dict
        ``ff``, ``b``, ``td``, ``ip``, ``b_I``, ``pi`` (lists of arrays).
    """

    def __init__(self, p, weights):
        self.p = p
        self.n = list(p["sizes"])
        self.N = len(self.n) - 1
        self.W = {key: [np.array(w, dtype=float) for w in weights[key]] for key in MATRICES}
        self.b = [np.array(v, dtype=float) for v in weights["b"]]
        self.b_I = [np.array(v, dtype=float) for v in weights["b_I"]]
        self.r0 = np.zeros(self.n[0])
        self.uP = {k: np.zeros(self.n[k]) for k in range(1, self.N + 1)}
        self.uI = {k: np.zeros(self.n[k + 1]) for k in range(1, self.N)}
        self.Delta = {key: [np.zeros_like(w) for w in self.W[key]] for key in MATRICES}
        self.Delta_b = [np.zeros_like(v) for v in self.b]
        self.Delta_bI = [np.zeros_like(v) for v in self.b_I]
        self.pending = []  # E of images in the current (unfinished) minibatch (sweep)

    # ------------------------------------------------------------------ constants (spec §2.3)
    def phi(self, u):
        p = self.p
        if p["transfer"] == "logistic":
            return 1.0 / (1.0 + np.exp(-u))
        z = p["beta"] * (u - p["theta"])
        return p["gamma"] * np.log1p(np.exp(-np.abs(z))) + p["gamma"] * np.maximum(z, 0.0)

    def alpha(self, k):
        p = self.p
        if k == self.N:
            return p["g_B"] / (p["g_lk"] + p["g_B"])
        return p["g_B"] / (p["g_lk"] + p["g_B"] + p["g_A"])

    def lam(self, k):
        p = self.p
        if k == self.N:
            return p["g_som"] / (p["g_lk"] + p["g_B"] + p["g_som"])
        return p["g_A"] / (p["g_lk"] + p["g_B"] + p["g_A"])

    @property
    def delta_I(self):
        return self.p["g_D"] / (self.p["g_lk"] + self.p["g_D"])

    @property
    def lam_I(self):
        p = self.p
        return p["g_som"] / (p["g_lk"] + p["g_D"] + p["g_som"])

    def eta(self, key, k):
        return self.p["eta"][key][k - 1]

    # ------------------------------------------------------------------ closed form (spec §4)
    @staticmethod
    def self_predicting(p, weights):
        """Copy of ``weights`` with W^PI = -W^TD, W^IP = (alpha_{k+1}/delta_I) W^PP_{k+1,k}, b^I likewise."""
        o = Oracle(p, weights)
        out = {key: [np.array(w) for w in weights[key]] for key in weights}
        for k in range(1, o.N):
            f = o.alpha(k + 1) / o.delta_I
            out["pi"][k - 1] = -np.array(weights["td"][k - 1])
            out["ip"][k - 1] = f * np.array(weights["ff"][k])
            out["b_I"][k - 1] = f * np.array(weights["b"][k])
        return out

    # ------------------------------------------------------------------ continuous (spec §5.1)
    def dendrites(self, r, rI):
        """Basal, apical (top-down part, total) and interneuron dendritic potentials (Eqs. 3-5)."""
        N = self.N
        vB = {k: self.W["ff"][k - 1] @ r[k - 1] + self.b[k - 1] for k in range(1, N + 1)}
        vTD = {k: self.W["td"][k - 1] @ r[k + 1] for k in range(1, N)}
        vA = {k: vTD[k] + self.W["pi"][k - 1] @ rI[k] for k in range(1, N)}
        vI = {k: self.W["ip"][k - 1] @ r[k] + self.b_I[k - 1] for k in range(1, N)}
        return vB, vTD, vA, vI

    def step(self, x, u_trgt=None, learn=True, noise=None):
        """One Euler step of spec §5.1. ``u_trgt`` None: no target. ``noise``: {('P'|'I', k): sigma*N(0,1)}.

        Returns the dendritic potentials of this step and the new somatic potentials.
        """
        p, N, dt = self.p, self.N, self.p["dt"]
        self.r0 = self.r0 + dt / p["tau_in"] * (np.asarray(x, float) - self.r0)  # 1.
        r = {0: self.r0, **{k: self.phi(self.uP[k]) for k in range(1, N + 1)}}  # 2.
        rI = {k: self.phi(self.uI[k]) for k in range(1, N)}
        vB, vTD, vA, vI = self.dendrites(r, rI)
        brackets = {k: self.phi(self.uP[k]) - self.phi(self.alpha(k) * vB[k]) for k in range(1, N + 1)}
        brackets_I = {k: self.phi(self.uI[k]) - self.phi(self.delta_I * vI[k]) for k in range(1, N)}
        if learn:  # 3.
            E = {
                "ff": [np.outer(brackets[k], r[k - 1]) for k in range(1, N + 1)],
                "ip": [np.outer(brackets_I[k], r[k]) for k in range(1, N)],
                "pi": [np.outer(-vA[k], rI[k]) for k in range(1, N)],
                "td": [np.outer(self.phi(self.uP[k]) - self.phi(vTD[k]), r[k + 1]) for k in range(1, N)],
            }
            for key in MATRICES:
                for k in range(1, len(self.W[key]) + 1):
                    if self.eta(key, k) == 0:
                        continue
                    self.W[key][k - 1] = self.W[key][k - 1] + dt * self.eta(key, k) * self.Delta[key][k - 1]
                    self.Delta[key][k - 1] += dt / p["tau_w"] * (E[key][k - 1] - self.Delta[key][k - 1])
            if p["biases"]:
                for k in range(1, N + 1):
                    if self.eta("ff", k):
                        self.b[k - 1] = self.b[k - 1] + dt * self.eta("ff", k) * self.Delta_b[k - 1]
                        self.Delta_b[k - 1] += dt / p["tau_w"] * (brackets[k] - self.Delta_b[k - 1])
                for k in range(1, N):
                    if self.eta("ip", k):
                        self.b_I[k - 1] = self.b_I[k - 1] + dt * self.eta("ip", k) * self.Delta_bI[k - 1]
                        self.Delta_bI[k - 1] += dt / p["tau_w"] * (brackets_I[k] - self.Delta_bI[k - 1])
        noise = noise or {}
        new_P, new_I = {}, {}
        for k in range(1, N + 1):  # 4.
            u = self.uP[k]
            du = -p["g_lk"] * u + p["g_B"] * (vB[k] - u)
            if k < N:
                du = du + p["g_A"] * (vA[k] - u)
            elif u_trgt is not None:
                du = du + self.teaching(u, np.asarray(u_trgt, float))
            new_P[k] = u + dt * (du + noise.get(("P", k), 0.0))
        for k in range(1, N):
            u = self.uI[k]
            du = -p["g_lk"] * u + p["g_D"] * (vI[k] - u) + p["g_som"] * (self.uP[k + 1] - u)
            new_I[k] = u + dt * (du + noise.get(("I", k), 0.0))
        self.uP, self.uI = new_P, new_I
        return {"vB": vB, "vA": vA, "vI": vI, "uP": dict(new_P), "uI": dict(new_I)}

    def teaching(self, u, u_trgt):
        """i^P_N (spec §2.4): current form, or the conductance form with E_exc, E_inh."""
        p = self.p
        if p.get("nudge", "current") == "current":
            return p["g_som"] * (u_trgt - u)
        span = p["E_exc"] - p["E_inh"]
        g_exc = p["g_som"] * (u_trgt - p["E_inh"]) / span
        g_inh = -p["g_som"] * (u_trgt - p["E_exc"]) / span
        return g_exc * (p["E_exc"] - u) + g_inh * (p["E_inh"] - u)

    # ------------------------------------------------------------------ sweep (spec §5.2)
    def sweep(self, x, u_trgt=None):
        """Both passes for one image; returns potentials and the E of every rule (no weight change)."""
        p, N = self.p, self.N
        literal = p.get("sweep_literal", False)
        rff = {0: np.asarray(x, float)}
        uff, uIff, vB = {}, {}, {}
        for k in range(1, N + 1):
            vB[k] = self.W["ff"][k - 1] @ rff[k - 1] + self.b[k - 1]
            if literal and k < N:
                uff[k] = p["g_B"] / (p["g_lk"] + p["g_B"]) * vB[k]
            else:
                uff[k] = self.alpha(k) * vB[k]
            rff[k] = self.phi(uff[k])
        for k in range(1, N):
            uIff[k] = self.delta_I * (self.W["ip"][k - 1] @ rff[k] + self.b_I[k - 1])
        u, uI, vA = {}, {}, {}
        lamN = self.lam(N)
        u[N] = uff[N] if u_trgt is None else (1 - lamN) * uff[N] + lamN * np.asarray(u_trgt, float)
        for k in range(N - 1, 0, -1):
            uI[k] = (1 - self.lam_I) * uIff[k] + self.lam_I * u[k + 1]
            vA[k] = self.W["td"][k - 1] @ self.phi(u[k + 1]) + self.W["pi"][k - 1] @ self.phi(uI[k])
            if literal:
                u[k] = (1 - self.lam(k)) * uff[k] + self.lam(k) * vA[k]
            else:
                u[k] = uff[k] + self.lam(k) * vA[k]
        bracket = {}
        for k in range(1, N + 1):
            if literal and k < N:
                bracket[k] = self.phi(u[k]) - self.phi(self.alpha(k) * vB[k])
            else:
                bracket[k] = self.phi(u[k]) - self.phi(uff[k])
        bracket_I = {k: self.phi(uI[k]) - self.phi(uIff[k]) for k in range(1, N)}
        E = {
            "ff": [np.outer(bracket[k], rff[k - 1]) for k in range(1, N + 1)],
            "ip": [np.outer(bracket_I[k], rff[k]) for k in range(1, N)],
            "pi": [np.outer(-vA[k], self.phi(uI[k])) for k in range(1, N)],
            "td": [
                np.outer(self.phi(u[k]) - self.phi(self.W["td"][k - 1] @ self.phi(u[k + 1])), self.phi(u[k + 1]))
                for k in range(1, N)
            ],
            "b": [bracket[k] for k in range(1, N + 1)],
            "b_I": [bracket_I[k] for k in range(1, N)],
        }
        return {"u": u, "uff": uff, "uI": uI, "uIff": uIff, "vA": vA, "vB": vB, "E": E}

    def sweep_learn(self, x, u_trgt=None):
        """Sweep one image and, at the end of a minibatch, add eta times the mean E to every learning weight."""
        result = self.sweep(x, u_trgt)
        self.pending.append(result["E"])
        if len(self.pending) == self.p["minibatch"]:
            B = len(self.pending)
            for key in MATRICES:
                for k in range(1, len(self.W[key]) + 1):
                    if self.eta(key, k):
                        mean = sum(E[key][k - 1] for E in self.pending) / B
                        self.W[key][k - 1] = self.W[key][k - 1] + self.eta(key, k) * mean
            if self.p["biases"]:
                for k in range(1, self.N + 1):
                    if self.eta("ff", k):
                        self.b[k - 1] = self.b[k - 1] + self.eta("ff", k) * sum(E["b"][k - 1] for E in self.pending) / B
                for k in range(1, self.N):
                    if self.eta("ip", k):
                        self.b_I[k - 1] = (
                            self.b_I[k - 1] + self.eta("ip", k) * sum(E["b_I"][k - 1] for E in self.pending) / B
                        )
            self.pending = []
        return result
