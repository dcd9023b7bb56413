"""Holdout mattes: read as the plate's alpha, kept in front of the swapped face (``swap --holdout``) and left out of
every training loss (``train --dst-holdout``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import latentswap

from latentswap_core.errors import SequenceError
from latentswap_core.faceset import load_faceset
from latentswap_core.io import Image, read_image, write_image
from latentswap_core.io.matte import MatteSequence
from latentswap_core.train.losses import masked_latent_mse


def write_png(path: Path, values: np.ndarray, channels: tuple[str, ...]) -> None:
    write_image(path, Image(values.astype(np.float32), channels), "uint8")


def test_mattes_read_alpha_else_the_first_channel_and_frames_without_a_file_hold_nothing(tmp_path: Path) -> None:
    grey = np.zeros((36, 64), np.float32)
    grey[10:20, 30:40] = 1.0
    write_png(tmp_path / "hold.0001.png", grey, ("Y",))
    rgba = np.zeros((36, 64, 4), np.float32)
    rgba[..., :3] = 1.0  # white colour everywhere: only the alpha is the matte
    rgba[0:5, 0:5, 3] = 1.0
    write_png(tmp_path / "hold.0003.png", rgba, ("R", "G", "B", "A"))
    mattes = MatteSequence(tmp_path / "hold.####.png")
    assert mattes.frames == (1, 3)
    first = mattes.at(1, (64, 36))
    assert first.shape == (36, 64) and first[15, 35] == 1.0 and first.sum() == 100
    third = mattes.at(3, (64, 36))
    assert third[:5, :5].all() and third.sum() == 25
    assert mattes.at(2, (64, 36)) is None
    with pytest.raises(SequenceError, match=r"hold\.0001\.png: the matte is 64x36 but the plate is 640x360"):
        mattes.at(1, (640, 360))
    with pytest.raises(SequenceError, match="other.####.png: no frames found"):
        MatteSequence(tmp_path / "other.####.png")


@pytest.mark.slow
def test_swap_keeps_the_plate_exactly_where_the_holdout_matte_is(tiny_model: Path, tiny_plate: Path,
                                                                 shared_dir: Path, tmp_path: Path) -> None:
    # tiny_plate's face is centred on (320 + 6 t, 180), t = frame - 1001, about 200 px tall
    mattes = tmp_path / "mattes"
    mattes.mkdir()
    for frame in (1001, 1003):
        matte = np.zeros((360, 640), np.float32)
        x = 320 + 6 * (frame - 1001)
        matte[160:200, x - 20:x + 20] = 1.0
        write_png(mattes / f"hold.{frame}.png", matte, ("Y",))
    out = tmp_path / "out"
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(out / "swap.####.exr"),
                      "--holdout", str(mattes / "hold.####.png"), env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    for frame in (1001, 1003, 1004):
        plate = read_image(Path(str(tiny_plate).replace("####", str(frame)))).pixels
        result = read_image(out / f"swap.{frame}.exr")
        x = 320 + 6 * (frame - 1001)
        box = (slice(160, 200), slice(x - 20, x + 20))
        ring = result.channel("lsmask.Y")[150:210, x - 30:x + 30].copy()
        ring[10:50, 10:50] = 1.0
        assert ring.min() > 0.5  # the face is swapped all around the box
        inside = result.channel("lsmask.Y")[box]
        if frame == 1004:  # no matte file for this frame: nothing held out
            assert inside.min() > 0.5
            continue
        assert not inside.any() and not result.channel("face.A")[box].any()
        assert np.array_equal(result.pixels[box][..., :4], plate[box])


def test_training_losses_ignore_what_the_holdout_matte_covers(tiny_facesets, tmp_path: Path) -> None:
    from latentswap_core.codecs import load_codec
    from latentswap_core.train.latent_cache import load_latents

    src = tiny_facesets[0]
    faceset = load_faceset(src)
    entry = faceset.faces[0]
    photo = read_image(entry.source_file)
    size = (photo.width, photo.height)
    # the matte covers the lower half of the first photo's face: below the landmarks' middle row
    to_plate = cv2.invertAffineTransform(np.asarray(entry.to_aligned, np.float64))
    middle = (to_plate @ np.array([0.5, 0.6, 1.0]))[1]
    matte = np.zeros((size[1], size[0]), np.float32)
    matte[int(middle):, :] = 1.0
    mattes = tmp_path / "mattes"
    mattes.mkdir()
    write_png(mattes / f"hold.{entry.frame:04d}.png", matte, ("Y",))
    codec = load_codec("pixel")
    held = load_latents(src, codec, 128, tmp_path / "cache", "src", MatteSequence(mattes / "hold.####.png"))
    plain = load_latents(src, codec, 128, tmp_path / "cache-plain", "src")
    assert torch.all(plain.keep == 255) and torch.all(plain.latent_keep == 1)
    keep = held.keep[0, 0].float() / 255
    assert keep[:64].mean() > 0.95 and keep[90:].max() < 0.05  # aligned row 0.6 x 128 = 77: the matte's edge
    assert torch.all(held.keep[1:] == 255)  # the second photo has no matte
    # an error only where the matte is changes nothing; the same error elsewhere does
    target = held.latents[:1]
    side = target.shape[-1]
    error_low, error_high = target.clone(), target.clone()
    error_low[..., int(0.78 * side):, :] += 1.0
    error_high[..., :int(0.3 * side), :] += 1.0
    args = (held.latent_masks[:1], None, 0.0, 0.1)
    assert float(masked_latent_mse(error_low, target, *args, keep=held.latent_keep[:1])) < 1e-6
    assert float(masked_latent_mse(error_low, target, *args)) > 0.01
    assert float(masked_latent_mse(error_high, target, *args, keep=held.latent_keep[:1])) > 0.01


def test_a_holdout_matte_of_another_size_fails_before_any_frame_is_written(tiny_model: Path, tiny_plate: Path,
                                                                          shared_dir: Path, tmp_path: Path) -> None:
    write_png(tmp_path / "hold.1003.png", np.ones((36, 64), np.float32), ("Y",))
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(tmp_path / "out" / "s.####.exr"),
                      "--holdout", str(tmp_path / "hold.####.png"), env=environment, timeout=300)
    assert done.returncode == 2 and "hold.1003.png: the matte is 64x36 but the plate is 640x360" in done.stderr
    assert not (tmp_path / "out").exists()
