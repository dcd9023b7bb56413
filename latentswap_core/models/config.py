"""The swap model's configuration: one explicit dataclass, presets for its widths, JSON round trip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from latentswap_core.errors import ModelError

CONFIG_VERSION = 1
MIN_FACE_SIZE = 128
MAX_FACE_SIZE = 1024
FACE_SIZE_STEP = 64
LAYOUTS = ("df", "liae")

# Channel widths per preset: encoder base width (x1, x2, x4 per stage), inter width, decoder base width.
# Much narrower than DeepFaceLab's pixel-space layers: at latent resolution wide layers dominate the cost.
PRESETS: dict[str, dict[str, int]] = {
    "small": {"encoder_dims": 32, "inter_dims": 128, "decoder_dims": 32},
    "medium": {"encoder_dims": 48, "inter_dims": 192, "decoder_dims": 48},
    "large": {"encoder_dims": 64, "inter_dims": 256, "decoder_dims": 64},
    # DeepFaceLab SAEHD's default widths (e_dims 64, ae_dims 256, d_dims 64, d_mask_dims 22): its decoder runs at
    # d_dims x 8, x 4, x 2 and stays at x 2 up to full resolution, as ours does from decoder_dims x 4, x 2, x 1 with
    # decoder_dims = 2 x 64 (and the mask branch at 2 x 22). What a user would otherwise train, as a baseline.
    "dfl": {"encoder_dims": 64, "inter_dims": 256, "decoder_dims": 128, "mask_dims": 44},
}


def check_face_size(face_size: int) -> None:
    """Raise a one-line ModelError unless ``face_size`` is 128..1024 px in steps of 64."""
    if not MIN_FACE_SIZE <= face_size <= MAX_FACE_SIZE or face_size % FACE_SIZE_STEP:
        raise ModelError(
            f"face size {face_size} px is not supported by the swap model: use {MIN_FACE_SIZE} to {MAX_FACE_SIZE} px "
            f"in steps of {FACE_SIZE_STEP}"
        )


def stages_for(latent_size: int) -> int:
    """Down/up stages from the latent side: 2 at 16 (128 px), else 3, so the bottleneck is latent/4 or latent/8."""
    return 2 if latent_size <= 16 else 3


def front_stages_for(face_size: int, latent_size: int) -> int:
    """k where ``latent_size = face_size / 8 * 2^k``: stages that bring a finer input down to the face/8 side.

    0 for codecs with a downscale of 8 or more (TAEF2, SD VAE); 2 for the pixel codec's default factor 2.
    """
    core = face_size // 8
    if latent_size <= core:
        return 0
    ratio = latent_size // core
    if latent_size % core or ratio & (ratio - 1):
        raise ModelError(
            f"latent side {latent_size} does not fit a {face_size} px face: the swap model takes face/8 x 2^k "
            f"({core}, {core * 2}, {core * 4}, ...), i.e. a codec whose downscale is 8, 4, 2 or 1"
        )
    return ratio.bit_length() - 1


@dataclass
class SwapModelConfig:
    """Everything needed to rebuild a swap model. Width fields left at 0 are filled from ``preset``.

    Latents are ``B x latent_channels x latent_size x latent_size`` for faces of ``face_size`` px
    (TAEF2: 32 channels at face_size / 8; the pixel codec: 12 channels at face_size / 2 with its default factor).
    Whatever the input side, the model reaches the same bottleneck for the same face size: an input finer than
    face/8 first goes through ``front_stages`` stride-2 stages (derived, not stored), and each decoder ends with
    as many upscale + residual stages. Those front stages keep a constant width (encoder_dims in, decoder_dims
    and mask_dims out) -- our "same family" rule; DeepFaceLab keeps its decoder wider at full resolution
    (d_dims * 2 channels).
    """

    latent_channels: int
    face_size: int
    latent_size: int
    layout: str = "df"  # "df": shared encoder + inter, one decoder per identity; "liae": see swap_model.py
    preset: str = "small"
    encoder_dims: int = 0
    inter_dims: int = 0
    decoder_dims: int = 0
    mask_dims: int = 0  # the mask branch, DeepFaceLab's d_mask_dims = d_dims / 3
    stages: int = 0  # stride-2 down stages in the encoder, matching upscales in each decoder
    vq: bool = True
    codebook_size: int = 512
    code_dim: int = 64
    commitment_weight: float = 0.25
    ema_decay: float = 0.99
    dead_code_updates: int = 50  # a code unused for this many EMA updates is re-initialised from encoder outputs
    identities: tuple[str, ...] = ("src", "dst")
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        self.identities = tuple(self.identities)
        check_face_size(self.face_size)
        if self.layout not in LAYOUTS:
            raise ModelError(f"swap model layout {self.layout!r} is unknown: use one of {', '.join(LAYOUTS)}")
        if self.preset not in PRESETS:
            raise ModelError(f"swap model preset {self.preset!r} is unknown: use one of {', '.join(PRESETS)}")
        if self.latent_channels < 1 or self.latent_size < 1 or self.face_size % self.latent_size:
            raise ModelError(
                f"latent {self.latent_channels} x {self.latent_size} does not fit a {self.face_size} px face: "
                "take the shape from codec.latent_shape(face_size)"
            )
        for name, value in PRESETS[self.preset].items():
            if not getattr(self, name):
                setattr(self, name, value)
        if not self.mask_dims:
            self.mask_dims = max(8, self.decoder_dims // 3)
        core_size = self.latent_size // 2**self.front_stages  # the face/8 side the core stages start from
        if not self.stages:
            self.stages = stages_for(core_size)
        if core_size % (2**self.stages):
            raise ModelError(f"latent size {core_size} is not divisible by 2^{self.stages}: use fewer stages")
        if len(set(self.identities)) != 2:
            raise ModelError(f"swap model identities {self.identities} must be two distinct names, e.g. ('src', 'dst')")
        if self.codebook_size < 2 or self.code_dim < 1 or not 0.0 < self.ema_decay < 1.0:
            raise ModelError("codebook_size must be 2 or more, code_dim 1 or more and ema_decay in (0, 1)")

    @property
    def front_stages(self) -> int:
        """Extra stride-2 stages in front of the encoder (and upscales at the end of each decoder) that bring an
        input at face/8 x 2^k down to the face/8 side: 0 for TAEF2, 2 for the pixel codec at factor 2."""
        return front_stages_for(self.face_size, self.latent_size)

    @classmethod
    def for_codec(cls, codec: Any, face_size: int, **options: Any) -> SwapModelConfig:
        """The config for faces of ``face_size`` px in ``codec``'s latent space (anything with ``latent_shape``)."""
        check_face_size(face_size)
        channels, side, _ = codec.latent_shape(face_size)
        return cls(latent_channels=channels, face_size=face_size, latent_size=side, **options)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identities"] = list(self.identities)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> SwapModelConfig:
        """Rebuild from ``to_dict``; ``source`` names the file in the one-line ModelError on a bad config."""
        if not isinstance(data, dict):
            raise ModelError(f"{source} is not a JSON object: save the model again")
        version = data.get("version")
        if version != CONFIG_VERSION:
            raise ModelError(
                f"{source} is swap model config version {version!r}, this LatentSwap reads version {CONFIG_VERSION}: "
                "retrain the model or use the LatentSwap that wrote it"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"{source} has unknown fields {unknown}: it was not written by this LatentSwap")
        try:
            return cls(**data)
        except TypeError as error:
            raise ModelError(f"{source} is incomplete ({error}): save the model again") from error
        except ModelError as error:  # a value out of range: say which file holds it
            raise ModelError(f"{source}: {error}") from None
