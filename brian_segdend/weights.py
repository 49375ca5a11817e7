"""Initial weights (spec §6) and checks of user-supplied weights.

Weights travel as a dict of lists of numpy arrays in the spec's shapes::

    {"W": [W_1 .. W_{L+1}],   # n_l x n_{l-1}
     "b": [b_1 .. b_{L+1}],
     "Y": [Y_1 .. Y_L],       # n_l x n_{L+1} (broadcast) or n_l x n_{l+1}
     "c": [c_1 .. c_L],       # feedback biases (zeros unless feedback_bias)
     "sparse_masks": [...]}   # only with sparse_feedback: True where Y is forced to 0
"""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .validation import check_arrays

__all__ = [
    "V_MEAN",
    "V_SD",
    "B_MEAN",
    "B_SD",
    "SPREAD",
    "weight_statistics",
    "initial_weights",
    "feedback_shape",
    "check_weights",
    "symmetric_feedback",
    "feedback_angles",
    "angles_degrees",
    "symmetric_noise",
]

V_MEAN, V_SD = 3.0, 3.0  # target mean and SD of the dendritic potential (spec §6)
B_MEAN, B_SD = 0.8, 0.001  # bias mean and spread
SPREAD = 3.465  # QUIRK: multiplies U(-1, 1), so the realised SD is 2 x W_sd


def weight_statistics(fan_in, lambda_step):
    """Mean and spread ``(W_mean, W_sd)`` of weights with ``fan_in`` inputs (spec §6)."""
    nu = lambda_step / 4.0
    n = float(fan_in)
    v2 = V_SD**2 + V_MEAN**2
    w_mean = (V_MEAN - B_MEAN) / (nu * n * V_MEAN)
    m2 = (v2 + nu**2 * (n - n**2) * w_mean**2 * V_MEAN**2 - 2 * n * nu * B_MEAN * V_MEAN * w_mean - B_MEAN**2) / (
        n * nu**2 * v2
    )
    return w_mean, float(np.sqrt(m2 - w_mean**2))


def feedback_shape(config: ModelConfig, l):
    """Shape of Y_l for hidden layer ``l`` (1-based)."""
    sizes = config.layer_sizes
    return (sizes[l], sizes[-1] if config.broadcast else sizes[l + 1])


def symmetric_feedback(config: ModelConfig, W, sparse_masks=None, rng=None, noise=None):
    """Y rebuilt from W (spec §5): W_{l+1}^T (products of them with broadcast), noise, sparsity.

    The noise of noisy symmetric weights is drawn from ``rng``, or given: ``noise[l - 1]`` is added to
    W_{l+1}^T (an array of its size, or one value).
    """
    L = len(config.n_hidden)
    noisy = config.noisy_symmetric_weights and rng is not None
    Y = [None] * L
    for l in range(L, 0, -1):  # Y index l-1 belongs to hidden layer l
        wt = W[l].T.copy()
        if noise is not None:
            n = np.ravel(noise[l - 1])
            wt = wt + (n.reshape(wt.shape) if n.size > 1 else n[0])
        elif noisy and config.broadcast:
            wt = wt + rng.normal(0, config.symmetric_noise_sd, wt.shape)
        elif noisy:
            wt = wt + rng.normal(0, config.symmetric_noise_sd)
        Y[l - 1] = wt if (not config.broadcast or l == L) else wt @ Y[l]
    if sparse_masks is not None:
        Y = [np.where(m, 0.0, y * config.sparse_scale) for y, m in zip(Y, sparse_masks)]
    return Y


def initial_weights(config: ModelConfig, rng: np.random.Generator) -> dict:
    """Draw W, b, Y, c (and sparse masks) as REF does at initialisation (spec §6)."""
    sizes = config.layer_sizes
    L = len(config.n_hidden)
    W, b = [], []
    for l in range(1, L + 2):
        shape = (sizes[l], sizes[l - 1])
        if config.weight_optimization:
            mean, sd = weight_statistics(sizes[l - 1], config.lambda_step)
            W.append(mean + SPREAD * sd * rng.uniform(-1, 1, shape))
            b.append(B_MEAN + SPREAD * B_SD * rng.uniform(-1, 1, sizes[l]))
        else:
            W.append(0.1 * rng.uniform(-1, 1, shape))
            b.append(rng.uniform(-1, 1, sizes[l]))
    Y, c = [], []
    for l in range(1, L + 1):
        shape = feedback_shape(config, l)
        if config.weight_optimization:
            # QUIRK: statistics of the layer above (fan-in n_l = rows of Y_l), whatever Y's shape
            mean, sd = weight_statistics(sizes[l], config.lambda_step)
            Y.append(mean + SPREAD * sd * rng.uniform(-1, 1, shape))
            c.append(B_MEAN + SPREAD * B_SD * rng.uniform(-1, 1, sizes[l]))
        else:
            Y.append(rng.uniform(-1, 1, shape))
            c.append(rng.uniform(-1, 1, sizes[l]))
    if not config.feedback_bias:
        c = [np.zeros_like(x) for x in c]
    masks = None
    if config.sparse_feedback:
        masks = []
        for y in Y:
            mask = np.zeros(y.size, bool)
            mask[rng.choice(y.size, int(config.sparse_fraction * y.size), replace=False)] = True
            masks.append(mask.reshape(y.shape))
    if config.symmetric_weights:
        Y = symmetric_feedback(config, W, masks, rng)
    elif masks is not None:
        Y = [np.where(m, 0.0, y * config.sparse_scale) for y, m in zip(Y, masks)]
    weights = {"W": W, "b": b, "Y": Y, "c": c}
    if masks is not None:
        weights["sparse_masks"] = masks
    return weights


