"""The Brian network and the NumPy oracle side by side, fed the same weights and spike counts.

:class:`SideBySide` draws initial weights, images, labels, phase lengths and every layer's spike counts
once, gives them to both implementations, and after each call (a training run or a test run, i.e. one
chunk of the Brian network: the state is carried between calls, spec §2) compares at every step the
basal, apical and somatic potentials, then the read-outs and all weights and biases. Only the package's
public API is used: ``initial_weights``, ``SegregatedDendriteNetwork(replay=True)``, ``Simulator.present``
(``replay=`` spike counts, ``record=True``), ``get_weights`` and the recorders of
:mod:`brian_segdend.monitoring` (which, unlike a ``StateMonitor``, also read back after every rerun of a
``cpp_standalone`` binary).
"""

import numpy as np
from oracle import PARAM_KEYS, OracleNetwork, draw_plateau_offsets

from brian_segdend import SegregatedDendriteNetwork, Simulator, initial_weights
from brian_segdend.monitoring import record, traces

RTOL, ATOL = 1e-9, 1e-12
#: two training runs (two chunks: the state carries over), a test run, a training run after it
SEQUENCE = (("train", 2), ("train", 1), ("test", 2), ("train", 1))
#: one example per training run (feedback drawn inside the network is copied to the oracle after each)
ONE_BY_ONE = (("train", 1), ("train", 1), ("test", 2), ("train", 1))
MAX_EXTRA_STEPS = 2  # random part of the phase lengths drawn here


def oracle_params(cfg):
    """The oracle's parameters from a :class:`~brian_segdend.ModelConfig`."""
    values = {**cfg.to_dict(), "n_outputs": cfg.n_outputs}
    return {k: values[k] for k in PARAM_KEYS}


