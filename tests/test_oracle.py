"""Self-checks of the NumPy oracle (tests/oracle.py) against the spec.

Expected values are hand-computed from the formulas of
``/work/shared/spec/segregated-dendrites.md`` (literal numbers where the
arithmetic is short, explicit formula chains otherwise), never from the
oracle's own code paths.
"""

import numpy as np
import oracle
import pytest
from oracle import OracleNetwork, init_statistics, kernel, sigma

pytestmark = pytest.mark.codegen_independent

LAM = 0.2  # lambda_max per ms
GL, GB, GA = 0.1, 0.6, 0.05  # 1/tau_L, g_B, g_A


def sig_prime(x):
    s = 1.0 / (1.0 + np.exp(-x))
    return s * (1.0 - s)


def make_params(**overrides):
    """REF-NS-like parameters (everything non-spiking, conductances off)."""
    params = dict(
        n_inputs=3,
        n_hidden=(2,),
        n_outputs=10,
        units_per_class=1,
        dt=1.0,
        spike_memory=1,
        window_steps=1,
        test_window_steps=1,
        lambda_max=LAM,
        tau_s=3.0,
        tau_L=10.0,
        g_B=GB,
        g_A=GA,
        E_E=8.0,
        E_I=-8.0,
        conductances=False,
        broadcast=True,
        spiking_feedback=False,
        spiking_feedforward=False,
        symmetric_weights=False,
        noisy_symmetric_weights=False,
        sparse_feedback=False,
        update_feedback_weights=False,
        apical_conductance=False,
        feedback_bias=False,
        learning_rates=(0.21, 0.21),
        feedback_learning_rates=(0.0,),
        kernel="truncated",
        sparse_feedback_rescale_each_example=False,
        backprop=False,
        random_plateau_times=False,
    )
    params.update(overrides)
    return params


def random_weights(sizes, broadcast=True, seed=1):
    """Uniform random W, b, Y for layer sizes (n_0, ..., n_{L+1})."""
    rng = np.random.default_rng(seed)
    L = len(sizes) - 2
    W = [rng.uniform(-1, 1, (sizes[l], sizes[l - 1])) for l in range(1, L + 2)]
    b = [rng.uniform(-1, 1, sizes[l]) for l in range(1, L + 2)]
    Y = [rng.uniform(-1, 1, (sizes[l], sizes[-1] if broadcast else sizes[l + 1])) for l in range(1, L + 1)]
    return W, b, Y


# ---------------------------------------------------------------- section 2


def test_kernel_values_and_sums():
    k = kernel(10, 3.0, 10.0)
    expected = [0.0269, 0.0436, 0.0533, 0.0581, 0.0597, 0.0591, 0.0571, 0.0543, 0.0510, 0.0475]
    np.testing.assert_allclose(k, expected, atol=5e-5)
    assert k.sum() == pytest.approx(0.510, abs=5e-4)
    # untruncated sum = (1/(e^0.1 - 1) - 1/(e^(1/3) - 1)) / 7 = 0.99723
    assert kernel(2000, 3.0, 10.0).sum() == pytest.approx(0.99723, abs=1e-5)
    assert kernel(1, 3.0, 10.0)[0] == pytest.approx((np.exp(-0.1) - np.exp(-1 / 3)) / 7)


def test_sigma():
    assert sigma(0.0) == pytest.approx(0.5)
    assert sigma(np.log(3.0)) == pytest.approx(0.75)


# ---------------------------------------------------------------- section 6


def test_init_statistics_check_values():
    W_mean, W_sd = init_statistics(784, 0.2)
    assert W_mean == pytest.approx(0.018707, abs=1e-6)
    assert W_sd == pytest.approx(0.5049, abs=1e-4)
    W_mean, W_sd = init_statistics(500, 0.2)
    assert W_mean == pytest.approx(0.029333, abs=1e-6)
    assert W_sd == pytest.approx(0.6321, abs=1e-4)


# ---------------------------------------------------------------- section 3


def test_gains_and_learning_constants():
    W, b, Y = random_weights((3, 2, 10))
    net = OracleNetwork(make_params(), W, b, Y)
    assert net.kB == pytest.approx(0.857142857)
    assert net.kD == pytest.approx(0.857142857)
    assert net.P_hid == pytest.approx(100.0)
    assert net.P_out == pytest.approx(500.0)
    net_a = OracleNetwork(make_params(apical_conductance=True), W, b, Y)
    assert net_a.kB == pytest.approx(0.8)
    assert net_a.kD == pytest.approx(0.857142857)
    # dt scales the per-step rate but not P (LANGE mapping)
    net_dt = OracleNetwork(make_params(dt=0.5), W, b, Y)
    assert net_dt.lambda_step == pytest.approx(0.1)
    assert net_dt.P_hid == pytest.approx(100.0)
    assert net_dt.P_out == pytest.approx(500.0)
    # conductances off: u = kB d (hidden), u = kD d (output, forward)
    res = net_a.test_example(np.array([0.1, 0.5, 1.0]), 3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res["u"][0], 0.8 * res["d"][0])
    np.testing.assert_allclose(res["u"][1], (0.6 / 0.7) * res["d"][1])


# ------------------------------------------------- section 4: worked case


