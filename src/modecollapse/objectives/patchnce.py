"""CUT's PatchNCE loss (Park et al. 2020; taesungp/contrastive-unpaired-translation, cut_model.py and
patchnce.py), for the CycleGAN generators: a patch of the translation must be closer, in G's own
encoder features, to the input patch at the same place than to the input's other patches.

Per layer: 256 random locations, the same for query (features of G(x)) and key (features of x,
detached); a two-layer MLP (256 units) and L2 normalisation project both; the logits are the
positive pair and the 255 other patches of the same image, over a temperature of 0.07;
cross-entropy with the positive as target; averaged over the layers. The layers are the
reference's for a ResNet generator: the padded input, the two stride-2 convolutions and the first
and fifth residual blocks (CUT's indices 0, 4, 8, 12, 16 mapped to our generator's layout).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.models.cyclegan import ResidualBlock

PATCHES = 256
TEMPERATURE = 0.07
PROJECTION = 256


def nce_layers(generator: nn.Sequential) -> list[int]:
    """Indices of the layers whose outputs PatchNCE compares, in a ResNet generator."""
    layers = list(generator)
    if not isinstance(generator, nn.Sequential) or not isinstance(layers[0], nn.ReflectionPad2d):
        raise ValueError("PatchNCE needs the ResNet generator (model.cyclegan_generator = 'resnet')")
    downs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    blocks = [i for i, m in enumerate(layers) if isinstance(m, ResidualBlock)]
    return sorted({0, *downs, blocks[0], blocks[min(4, len(blocks) - 1)]}) if blocks else [0, *downs]


def encode(generator: nn.Sequential, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
    """The outputs of `layers` of the generator for input x (it runs only as far as the last one)."""
    features = []
    for index, layer in enumerate(generator):
        x = layer(x)
        if index in layers:
            features.append(x)
            if index == layers[-1]:
                break
    return features


class PatchNCE(nn.Module):
    """The projection heads of one generator and its loss NCE(G; x)."""

    def __init__(self, generator: nn.Sequential, in_channels: int, size: int) -> None:
        super().__init__()
        self.layers = nce_layers(generator)
        with torch.no_grad():
            probe = torch.zeros(1, in_channels, size, size, device=next(generator.parameters()).device)
            channels = [f.shape[1] for f in encode(generator, probe, self.layers)]
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c, PROJECTION), nn.ReLU(True), nn.Linear(PROJECTION, PROJECTION))
            for c in channels
        )
        for head in self.heads:  # CUT initialises its heads as xavier with gain 0.02
            for layer in head:
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_normal_(layer.weight, gain=0.02)
                    nn.init.zeros_(layer.bias)

    def loss(self, generator: nn.Sequential, source: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
        """NCE(G; x): translated = G(source); the keys (source's features) are detached."""
        queries = encode(generator, translated, self.layers)
        with torch.no_grad():
            keys = encode(generator, source, self.layers)
        total = torch.zeros((), device=source.device)
        for head, query, key in zip(self.heads, queries, keys, strict=True):
            n, channels, height, width = key.shape
            count = min(PATCHES, height * width)
            ids = torch.randperm(height * width, device=key.device)[:count]
            q = head(query.flatten(2)[:, :, ids].transpose(1, 2).reshape(-1, channels).float())
            k = head(key.flatten(2)[:, :, ids].transpose(1, 2).reshape(-1, channels).float()).detach()
            total = total + patch_nce(F.normalize(q, dim=1), F.normalize(k, dim=1), n)
        return total / len(self.heads)


def patch_nce(queries: torch.Tensor, keys: torch.Tensor, images: int) -> torch.Tensor:
    """CUT's PatchNCELoss: (images * patches, dim) normalised queries and keys; negatives are the
    other patches of the same image."""
    patches = len(queries) // images
    positive = (queries * keys).sum(1, keepdim=True)
    q, k = queries.view(images, patches, -1), keys.view(images, patches, -1)
    negative = torch.bmm(q, k.transpose(1, 2))
    eye = torch.eye(patches, device=queries.device, dtype=torch.bool)[None]
    negative = negative.masked_fill(eye, -10.0).view(-1, patches)
    logits = torch.cat([positive, negative], dim=1) / TEMPERATURE
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=queries.device))
