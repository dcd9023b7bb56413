"""Augmentation that keeps the saving of encoding a faceset once.

Two kinds, priced differently:

- ``augment_faces``: a random similarity transform and colour jitter in pixel space. Its faces must be
  encoded again, so ``AugmentedPool`` encodes a pool of augmented variants on a background thread and swaps
  in a new generation every ``refresh_every`` steps; the training loop only picks from ready latents.
- ``random_latent_warp``: DeepFaceLab's "random warp" applied directly to a latent (the model input only;
  the target stays unwarped). No codec call, cheap enough for every step.

All randomness comes from a given ``torch.Generator`` (the pool's: a CPU one): the same generator state gives the
same result, and a pool's generation ``g`` depends on nothing but ``(seed, role, g)``, never on thread timing.
"""

from __future__ import annotations

import hashlib
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentswap_core.train.latent_cache import ENCODE_BATCH, FaceLatents

RGB_PADDING = "reflection"  # what a rotated or shifted face shows at its edges; masks pad with zeros
# FaceLatents' masks: each pixel-resolution mask and the latent-resolution mask area-downsampled from it
MASK_FIELDS = (("masks", "latent_masks"), ("priority", "latent_priority"), ("keep", "latent_keep"))
WARP_GRID_POINTS = 5  # random offsets on a 5 x 5 grid, smoothly upsampled to the latent size
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentSettings:
    """How far each augmentation reaches; 0 turns it off. Geometry and colour amounts are +- ranges."""

    rotation_deg: float = 10.0
    scale: float = 0.05  # the face is scaled by 1 +- scale
    shift: float = 0.05  # as a fraction of the face size
    brightness: float = 0.1  # gain 1 +- brightness
    contrast: float = 0.1  # around the face's mean
    saturation: float = 0.1  # around the luma
    warp: float = 1.0  # random_latent_warp amplitude, in latent pixels

    @classmethod
    def none(cls) -> AugmentSettings:
        """Every augmentation off (use ``dataclasses.replace`` to turn single ones back on)."""
        return cls(rotation_deg=0.0, scale=0.0, shift=0.0, brightness=0.0, contrast=0.0, saturation=0.0, warp=0.0)

    @property
    def changes_pixels(self) -> bool:
        return any((self.rotation_deg, self.scale, self.shift, self.brightness, self.contrast, self.saturation))


