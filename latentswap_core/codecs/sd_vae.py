"""Stable Diffusion's VAE (diffusers ``AutoencoderKL``) from a local diffusers folder the user gives.

Encode: RGB [0, 1] -> [-1, 1] -> posterior mean (deterministic) -> ``(mean - shift_factor) * scaling_factor``.
Decode undoes the scaling and maps the VAE's [-1, 1] output back to [0, 1]. Only a diffusers folder
(``config.json`` + ``diffusion_pytorch_model.safetensors``) is accepted: a single-file checkpoint needs a
config that diffusers would otherwise fetch from the hub, and this tool never downloads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from latentswap_core.codecs.base import Codec, sha256_of_files
from latentswap_core.errors import ModelError

NAME = "sd-vae"
CONFIG_FILE = "config.json"
WEIGHTS_GLOB = "diffusion_pytorch_model*.safetensors"
FOLDER_HINT = "a diffusers VAE folder (config.json + diffusion_pytorch_model.safetensors), e.g. the vae/ subfolder"


class SDVAECodec(Codec):
    name = NAME

    def __init__(self, vae: Any, weights_sha256: dict[str, str], source: str) -> None:
        super().__init__(vae, weights_sha256, source)
        self.vae = vae  # diffusers AutoencoderKL, the same module as ``self.module`` (diffusers' types are lazy)
        config: Any = vae.config
        self.latent_channels = int(config.latent_channels)
        self.downscale = 2 ** (len(config.block_out_channels) - 1)
        self.scaling_factor = float(config.scaling_factor)
        shift = getattr(config, "shift_factor", None)
        self.shift_factor = float(shift) if shift is not None else 0.0

    def _encode(self, rgb: torch.Tensor) -> torch.Tensor:
        mean = self.vae.encode(rgb * 2.0 - 1.0).latent_dist.mean
        return (mean - self.shift_factor) * self.scaling_factor

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        image = self.vae.decode(latent / self.scaling_factor + self.shift_factor).sample
        return (image + 1.0) / 2.0


def load_sd_vae(path: str | os.PathLike[str] | None) -> SDVAECodec:
    if path is None:
        raise ModelError(f"codec {NAME!r} needs path= (--codec-path on the command line): {FOLDER_HINT} of a Stable "
                         "Diffusion checkpoint")
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelError(f"SD VAE folder {folder} does not exist; give {FOLDER_HINT}")
    if not folder.is_dir():
        raise ModelError(f"{folder} is a single file; single-file VAEs are not supported offline, give {FOLDER_HINT}")
    config_path = folder / CONFIG_FILE
    try:
        class_name = json.loads(config_path.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        raise ModelError(f"{config_path} is missing or not JSON; {folder} must be {FOLDER_HINT}") from None
    if class_name != "AutoencoderKL":
        raise ModelError(f"{config_path} describes {class_name!r}, not an AutoencoderKL; give {FOLDER_HINT}")
    weights = sorted(folder.glob(WEIGHTS_GLOB))
    if not weights:
        raise ModelError(f"no diffusion_pytorch_model.safetensors in {folder}; give {FOLDER_HINT} (no .bin files)")

    from diffusers import AutoencoderKL  # imported here: diffusers is slow to import

    try:
        vae = AutoencoderKL.from_pretrained(folder, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"cannot load the SD VAE in {folder} ({reason}); check weights vs config.json") from None
    # config.json holds scaling_factor and shift_factor: a change there changes every latent, so it is hashed too.
    return SDVAECodec(vae.to(torch.float32), sha256_of_files([config_path, *weights]), str(folder))