def test_worked_case_two_step_phases_broadcast():
    """T_f = T_t = 2, K = 1, conductances off, 3-2-10, everything by hand."""
    W, b, Y = random_weights((3, 2, 10), seed=3)
    net = OracleNetwork(make_params(), W, b, Y)
    x = np.array([0.2, 0.9, 0.5])
    res = net.train_example(x, 3, 2, 2, rng=np.random.default_rng(0))

    lam, kB, kD = 0.2, 0.6 / 0.7, 0.6 / 0.7
    (W1, W2), (b1, b2), (Y1,) = W, b, Y
    p1 = lam * x
    u1 = kB * (W1 @ p1 + b1)
    r1 = lam * sigma(u1)
    d2 = W2 @ r1 + b2
    u2f = kD * d2
    r2f = lam * sigma(u2f)
    gE = np.zeros(10)
    gE[3] = 1.0
    u2t = (0.6 * d2 + gE * 8.0 + (1 - gE) * -8.0) / (0.1 + 0.6 + 1.0)
    r2t = lam * sigma(u2t)

    # traces: feedforward is instantaneous, feedback lags by one step
    np.testing.assert_allclose(res["p"][0], np.tile(p1, (4, 1)))
    np.testing.assert_allclose(res["u"][0], np.tile(u1, (4, 1)))
    np.testing.assert_allclose(res["p"][1], np.tile(r1, (4, 1)))
    np.testing.assert_allclose(res["u"][1], [u2f, u2f, u2t, u2t])
    np.testing.assert_allclose(res["q"][0], [np.zeros(10), r2f, r2f, r2t])
    np.testing.assert_allclose(res["a"][0], [np.zeros(2), Y1 @ r2f, Y1 @ r2f, Y1 @ r2t])

    alpha_f = sigma(Y1 @ r2f)
    alpha_t = sigma(Y1 @ r2t)
    np.testing.assert_allclose(res["alpha_f"][0], alpha_f)
    np.testing.assert_allclose(res["alpha_t"][0], alpha_t)
    np.testing.assert_allclose(res["r_t_mean"], r2t)
    np.testing.assert_allclose(res["u_f_mean"][1], u2f)

    e2 = kD * lam * sig_prime(u2f) * (r2t - r2f)
    e1 = kB * lam * sig_prime(u1) * (alpha_t - alpha_f)
    np.testing.assert_allclose(res["e"][1], e2)
    np.testing.assert_allclose(res["e"][0], e1)
    np.testing.assert_allclose(net.W[1], W2 + 0.21 * 500 * np.outer(e2, r1))
    np.testing.assert_allclose(net.b[1], b2 + 0.21 * 500 * e2)
    np.testing.assert_allclose(net.W[0], W1 + 0.21 * 100 * np.outer(e1, p1))
    np.testing.assert_allclose(net.b[0], b1 + 0.21 * 100 * e1)
    np.testing.assert_allclose(net.Y[0], Y1)  # no feedback learning
    assert res["loss"] == pytest.approx(np.mean((r2t - r2f) ** 2))
    # the caller's arrays were copied, not modified
    np.testing.assert_allclose(W[0], W1)
    assert not np.allclose(net.W[0], W[0])

    # Second example: no reset, so the first forward step's feedback is the
    # output rate of the previous example's last target step.
    res2 = net.train_example(x, 7, 2, 2, rng=np.random.default_rng(1))
    np.testing.assert_allclose(res2["q"][0][0], r2t)
    np.testing.assert_allclose(res2["a"][0][0], Y1 @ r2t)
    W1_new = W1 + 0.21 * 100 * np.outer(e1, p1)
    b1_new = b1 + 0.21 * 100 * e1
    np.testing.assert_allclose(res2["u"][0][0], kB * (W1_new @ p1 + b1_new))


def test_nonbroadcast_lower_layer_apical_unchanged_between_phases():
    """Spec 3, consequence: no conductances, non-broadcast, 2 hidden layers ->
    the apical input of layer 1 is identical in both phases (no spiking noise),
    so e_1 = 0 and W_1 does not move."""
    W, b, Y = random_weights((3, 2, 2, 10), broadcast=False, seed=5)
    params = make_params(
        n_hidden=(2, 2), broadcast=False, learning_rates=(0.2, 0.2, 0.2), feedback_learning_rates=(0.0, 0.0)
    )
    net = OracleNetwork(params, W, b, Y)
    res = net.train_example(np.array([1.0, 0.0, 0.5]), 4, 2, 2, rng=np.random.default_rng(0))
    # q_1 = r_2(t-1), q_2 = r_out(t-1)
    np.testing.assert_allclose(res["q"][0][1:], res["r"][1][:-1])
    np.testing.assert_allclose(res["q"][1][1:], res["r"][2][:-1])
    np.testing.assert_allclose(res["q"][0][0], np.zeros(2))
    np.testing.assert_allclose(res["alpha_t"][0], res["alpha_f"][0])
    np.testing.assert_allclose(res["e"][0], np.zeros(2))
    np.testing.assert_allclose(net.W[0], W[0])
    np.testing.assert_allclose(net.b[0], b[0])
    assert np.all(np.abs(res["e"][1]) > 0)


# ------------------------------------------ section 3: soma, conductances on


def _one_unit_net(**overrides):
    """1 input -> 1 hidden -> 10 outputs with simple numbers (dt = 0.5 ms)."""
    params = make_params(n_inputs=1, n_hidden=(1,), dt=0.5, conductances=True, **overrides)
    W = [np.array([[2.0]]), np.zeros((10, 1))]
    b = [np.array([0.5]), np.ones(10)]
    Y = [np.full((1, 10), 0.5)]
    c = [np.array([0.4])] if params["feedback_bias"] else None
    return OracleNetwork(params, W, b, Y, c=c)


def test_hidden_soma_euler_step_with_apical_conductance():
    # lambda_step = 0.1, p = 0.1, d = 2*0.1 + 0.5 = 0.7; output d = 1
    net = _one_unit_net(apical_conductance=True, feedback_bias=True)
    res = net.test_example(np.array([1.0]), 2, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res["d"][0][:, 0], [0.7, 0.7])
    # step 1: a = c = 0.4; u = 0.5*(0.6*0.7 + 0.05*0.4) = 0.22
    assert res["a"][0][0, 0] == pytest.approx(0.4)
    assert res["u"][0][0, 0] == pytest.approx(0.22)
    # output step 1: u = 0.5*0.6*1 = 0.3; step 2: a = 0.5*10*0.1*sigma(0.3) + 0.4
    assert res["u"][1][0, 0] == pytest.approx(0.3)
    assert res["a"][0][1, 0] == pytest.approx(0.6872212584)
    # u2 = 0.22 + 0.5*(-0.1*0.22 + 0.6*(0.7-0.22) + 0.05*(a2-0.22))
    assert res["u"][0][1, 0] == pytest.approx(0.3646805315)
    assert res["r"][0][1, 0] == pytest.approx(0.1 * sigma(0.3646805315))


