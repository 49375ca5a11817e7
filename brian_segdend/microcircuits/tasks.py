"""Tasks of the paper's experiments: the teacher-student regression (spec §6.2) and class targets (§6.3)."""

from __future__ import annotations

import numpy as np

from .equations import inverse_rate

__all__ = ["Teacher", "class_targets"]


class Teacher:
    """A random feedforward teacher 30-20-10 (spec §6.2): u_trgt = k_21 W_21 phi(k_10 W_10 r_0).

    Parameters
    ----------
    config : MicrocircuitConfig
        The student's config (sizes of input and output, and phi).
    rng : numpy.random.Generator
        Draws the teacher weights ~ U(-1, 1) [P].
    n_hidden : int
        Hidden units of the teacher (20 [P]).
    gains : tuple of float
        k_10 and k_21 (2 and 10 [P]).
    """

    def __init__(self, config, rng, n_hidden=20, gains=(2.0, 10.0)):
        from .equations import rate_function

        self.config = config
        self.phi = rate_function(config).pyfunc
        self.W_10 = rng.uniform(-1, 1, (n_hidden, config.n_inputs))
        self.W_21 = rng.uniform(-1, 1, (config.n_outputs, n_hidden))
        self.gains = gains

    def examples(self, n, rng):
        """``n`` patterns r_0 ~ U(-1, 1) [P] and their target potentials, shapes (n, n_in), (n, n_out)."""
        patterns = rng.uniform(-1, 1, (n, self.config.n_inputs))
        return patterns, self.potentials(patterns)

    def potentials(self, patterns):
        """The teacher's output potentials u_trgt (its rates are phi(u_trgt))."""
        k_10, k_21 = self.gains
        return k_21 * self.phi(k_10 * np.asarray(patterns) @ self.W_10.T) @ self.W_21.T


def class_targets(config, labels):
    """Target potentials of classes (spec §6.3): phi^-1(target_high) for the label, phi^-1(target_low) else."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= config.n_outputs)):
        raise ValueError(f"labels must be a 1-D array of classes 0..{config.n_outputs - 1}")
    low, high = inverse_rate(config, [config.target_low, config.target_high])
    targets = np.full((len(labels), config.n_outputs), low)
    targets[np.arange(len(labels)), labels.astype(int)] = high
    return targets