class SideBySide:
    """One Brian network and one oracle, run through the same calls.

    Parameters
    ----------
    cfg : ModelConfig
    seed : int
        Seeds everything drawn here (weights, examples, phase lengths, spike counts, plateau offsets).
    capacity : int
        Most examples per call.
    copy_feedback : bool
        Copy the network's feedback weights into the oracle before the first and after every training run
        (noisy symmetric feedback draws its noise inside the network; use runs of one example).
    skip_first_steps : int
        Compare the apical potential only from this step of each example on (options that re-weight
        spikes still in memory approximately; see README).
    rtol, atol : float
        Tolerances of every comparison (single precision needs wider ones).
    """

    def __init__(self, cfg, seed=0, capacity=2, copy_feedback=False, skip_first_steps=0, rtol=RTOL, atol=ATOL):
        self.cfg = cfg
        self.rtol, self.atol = rtol, atol
        self.rng = np.random.default_rng(seed)
        self.noise = np.random.default_rng([seed, 1])  # the oracle's own symmetric noise (replaced when copied)
        self.weights = initial_weights(cfg, self.rng)
        self.oracle = OracleNetwork(
            oracle_params(cfg),
            self.weights["W"],
            self.weights["b"],
            self.weights["Y"],
            self.weights["c"],
            self.weights.get("sparse_masks"),
        )
        longest = max(cfg.forward_steps + cfg.target_steps + 2 * MAX_EXTRA_STEPS, cfg.test_steps)
        self.net = SegregatedDendriteNetwork(
            cfg, weights=self.weights, capacity=capacity, replay=True, replay_steps=capacity * longest
        )
        self.recorders = {}
        for layer in self.net.layers[1:]:
            names = ["d", "u"] + (["a"] if layer in self.net.hidden else [])
            self.recorders[layer.name] = record(self.net, layer.name, names)
        self.sim = Simulator(self.net)
        self.copy_feedback = copy_feedback
        self.skip_first_steps = skip_first_steps
        self._seen = 0  # monitor rows already compared (runtime targets keep them across runs)
        #: largest |a - a_oracle| / max |a_oracle| in the steps left out by ``skip_first_steps``
        self.skipped_deviation = 0.0
        if copy_feedback:
            self.oracle.Y = [y.copy() for y in self.sim.get_weights()["Y"]]

    # ------------------------------------------------------------------ calls
    def run(self, sequence=SEQUENCE):
        """Run every ``(kind, n)`` call of ``sequence`` and compare after each one."""
        for k, (kind, n) in enumerate(sequence):
            getattr(self, kind)(n, where=f"call {k} ({kind} {n})")

    def train(self, n, where="train"):
        cfg, rng = self.cfg, self.rng
        X, labels = rng.uniform(0, 1, (n, cfg.n_inputs)), rng.integers(0, 10, n)
        T_f = cfg.forward_steps + rng.integers(0, MAX_EXTRA_STEPS + 1, n)
        T_t = cfg.target_steps + rng.integers(0, MAX_EXTRA_STEPS + 1, n)
        counts = self._counts(int(np.sum(T_f + T_t)))
        offsets = self._plateau_offsets(n)
        results, start = [], 0
        for k in range(n):
            rows = slice(start, start + T_f[k] + T_t[k])
            extra = (
                {} if offsets is None else {"plateau_offsets": ([o[k] for o in offsets[0]], [o[k] for o in offsets[1]])}
            )
            spikes = {layer: c[rows] for layer, c in counts.items()}
            results.append(
                self.oracle.train_example(X[k], labels[k], T_f[k], T_t[k], spikes=spikes, rng=self.noise, **extra)
            )
            start = rows.stop
        extra = {} if offsets is None else {"plateau_offsets": offsets}
        out = self.sim.present(
            X, labels, learn=True, forward_lengths=T_f, target_lengths=T_t, replay=counts, record=True, **extra
        )
        starts = np.cumsum(np.concatenate([[0], T_f + T_t]))[:-1]
        self._compare_traces(results, starts, where)
        want = np.array([r["u_f_mean"][-1] for r in results])
        np.testing.assert_allclose(out, want, rtol=self.rtol, atol=self.atol, err_msg=f"{where}: read-out")
        self._compare_weights(where)
        if self.copy_feedback:
            self.oracle.Y = [y.copy() for y in self.sim.get_weights()["Y"]]
        return results, out

    def test(self, n, where="test"):
        cfg, rng = self.cfg, self.rng
        X, labels = rng.uniform(0, 1, (n, cfg.n_inputs)), rng.integers(0, 10, n)
        counts = self._counts(n * cfg.test_steps)
        rows = [slice(k * cfg.test_steps, (k + 1) * cfg.test_steps) for k in range(n)]
        results = self.oracle.test_run(X, cfg.test_steps, spikes=[{l: c[r] for l, c in counts.items()} for r in rows])
        out = self.sim.present(X, labels, learn=False, replay=counts, record=True)
        self._compare_traces(results, [r.start for r in rows], where)
        want = np.array([r["u_out_mean"] for r in results])
        np.testing.assert_allclose(out, want, rtol=self.rtol, atol=self.atol, err_msg=f"{where}: read-out")
        predicted = self.sim.predict(out)
        np.testing.assert_array_equal(predicted, [r["prediction"] for r in results], err_msg=f"{where}: classes")
        self._compare_weights(where)  # testing changes no weight
        return results, out

    # ------------------------------------------------------------------ draws
    def _counts(self, steps):
        """Spike counts of every layer (input 0 .. output L+1), ``(steps, n)`` each."""
        sizes = self.cfg.layer_sizes
        return {l: self.rng.poisson(0.3 if l == 0 else 0.15, (steps, n)) for l, n in enumerate(sizes)}

    def _plateau_offsets(self, n):
        """``(forward, target)``: per hidden layer, offsets of shape ``(n, n_l)`` (random plateau times)."""
        if not self.cfg.random_plateau_times:
            return None
        return tuple(
            [np.array([draw_plateau_offsets(size, self.rng) for _ in range(n)]) for size in self.cfg.n_hidden]
            for _phase in range(2)
        )

    # ------------------------------------------------------------------ comparisons
    def _new_rows(self, recorder, var):
        """``(steps, neurons)`` of this call (a standalone binary's monitors hold only its last run)."""
        values = traces(recorder, var)[1].T
        return values if self.sim.standalone else values[self._seen :]

    def _compare_traces(self, results, starts, where):
        names = [layer.name for layer in self.net.layers[1:]]
        steps = 0
        for i, name in enumerate(names):
            for var in ("d", "u", "a"):
                if var == "a" and i == len(names) - 1:
                    continue
                want = np.concatenate([r[var][i] for r in results])
                got = self._new_rows(self.recorders[name], var)
                assert got.shape == want.shape, f"{where}: {name}.{var} has shape {got.shape}, expected {want.shape}"
                steps = len(want)
                keep = np.ones(len(want), bool)
                if var == "a" and self.skip_first_steps:
                    for start in starts:
                        keep[start : start + self.skip_first_steps] = False
                    if not keep.all():
                        deviation = np.abs(got[~keep] - want[~keep]).max() / np.abs(want).max()
                        self.skipped_deviation = max(self.skipped_deviation, float(deviation))
                np.testing.assert_allclose(
                    got[keep], want[keep], rtol=self.rtol, atol=self.atol, err_msg=f"{where}: {name}.{var}"
                )
        self._seen += steps

    def _compare_weights(self, where):
        got, oracle = self.sim.get_weights(), self.oracle
        c = oracle.c if oracle.c is not None else [np.zeros(n) for n in self.cfg.n_hidden]
        compared = (("W", oracle.W), ("b", oracle.b), ("c", c)) + ((("Y", oracle.Y),) if not self.copy_feedback else ())
        for key, want in compared:
            assert len(got[key]) == len(want), f"{where}: {key}"
            for k, (g, w) in enumerate(zip(got[key], want)):
                np.testing.assert_allclose(g, w, rtol=self.rtol, atol=self.atol, err_msg=f"{where}: {key}[{k}]")
