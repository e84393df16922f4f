"""Real batches in a resumable order: each epoch's order depends only on (seed, epoch)."""

from __future__ import annotations

import torch

from modecollapse.data import Dataset


class EpochOrder:
    """Batches of indices into `size` items, in a per-epoch order that depends only on
    (seed, epoch, stream): a resumed run draws the same batches. `streams` independent orders
    (e.g. CycleGAN's two domains) share a seed through their `stream` number."""

    def __init__(self, seed: int, size: int, device: torch.device, stream: int = 0, streams: int = 1) -> None:
        self.seed, self.size, self.device = seed, size, device
        self.stream, self.streams = stream, streams
        self._epoch: int | None = None
        self._order = torch.empty(0, dtype=torch.long)

    def batch(self, epoch: int, position: int, batch_size: int) -> torch.Tensor:
        """Indices of batch number `position` of `epoch`."""
        if epoch != self._epoch:
            start = self.seed * 1_000_003 + epoch * self.streams + self.stream
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(start))
            self._epoch, self._order = epoch, order.to(self.device)
        return self._order[position * batch_size : (position + 1) * batch_size]


class RealBatches:
    """(images, labels) batches of a dataset: `next()` walks the per-epoch orders (resumable
    through `used`, the number drawn so far); `random()` draws with replacement from the RNG."""

    def __init__(self, dataset: Dataset, seed: int, batch_size: int, device: torch.device) -> None:
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.per_epoch = len(dataset) // batch_size
        self.order = EpochOrder(seed, len(dataset), device)
        self.used = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, position = divmod(self.used, self.per_epoch)
        self.used += 1
        index = self.order.batch(epoch, position, self.batch_size)
        return self.dataset.batch(index), self.dataset.labels[index]

    def random(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.dataset), (self.batch_size,), device=self.device)
        return self.dataset.batch(index), self.dataset.labels[index]