def test_hidden_soma_euler_step_without_apical_conductance():
    net = _one_unit_net(apical_conductance=False, feedback_bias=True)
    res = net.test_example(np.array([1.0]), 2, rng=np.random.default_rng(0))
    # u1 = 0.5*0.6*0.7 = 0.21; u2 = 0.21 + 0.5*(-0.021 + 0.6*0.49) = 0.3465
    np.testing.assert_allclose(res["u"][0][:, 0], [0.21, 0.3465])
    assert res["a"][0][1, 0] == pytest.approx(0.6872212584)  # computed, unused


def test_output_euler_step_in_target_phase():
    net = _one_unit_net()
    res = net.train_example(np.array([1.0]), 2, 1, 1, rng=np.random.default_rng(0))
    u_out = res["u"][1]
    np.testing.assert_allclose(u_out[0], np.full(10, 0.3))  # forward, no teaching
    # target: I uses u(t-1) = 0.3;
    # target unit 0.3 + 0.5*(-0.03 + 0.42 + (8 - 0.3)) = 4.345
    # other units 0.3 + 0.5*(-0.03 + 0.42 + (-8 - 0.3)) = -3.655
    expected = np.full(10, -3.655)
    expected[2] = 4.345
    np.testing.assert_allclose(u_out[1], expected)


def test_output_converges_to_teaching_steady_state_with_conductances():
    net = _one_unit_net()
    res = net.train_example(np.array([1.0]), 2, 1, 200, rng=np.random.default_rng(0))
    expected = np.full(10, (0.6 - 8.0) / 1.7)
    expected[2] = (0.6 + 8.0) / 1.7
    np.testing.assert_allclose(res["u"][1][-1], expected, atol=1e-9)


def test_output_target_steady_state_without_conductances():
    # units_per_class = 2: class k <-> units 2k, 2k+1; W_out = 0, b_out = 1 -> d = 1
    params = make_params(n_outputs=20, units_per_class=2)
    W, b, Y = random_weights((3, 2, 20))
    W[1] = np.zeros((20, 2))
    b[1] = np.ones(20)
    net = OracleNetwork(params, W, b, Y)
    res = net.train_example(np.array([0.3, 0.3, 0.3]), 4, 2, 2, rng=np.random.default_rng(0))
    u = res["u"][1]
    np.testing.assert_allclose(u[:2], 0.857142857, rtol=1e-8)  # forward: kD * d
    expected = np.full(20, -4.352941176)  # (0.6 - 8) / 1.7
    expected[8:10] = 5.058823529  # (0.6 + 8) / 1.7
    np.testing.assert_allclose(u[2], expected, rtol=1e-8)
    np.testing.assert_allclose(u[3], expected, rtol=1e-8)


# ---------------------------------------------------------------- section 5


def test_single_output_layer_update_by_hand():
    """L = 0, W = 0, b = 0, x = (1, 0.5), eta = 0.1.

    u^f = 0 -> sigma = 0.5, sigma' = 0.25; target unit u^t = 8/1.7,
    r^t = 0.2*sigma(4.70588) = 0.1982078; e = (0.6/0.7)*0.2*0.25*(r^t - 0.1)
    = 0.0042089; dW = 0.1*500*e*(0.2, 0.1); other units: e = -0.0042089.
    """
    params = make_params(n_inputs=2, n_hidden=(), learning_rates=(0.1,), feedback_learning_rates=())
    net = OracleNetwork(params, [np.zeros((10, 2))], [np.zeros(10)], [])
    res = net.train_example(np.array([1.0, 0.5]), 6, 2, 2, rng=np.random.default_rng(0))
    e = np.full(10, -0.0042089065)
    e[6] = 0.0042089065
    np.testing.assert_allclose(res["e"][0], e, rtol=1e-7)
    np.testing.assert_allclose(res["r_t_mean"][6], 0.1982078183, rtol=1e-9)
    np.testing.assert_allclose(res["r_t_mean"][0], 0.0017921817, rtol=1e-7)
    dW = np.tile([-0.0420890650, -0.0210445325], (10, 1))
    dW[6] *= -1
    np.testing.assert_allclose(net.W[0], dW, rtol=1e-7)
    np.testing.assert_allclose(net.b[0], 50 * e, rtol=1e-7)  # 0.1*500*e = 0.2104453
    assert res["loss"] == pytest.approx(0.0982078183**2, rel=1e-8)  # |r^t - 0.1| equal for all
    assert res["prediction"] == 0  # all u^f equal -> first index


def test_feedback_learning_and_feedback_bias():
    W, b, Y = random_weights((3, 2, 10), seed=7)
    params = make_params(update_feedback_weights=True, feedback_bias=True, feedback_learning_rates=(0.3,))
    c = [np.array([0.1, -0.2])]
    net = OracleNetwork(params, W, b, Y, c=c)
    res = net.train_example(np.array([0.4, 0.1, 0.8]), 1, 2, 2, rng=np.random.default_rng(0))
    lam = 0.2
    a_f = res["a"][0][1]  # K = 1: forward window = step 2
    u_f = res["u"][0][1]
    q_f = res["q"][0][1]
    np.testing.assert_allclose(a_f, Y[0] @ q_f + c[0])
    e_Y = sig_prime(a_f) * (lam * sigma(u_f) - sigma(a_f))
    np.testing.assert_allclose(res["e_Y"][0], e_Y)
    np.testing.assert_allclose(net.Y[0], Y[0] + 0.3 * np.outer(e_Y, q_f))  # no P factor
    np.testing.assert_allclose(net.c[0], c[0] + 0.3 * e_Y)
    assert np.abs(net.Y[0] - Y[0]).max() > 0


