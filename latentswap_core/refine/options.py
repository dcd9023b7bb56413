"""How the refiner is asked to work: trained (``RefinerTrainOptions``, ``latentswap train-refiner``) and applied to
swapped faces at render time (``RefinerApplyOptions``, ``latentswap swap --refine-*``).

Without torch: the command line builds its arguments from these defaults before any engine module loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from latentswap_core.errors import ModelError
from latentswap_core.refine.config import PREDICTIONS, PRESETS, SAMPLERS
from latentswap_core.train.options import check_average_decay, check_run_length


@dataclass(frozen=True)
class RefinerApplyOptions:
    """How a trained refiner is applied to swapped faces at render time (``swap --refine-*``); the training
    settings are ``RefinerTrainOptions`` (below)."""

    strength: float = 0.3  # how much of the schedule is re-run: 0 keeps the swap, 1 ignores it
    steps: int = 20  # sampler steps for the whole schedule; round(steps * strength) are run
    seed: int = 0
    temporal: float = 0.5  # share of the previous frame's added detail kept
    sampler: str = "ddim"
    guidance: float = 1.0  # classifier-free guidance on the identity (1: none, one UNet call per step)

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ModelError(f"--refine-strength {self.strength} is outside 0..1")
        if not 1 <= self.steps <= 1000:
            raise ModelError(f"--refine-steps {self.steps} is not allowed: use 1 to 1000")
        if not 0.0 <= self.temporal < 1.0:
            raise ModelError(f"--refine-temporal {self.temporal} is not allowed: use 0 (off) up to below 1")
        if self.sampler not in SAMPLERS:
            raise ModelError(f"--refine-sampler {self.sampler!r} is unknown: use one of {', '.join(SAMPLERS)}")
        if not 0.0 <= self.guidance <= 20.0:
            raise ModelError(f"--refine-guidance {self.guidance} is not allowed: use 0 to 20 (1: off)")


@dataclass(frozen=True)
class RefinerTrainOptions:
    """How a refiner is trained (``latentswap train-refiner``); applying it at swap time takes
    ``RefinerApplyOptions`` (above)."""

    faceset: Path  # the identity the refined swaps should show (the swap model's src)
    output: Path
    model: Path | None = None  # a swap model folder: paired reconstructions, its codec and face size
    swaps: tuple[Path, ...] = ()  # facesets of faces the model will swap (needs ``model``)
    codec: str = "taef2"  # without ``model``
    codec_path: str | None = None
    resolution: int | None = None  # default: the model's face size, else the faceset's
    preset: str = "small"
    prediction: str = "v_prediction"
    steps: int | None = None
    minutes: float | None = None
    batch: int = 4
    lr: float = 2e-4
    max_strength: float = 0.6  # noise levels (fraction of the schedule) of the reconstruction and swap groups
    identity_weight: float = 0.1
    reconstruction_weight: float = 1.0
    drop_identity: float = 0.1
    identity_steps: int = 300
    arcface: str | None = None  # an ArcFace ONNX model instead of dlib's descriptor
    save_every: int = 500
    preview_every: int = 100
    preview_strength: float = 0.3
    preview_steps: int = 20
    target_name: str | None = None
    consent: str | None = None
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    average_decay: float = 0.999  # refiner/ holds a moving average of the UNet's weights (0: the live ones)
    cpu_bf16: bool = True  # the UNet in bf16 autocast on CPUs that compute it natively (as the swap model's training)

    def __post_init__(self) -> None:
        faceset = Path(self.faceset)
        resolved: dict[str, object] = {
            "faceset": faceset, "output": Path(self.output), "model": Path(self.model) if self.model else None,
            "swaps": tuple(Path(folder) for folder in self.swaps),
            "target_name": self.target_name or faceset.resolve().name}
        for name, value in resolved.items():  # frozen: the paths and names are settled once, here
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        check_run_length(self.steps, self.minutes)
        if self.swaps and self.model is None:
            raise ModelError("--swaps needs --model: the refiner learns from that model's swaps of those faces")
        if self.preset not in PRESETS:
            raise ModelError(f"--preset {self.preset!r} is unknown: use one of {', '.join(PRESETS)}")
        if self.prediction not in PREDICTIONS:
            raise ModelError(f"--prediction {self.prediction!r} is unknown: use one of {', '.join(PREDICTIONS)}")
        for name in ("batch", "preview_steps"):
            if getattr(self, name) < 1:
                raise ModelError(f"--{name.replace('_', '-')} {getattr(self, name)} is not allowed: use 1 or more")
        for name in ("max_strength", "drop_identity", "preview_strength"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ModelError(f"--{name.replace('_', '-')} {getattr(self, name)} is outside 0..1")
        for name in ("identity_weight", "reconstruction_weight", "identity_steps"):
            if not getattr(self, name) >= 0:
                raise ModelError(f"--{name.replace('_', '-')} {getattr(self, name)} is not allowed: use 0 or more")
        if not self.lr > 0:
            raise ModelError(f"--lr {self.lr} is not allowed: use a small positive rate such as 2e-4")
        check_average_decay(self.average_decay)

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            return [plain(item) for item in value] if isinstance(value, tuple) else value

        return {key: plain(value) for key, value in asdict(self).items()}
