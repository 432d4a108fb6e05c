"""DCGAN generators and discriminators (Radford, Metz & Chintala 2016, https://arxiv.org/abs/1511.06434).

Two families, each buildable at 32, 64 or 128 pixels from one definition:

- ``"tutorial"`` — the PyTorch DCGAN tutorial's networks: the noise vector enters as a
  ``(B, latent_dim, 1, 1)`` map, a 4×4 transposed conv makes it 4×4, then stride-2
  transposed convs with batch norm and ReLU double it up to the image, which ends in
  tanh. The discriminator mirrors it with strided convs and LeakyReLU(0.2), no batch
  norm on its first layer, and a 4×4 conv to one logit.
- ``"sprite"`` — the Pokémon-sprite write-up's variant: a linear layer maps the noise
  to 4×4×``width``, stride-2 transposed convs double it up, and a 3×3 conv makes the RGB
  image; its discriminator ends in a linear layer on the flattened features.

Both discriminators return raw logits (use them with ``BCEWithLogits``-style losses).

A generator ends in tanh and draws images in ``[-1, 1]``, the package's convention. With
``output="sigmoid"`` it ends in a sigmoid and draws in ``[0, 1]`` instead (the other
normalisation the Russian Pokémon tutorial weighed): the real batch is then shown to the
discriminator in ``[0, 1]`` too (:meth:`DCGANGenerator.match_real`), and
:meth:`DCGANGenerator.images` maps the output back to ``[-1, 1]`` for samples and metrics.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Generator, check_image_size, down_block, init_normal_, up_block

SIZES = (32, 64, 128)
OUTPUTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}  # the last activation: images in [-1, 1] or in [0, 1]


class DCGANGenerator(Generator):
    """Noise ``(B, latent_dim)`` → image ``(B, channels, image_size, image_size)`` in ``[-1, 1]`` (tanh output),
    or in ``[0, 1]`` with ``output="sigmoid"``."""

    def __init__(self, *, image_size: int = 64, latent_dim: int = 100, channels: int = 3, width: int = 64,
                 arch: str = "tutorial", output: str = "tanh") -> None:
        super().__init__()
        if arch not in ("tutorial", "sprite"):
            raise ValueError(f"arch={arch!r}: expected 'tutorial' or 'sprite'")
        if output not in OUTPUTS:
            raise ValueError(f"output={output!r}: expected one of {tuple(OUTPUTS)}")
        stages = check_image_size(image_size, SIZES, f"DCGANGenerator(arch={arch!r})")
        self.config = dict(image_size=image_size, latent_dim=latent_dim, channels=channels, width=width, arch=arch)
        if output != "tanh":  # recorded only when set, so that tanh generators keep their signature and records
            self.config["output"] = output
        self.output = output
        self.latent_dim = latent_dim
        if arch == "tutorial":
            top = width * 2 ** (stages - 1)  # 512 channels at 4×4 for 64 px and width 64
            self.stem = nn.Sequential(  # (B, latent, 1, 1) → (B, top, 4, 4)
                nn.Unflatten(1, (latent_dim, 1, 1)),
                nn.ConvTranspose2d(latent_dim, top, 4, 1, 0, bias=False),
                nn.BatchNorm2d(top),
                nn.ReLU(inplace=True),
            )
            chans = [top // 2**i for i in range(stages)]  # 512, 256, 128, 64
            body = [up_block(chans[i], chans[i + 1]) for i in range(stages - 1)]  # (B, width, S/2, S/2)
            head = [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1, bias=False)]  # (B, C, S, S)
        else:
            top = width
            self.stem = nn.Sequential(  # (B, latent) → (B, width, 4, 4)
                nn.Linear(latent_dim, top * 16, bias=False),
                nn.Unflatten(1, (top, 4, 4)),
                nn.BatchNorm2d(top),
                nn.ReLU(inplace=True),
            )
            chans = [max(top // 2**i, min(top, 16)) for i in range(stages + 1)]  # 512, 256, 128, 64, 32 (floor 16)
            body = [up_block(chans[i], chans[i + 1]) for i in range(stages)]  # (B, chans[-1], S, S)
            head = [nn.Conv2d(chans[-1], channels, 3, 1, 1)]  # (B, C, S, S)
        self.body = nn.Sequential(*body)
        self.head = nn.Sequential(*head, OUTPUTS[output]())  # (B, C, S, S) in [-1, 1] (tanh) or [0, 1] (sigmoid)
        init_normal_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(z.flatten(1))))

    def match_real(self, images: torch.Tensor) -> torch.Tensor:
        """The real batch (in ``[-1, 1]``) in the range this generator draws: ``(x + 1) / 2`` for a sigmoid output."""
        return (images + 1) / 2 if self.output == "sigmoid" else images

    def images(self, output: torch.Tensor) -> torch.Tensor:
        """The drawn images in the package's ``[-1, 1]``: ``2y − 1`` for a sigmoid output."""
        return output * 2 - 1 if self.output == "sigmoid" else output


class DCGANDiscriminator(nn.Module):
    """Image ``(B, channels, image_size, image_size)`` → one logit per image, shape ``(B,)``."""

    def __init__(self, *, image_size: int = 64, channels: int = 3, width: int = 64, arch: str = "tutorial",
                 dropout: float = 0.0) -> None:
        super().__init__()
        if arch not in ("tutorial", "sprite"):
            raise ValueError(f"arch={arch!r}: expected 'tutorial' or 'sprite'")
        stages = check_image_size(image_size, SIZES, f"DCGANDiscriminator(arch={arch!r})")
        self.config = dict(image_size=image_size, channels=channels, width=width, arch=arch, dropout=dropout)
        chans = [width * 2**i for i in range(stages)]  # 64, 128, 256, 512
        layers = [down_block(channels, chans[0], batch_norm=False)]  # (B, width, S/2, S/2)
        layers += [down_block(chans[i], chans[i + 1]) for i in range(stages - 1)]  # (B, chans[-1], 4, 4)
        if dropout:
            layers.append(nn.Dropout2d(dropout))
        self.features = nn.Sequential(*layers)
        if arch == "tutorial":
            self.head = nn.Sequential(nn.Conv2d(chans[-1], 1, 4, 1, 0, bias=False), nn.Flatten(0))  # (B,)
        else:
            self.head = nn.Sequential(nn.Flatten(1), nn.Linear(chans[-1] * 16, 1), nn.Flatten(0))  # (B,)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_dcgan(*, image_size: int = 64, latent_dim: int = 100, channels: int = 3, arch: str = "tutorial",
                g_width: int | None = None, d_width: int = 64, output: str = "tanh") -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """A matching generator and discriminator; ``g_width`` defaults to 64 (tutorial) or 512 (sprite);
    ``output``: the generator's last activation, ``"tanh"`` or ``"sigmoid"``."""
    g_width = g_width or (64 if arch == "tutorial" else 512)
    generator = DCGANGenerator(image_size=image_size, latent_dim=latent_dim, channels=channels, width=g_width, arch=arch,
                               output=output)
    discriminator = DCGANDiscriminator(image_size=image_size, channels=channels, width=d_width, arch=arch)
    return generator, discriminator
