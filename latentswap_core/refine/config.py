"""The refiner's configuration: one explicit dataclass with a JSON round trip, and its width presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from latentswap_core.errors import ModelError

CONFIG_VERSION = 1
PREDICTIONS = ("epsilon", "v_prediction")
SAMPLERS = ("ddim", "dpm-solver")

# UNet widths per resolution level and ResNet blocks per level. Attention runs on every level but the first.
PRESETS: dict[str, tuple[tuple[int, ...], int]] = {
    "tiny": ((32, 64), 1),
    "small": ((64, 128, 256), 2),
    "medium": ((128, 256, 512), 2),
}


@dataclass
class RefinerConfig:
    """Everything needed to rebuild a refiner. Latents are normalised per channel (``latent_mean``,
    ``latent_std``, measured on the training faceset) before the UNet sees them."""

    latent_channels: int
    latent_size: int
    face_size: int
    latent_mean: list[float]
    latent_std: list[float]
    preset: str = "small"
    identity_dim: int = 128
    identity_embedder: dict[str, Any] = field(default_factory=lambda: {"name": "dlib"})
    prediction_type: str = "v_prediction"
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ModelError(f"refiner preset {self.preset!r} is unknown: use one of {', '.join(PRESETS)}")
        if self.prediction_type not in PREDICTIONS:
            raise ModelError(f"prediction {self.prediction_type!r} is unknown: use one of {', '.join(PREDICTIONS)}")
        widths, _ = PRESETS[self.preset]
        if self.latent_size % 2 ** (len(widths) - 1):
            raise ModelError(f"a {self.latent_size} px latent does not halve {len(widths) - 1} times: the "
                             f"{self.preset} refiner needs faces whose latent side is a multiple of "
                             f"{2 ** (len(widths) - 1)}")
        if len(self.latent_mean) != self.latent_channels or len(self.latent_std) != self.latent_channels:
            raise ModelError("the refiner's latent statistics do not match its channel count")

    @property
    def widths(self) -> tuple[int, ...]:
        return PRESETS[self.preset][0]

    @property
    def layers_per_block(self) -> int:
        return PRESETS[self.preset][1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> RefinerConfig:
        if not isinstance(data, dict):
            raise ModelError(f"{source} is not a refiner config (a JSON object): train the refiner again")
        if data.get("version") != CONFIG_VERSION:
            raise ModelError(f"{source} is refiner config version {data.get('version')!r}, this LatentSwap reads "
                             f"version {CONFIG_VERSION}: train the refiner again with this version")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError as error:
            raise ModelError(f"{source} lacks refiner settings ({error}): train the refiner again") from None
