"""``latentswap train-mask``: a per-shot occlusion model from a few hand-drawn mattes (DeepFaceLab's XSeg idea).

The mattes mark what is in front of the face (a microphone, hands, hair), drawn on a handful of the shot's frames:
PNG or EXR alpha (else the first channel), or Nuke roto rendered out. For each matte frame, each selected face
with reliable landmarks is cut out as the swap will cut it (aligned crop, working space) with its matte warped
alongside. The network learns occluder-or-not per pixel under heavy random moves, turns, zooms, flips, blur and
recolouring of those few crops, so that it holds on the frames nobody drew; and with the drawn occluders cut out and
pasted in front of other crops at other places (``paste_occluders``), so that a hand drawn at the chin teaches a hand
beside the nose. Loss: binary cross-entropy + soft Dice.
Ctrl-C or SIGTERM stops after the step and saves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentswap_core import color
from latentswap_core.align import alignment_transform, from_data_window, warp_to_aligned
from latentswap_core.errors import ModelError
from latentswap_core.io import FrameSource, format_frames
from latentswap_core.io.matte import MatteSequence
from latentswap_core.models.occlusion_net import OcclusionConfig, OcclusionNet
from latentswap_core.models.occlusion_store import save_occlusion_model
from latentswap_core.track.trackfile import ShotTrack
from latentswap_core.train.loop import deferred_interrupt
from latentswap_core.train.options import OcclusionOptions
from latentswap_core.train.precision import training_autocast

REPORT_EVERY = 25
# Share of a batch's crops that get another crop's occluder pasted in front (measured on the real clip, five drawn
# frames, 1464 steps: the held-out occluder pixels kept rose from 81 % without it to 99.6 %; docs/swap.md).
PASTE_CHANCE = 0.5


@dataclass
class LabelledCrops:
    """The training material: aligned crops ``N x 3 x S x S`` in [0, 1] and their occluder mattes ``N x 1 x S x S``."""

    crops: torch.Tensor
    mattes: torch.Tensor
    frames: list[int] = field(default_factory=list)


def labelled_crops(plate: FrameSource, track: ShotTrack, mattes: MatteSequence,
                   options: OcclusionOptions) -> LabelledCrops:
    """Every selected face with reliable landmarks in the frames ``mattes`` covers, cut out with its matte."""
    frames = [frame for frame in mattes.frames if frame in plate.frames]
    if not frames:
        raise ModelError(f"no frame of the mattes {mattes.describe()} is in the plate ({plate.description}): "
                         "number the mattes as the plate's frames")
    crops, labels, used = [], [], []
    size = options.size
    for frame in frames:
        faces = [face for face in track.faces_at(frame) if options.faces.matches(face) and face.landmarks_reliable]
        if not faces:
            continue
        image = plate.read(frame)
        matte = mattes.at(frame, plate.display_size())
        assert matte is not None, "the frames are the mattes' own"
        rgb = np.clip(color.working_rgb(image, options.colorspace, options.ocio_config), 0.0, 1.0)
        for face in faces:
            to_aligned = alignment_transform(face.landmarks, options.face_type)
            crops.append(warp_to_aligned(rgb.astype(np.float32), from_data_window(to_aligned, image.data_offset),
                                         size))
            labels.append(warp_to_aligned(matte, to_aligned, size, interpolation="linear"))
            used.append(frame)
    if not crops:
        raise ModelError(f"the frames of {mattes.describe()} hold no selected face with reliable landmarks: draw "
                         "mattes on frames where the face is tracked (see `latentswap track`), or pick the face "
                         "with --person/--track-id")
    return LabelledCrops(torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous(),
                         torch.from_numpy(np.clip(np.stack(labels), 0, 1))[:, None].contiguous(), used)


def paste_occluders(crops: torch.Tensor, mattes: torch.Tensor, generator: torch.Generator,
                    chance: float = PASTE_CHANCE) -> tuple[torch.Tensor, torch.Tensor]:
    """Each crop, with probability ``chance``, gets the occluder of another crop of the batch (its drawn matte's
    pixels) pasted in front, moved at random (turn +-30 deg, zoom 0.8-1.25, shift +-17.5 % of the side); the mattes
    add up."""
    count = crops.shape[0]
    donors = torch.randperm(count, generator=generator)
    angle = (torch.rand(count, generator=generator) * 2 - 1) * 30 * math.pi / 180
    scale = 0.8 + 0.45 * torch.rand(count, generator=generator)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * 0.35
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(crops.shape), align_corners=False)
    moved = F.grid_sample(torch.cat([crops[donors], mattes[donors]], 1), grid, padding_mode="zeros",
                          align_corners=False)
    pasted = moved[:, 3:] * (torch.rand(count, generator=generator) < chance)[:, None, None, None]
    return crops * (1 - pasted) + moved[:, :3] * pasted, torch.maximum(mattes, pasted)


def augment(crops: torch.Tensor, mattes: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random similarity moves (turn +-20 deg, zoom 0.8-1.25, shift +-10 %), flips, blur and recolouring."""
    count = crops.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator)

    angle = uniform(-20, 20) * math.pi / 180
    scale = uniform(0.8, 1.25)
    flip = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, uniform(-0.2, 0.2)], 1),
                         torch.stack([sin * flip, cos, uniform(-0.2, 0.2)], 1)], 1)
    grid = F.affine_grid(theta, list(crops.shape), align_corners=False)
    both = F.grid_sample(torch.cat([crops, mattes], 1), grid, padding_mode="border", align_corners=False)
    rgb, matte = both[:, :3], both[:, 3:]
    gain = uniform(0.6, 1.4)[:, None, None, None] * (1 + 0.15 * torch.randn(count, 3, 1, 1, generator=generator))
    offset = uniform(-0.1, 0.1)[:, None, None, None]
    grey = rgb.mean(1, keepdim=True)
    saturation = uniform(0.5, 1.5)[:, None, None, None]
    rgb = (grey + (rgb - grey) * saturation) * gain + offset
    blurred = F.avg_pool2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    soft = (torch.rand(count, generator=generator) < 0.3)[:, None, None, None]
    rgb = torch.where(soft, blurred, rgb)
    rgb = rgb + 0.02 * torch.randn(rgb.shape, generator=generator) * torch.rand(count, 1, 1, 1, generator=generator)
    return rgb.clamp(0, 1), matte.clamp(0, 1)


