"""Learning rules as pure functions: how each baseline sends the error back.

Notation: a network of ``L`` layers, ``h_0 = x``, ``a_l = h_{l-1} W_l^T + b_l``,
``h_l = f(a_l)`` for hidden layers, ``h_L = a_L`` (logits), loss ``L`` = softmax
cross-entropy averaged over the batch, ``e = dL/dh_L = (softmax(h_L) - onehot(y)) / batch``.

* Backprop: ``delta_{l} = (delta_{l+1} W_{l+1}) * f'(a_l)`` -- plain autograd.
* Feedback alignment (Lillicrap et al. 2016): ``delta_l = (delta_{l+1} B_{l+1}) * f'(a_l)``
  with a fixed random ``B_{l+1}`` of the shape of ``W_{l+1}``: :class:`LinearFA`.
* Direct feedback alignment (Nøkland 2016): ``delta_l = (e D_l) * f'(a_l)`` with a fixed
  random ``D_l`` of shape ``(n_classes, n_l)``: :func:`dfa_hidden_gradients`.
* Target propagation (Lee et al. 2015): layer-wise targets ``hat h_l``; each layer
  minimises ``||f_l(h_{l-1}) - hat h_l||^2`` with its input detached. Targets travel down
  through learned approximate inverses ``g_l(h_l) = f(h_l V_l^T + c_l)``:

  - TP: ``hat h_{l-1} = g_l(hat h_l)`` (:func:`tp_target`),
  - DTP: ``hat h_{l-1} = h_{l-1} + g_l(hat h_l) - g_l(h_l)`` (:func:`dtp_target`),
  - the top hidden target of TP and DTP is a gradient step,
    ``hat h_{L-1} = h_{L-1} - eta_hat dL/dh_{L-1}``,
  - SDTP (Bartunov et al. 2018) drops that last gradient: the output target is
    ``hat h_L = h_L - eta_hat e`` (needs only the label), and
    ``hat h_{L-1} = h_{L-1} + g_L(hat h_L) - g_L(h_L)`` like every other layer.

  The inverses are trained on noise-corrupted activities,
  ``min_V ||g_l(f_l(h_{l-1} + eps)) - (h_{l-1} + eps)||^2`` (:func:`inverse_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "activation_fn",
    "LinearFA",
    "linear_fa",
    "output_error",
    "dfa_hidden_gradients",
    "tp_target",
    "dtp_target",
    "gradient_target",
    "layer_target_loss",
    "inverse_loss",
]


def activation_fn(name: str):
    """The elementwise function for an activation name (see ``params.ACTIVATIONS``)."""
    if name == "relu":
        return torch.relu
    if name == "sigmoid":
        return torch.sigmoid
    if name == "tanh":
        return torch.tanh
    if name == "identity":
        return lambda x: x
    raise ValueError(f"unknown activation {name!r}; valid values are: relu, sigmoid, tanh, identity")


class LinearFA(torch.autograd.Function):
    """``y = x W^T + b`` whose backward pass sends ``grad_y B`` (not ``grad_y W``) to ``x``.

    ``B`` has the shape of ``W`` and is never updated. The weight gradient is the
    usual local outer product ``grad_y^T x``. The backward pass never reads ``W``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, feedback):
        ctx.save_for_backward(x, feedback)
        ctx.has_bias = bias is not None
        out = x @ weight.t()
        if bias is not None:
            out = out + bias
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback if ctx.needs_input_grad[0] else None
        grad_w = grad_out.t() @ x if ctx.needs_input_grad[1] else None
        grad_b = grad_out.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None


def linear_fa(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, feedback: torch.Tensor) -> torch.Tensor:
    """Functional form of :class:`LinearFA`."""
    return LinearFA.apply(x, weight, bias, feedback)


def output_error(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``dL/dlogits`` of the batch-mean softmax cross-entropy: ``(softmax - onehot) / batch``."""
    p = torch.softmax(logits, dim=1)
    p = p - F.one_hot(y, num_classes=logits.shape[1]).to(p.dtype)
    return p / logits.shape[0]


def dfa_hidden_gradients(error: torch.Tensor, feedback: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients delivered to the hidden activities ``h_l`` by DFA: ``e D_l`` for every layer.

    They are then multiplied by ``f'(a_l)`` (by autograd through the activation only).
    ``error`` has shape ``(batch, n_classes)``, ``feedback[l]`` shape ``(n_classes, n_l)``.
    """
    return [error @ d for d in feedback]


def tp_target(inverse, target_above: torch.Tensor) -> torch.Tensor:
    """Vanilla target propagation: ``hat h_{l-1} = g_l(hat h_l)``."""
    return inverse(target_above)


def dtp_target(inverse, target_above: torch.Tensor, h_above: torch.Tensor, h_below: torch.Tensor) -> torch.Tensor:
    """Difference target propagation: ``hat h_{l-1} = h_{l-1} + g_l(hat h_l) - g_l(h_l)``.

    The difference correction makes the target exact when ``hat h_l = h_l`` (then
    ``hat h_{l-1} = h_{l-1}``) even for an imperfect inverse, and gives
    ``f_l(hat h_{l-1}) = hat h_l`` when ``g_l`` is a perfect inverse of ``f_l``.
    """
    return h_below + (inverse(target_above) - inverse(h_above))


def gradient_target(h: torch.Tensor, loss: torch.Tensor, step: float) -> torch.Tensor:
    """``h - step * dL/dh`` (``h`` must be part of ``loss``'s graph); the result is detached."""
    (grad,) = torch.autograd.grad(loss, h, retain_graph=True)
    return (h - step * grad).detach()


def layer_target_loss(h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Local loss of a layer: ``0.5 * ||h - target||^2`` summed over units, averaged over the batch."""
    return 0.5 * ((h - target.detach()) ** 2).sum(1).mean()


def inverse_loss(forward, inverse, h_below: torch.Tensor, noise_std: float, generator: torch.Generator | None = None):
    """Reconstruction loss of an inverse on corrupted inputs (Lee et al. 2015, eq. 13).

    ``forward`` must not receive gradients here: its output is detached, so only the
    inverse's parameters are trained.
    """
    h = h_below.detach()
    if noise_std > 0:
        noise = torch.randn(h.shape, generator=generator, device=h.device, dtype=h.dtype)
        h = h + noise_std * noise
    with torch.no_grad():
        up = forward(h)
    return 0.5 * ((inverse(up) - h) ** 2).sum(1).mean()