def test_sparse_feedback_fixed_and_quirk():
    W, b, Y = random_weights((3, 2, 10), seed=9)
    mask = np.zeros((2, 10), dtype=bool)
    mask[:, :8] = True  # 16 of 20 entries = floor(0.8 * 20)
    Y0 = [np.where(mask, 0.0, Y[0])]
    x = np.array([0.4, 0.1, 0.8])
    results = {}
    for quirk in (False, True):
        params = make_params(
            update_feedback_weights=True,
            sparse_feedback=True,
            feedback_learning_rates=(0.3,),
            sparse_feedback_rescale_each_example=quirk,
        )
        net = OracleNetwork(params, W, b, Y0, sparse_masks=[mask])
        res = net.train_example(x, 1, 2, 2, rng=np.random.default_rng(0))
        learned = Y0[0] + 0.3 * np.outer(res["e_Y"][0], res["q_f_mean"][0])
        results[quirk] = (net.Y[0], learned)
    Y_fixed, learned = results[False]
    np.testing.assert_array_equal(Y_fixed[mask], 0.0)
    np.testing.assert_allclose(Y_fixed[~mask], learned[~mask])  # no x5
    Y_quirk, learned = results[True]
    np.testing.assert_array_equal(Y_quirk[mask], 0.0)
    np.testing.assert_allclose(Y_quirk[~mask], 5 * learned[~mask])  # REF x5 growth


def test_symmetric_sparse_feedback_is_rebuilt_then_scaled():
    W, b, Y = random_weights((3, 2, 10), seed=11)
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, :] = True
    mask[1, :6] = True
    params = make_params(symmetric_weights=True, sparse_feedback=True)
    net = OracleNetwork(params, W, b, Y, sparse_masks=[mask])
    net.train_example(np.array([0.4, 0.1, 0.8]), 5, 2, 2, rng=np.random.default_rng(0))
    expected = np.where(mask, 0.0, 5 * net.W[1].T)
    np.testing.assert_allclose(net.Y[0], expected)


def test_symmetric_weights_broadcast_and_not():
    sizes = (3, 4, 3, 10)
    x = np.array([0.4, 0.1, 0.8])
    W, b, Y = random_weights(sizes, broadcast=True, seed=13)
    params = make_params(
        n_hidden=(4, 3), symmetric_weights=True, learning_rates=(0.1, 0.1, 0.1), feedback_learning_rates=(0.0, 0.0)
    )
    net = OracleNetwork(params, W, b, Y)
    net.train_example(x, 2, 2, 2, rng=np.random.default_rng(0))
    assert not np.allclose(net.W[2], W[2])
    np.testing.assert_allclose(net.Y[1], net.W[2].T)
    np.testing.assert_allclose(net.Y[0], net.W[1].T @ net.W[2].T)

    W, b, Y = random_weights(sizes, broadcast=False, seed=13)
    net = OracleNetwork(dict(params, broadcast=False), W, b, Y)
    net.train_example(x, 2, 2, 2, rng=np.random.default_rng(0))
    np.testing.assert_allclose(net.Y[1], net.W[2].T)
    np.testing.assert_allclose(net.Y[0], net.W[1].T)


def test_noisy_symmetric_weights():
    sizes = (3, 4, 3, 10)
    x = np.array([0.4, 0.1, 0.8])
    params = make_params(
        n_hidden=(4, 3),
        symmetric_weights=True,
        noisy_symmetric_weights=True,
        learning_rates=(0.1, 0.1, 0.1),
        feedback_learning_rates=(0.0, 0.0),
    )
    # non-broadcast QUIRK: one scalar per layer added to every entry
    W, b, Y = random_weights(sizes, broadcast=False, seed=17)
    net = OracleNetwork(dict(params, broadcast=False), W, b, Y)
    net.train_example(x, 2, 2, 2, rng=np.random.default_rng(0))
    for i in (0, 1):
        diff = net.Y[i] - net.W[i + 1].T
        np.testing.assert_allclose(diff, diff.flat[0])
        assert 0 < abs(diff.flat[0]) < 0.3
    # broadcast: an i.i.d. matrix per factor
    W, b, Y = random_weights(sizes, broadcast=True, seed=17)
    net = OracleNetwork(params, W, b, Y)
    net.train_example(x, 2, 2, 2, rng=np.random.default_rng(0))
    noise = net.Y[1] - net.W[2].T
    assert noise.std() > 1e-3 and np.abs(noise).max() < 0.3
    noise1 = np.linalg.lstsq(net.Y[1].T, net.Y[0].T, rcond=None)[0].T - net.W[1].T
    assert noise1.std() > 1e-3 and np.abs(noise1).max() < 0.3


# ------------------------------------------------- section 2: spiking paths


def _spiking_net(kernel_name, seed=19):
    params = make_params(
        n_inputs=4,
        n_hidden=(3,),
        spike_memory=3,
        window_steps=2,
        spiking_feedforward=True,
        spiking_feedback=True,
        kernel=kernel_name,
    )
    W, b, Y = random_weights((4, 3, 10), seed=seed)
    return OracleNetwork(params, W, b, Y), W, b, Y


def _counts(seed, n_steps):
    rng = np.random.default_rng(seed)
    return {
        0: rng.integers(0, 3, (n_steps, 4)),
        1: rng.integers(0, 2, (n_steps, 3)),
        2: rng.integers(0, 2, (n_steps, 10)),
    }


def _fir(counts, t, lags, kappa_fn, lag0=0):
    """sum_{k=1..lags} kappa(k) S(t - lag0 - k + 1), zero before step 0."""
    total = np.zeros(counts.shape[1])
    for k in range(1, lags + 1):
        s = t - lag0 - k + 1
        if s >= 0:
            total += kappa_fn(k) * counts[s]
    return total


def _kappa(k):
    return (np.exp(-k / 10.0) - np.exp(-k / 3.0)) / 7.0


