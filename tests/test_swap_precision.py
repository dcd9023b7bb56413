"""``swap --precision bf16``: the swap network (codec and model) in bf16 autocast, for drafts on CPUs that compute
bf16 natively and on GPUs; refused where it would not be faster or cannot run, and recorded in the header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentswap_core.errors import ModelError
from latentswap_core.faceset import load_faceset


def test_bf16_runs_the_network_in_bf16_near_its_fp32_result(shared_models: Path, tiny_model: Path,
                                                            tiny_facesets, native_bf16_cpu) -> None:
    from latentswap_core.swap import Swapper

    faceset = load_faceset(tiny_facesets[1])
    faces = np.stack([faceset.face(index) for index in range(2)])
    exact = Swapper(tiny_model, "cpu")
    draft = Swapper(tiny_model, "cpu", precision="bf16")
    assert (exact.precision, draft.precision) == ("fp32", "bf16")
    (face_32, mask_32), (face_16, mask_16) = exact.swap(faces), draft.swap(faces)
    assert face_16.dtype == np.float32 and face_16.shape == face_32.shape
    difference = np.abs(face_16 - face_32)
    assert difference.max() > 0  # it ran in bf16
    assert difference.mean() < 0.01 and difference.max() < 0.15, (difference.mean(), difference.max())
    assert np.abs(mask_16 - mask_32).mean() < 0.01
    assert next(draft.network.parameters()).dtype == torch.float32  # weights stay float32: autocast only


def test_bf16_is_refused_where_it_cannot_run_or_would_be_slower(shared_models: Path, tiny_model: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from latentswap_core import devices
    from latentswap_core.swap.backends import open_swapper

    with pytest.raises(ModelError, match="--precision fp16 is unknown: use one of fp32, bf16"):
        open_swapper(tiny_model, "torch", "cpu", precision="fp16")
    with pytest.raises(ModelError, match="--precision bf16 needs --backend torch"):
        open_swapper(tiny_model, "onnx", "cpu", precision="bf16")
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    with pytest.raises(ModelError, match="this CPU computes no bf16 natively .*use --precision fp32 or a GPU"):
        open_swapper(tiny_model, "torch", "cpu", precision="bf16")


def test_a_gpu_without_bf16_is_refused_the_gpu_asked_for_is_the_one_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-Ampere GPUs (V100, T4: compute capability 7) emulate bf16, slower than fp32; torch's own
    ``is_bf16_supported()`` counts emulation as support, so the check reads the asked-for GPU's capability."""
    from latentswap_core.swap.precision import check_precision

    capabilities = {0: (8, 0), 1: (7, 5)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda device=None: capabilities[device])
    check_precision("bf16", "torch", "cuda")
    check_precision("bf16", "torch", "cuda:0")
    with pytest.raises(ModelError, match="--precision bf16: this GPU .cuda:1. computes bf16 only by emulation"):
        check_precision("bf16", "torch", "cuda:1")


def test_the_onnx_runner_says_which_precision_its_providers_run() -> None:
    """TensorRT runs the export in fp16 (``provider_settings``): the header's precision must say so."""
    from latentswap_core.swap.onnx_runner import providers_precision

    assert providers_precision(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]) == "fp16"
    assert providers_precision(["CUDAExecutionProvider", "CPUExecutionProvider"]) == "fp32"
    assert providers_precision(["CPUExecutionProvider"]) == "fp32"
