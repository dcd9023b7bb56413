"""Augmentation: pixel jitter and warp, the latent warp, and the background pool of augmented latents."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
import torch

from latentswap_core.codecs import load_codec
from latentswap_core.io import read_image
from latentswap_core.train.augment import AugmentedPool, AugmentSettings, augment_faces, random_latent_warp
from latentswap_core.train.latent_cache import FaceLatents

SIZE = 64


@pytest.fixture(scope="module")
def faces(shared_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Three 64 px faces (obama.jpg, mirrored, darkened) and an off-centre elliptical mask each."""
    photo = cv2.resize(read_image(shared_dir / "data" / "faces" / "obama.jpg").rgb_float(), (SIZE, SIZE),
                       interpolation=cv2.INTER_AREA)
    rgb = torch.from_numpy(photo).permute(2, 0, 1).clamp(0, 1)
    rgb = torch.stack([rgb, rgb.flip(-1), rgb * 0.6])
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    ellipse = (((cols - 30) / 20) ** 2 + ((rows - 36) / 14) ** 2 <= 1).float()
    return rgb, ellipse.expand(3, 1, SIZE, SIZE).clone()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mask_geometry(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per sample: centroid offset from the image centre (x, y), and the long axis's angle, from image moments."""
    rows, cols = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32),
                                indexing="ij")
    weight = mask[:, 0] / mask[:, 0].sum(dim=(1, 2), keepdim=True)
    mean_x, mean_y = (weight * cols).sum(dim=(1, 2)), (weight * rows).sum(dim=(1, 2))
    dx, dy = cols - mean_x.view(-1, 1, 1), rows - mean_y.view(-1, 1, 1)
    mu20, mu02, mu11 = (weight * dx * dx).sum((1, 2)), (weight * dy * dy).sum((1, 2)), (weight * dx * dy).sum((1, 2))
    centre = (SIZE - 1) / 2
    return mean_x - centre, mean_y - centre, 0.5 * torch.atan2(2 * mu11, mu20 - mu02)


def test_augment_faces_is_deterministic_per_generator_state(faces) -> None:
    rgb, mask = faces
    first = augment_faces(rgb, mask, seeded(1), AugmentSettings())
    again = augment_faces(rgb, mask, seeded(1), AugmentSettings())
    other = augment_faces(rgb, mask, seeded(2), AugmentSettings())
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert (first[0] - other[0]).abs().mean() > 1e-3


def test_augment_faces_keeps_shapes_and_range_and_changes_pixels(faces) -> None:
    rgb, mask = faces
    out_rgb, out_mask = augment_faces(rgb, mask, seeded(0), AugmentSettings(rotation_deg=20, brightness=0.5))
    assert out_rgb.shape == rgb.shape and out_mask.shape == mask.shape
    assert out_rgb.min() >= 0 and out_rgb.max() <= 1 and out_mask.min() >= 0 and out_mask.max() <= 1
    assert ((out_rgb - rgb).abs().mean(dim=(1, 2, 3)) > 0.01).all()  # every sample changed
    assert ((out_mask - mask).abs().mean(dim=(1, 2, 3)) > 0.001).all()


def test_augment_faces_with_every_amount_zero_returns_the_input(faces) -> None:
    rgb, mask = faces
    out_rgb, out_mask = augment_faces(rgb, mask, seeded(0), AugmentSettings.none())
    assert torch.allclose(out_rgb, rgb, atol=1e-5) and torch.allclose(out_mask, mask, atol=1e-5)


