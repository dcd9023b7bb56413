"""``open_swapper``: the model of a model folder, run by torch or by onnxruntime, behind one interface:
``swap(faces) -> (faces, masks)``, ``face_size`` and ``card`` (the model's provenance)."""

from __future__ import annotations

import os

from latentswap_core.devices import resolve_device
from latentswap_core.errors import ModelError
from latentswap_core.models.card import model_folder, read_card
from latentswap_core.swap.onnx_runner import OnnxSwapper
from latentswap_core.swap.precision import DEFAULT_PRECISION, check_precision
from latentswap_core.swap.projection import DEFAULT_PROJECTIONS, MAX_PROJECTIONS
from latentswap_core.swap.swapper import Swapper

BACKENDS = ("torch", "onnx")
ONNX_FILE = "swap.onnx"  # exported once beside the weights, again when the weights are newer


def open_swapper(model_dir: str | os.PathLike[str], backend: str = "torch", device: str = "auto",
                 codec_path: str | os.PathLike[str] | None = None,
                 projections: int = DEFAULT_PROJECTIONS, precision: str = DEFAULT_PRECISION) -> Swapper | OnnxSwapper:
    if backend not in BACKENDS:
        raise ModelError(f"--backend {backend!r} is unknown: use one of {', '.join(BACKENDS)}")
    if not 0 <= projections <= MAX_PROJECTIONS:
        raise ModelError(f"--codec-projection {projections} is not allowed: use 0 to {MAX_PROJECTIONS}")
    if backend == "torch":
        return Swapper(model_dir, resolve_device(device), codec_path, projections, precision)  # it checks precision
    check_precision(precision, backend, device)
    if projections != DEFAULT_PROJECTIONS:
        raise ModelError(f"--codec-projection {projections} needs --backend torch: the ONNX export holds "
                         f"{DEFAULT_PROJECTIONS}")
    folder = model_folder(model_dir)
    card = read_card(folder)
    onnx_path = folder / ONNX_FILE
    providers = ["CPUExecutionProvider"] if device == "cpu" else None  # None: TensorRT, CUDA, then CPU
    swapper = None
    if onnx_path.is_file():
        try:
            swapper = OnnxSwapper(onnx_path, providers)
        except ModelError:  # damaged: made again below
            swapper = None
    # Run only an export of these very weights (its metadata names their hash): a swap.onnx from other weights,
    # or one put there by hand, is exported again rather than run under this model's name.
    if swapper is None or swapper.metadata.get("model_sha256") != card.weights_sha256:
        from latentswap_core.swap.export import export_model

        export_model(folder, onnx_path, "onnx", codec_path=codec_path)
        swapper = OnnxSwapper(onnx_path, providers)
        if swapper.metadata.get("model_sha256") != card.weights_sha256:
            raise ModelError(f"{onnx_path} does not hold the model {card.model_id} after exporting it; check that "
                             f"{folder} is writable and not changed by another process")
    swapper.card = card
    return swapper