# A face painted over a microphone is a visible error; a few plate pixels kept at the occluder's
# edge are not. Weighting the occluder's pixels so in the cross-entropy sends the uncertain ones to
# the occluder (benchmarks/occlusion_weight.py, five seeds: worst occluder kept 81 -> 94 %, covered 98 %).
OCCLUDER_WEIGHT = 3.0


def occlusion_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Occluder-weighted binary cross-entropy + soft Dice of the occluder (Dice keeps a thin microphone from being
    ignored)."""
    probability = torch.sigmoid(logits)
    overlap = (probability * target).sum(dim=(1, 2, 3))
    total = probability.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    dice = 1 - (2 * overlap + 1) / (total + 1)
    weight = torch.tensor(OCCLUDER_WEIGHT, device=logits.device, dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight) + dice.mean()


def train_occlusion(data: LabelledCrops, options: OcclusionOptions, source: dict[str, Any] | None = None,
                    on_report: Callable[[int, int | None, float], None] | None = None) -> tuple[int, float]:
    """Train and save to ``options.output``; ``on_report(step, total, loss)`` every few steps. -> (steps, loss)."""
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    device = torch.device(options.device)
    model = OcclusionNet(OcclusionConfig(size=options.size, face_type=options.face_type)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    crops, mattes = data.crops, data.mattes
    deadline = time.monotonic() + options.minutes * 60 if options.minutes else None
    started, step, recent = time.monotonic(), 0, list[float]()
    with deferred_interrupt() as interrupted:
        while not interrupted():
            if (options.steps is not None and step >= options.steps) or (deadline and time.monotonic() >= deadline):
                break
            picks = torch.randint(len(crops), (options.batch,), generator=generator)
            rgb, target = augment(*paste_occluders(crops[picks], mattes[picks], generator), generator)
            with training_autocast(device, options.cpu_bf16):
                logits = model(rgb.to(device))
            loss = occlusion_loss(logits.float(), target.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            recent = (recent + [float(loss.detach())])[-REPORT_EVERY:]
            if on_report and step % REPORT_EVERY == 0:
                total = options.steps
                if deadline is not None:
                    per_step = (time.monotonic() - started) / step
                    total = step + int(max(0.0, deadline - time.monotonic()) / per_step)
                on_report(step, total, float(np.mean(recent)))
    final = float(np.mean(recent)) if recent else float("nan")
    trained = {"steps": step, "seed": options.seed, "loss": round(final, 5), "faces": len(crops),
               "frames": format_frames(data.frames), "seconds": round(time.monotonic() - started, 1), **(source or {})}
    save_occlusion_model(model.eval(), options.output, trained)
    return step, final