@pytest.mark.parametrize("kernel_name", ["truncated", "untruncated"])
def test_spiking_filtering_feedback_lag_and_windows(kernel_name):
    net, W, b, Y = _spiking_net(kernel_name)
    T_f, T_t = 4, 3
    S = _counts(23, T_f + T_t)
    res = net.train_example(np.full(4, 0.5), 1, T_f, T_t, spikes=S)  # no rng needed
    for layer in (0, 1, 2):
        np.testing.assert_array_equal(res["spikes"][layer], S[layer])
    for t in range(T_f + T_t):
        lags = 3 if kernel_name == "truncated" else t + 1
        p1 = _fir(S[0], t, lags, _kappa)  # newest count at kappa(1)
        p2 = _fir(S[1], t, lags, _kappa)  # same-step hidden spikes
        q1 = _fir(S[2], t, lags, _kappa, lag0=1)  # output as of t-1
        np.testing.assert_allclose(res["p"][0][t], p1)
        np.testing.assert_allclose(res["p"][1][t], p2)
        np.testing.assert_allclose(res["q"][0][t], q1)
        np.testing.assert_allclose(res["d"][0][t], W[0] @ p1 + b[0])
        np.testing.assert_allclose(res["a"][0][t], Y[0] @ q1)
    # windows: last K = 2 steps of each phase
    np.testing.assert_allclose(res["u_f_mean"][0], res["u"][0][2:4].mean(axis=0))
    np.testing.assert_allclose(res["p_f_mean"][1], res["p"][1][2:4].mean(axis=0))
    np.testing.assert_allclose(res["a_t_mean"][0], res["a"][0][5:7].mean(axis=0))
    np.testing.assert_allclose(res["r_t_mean"], res["r"][1][5:7].mean(axis=0))
    np.testing.assert_allclose(res["alpha_f"][0], sigma(res["a"][0][2:4].mean(axis=0)))
    # the spike history is not reset between examples
    S2 = _counts(29, 4)
    res2 = net.train_example(np.full(4, 0.5), 1, 2, 2, spikes=S2)
    both = np.concatenate([S[0], S2[0]])
    lags = 3 if kernel_name == "truncated" else 8
    np.testing.assert_allclose(res2["p"][0][0], _fir(both, 7, lags, _kappa))


def test_truncated_kernel_value_by_hand():
    # a single input spike at step 0 contributes kappa(1..3) at steps 0..2, then 0
    net, W, b, Y = _spiking_net("truncated")
    S = {0: np.zeros((5, 4), dtype=int), 1: np.zeros((5, 3), dtype=int), 2: np.zeros((5, 10), dtype=int)}
    S[0][0, 2] = 1
    res = net.test_example(np.zeros(4), 5, spikes=S)
    np.testing.assert_allclose(res["p"][0][:, 2], [0.0269009, 0.0436162, 0.0532770, 0, 0], atol=1e-7)


# ---------------------------------------------------------------- section 7


def test_test_example_resets_and_predicts():
    params = make_params(n_outputs=20, units_per_class=2, test_window_steps=2)
    W, b, Y = random_weights((3, 2, 20), seed=31)
    net = OracleNetwork(params, W, b, Y)
    x = np.array([0.9, 0.2, 0.4])
    net.train_example(x, 1, 2, 2, rng=np.random.default_rng(0))  # leaves non-zero state
    fresh = OracleNetwork(params, net.W, net.b, net.Y)
    res = net.test_example(x, 3, rng=np.random.default_rng(0))
    ref = fresh.test_example(x, 3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res["u"][1], ref["u"][1])
    np.testing.assert_allclose(res["a"][0][0], np.zeros(2))  # zero feedback after reset
    u_mean = res["u"][1][1:].mean(axis=0)
    np.testing.assert_allclose(res["u_out_mean"], u_mean)
    groups = u_mean.reshape(10, 2).mean(axis=1)
    assert res["prediction"] == int(np.argmax(groups))

    # ties -> first index; the largest group wins regardless of single units
    W2 = np.zeros((20, 2))
    b2 = np.zeros(20)
    b2[[4, 5]] = 1.0  # class 2 mean 1.0
    b2[[6, 7]] = [3.0, -2.0]  # class 3 mean 0.5 (has the largest single unit)
    net = OracleNetwork(params, [W[0], W2], [b[0], b2], Y)
    res = net.test_example(x, 3, rng=np.random.default_rng(0))
    assert res["prediction"] == 2
    np.testing.assert_allclose(res["class_means"][2:4], [0.857142857, 0.428571429])
    net = OracleNetwork(params, [W[0], W2], [b[0], np.zeros(20)], Y)
    assert net.test_example(x, 3, rng=np.random.default_rng(0))["prediction"] == 0


# ------------------------------------------------------- misc / contract


def test_window_longer_than_phase_raises():
    W, b, Y = random_weights((3, 2, 10))
    net = OracleNetwork(make_params(window_steps=3), W, b, Y)
    with pytest.raises(ValueError):
        net.train_example(np.zeros(3), 0, 2, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError):
        net.train_example(np.zeros(3), 0, 5, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError):
        OracleNetwork(make_params(test_window_steps=4), W, b, Y).test_example(np.zeros(3), 3)


def test_poisson_draw_order_and_input_drawn_when_unused():
    W, b, Y = random_weights((3, 2, 10))
    net = OracleNetwork(make_params(), W, b, Y)  # spiking feedforward off
    x = np.array([1.0, 0.5, 0.0])
    res = net.test_example(x, 2, rng=np.random.default_rng(42))
    rng = np.random.default_rng(42)
    for t in range(2):
        np.testing.assert_array_equal(res["spikes"][0][t], rng.poisson(0.2 * x))
        np.testing.assert_array_equal(res["spikes"][1][t], rng.poisson(res["r"][0][t]))
        np.testing.assert_array_equal(res["spikes"][2][t], rng.poisson(res["r"][1][t]))
    np.testing.assert_array_equal(res["spikes"][0][:, 2], [0, 0])
    with pytest.raises(ValueError):
        net.test_example(x, 2)  # something must be drawn, no rng


