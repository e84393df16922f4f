"""The conditional discriminators of class-conditional generation (how z carries the class is
in models/latent.py).

`model.conditioning` picks one of:
- none: z ~ N(0, I) (or U(-1, 1), `latent_distribution`); unconditional DCGAN.
- guided: the guided latent space. z has K blocks of `guided_subspace_dim` dims, one per
  class; drawing class k fills block k with N(0, I) and the other blocks with zeros (or
  noise, `guided_other_blocks`). The guide classifier and the per-class statistics term
  act in the objective (objectives/guided.py). `guided_variant = "as_published"` instead
  appends the integer label to N(0, I) noise, as the public code did.
- embedding: conditional GAN; z ~ N(0, I) plus a one-hot class for G, and D sees the class
  as one extra input channel (a learned embedding per class).
- acgan: AC-GAN; G as in embedding, D has an auxiliary head that classifies its input.
"""

from __future__ import annotations

import torch
from torch import nn


class ConditionalDiscriminator(nn.Module):
    """cGAN: D sees its input plus one channel holding a learned per-class map."""

    conditioning = "embedding"

    def __init__(self, base: nn.Module, num_classes: int, image_size: int) -> None:
        super().__init__()
        self.base, self.image_size = base, image_size
        self.embedding = nn.Embedding(num_classes, image_size * image_size)

    @property
    def pack(self) -> int:
        return self.base.pack

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        plane = self.embedding(labels).view(-1, 1, self.image_size, self.image_size)
        return self.base(torch.cat([x, plane.to(x.dtype)], dim=1))


class AuxiliaryClassifierDiscriminator(nn.Module):
    """AC-GAN: D's features feed the real/fake head and a K-way class head."""

    conditioning = "acgan"

    def __init__(self, base: nn.Module, feature_size: int, num_classes: int) -> None:
        super().__init__()
        self.base = base
        self.classes = nn.Sequential(nn.Flatten(1), nn.Linear(feature_size, num_classes))

    @property
    def pack(self) -> int:
        return self.base.pack

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.base.features(x)
        return self.base.head(features), self.classes(features)
