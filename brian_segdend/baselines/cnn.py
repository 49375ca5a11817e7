"""Backprop CNN (thin ``nn.Module``) with optional batch norm and flip/crop augmentation."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .mlp import InputNormalization
from .params import CNNParams, conv_output_sizes

__all__ = ["BackpropCNN", "augment_batch"]

_ACTIVATION_MODULES = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """Random horizontal flips (``"flip"``) and, for ``"flip-crop"``, random ``pad``-pixel shifts.

    ``x`` has shape ``(batch, channels, height, width)``; every example gets its own draw.
    """
    if mode == "none":
        return x
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(3), x)
    if mode == "flip-crop":
        h, w = x.shape[2], x.shape[3]
        padded = F.pad(x, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).tolist()
        x = torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])
    return x


class BackpropCNN(nn.Module):
    """``[conv -> (BN) -> act -> (pool)] * n -> flatten -> [(dropout) -> fc -> (BN) -> act] * m -> (dropout) -> fc``."""

    def __init__(self, p: CNNParams, image_shape: tuple[int, int, int], n_classes: int, generator=None):
        super().__init__()
        c, h, w = image_shape
        if h != w:
            raise ValueError(f"only square images are supported, got {h}x{w}")
        sizes = conv_output_sizes(p, h)  # raises ValueError for kernels larger than the image
        self.params = p
        self.image_shape = tuple(image_shape)
        self.normalize = InputNormalization(c, enabled=p.normalize_input)
        act = _ACTIVATION_MODULES[p.activation]
        blocks: list[nn.Module] = []
        in_ch = c
        for out_ch, k, s, pad, pool in zip(p.channels, p.kernel_size, p.stride, p.padding, p.pool):
            blocks.append(nn.Conv2d(in_ch, out_ch, k, stride=s, padding=pad, bias=not p.batch_norm))
            if p.batch_norm:
                blocks.append(nn.BatchNorm2d(out_ch))
            blocks.append(act())
            if pool:
                blocks.append(nn.MaxPool2d(2))
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        n_flat = in_ch * sizes[-1] * sizes[-1]
        head: list[nn.Module] = [nn.Flatten()]
        for units in p.fc_hidden:
            if p.dropout > 0:
                head.append(nn.Dropout(p.dropout))
            head.append(nn.Linear(n_flat, units, bias=not p.batch_norm))
            if p.batch_norm:
                head.append(nn.BatchNorm1d(units))
            head.append(act())
            n_flat = units
        if p.dropout > 0:
            head.append(nn.Dropout(p.dropout))
        head.append(nn.Linear(n_flat, n_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor, augment_generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.normalize(x).reshape(x.shape[0], *self.image_shape)
        if self.training and augment_generator is not None:
            x = augment_batch(x, self.params.augment, augment_generator)
        return self.classifier(self.features(x))

    def backward_step(self, x, y, generator=None):
        logits = self(x, augment_generator=generator)
        F.cross_entropy(logits, y).backward()
        return logits.detach()

    def forward_parameters(self):
        return list(self.parameters())

    def feedback_parameters(self):
        return []