def test_missing_parameter_and_bad_sizes_raise():
    W, b, Y = random_weights((3, 2, 10))
    params = make_params()
    del params["kernel"]
    with pytest.raises(KeyError):
        OracleNetwork(params, W, b, Y)
    with pytest.raises(ValueError):
        OracleNetwork(make_params(n_outputs=12), W, b, Y)
    assert oracle.PARAM_KEYS[0] == "n_inputs"


# ------------------------------------------- section 5: backprop and its angle


def _two_hidden_net(seed=41, **overrides):
    """3-4-3-10, REF-NS-like (T = 2, K = 1, rates), with distinct rates per layer."""
    params = make_params(
        n_hidden=(4, 3),
        learning_rates=(0.3, 0.2, 0.1),
        feedback_learning_rates=(0.0, 0.0),
        **overrides,
    )
    W, b, Y = random_weights((3, 4, 3, 10), seed=seed)
    return OracleNetwork(params, W, b, Y), W, b


def _hand_errors(res, W_new_above, e_above, i, kB=0.6 / 0.7, lam=0.2):
    """kB lambda sigma'(u_f) * W^T e of hidden layer index i (spec section 5, backprop)."""
    return kB * lam * sig_prime(res["u_f_mean"][i]) * (W_new_above.T @ e_above)


@pytest.mark.parametrize("backprop", [False, True])
def test_backprop_errors_top_down_through_updated_weights(backprop):
    """Spec §5 order: from the output down, error then updates, so e_l uses W_{l+1} after its update."""
    net, W, b = _two_hidden_net(backprop=backprop)
    x = np.array([0.7, 0.2, 0.9])
    res = net.train_example(x, 4, 2, 2, rng=np.random.default_rng(0))
    p = res["p_f_mean"]
    eta_P = [0.3 * 100, 0.2 * 100, 0.1 * 500]
    e_out = (0.6 / 0.7) * 0.2 * sig_prime(res["u_f_mean"][2]) * (res["r_t_mean"] - 0.2 * sigma(res["u_f_mean"][2]))
    W3 = W[2] + eta_P[2] * np.outer(e_out, p[2])
    plateau = [
        (0.6 / 0.7) * 0.2 * sig_prime(res["u_f_mean"][i]) * (res["alpha_t"][i] - res["alpha_f"][i]) for i in (0, 1)
    ]
    e_bp2 = _hand_errors(res, W3, e_out, 1)
    e2 = e_bp2 if backprop else plateau[1]
    W2 = W[1] + eta_P[1] * np.outer(e2, p[1])
    e_bp1 = _hand_errors(res, W2, e_bp2, 0)  # the backprop chain, through the W_2 actually learned
    e1 = e_bp1 if backprop else plateau[0]
    np.testing.assert_allclose(res["e"][2], e_out)
    np.testing.assert_allclose(res["e_bp"][1], e_bp2)
    np.testing.assert_allclose(res["e_bp"][0], e_bp1)
    np.testing.assert_allclose(res["e"][1], e2)
    np.testing.assert_allclose(res["e"][0], e1)
    np.testing.assert_allclose(net.W[2], W3)
    np.testing.assert_allclose(net.W[1], W2)
    np.testing.assert_allclose(net.W[0], W[0] + eta_P[0] * np.outer(e1, p[0]))
    np.testing.assert_allclose(net.b[0], b[0] + eta_P[0] * e1)
    # the order matters: through the old W_3 the error would differ
    assert not np.allclose(_hand_errors(res, W[2], e_out, 1), e_bp2, rtol=1e-6)
    expected_angles = [0.0, 0.0] if backprop else [oracle.angle_degrees(plateau[i], [e_bp1, e_bp2][i]) for i in (0, 1)]
    np.testing.assert_allclose(res["bp_angle"], expected_angles, atol=1e-6)


def test_angle_degrees_by_hand():
    assert oracle.angle_degrees([1.0, 0.0], [1.0, 1.0]) == pytest.approx(45.0)
    assert oracle.angle_degrees([1.0, 0.0], [-2.0, 0.0]) == pytest.approx(180.0)
    assert np.isnan(oracle.angle_degrees([0.0, 0.0], [1.0, 0.0]))


# ------------------------------------------- section 4: random plateau times


def _plateau_net(**overrides):
    params = make_params(
        n_hidden=(2,),
        conductances=True,  # the output soma evolves, so the apical potential changes every step
        window_steps=2,
        random_plateau_times=True,
        update_feedback_weights=True,
        feedback_learning_rates=(0.4,),
        **overrides,
    )
    W, b, Y = random_weights((3, 2, 10), seed=43)
    return OracleNetwork(params, W, b, Y), Y


def test_random_plateau_times_average_the_window_before_each_neurons_time():
    net, Y = _plateau_net()
    forward, target = [np.array([0, 3])], [np.array([2, 1])]
    res = net.train_example(
        np.array([0.5, 0.1, 0.9]), 2, 6, 5, rng=np.random.default_rng(0), plateau_offsets=(forward, target)
    )
    a = res["a"][0]
    # forward phase (steps 0-5), K = 2: unit 0 ends at step 5, unit 1 at step 5 - 3 = 2
    a_f = np.array([a[4:6, 0].mean(), a[1:3, 1].mean()])
    # target phase (steps 6-10): unit 0 ends at 6 + 4 - 2 = 8, unit 1 at 6 + 4 - 1 = 9
    a_t = np.array([a[7:9, 0].mean(), a[8:10, 1].mean()])
    np.testing.assert_allclose(res["a_f_mean"][0], a_f)
    np.testing.assert_allclose(res["a_t_mean"][0], a_t)
    np.testing.assert_allclose(res["alpha_f"][0], sigma(a_f))
    np.testing.assert_allclose(res["alpha_t"][0], sigma(a_t))
    assert not np.allclose(a_f, a[4:6].mean(axis=0))  # the windows did move
    # soma, basal input and feedback input stay at the phase's end
    np.testing.assert_allclose(res["u_f_mean"][0], res["u"][0][4:6].mean(axis=0))
    np.testing.assert_allclose(res["q_f_mean"][0], res["q"][0][4:6].mean(axis=0))
    u_f = res["u_f_mean"][0]
    e = (0.6 / 0.7) * 0.2 * sig_prime(u_f) * (sigma(a_t) - sigma(a_f))
    np.testing.assert_allclose(res["e"][0], e)
    e_Y = sig_prime(a_f) * (0.2 * sigma(u_f) - sigma(a_f))  # feedback learning reads the plateau average
    np.testing.assert_allclose(net.Y[0], Y[0] + 0.4 * np.outer(e_Y, res["q_f_mean"][0]))


