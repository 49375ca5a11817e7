"""Thin ``nn.Module`` wrappers: MLPs trained by backprop, FA, DFA, TP, DTP and SDTP.

Every model has

* ``forward(x) -> logits`` (used for evaluation; identical for all rules), and
* ``backward_step(x, y, generator) -> logits``: computes this rule's parameter updates
  into the ``.grad`` fields (the caller's optimizer then applies them). The rules
  themselves are the pure functions of :mod:`brian_segdend.baselines.rules`.

Inputs are flat ``(batch, d)`` tensors in ``[0, 1]``; a fixed per-channel standardisation
(``input_mean``/``input_std`` buffers, set from the training data) is applied first.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import rules
from .params import MLPParams, TargetPropParams

__all__ = ["InputNormalization", "BackpropMLP", "FeedbackAlignmentMLP", "DirectFeedbackAlignmentMLP", "TargetPropMLP"]


class InputNormalization(nn.Module):
    """``(x - mean_c) / std_c`` per channel ``c`` of flattened channels-first images (fixed buffers)."""

    def __init__(self, n_channels: int, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.register_buffer("input_mean", torch.zeros(n_channels))
        self.register_buffer("input_std", torch.ones(n_channels))

    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> None:
        """Set mean and std from training data ``X`` of shape ``(n, channels * pixels)``."""
        c = self.input_mean.numel()
        Xc = X.reshape(X.shape[0], c, -1).transpose(0, 1).reshape(c, -1).double()
        self.input_mean.copy_(Xc.mean(1).float())
        self.input_std.copy_(Xc.std(1).clamp_min(1e-6).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        c = self.input_mean.numel()
        shape = x.shape
        x = x.reshape(shape[0], c, -1)
        x = (x - self.input_mean[:, None]) / self.input_std[:, None]
        return x.reshape(shape)


class _MLPBase(nn.Module):
    def __init__(self, p, n_inputs: int, n_classes: int, n_channels: int = 1):
        super().__init__()
        self.params = p
        self.sizes = (n_inputs, *p.hidden, n_classes)
        self.normalize = InputNormalization(n_channels, enabled=p.normalize_input)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        self.f = rules.activation_fn(p.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.normalize(x)
        for layer in self.layers[:-1]:
            h = self.f(layer(h))
        return self.layers[-1](h)

    def forward_parameters(self):
        return list(self.layers.parameters())

    def feedback_parameters(self):
        return []


class BackpropMLP(_MLPBase):
    """MLP trained by backpropagation (plain autograd)."""

    def __init__(self, p: MLPParams, n_inputs: int, n_classes: int, n_channels: int = 1, generator=None):
        super().__init__(p, n_inputs, n_classes, n_channels)

    def backward_step(self, x, y, generator=None):
        logits = self(x)
        F.cross_entropy(logits, y).backward()
        return logits.detach()


def _uniform(shape, bound: float, generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


class FeedbackAlignmentMLP(_MLPBase):
    """MLP trained by feedback alignment (Lillicrap et al. 2016).

    Layer ``l`` sends ``delta B_l`` instead of ``delta W_l`` downwards; ``B_l`` (buffer
    ``feedback{l}``, shape of ``W_l``) is drawn once, uniform in ``±feedback_scale/sqrt(fan_in)``.
    """

    def __init__(self, p: MLPParams, n_inputs: int, n_classes: int, n_channels: int = 1, generator=None):
        super().__init__(p, n_inputs, n_classes, n_channels)
        for i, layer in enumerate(self.layers):
            fan_in = layer.in_features
            B = _uniform(layer.weight.shape, p.feedback_scale / math.sqrt(fan_in), generator)
            self.register_buffer(f"feedback{i}", B)

    @property
    def feedback(self) -> list[torch.Tensor]:
        return [getattr(self, f"feedback{i}") for i in range(len(self.layers))]

    def forward_fa(self, x):
        h = self.normalize(x)
        n = len(self.layers)
        for i, (layer, B) in enumerate(zip(self.layers, self.feedback)):
            h = rules.linear_fa(h, layer.weight, layer.bias, B)
            if i < n - 1:
                h = self.f(h)
        return h

    def backward_step(self, x, y, generator=None):
        logits = self.forward_fa(x)
        F.cross_entropy(logits, y).backward()
        return logits.detach()


class DirectFeedbackAlignmentMLP(_MLPBase):
    """MLP trained by direct feedback alignment (Nøkland 2016).

    The output error ``e`` reaches every hidden layer ``l`` through a fixed random matrix
    ``D_l`` (buffer ``feedback{l}``, shape ``(n_classes, n_l)``, uniform in
    ``±feedback_scale/sqrt(n_classes)``). Layer inputs are detached, so no gradient ever
    flows through a forward weight matrix.
    """

    def __init__(self, p: MLPParams, n_inputs: int, n_classes: int, n_channels: int = 1, generator=None):
        super().__init__(p, n_inputs, n_classes, n_channels)
        for i, n in enumerate(p.hidden):
            D = _uniform((n_classes, n), p.feedback_scale / math.sqrt(n_classes), generator)
            self.register_buffer(f"feedback{i}", D)

    @property
    def feedback(self) -> list[torch.Tensor]:
        return [getattr(self, f"feedback{i}") for i in range(len(self.params.hidden))]

    def backward_step(self, x, y, generator=None):
        h = self.normalize(x)
        hiddens = []
        for layer in self.layers[:-1]:
            h = self.f(layer(h.detach()))
            hiddens.append(h)
        logits = self.layers[-1](h.detach())
        loss = F.cross_entropy(logits, y)
        e = rules.output_error(logits.detach(), y)
        grads = rules.dfa_hidden_gradients(e, self.feedback)
        torch.autograd.backward([loss, *hiddens], [torch.ones_like(loss), *grads])
        return logits.detach()


class TargetPropMLP(_MLPBase):
    """MLP trained by target propagation: ``variant`` is ``"tp"``, ``"dtp"`` or ``"sdtp"``.

    Learned inverses ``g_l(h) = f(V_l h + c_l)`` map layer ``l`` back to layer ``l-1``
    (``inverses[l-2]`` for ``l = 2..L``; ``g_L`` is used by SDTP only). The output layer
    learns from the cross-entropy loss; hidden layer ``l`` minimises
    ``||h_l - hat h_l||^2 / (2 target_step)`` with its input detached, so that for
    exact targets its update has the scale of a backprop update. Inverses are trained at
    the same step on corrupted activities (see :func:`rules.inverse_loss`).
    """

    VARIANTS = ("tp", "dtp", "sdtp")

    def __init__(
        self,
        p: TargetPropParams,
        n_inputs: int,
        n_classes: int,
        n_channels: int = 1,
        generator=None,
        variant: str = "dtp",
    ):
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown target-propagation variant {variant!r}; valid: {', '.join(self.VARIANTS)}")
        super().__init__(p, n_inputs, n_classes, n_channels)
        self.variant = variant
        # inverses[j] maps layer j+2's activity (sizes[j+2]) back to layer j+1 (sizes[j+1])
        self.inverses = nn.ModuleList(
            nn.Linear(self.sizes[j + 2], self.sizes[j + 1]) for j in range(len(self.sizes) - 2)
        )

    def feedback_parameters(self):
        return list(self.inverses.parameters())

    def g(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """Inverse of layer ``l`` (1-based, ``l >= 2``): estimate of ``h_{l-1}`` from ``h_l``."""
        return self.f(self.inverses[l - 2](h))

    def f_layer(self, l: int, h_below: torch.Tensor) -> torch.Tensor:
        """Layer ``l`` (1-based) applied to ``h_{l-1}``."""
        a = self.layers[l - 1](h_below)
        return a if l == len(self.layers) else self.f(a)

    def targets(self, hs: list[torch.Tensor], y: torch.Tensor) -> dict[int, torch.Tensor]:
        """Targets ``{l: hat h_l}`` of the hidden layers ``l = 1..L-1`` from activities ``hs[0..L]``."""
        L = len(self.layers)
        p = self.params
        targets: dict[int, torch.Tensor] = {}
        if L == 1:
            return targets
        if self.variant == "sdtp":
            err = torch.softmax(hs[L], 1) - F.one_hot(y, hs[L].shape[1]).to(hs[L].dtype)
            top = hs[L] - p.target_step * err  # label-based output target, no weight transport
            targets[L - 1] = rules.dtp_target(lambda h: self.g(L, h), top, hs[L], hs[L - 1])
        else:
            h = hs[L - 1].detach().requires_grad_(True)
            with torch.enable_grad():
                loss_sum = F.cross_entropy(self.f_layer(L, h), y, reduction="sum")
                targets[L - 1] = rules.gradient_target(h, loss_sum, p.target_step)
        for l in range(L - 1, 1, -1):
            if self.variant == "tp":
                targets[l - 1] = rules.tp_target(lambda h, l=l: self.g(l, h), targets[l])
            else:
                targets[l - 1] = rules.dtp_target(lambda h, l=l: self.g(l, h), targets[l], hs[l], hs[l - 1])
        return {k: v.detach() for k, v in targets.items()}

    def backward_step(self, x, y, generator=None):
        p = self.params
        L = len(self.layers)
        with torch.no_grad():
            hs = [self.normalize(x)]
            for l in range(1, L + 1):
                hs.append(self.f_layer(l, hs[-1]))
            targets = self.targets(hs, y)
        total = F.cross_entropy(self.layers[-1](hs[L - 1]), y)
        for l, target in targets.items():
            total = total + rules.layer_target_loss(self.f_layer(l, hs[l - 1]), target) / max(p.target_step, 1e-12)
        top_inverse = L if self.variant == "sdtp" else L - 1
        for l in range(2, top_inverse + 1):
            total = total + rules.inverse_loss(
                lambda h, l=l: self.f_layer(l, h), lambda h, l=l: self.g(l, h), hs[l - 1], p.noise_std, generator
            )
        total.backward()
        return hs[L].detach()