def augment_faces(
    rgb: torch.Tensor, mask: torch.Tensor, generator: torch.Generator, settings: AugmentSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """Faces ``B x 3 x R x R`` and masks ``B x K x R x R`` in [0, 1], each sample randomly moved and recoloured.

    A sample's ``K`` masks (face, eyes and mouth, ...) move with its face; only the face is recoloured.
    """
    batch = rgb.shape[0]
    # one uniform draw in [-1, 1) per sample and parameter, always all seven, so each amount scales its own
    draws = (torch.rand(batch, 7, generator=generator) * 2 - 1).to(device=rgb.device, dtype=rgb.dtype)
    angle, scale, shift_x, shift_y, brightness, contrast, saturation = draws.unbind(1)

    if settings.rotation_deg or settings.scale or settings.shift:
        angle = angle * math.radians(settings.rotation_deg)
        # affine_grid maps output to input coordinates: sampling at a grid scaled by 1/zoom magnifies by zoom
        inverse_zoom = 1 / (1 + scale * settings.scale)
        cos, sin = torch.cos(angle) * inverse_zoom, torch.sin(angle) * inverse_zoom
        normalised_shift = 2 * settings.shift  # the face spans [-1, 1]: a shift of 1 face size is 2
        theta = torch.stack([
            torch.stack([cos, -sin, shift_x * normalised_shift], dim=1),
            torch.stack([sin, cos, shift_y * normalised_shift], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta, list(rgb.shape), align_corners=False)
        rgb = F.grid_sample(rgb, grid, mode="bilinear", padding_mode=RGB_PADDING, align_corners=False)
        mask = F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def per_sample(values: torch.Tensor) -> torch.Tensor:
        return values.view(batch, 1, 1, 1)

    if settings.brightness:
        rgb = rgb * per_sample(1 + brightness * settings.brightness)
    if settings.contrast:
        mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
        rgb = (rgb - mean) * per_sample(1 + contrast * settings.contrast) + mean
    if settings.saturation:
        luma = (rgb * rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        rgb = (rgb - luma) * per_sample(1 + saturation * settings.saturation) + luma
    return rgb.clamp(0.0, 1.0), mask.clamp(0.0, 1.0)


def random_latent_warp(latent: torch.Tensor, generator: torch.Generator, amplitude: float) -> torch.Tensor:
    """``latent`` (``B x C x S x S``) resampled along a smooth random displacement of at most ``amplitude`` px.

    Offsets are drawn on a coarse grid, upsampled bicubically and clamped to the amplitude. With
    ``amplitude`` 0 the input tensor itself is returned.
    """
    if amplitude == 0:
        return latent
    batch, _, height, width = latent.shape
    # drawn where the generator lives: the host sampler's draws move to the latent's device, a device generator's
    # (the static step's) stay there
    draws = torch.rand(batch, 2, WARP_GRID_POINTS, WARP_GRID_POINTS, generator=generator, device=generator.device)
    coarse = (draws * 2 - 1) * amplitude
    offsets = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    offsets = offsets.clamp(-amplitude, amplitude)
    # latent pixels -> grid_sample's normalised units (align_corners=False: one pixel is 2 / size), as B x H x W x 2
    offsets = torch.stack([offsets[:, 0] * (2 / width), offsets[:, 1] * (2 / height)], dim=-1)
    identity = torch.eye(2, 3, device=offsets.device).expand(batch, 2, 3)
    grid = F.affine_grid(identity, [batch, 1, height, width], align_corners=False) + offsets
    grid = grid.to(device=latent.device, dtype=latent.dtype)
    return F.grid_sample(latent, grid, mode="bilinear", padding_mode="border", align_corners=False)


def generation_seed(seed: int, role: str, generation: int) -> int:
    """A 63-bit seed for one pool generation, the same on every machine and Python run."""
    digest = hashlib.sha256(f"augmented-pool/{seed}/{role}/{generation}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class AugmentedPool:
    """Pre-encoded augmented variants of one faceset, a new generation every ``refresh_every`` steps.

    Generation ``g`` serves steps ``g * refresh_every`` to ``(g + 1) * refresh_every - 1``. It is encoded
    on one background thread; asking for ``g`` starts ``g + 1`` so it is usually ready when its turn comes.
    Each generation is a pure function of ``(seed, role, g)``, so results do not depend on timing and a
    resumed run sees the same pools as an uninterrupted one.
    """

    def __init__(self, data: FaceLatents, codec, size: int, refresh_every: int, seed: int,
                 settings: AugmentSettings, role: str) -> None:
        if size < 1 or refresh_every < 1:
            raise ValueError(f"pool size and refresh_every must be 1 or more, got {size} and {refresh_every}")
        if len(data) == 0:
            raise ValueError(f"the {role} faceset has no faces to augment")
        self.data, self.codec, self.size, self.refresh_every = data, codec, size, refresh_every
        self.seed, self.settings, self.role = seed, settings, role
        self.encode_seconds = 0.0  # wall time spent making generations, all on the worker thread
        self.generated = 0  # generations made so far (including prefetched ones not yet asked for)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"augmented-pool-{role}")
        self._pending: dict[int, Future[FaceLatents]] = {}

    def for_step(self, step: int) -> FaceLatents:
        """The generation that serves ``step``, waiting for it if it is not ready; worker errors are raised here."""
        generation = step // self.refresh_every
        current = self._submit(generation)
        self._submit(generation + 1)
        for stale in [g for g in self._pending if g not in (generation, generation + 1)]:
            self._pending.pop(stale).cancel()
        return current.result()

    def make_generation(self, generation: int) -> FaceLatents:
        """Generation ``generation`` computed now, on the calling thread."""
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(generation_seed(self.seed, self.role, generation))
        count = len(self.data)
        # whole shuffles of the faceset, so every face appears about size / count times
        order = torch.cat([torch.randperm(count, generator=generator) for _ in range(-(-self.size // count))])
        picks = order[:self.size]
        with torch.no_grad():  # grad mode is per thread: the trainer's no_grad does not reach the worker
            rgb = self.data.faces[picks].float() / 255
            masks = torch.cat([getattr(self.data, pixels)[picks] for pixels, _ in MASK_FIELDS], dim=1).float() / 255
            rgb, masks = augment_faces(rgb, masks, generator, self.settings)
            latents = [self.codec.encode(rgb[start:start + ENCODE_BATCH]).float().cpu()
                       for start in range(0, self.size, ENCODE_BATCH)]
        latent = torch.cat(latents)
        mask_fields = {}
        for (pixels, at_latent), mask in zip(MASK_FIELDS, masks.split(1, dim=1), strict=True):
            mask_fields[pixels] = (mask * 255).round().to(torch.uint8)
            mask_fields[at_latent] = F.interpolate(mask, size=latent.shape[-2:], mode="area").contiguous()
        result = FaceLatents(latents=latent.contiguous(), faces=(rgb * 255).round().to(torch.uint8), **mask_fields)
        self.encode_seconds += time.perf_counter() - started
        self.generated += 1
        return result

    def _submit(self, generation: int) -> Future[FaceLatents]:
        if generation not in self._pending:
            self._pending[generation] = self._executor.submit(self.make_generation, generation)
        return self._pending[generation]

    def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> AugmentedPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