def test_random_plateau_times_need_offsets_that_fit_the_phase():
    net, _ = _plateau_net()
    x = np.array([0.5, 0.1, 0.9])
    with pytest.raises(ValueError, match="plateau_offsets"):
        net.train_example(x, 2, 6, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="before the start"):  # T_t = 5, offset 4: the window would start at -1
        net.train_example(x, 2, 6, 5, rng=np.random.default_rng(0), plateau_offsets=([np.zeros(2)], [np.array([0, 4])]))
    plain = OracleNetwork(make_params(), *random_weights((3, 2, 10)))
    with pytest.raises(ValueError, match="random_plateau_times is off"):
        plain.train_example(x, 2, 2, 2, rng=np.random.default_rng(0), plateau_offsets=([np.zeros(2)], [np.zeros(2)]))


def test_plateau_offsets_follow_min_abs_int_normal():
    """P(offset = k) = P(k <= |Z| < k + 1) for k < 5 and P(|Z| >= 5), Z ~ N(0, 3^2) (int truncates)."""
    from math import erf, sqrt

    def p_abs_below(z):
        return erf(z / (3.0 * sqrt(2.0)))

    expected = [p_abs_below(k + 1) - p_abs_below(k) for k in range(5)] + [1 - p_abs_below(5)]
    n = 200_000
    draws = oracle.draw_plateau_offsets(n, np.random.default_rng(5))
    assert draws.dtype.kind == "i" and draws.min() == 0 and draws.max() == 5
    share = np.bincount(draws, minlength=6) / n
    np.testing.assert_allclose(share, expected, atol=4 * np.sqrt(0.25 / n))
    assert expected[0] == pytest.approx(0.2611, abs=1e-4) and expected[5] == pytest.approx(0.0956, abs=1e-4)


# ------------------------------------- sections 5, 6: feedback weights at init


def _init_params(**overrides):
    return make_params(**{"n_inputs": 30, "n_hidden": (40,), "weight_optimization": True, **overrides})


def test_initial_weights_statistics_and_quirks():
    w = oracle.initial_weights(
        _init_params(n_hidden=(40, 20), broadcast=False, feedback_bias=True), np.random.default_rng(0)
    )
    assert [x.shape for x in w["W"]] == [(40, 30), (20, 40), (10, 20)]
    assert [y.shape for y in w["Y"]] == [(40, 20), (20, 10)]
    for W, fan_in in zip(w["W"], (30, 40, 20)):
        mean, sd = init_statistics(fan_in, 0.2)
        assert np.abs(W - mean).max() <= 3.465 * sd
    for Y, rows in zip(w["Y"], (40, 20)):  # statistics of the layer above: fan-in = rows of Y
        mean, sd = init_statistics(rows, 0.2)
        assert np.abs(Y - mean).max() <= 3.465 * sd and np.abs(Y - mean).max() > 3.0 * sd
    assert all(np.abs(c - 0.8).max() <= 3.465e-3 for c in w["c"] + w["b"])
    assert oracle.initial_weights(_init_params(), np.random.default_rng(0))["c"] is None
    plain = oracle.initial_weights(_init_params(weight_optimization=False), np.random.default_rng(0))
    assert np.abs(plain["W"][0]).max() <= 0.1 < 10 * np.abs(plain["W"][0]).max()
    assert 0.9 < np.abs(plain["Y"][0]).max() <= 1


def test_noisy_symmetric_feedback_is_noisy_from_initialisation():
    """Spec §6: symmetric Y is built at initialisation, with its noise (§5) drawn there too."""
    w = oracle.initial_weights(
        _init_params(symmetric_weights=True, noisy_symmetric_weights=True), np.random.default_rng(1)
    )
    noise = w["Y"][0] - w["W"][1].T
    assert noise.std() == pytest.approx(0.05, rel=0.1) and abs(noise.mean()) < 0.01
    w = oracle.initial_weights(
        _init_params(symmetric_weights=True, noisy_symmetric_weights=True, broadcast=False), np.random.default_rng(1)
    )
    noise = w["Y"][0] - w["W"][1].T
    np.testing.assert_allclose(noise, noise[0, 0])  # QUIRK: one scalar
    assert noise[0, 0] != 0
    exact = oracle.initial_weights(_init_params(symmetric_weights=True), np.random.default_rng(1))
    np.testing.assert_array_equal(exact["Y"][0], exact["W"][1].T)


def test_sparse_feedback_at_initialisation():
    w = oracle.initial_weights(_init_params(sparse_feedback=True), np.random.default_rng(2))
    dense = oracle.initial_weights(_init_params(), np.random.default_rng(2))
    (mask,), (Y,) = w["sparse_masks"], w["Y"]
    assert mask.sum() == int(0.8 * 400) and np.all(Y[mask] == 0)
    np.testing.assert_allclose(Y[~mask], 5 * dense["Y"][0][~mask])  # same draws, then x5
    sym = oracle.initial_weights(_init_params(sparse_feedback=True, symmetric_weights=True), np.random.default_rng(2))
    np.testing.assert_allclose(sym["Y"][0], np.where(sym["sparse_masks"][0], 0, 5 * sym["W"][1].T))