def test_rotation_turns_the_mask_about_the_centre_and_keeps_colours(faces) -> None:
    _, mask = faces
    grey = torch.full((3, 3, SIZE, SIZE), 0.4)
    settings = replace(AugmentSettings.none(), rotation_deg=30)
    out_rgb, out_mask = augment_faces(grey, mask, seeded(5), settings)
    assert torch.allclose(out_rgb, grey, atol=1e-5)  # reflection padding: no black corners, no colour change
    before_x, before_y, before_angle = mask_geometry(mask)
    after_x, after_y, after_angle = mask_geometry(out_mask)
    turn = after_angle - before_angle
    assert (turn.abs() <= math.radians(30) + 0.02).all()
    assert turn.abs().max() > math.radians(3) and len(set(turn.round(decimals=3).tolist())) == 3
    # the centroid circles the image centre: same radius, turned by the same angle as the long axis
    assert torch.allclose(torch.hypot(after_x, after_y), torch.hypot(before_x, before_y), atol=0.15)
    centroid_turn = torch.atan2(after_y, after_x) - torch.atan2(before_y, before_x)
    assert torch.allclose(centroid_turn, turn, atol=0.03)


def test_scale_grows_and_shrinks_the_mask_within_its_range() -> None:
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    disk = ((cols - 31.5) ** 2 + (rows - 31.5) ** 2 <= 16**2).float().expand(8, 1, SIZE, SIZE)
    settings = replace(AugmentSettings.none(), scale=0.2)
    _, out_mask = augment_faces(torch.zeros(8, 3, SIZE, SIZE), disk, seeded(6), settings)
    zoom = (out_mask.sum(dim=(1, 2, 3)) / disk.sum(dim=(1, 2, 3))).sqrt()
    assert (zoom >= 0.8 - 0.01).all() and (zoom <= 1.2 + 0.01).all()
    assert zoom.min() < 0.95 and zoom.max() > 1.05


def test_colour_jitter_only_scales_a_grey_face_by_a_bounded_gain() -> None:
    grey = torch.full((4, 3, 8, 8), 0.5)
    settings = replace(AugmentSettings.none(), brightness=0.1, saturation=0.3)
    out, _ = augment_faces(grey, torch.ones(4, 1, 8, 8), seeded(3), settings)
    gains = out[:, 0, 0, 0] / 0.5
    assert torch.allclose(out, 0.5 * gains.view(4, 1, 1, 1).expand_as(out))  # saturation leaves grey grey
    assert ((gains - 1).abs() <= 0.1 + 1e-6).all() and (gains - 1).abs().max() > 0.01


def test_latent_warp_with_zero_amplitude_is_the_identity() -> None:
    latent = torch.randn(2, 4, 16, 16)
    assert random_latent_warp(latent, seeded(0), 0.0) is latent


def test_latent_warp_moves_samples_by_at_most_the_amplitude() -> None:
    columns = torch.arange(16, dtype=torch.float32).expand(16, 16)
    ramp = torch.stack([columns, columns.T]).expand(3, 2, 16, 16).contiguous()  # each sample's (x, y) position
    amplitude = 1.5
    warped = random_latent_warp(ramp, seeded(4), amplitude)
    shift = (warped - ramp).abs()
    assert shift.max() <= amplitude + 1e-4
    assert shift.max() > 0.9 * amplitude
    assert torch.equal(warped, random_latent_warp(ramp, seeded(4), amplitude))
    assert not torch.equal(warped, random_latent_warp(ramp, seeded(5), amplitude))


def test_latent_warp_changes_values_but_keeps_the_mean(faces) -> None:
    latent = load_codec("pixel").encode(faces[0])
    warped = random_latent_warp(latent, seeded(0), 0.5)
    assert warped.shape == latent.shape and warped.dtype == latent.dtype
    assert (warped - latent).abs().mean() > 1e-3
    assert torch.allclose(warped.mean(dim=(2, 3)), latent.mean(dim=(2, 3)), atol=0.02)


@pytest.fixture(scope="module")
def faceset(faces) -> FaceLatents:
    """The three faces pre-encoded; the eyes/mouth mask is a copy of the face mask, so both must move alike."""
    rgb, mask = faces
    codec = load_codec("pixel")
    faces_8bit, mask_8bit = (rgb * 255).round().to(torch.uint8), (mask * 255).round().to(torch.uint8)
    latent_mask = torch.nn.functional.interpolate(mask, size=codec.latent_shape(SIZE)[1:], mode="area")
    return FaceLatents(latents=codec.encode(faces_8bit.float() / 255), latent_masks=latent_mask,
                       latent_priority=latent_mask.clone(), faces=faces_8bit, masks=mask_8bit,
                       latent_keep=torch.ones_like(latent_mask), keep=torch.full_like(mask_8bit, 255),
                       priority=mask_8bit.clone())


