"""The precision the trainers (swap model, refiner, occlusion model) run their networks in: bf16 autocast on GPUs and
CPUs that compute bf16 natively (compute capability 8 and later; AVX512-BF16, AMX), float32 elsewhere. Weights,
optimizer state and losses stay float32."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from latentswap_core import devices


def bf16_autocast_on(device: torch.device, cpu_bf16: bool) -> bool:
    """Whether training on ``device`` runs its networks in bf16 autocast: on a GPU with native bf16, and on a CPU
    with native bf16 unless ``cpu_bf16`` (``TrainOptions``, ``RefinerTrainOptions``, ``OcclusionOptions``) is off."""
    if device.type == "cuda":
        return devices.cuda_has_bf16(str(device))
    return device.type == "cpu" and cpu_bf16 and devices.cpu_has_bf16()


def training_autocast(device: torch.device, cpu_bf16: bool, cache_enabled: bool = True) -> AbstractContextManager:
    """bf16 autocast where ``bf16_autocast_on`` says so, else nothing. ``cache_enabled`` False: each use of a
    weight casts it again (what a step captured in a CUDA graph needs: the cache would hold the capture's casts)."""
    if bf16_autocast_on(device, cpu_bf16):
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return nullcontext()