def check_weights(config: ModelConfig, weights: dict):
    """Raise ``ValueError`` naming the entry if a weight array is missing, mis-shaped or not finite."""
    sizes = config.layer_sizes
    L = len(config.n_hidden)
    expected = {
        "W": [(sizes[l], sizes[l - 1]) for l in range(1, L + 2)],
        "b": [(sizes[l],) for l in range(1, L + 2)],
        "Y": [feedback_shape(config, l) for l in range(1, L + 1)],
        "c": [(sizes[l],) for l in range(1, L + 1)],
    }
    unknown = set(weights) - set(expected) - {"sparse_masks"}
    if unknown:
        raise ValueError(f"unknown weight entries {sorted(unknown)}; expected {sorted(expected)}")
    for key, shapes in expected.items():
        if key not in weights:
            raise ValueError(f"weights[{key!r}] is missing")
        check_arrays(f"weights[{key!r}]", weights[key], shapes)
    masks = weights.get("sparse_masks")
    if config.sparse_feedback and masks is not None:
        for k, (mask, shape) in enumerate(zip(masks, expected["Y"])):
            if np.asarray(mask).shape != shape:
                raise ValueError(f"weights['sparse_masks'][{k}] has shape {np.shape(mask)}; expected {shape}")


def feedback_angles(config, weights):
    """Angle (degrees) between each Y_l and the matrix backprop would use (W^T, or their products)."""
    ideal = symmetric_feedback(config.replace(noisy_symmetric_weights=False, sparse_feedback=False), weights["W"])
    out = []
    for y, z in zip(weights["Y"], ideal):
        cos = float(np.sum(y * z) / (np.linalg.norm(y) * np.linalg.norm(z) + 1e-300))
        out.append(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return out


def angles_degrees(a, b) -> np.ndarray:
    """Angle (degrees) between each row of ``a`` and the same row of ``b``; ``nan`` where one is zero."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, np.sum(a * b, axis=-1) / norms, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def symmetric_noise(config: ModelConfig, weights: dict, sparse_masks=None) -> list:
    """The noise that symmetric feedback ``weights['Y']`` holds (spec §5, §6), checked against W.

    Per hidden layer l, ``Y_l = gain * (W_{l+1}^T + noise)`` (gain 0 at masked entries of sparse feedback,
    ``sparse_scale`` at the others, else 1), with the noise an ``(n_l, n_{l+1})`` array (broadcast) or one
    scalar (not broadcast); 0 at masked entries. With several hidden layers and broadcast, Y_l is a product
    (:func:`symmetric_feedback`) and is only checked, when not noisy (the noise of a product is not unique).

    Raises
    ------
    ValueError
        Naming ``weights['Y'][k]`` if it is not of that form (any noise at all unless noisy).
    """
    W, Y = weights["W"], weights["Y"]
    noisy, products = config.noisy_symmetric_weights, config.broadcast and len(config.n_hidden) > 1
    if products:
        want = symmetric_feedback(config, W, sparse_masks) if not noisy else Y
        noises = [np.subtract(y, z) for y, z in zip(Y, want)]
    else:
        noises = []
        for l, y in enumerate(Y, start=1):
            gain = np.where(sparse_masks[l - 1], 0.0, config.sparse_scale) if sparse_masks else np.ones(y.shape)
            noise = np.divide(y, gain, out=np.zeros(y.shape), where=gain > 0) - np.where(gain > 0, W[l].T, 0.0)
            if noisy and not config.broadcast:  # one scalar (QUIRK)
                noise = float(np.mean(noise[gain > 0]))
                if not np.allclose(y, gain * (W[l].T + noise), rtol=1e-9, atol=1e-12):
                    raise ValueError(
                        f"weights['Y'][{l - 1}] is not W[{l}].T plus one scalar noise (symmetric, not broadcast)"
                    )
            noises.append(noise)
    if not noisy or products:
        for k, noise in enumerate(noises):
            scale = max(float(np.abs(W[k + 1]).max()), 1e-300)
            if np.abs(noise).max() > 1e-9 * scale:
                raise ValueError(
                    f"weights['Y'][{k}] is not the feedback that symmetric_weights=True derives from W (it differs "
                    f"by up to {np.abs(noise).max():.3g}); pass Y = get_weights()['Y'] or the output of "
                    "weights.symmetric_feedback(config, W, sparse_masks)"
                )
    return noises