def make_pool(faceset: FaceLatents, settings: AugmentSettings | None = None, role: str = "src",
              codec=None) -> AugmentedPool:
    return AugmentedPool(faceset, codec or load_codec("pixel"), size=5, refresh_every=3, seed=11,
                         settings=settings or AugmentSettings(), role=role)


def same(a: FaceLatents, b: FaceLatents) -> bool:
    return all(torch.equal(getattr(a, name), getattr(b, name)) for name in vars(a))


def test_pool_serves_one_generation_per_refresh_period_and_prefetches_the_next(faceset) -> None:
    with make_pool(faceset) as pool:
        first = pool.for_step(0)
        deadline = time.monotonic() + 10
        while pool.generated < 2 and time.monotonic() < deadline:  # generation 1 is built without being asked
            time.sleep(0.01)
        assert pool.generated == 2
        assert same(pool.for_step(2), first)
        second = pool.for_step(3)
        assert not same(second, first)
        assert pool.encode_seconds > 0
    assert len(first) == 5
    channels, side, _ = load_codec("pixel").latent_shape(SIZE)
    assert first.latents.shape == (5, channels, side, side) and first.latents.dtype == torch.float32
    assert first.latent_masks.shape == (5, 1, side, side) and first.latent_masks.dtype == torch.float32
    assert first.faces.shape == (5, 3, SIZE, SIZE) and first.faces.dtype == torch.uint8
    assert first.masks.shape == (5, 1, SIZE, SIZE) and first.masks.dtype == torch.uint8
    # the latents are the encoding of the augmented faces it returns (pixel codec: exact up to 8-bit rounding)
    assert (first.latents - load_codec("pixel").encode(first.faces.float() / 255)).abs().max() <= 0.5 / 255 + 1e-6
    assert 0 <= first.latent_masks.min() and first.latent_masks.max() <= 1
    assert first.priority.shape == first.masks.shape and first.latent_priority.shape == first.latent_masks.shape
    assert torch.equal(first.priority, first.masks) and torch.equal(first.latent_priority, first.latent_masks)


def test_pool_generations_do_not_depend_on_history(faceset) -> None:
    with make_pool(faceset) as straight, make_pool(faceset) as resumed, make_pool(faceset, role="dst") as other:
        for step in range(0, 8, 3):
            straight.for_step(step)
        assert same(resumed.for_step(7), straight.for_step(7))  # resumed mid-run: generation 2 built on demand
        assert not same(other.for_step(7), straight.for_step(7))


def test_pool_without_augmentation_encodes_faceset_faces(faceset) -> None:
    with make_pool(faceset, AugmentSettings.none()) as pool:
        pool_faces = pool.for_step(0)
    for face, latent in zip(pool_faces.faces, pool_faces.latents, strict=True):
        match = [index for index in range(3) if torch.equal(face, faceset.faces[index])]
        assert len(match) == 1 and torch.allclose(latent, faceset.latents[match[0]], atol=1e-6)


def test_pool_encodes_without_gradients_on_its_worker(faceset) -> None:
    class RecordingCodec:
        def __init__(self) -> None:
            self.pixel = load_codec("pixel")
            self.grad_enabled: list[bool] = []

        def encode(self, rgb: torch.Tensor) -> torch.Tensor:
            self.grad_enabled.append(torch.is_grad_enabled())
            return self.pixel.encode(rgb)

    codec = RecordingCodec()
    with make_pool(faceset, codec=codec) as pool:
        pool.for_step(0)
    assert codec.grad_enabled and not any(codec.grad_enabled)


def test_pool_raises_worker_errors_on_request(faceset) -> None:
    class BrokenCodec:
        def encode(self, rgb: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("codec broke")

    with make_pool(faceset, codec=BrokenCodec()) as pool, pytest.raises(RuntimeError, match="codec broke"):
        pool.for_step(0)
