"""What a training run is asked for: the swap trainer's options (``TrainOptions``), the occlusion model's
(``OcclusionOptions``) and the checks every trainer's options share (how long to train, the weight average's
decay).

Without torch: the command line builds its arguments from these defaults before any engine module loads. A device
is resolved when options are made (``resolve_device`` imports torch then).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from latentswap_core.align import FACE_TYPES
from latentswap_core.errors import ModelError
from latentswap_core.face_selection import FaceSelection
from latentswap_core.models.limits import MAX_CONSENT_CHARS
from latentswap_core.train.device_defaults import (
    AUTO_BATCH,
    DEFAULT_STEP_MODE,
    DEVICE_DEFAULT,
    LOSS_EVERY,
    cpu_batch_or,
    pixel_loss_schedule,
    resolve_step_mode,
)

MAX_TRUE_FACE_POWER = 1.0  # DeepFaceLab's range for true_face_power


def check_run_length(steps: int | None, minutes: float | None) -> None:
    """A run trains for ``steps`` (a step count) or ``minutes``, one of them, more than 0; a ModelError if not."""
    if (steps is None) == (minutes is None):
        raise ModelError("give either --steps N or --minutes M to say how long to train")
    if (steps is not None and steps < 1) or (minutes is not None and not minutes > 0):
        raise ModelError("--steps and --minutes must be more than 0")
    if minutes is not None and not math.isfinite(minutes):
        raise ModelError(f"--minutes {minutes} is not allowed: give a finite number of minutes")


def check_average_decay(decay: float) -> None:
    if not 0 <= decay < 1:
        raise ModelError(f"--average-decay {decay} is not allowed: use 0 (off) or a decay below 1")


@dataclass(frozen=True)
class TrainOptions:
    src: Path
    dst: Path
    output: Path
    codec: str = "taef2"
    codec_path: str | None = None
    resolution: int = 256
    preset: str = "small"
    layout: str = "df"
    vq: bool = True
    steps: int | None = None  # train until this step (counting steps of earlier runs when resuming)
    minutes: float | None = None  # or for this long
    batch: int = AUTO_BATCH  # faces per identity per step; AUTO_BATCH: chosen for the device (device_defaults.py)
    # DeepFaceLab's 5e-5 suits its wide pixel-space nets trained for days; these narrow latent nets left
    # faces blurred after 150 steps at 5e-5 and recognisable after 300 at 5e-4 (128 px, batch 4+4).
    lr: float = 5e-4
    accumulate: int = 1  # batches whose gradients add up to one optimizer step
    resume: bool = False
    save_every: int = 500
    preview_every: int = 100
    # the decoded pixel loss every K steps (0: never) on N faces per identity; DEVICE_DEFAULT: the device's schedule
    # (device_defaults.py, with why: CPU every 32nd step on 1 face, CUDA every 4th on the whole batch)
    pixel_loss_every: int = DEVICE_DEFAULT
    pixel_loss_samples: int = DEVICE_DEFAULT
    pixel_loss_crop: int = 256  # px of the face in the pixel and response losses (a random window of larger faces)
    pixel_weight: float = 1.0
    average_decay: float = 0.999  # model/ holds a moving average of the weights (weight_average.py); 0: the live ones
    decoder_response: bool = True  # every step, L1 of the latent error's pixel effect through a linear decoder model
    response_weight: float = 1.0
    eyes_mouth_priority: float = 0.0  # extra loss weight inside the eyes/mouth mask (1: twice the face's)
    # DeepFaceLab's true_face_power (train/true_face.py): a discriminator makes the src faces' codes pass for dst
    # faces', so the src decoder trains on codes like those it swaps; 0: off; the DF layout only
    true_face_power: float = 0.0
    cpu_bf16: bool = True  # the swap model and frozen decoder in bf16 autocast on CPUs that compute it natively
    flip: bool = True
    # random warp of the model's input latents + a pool of re-encoded moved/recoloured faces. Off: on the real clip's
    # self-reconstruction (benchmarks/real_quality.py, 4 CPU minutes) it cost 2.7x the steps (the pool's encoding
    # shares the cores), printed the codec grid (1.67x the plate's, off: 1.21x) and blurred (detail 0.64 vs 0.87),
    # for the same face SSIM (0.544 vs 0.547). The demo's src of three photos still needs it.
    augment: bool = False
    augment_pool: int = 16  # augmented faces per identity in each pool generation
    augment_refresh: int = 100  # steps between pool generations (each is encoded in the background)
    augment_share: float = 0.5  # fraction of each batch drawn from the pool
    seed: int = 0
    consent: str | None = None
    src_name: str | None = None
    dst_name: str | None = None
    device: str = "auto"
    step_mode: str = DEFAULT_STEP_MODE  # eager, static, graph or auto (device_defaults.py): settled in __post_init__
    # losses read back from the device every this many steps; the history keeps one row per read-back, the mean of
    # the steps since the last (the pixel loss's mean over its steps among them); DEVICE_DEFAULT: LOSS_EVERY's
    loss_every: int = DEVICE_DEFAULT
    # mattes over the plates the facesets came from (holdout.####.png): what no loss may learn (microphone, hands)
    src_holdout: str | None = None
    dst_holdout: str | None = None

    def __post_init__(self) -> None:
        src, dst = Path(self.src), Path(self.dst)
        resolved: dict[str, object] = {"src": src, "dst": dst, "output": Path(self.output),
                                       "src_name": self.src_name or src.resolve().name,
                                       "dst_name": self.dst_name or dst.resolve().name}
        resolved.update(self._device_choices())
        for name, value in resolved.items():  # frozen: the paths, names and device choices are settled once, here
            object.__setattr__(self, name, value)
        self._validate()

    def _device_choices(self) -> dict[str, object]:
        """The step mode, loss read-back, batch and pixel-loss schedule for the device, where left to it
        (``device_defaults.py``). CUDA's ``--batch auto`` stays AUTO_BATCH: the Trainer measures it."""
        from latentswap_core.devices import resolve_device  # torch: only once options are made

        device = resolve_device(self.device)
        mode = resolve_step_mode(self.step_mode, device, self.accumulate, int(os.environ.get("WORLD_SIZE", "1")))
        schedule = pixel_loss_schedule(device)
        return {"step_mode": mode, "batch": cpu_batch_or(self.batch, device),
                "loss_every": LOSS_EVERY[mode] if self.loss_every == DEVICE_DEFAULT else self.loss_every,
                "pixel_loss_every": schedule.every if self.pixel_loss_every == DEVICE_DEFAULT
                else self.pixel_loss_every,
                "pixel_loss_samples": schedule.samples if self.pixel_loss_samples == DEVICE_DEFAULT
                else self.pixel_loss_samples}

    def _validate(self) -> None:
        check_run_length(self.steps, self.minutes)
        if self.batch < 0:
            raise ModelError(f"--batch {self.batch} is not allowed: use 1 or more, or auto")
        if self.pixel_loss_every < 0:
            raise ModelError(f"--pixel-loss-every {self.pixel_loss_every} is not allowed: use 0 (never) or more")
        if self.step_mode == "eager" and self.loss_every != 1:
            raise ModelError(f"--loss-every {self.loss_every} needs --step-mode static or graph: eager reads the "
                             "losses every step")
        for name in ("accumulate", "pixel_loss_crop", "pixel_loss_samples", "augment_pool", "augment_refresh",
                     "loss_every"):
            if getattr(self, name) < 1:
                raise ModelError(f"--{name.replace('_', '-')} {getattr(self, name)} is not allowed: use 1 or more")
        check_average_decay(self.average_decay)
        if not 0 <= self.augment_share <= 1:
            raise ModelError(f"--augment-share {self.augment_share} is not allowed: use a fraction from 0 to 1")
        if not self.eyes_mouth_priority >= 0:
            raise ModelError(f"--eyes-mouth-priority {self.eyes_mouth_priority} is not allowed: use 0 or more")
        if not 0 <= self.true_face_power <= MAX_TRUE_FACE_POWER:
            raise ModelError(f"--true-face-power {self.true_face_power} is not allowed: use 0 (off) to "
                             f"{MAX_TRUE_FACE_POWER:g} (0.1 measured: docs/training.md)")
        if self.true_face_power > 0 and self.layout != "df":
            raise ModelError(f"--true-face-power needs --layout df: the {self.layout} layout's decoder reads another "
                             "code for each identity by design (DeepFaceLab offers it for DF only)")
        if self.consent is not None and len(self.consent) > MAX_CONSENT_CHARS:
            raise ModelError(f"--consent is {len(self.consent)} characters: give a reference to the agreement (at "
                             f"most {MAX_CONSENT_CHARS}), not its text; it is copied into every frame's header")
        if not 0 < self.lr <= 1:  # NaN and infinity too: they train a non-finite model
            raise ModelError(f"--lr {self.lr} is not allowed: use a small positive rate such as 5e-4")

    def as_json(self) -> dict[str, Any]:
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class OcclusionOptions:
    """How ``latentswap train-mask`` trains an occlusion model (``occlusion_trainer.py``)."""

    output: Path
    size: int = 128
    steps: int | None = None
    minutes: float | None = None
    batch: int = 8
    lr: float = 2e-3
    seed: int = 0
    faces: FaceSelection = FaceSelection()
    face_type: str = "whole_face"  # how crops are framed: the swap model's (swap --mask occlusion checks)
    cpu_bf16: bool = True  # the net in bf16 autocast on CPUs that compute it natively (as the swap model's training)
    colorspace: str | None = None
    ocio_config: str | None = None
    device: str = "auto"  # settled in __post_init__: cuda where torch sees a GPU, else cpu

    def __post_init__(self) -> None:
        from latentswap_core.devices import resolve_device  # torch: only once options are made
        from latentswap_core.models.occlusion_net import OcclusionConfig

        check_run_length(self.steps, self.minutes)
        if self.face_type not in FACE_TYPES:
            raise ModelError(f"unknown face type {self.face_type!r}; use one of {', '.join(FACE_TYPES)}")
        object.__setattr__(self, "device", resolve_device(self.device))  # frozen: settled once, here
        if self.batch < 1:
            raise ModelError(f"--batch {self.batch} is not allowed: use 1 or more")
        OcclusionConfig(size=self.size)  # its own checks: the size a net can have