def test_symmetric_broadcast_three_hidden_layers_noisy_and_sparse():
    """Y_3 = W_4^T + N_3, Y_2 = (W_3^T + N_2) Y_3, Y_1 = (W_2^T + N_1) Y_2 (noise drawn top-down, products
    of the unsparsified Y), then the fixed masks and x5, rebuilt after every example (spec §5)."""
    sizes = (3, 5, 4, 3, 10)
    W, b, _ = random_weights(sizes, seed=47)
    masks = [np.random.default_rng(k).random((n, 10)) < 0.8 for k, n in enumerate(sizes[1:4])]
    params = make_params(
        n_hidden=sizes[1:4],
        symmetric_weights=True,
        noisy_symmetric_weights=True,
        sparse_feedback=True,
        learning_rates=(0.1,) * 4,
        feedback_learning_rates=(0.0,) * 3,
    )
    Y0 = [np.zeros((n, 10)) for n in sizes[1:4]]
    net = OracleNetwork(params, W, b, Y0, sparse_masks=masks)
    silent = {layer: np.zeros((4, n)) for layer, n in enumerate(sizes)}  # no spike draws: rng only for noise
    net.train_example(np.array([0.4, 0.1, 0.8]), 2, 2, 2, spikes=silent, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    N3 = rng.normal(0, 0.05, (3, 10))
    N2 = rng.normal(0, 0.05, (4, 3))
    N1 = rng.normal(0, 0.05, (5, 4))
    Y3 = net.W[3].T + N3
    Y2 = (net.W[2].T + N2) @ Y3
    Y1 = (net.W[1].T + N1) @ Y2
    for got, want, mask in zip(net.Y, (Y1, Y2, Y3), masks):
        np.testing.assert_allclose(got, np.where(mask, 0.0, 5 * want))
    assert not np.allclose(net.W[3], W[3])  # rebuilt from the learned weights


def test_sparse_feedback_learning_changes_only_existing_synapses():
    """Spec decision: with sparse feedback and feedback learning only the unmasked entries exist and learn
    (no x5 regrowth); the next example's apical potential is Y q over those entries."""
    W, b, Y = random_weights((3, 2, 10), seed=53)
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, ::2] = mask[1, 1::2] = True
    Y0 = np.where(mask, 0.0, Y[0])
    params = make_params(update_feedback_weights=True, sparse_feedback=True, feedback_learning_rates=(0.5,))
    net = OracleNetwork(params, W, b, [Y0], sparse_masks=[mask])
    x = np.array([0.3, 0.6, 0.2])
    first = net.train_example(x, 3, 2, 2, rng=np.random.default_rng(0))
    learned = np.where(mask, 0.0, Y0 + 0.5 * np.outer(first["e_Y"][0], first["q_f_mean"][0]))
    np.testing.assert_allclose(net.Y[0], learned)
    second = net.train_example(x, 3, 2, 2, rng=np.random.default_rng(1))
    np.testing.assert_allclose(second["a"][0][0], learned @ first["r"][1][-1])  # feedback of the last target step


# ------------------------------------------- sections 2, 7, 8: tests in training


def test_test_run_zeroes_the_state_for_training():
    """Spec §2, §7: every test example starts from zero, and training resumes from zero after a test run."""
    W, b, Y = random_weights((3, 2, 10), seed=59)
    net = OracleNetwork(make_params(), W, b, Y)
    x = np.array([0.9, 0.1, 0.4])
    images = np.array([x, x[::-1]])
    net.train_example(x, 1, 2, 2, rng=np.random.default_rng(0))
    results = net.test_run(images, 3, rng=np.random.default_rng(1))
    for image, result in zip(images, results):
        fresh = OracleNetwork(make_params(), net.W, net.b, net.Y).test_example(image, 3, rng=np.random.default_rng(1))
        np.testing.assert_allclose(result["u_out_mean"], fresh["u_out_mean"])
    res = net.train_example(x, 1, 2, 2, rng=np.random.default_rng(2))
    np.testing.assert_allclose(res["q"][0][0], np.zeros(10))  # no feedback left from the test run
    assert np.all(results[-1]["r"][1][-1] > 0)  # which would have been non-zero without the reset


def test_quick_tests_follow_refs_schedule():
    assert oracle.quick_test_points(3500, 1000) == [1000, 2000, 3000]
    assert oracle.quick_test_points(3000, 1000) == [1000, 2000]  # the epoch's end gets the full test
    assert oracle.quick_test_points(999, 1000) == []
    W, b, Y = random_weights((3, 2, 10), seed=61)
    rng = np.random.default_rng(7)
    X, y = rng.uniform(0, 1, (5, 3)), rng.integers(0, 10, 5)
    X_test = rng.uniform(0, 1, (6, 3))
    T = np.full(5, 2)
    indices = [np.array([0, 2, 4]), np.array([5, 1, 3])]
    params = make_params(conductances=True)  # somata integrate, so the state carried between examples matters

    def by_hand(reset_after_test):
        """Train 2, test 3 images (each from a zero state), zero, train 2, test, zero, train 1."""
        ref, draws, predicted = OracleNetwork(params, W, b, Y), np.random.default_rng(0), {}
        for n in range(5):
            ref.train_example(X[n], y[n], 2, 2, rng=draws)
            if n in (1, 3):
                for i in indices[n // 2]:
                    predicted[i] = ref.test_example(X_test[i], 2, rng=draws)["prediction"]
                if reset_after_test:
                    ref.reset()
        return ref, predicted

    ref, predicted = by_hand(True)
    y_test = np.array([predicted[i] for i in range(6)])
    y_test[[2, 1, 3]] = (y_test[[2, 1, 3]] + 1) % 10  # 1 of 3 wrong in the first quick test, 2 in the second
    net = OracleNetwork(params, W, b, Y)
    curve = oracle.train_with_quick_tests(net, X, y, T, T, X_test, y_test, 2, indices, 2, np.random.default_rng(0))
    assert [n for n, _ in curve] == [2, 4]
    np.testing.assert_allclose([err for _, err in curve], [100 / 3, 200 / 3])
    for got, want in zip(net.W, ref.W):
        np.testing.assert_array_equal(got, want)
    kept, _ = by_hand(False)  # the zeroed state matters: without it training continues differently
    assert not np.allclose(kept.W[0], ref.W[0])
