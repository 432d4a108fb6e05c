"""A small dataset that lives on the device as ``uint8`` and hands out random batches there.

No DataLoader, no worker processes, no host-to-device copy per step: sampling draws indices
with ``torch.randint`` on the device, so a training step never waits for the host.
"""

from __future__ import annotations

import torch

from .data import ImageSet, to_float


class DeviceImageDataset:
    """A dataset that lives on the device as uint8 and samples random batches there.

    Sampling draws indices with ``torch.randint`` on the device, so a training step
    never waits for the host. ``generator`` (one per rank under DDP) makes the stream
    reproducible.
    """

    def __init__(self, images: torch.Tensor | ImageSet, device: str | torch.device = "cpu", *,
                 channels_last: bool = False, seed: int | None = None) -> None:
        images = images.images if isinstance(images, ImageSet) else images
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 images, got {images.dtype}")
        if len(images) == 0:
            raise ValueError("the dataset is empty")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def sample(self, batch_size: int, *, with_index: bool = False, generator: torch.Generator | None = None):
        """A random batch (with replacement) as float ``[-1, 1]`` on the device; with ``with_index``,
        ``(batch, index)`` so that labels can follow their images. ``generator`` (a trainer's own
        stream, one per process) replaces the dataset's."""
        index = torch.randint(len(self), (batch_size,), device=self.device,
                              generator=self.generator if generator is None else generator)
        batch = to_float(self.images[index]).contiguous(memory_format=self.memory_format)
        return (batch, index) if with_index else batch
