"""Swapping with an exported ONNX file (``latentswap export --format onnx``) through onnxruntime, with the
same interface as ``Swapper``: ``swap(faces N x S x S x 3) -> (faces, masks)``.

Providers, unless given: TensorRT, then CUDA, then CPU, among those this onnxruntime build has.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latentswap_core.errors import ModelError
from latentswap_core.models.card import ModelCard

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
TENSORRT_CACHE = "tensorrt_cache"  # TensorRT's built engines, kept beside the ONNX file: building takes minutes


def choose_providers(available: list[str]) -> list[str]:
    """The preferred providers found in ``available``, best first; CPU at least."""
    chosen = [name for name in PREFERRED_PROVIDERS if name in available]
    return chosen or ["CPUExecutionProvider"]


def provider_settings(names: list[str], folder: Path) -> list[tuple[str, dict[str, str]]]:
    """``names`` with their options: TensorRT in fp16 with its engine and timing caches in ``folder``."""
    settings: list[tuple[str, dict[str, str]]] = []
    for name in names:
        options: dict[str, str] = {}
        if name == "TensorrtExecutionProvider":
            cache = str(folder / TENSORRT_CACHE)
            options = {"trt_fp16_enable": "True", "trt_engine_cache_enable": "True", "trt_engine_cache_path": cache,
                       "trt_timing_cache_enable": "True", "trt_timing_cache_path": cache}
        settings.append((name, options))
    return settings


def providers_precision(providers: list[str]) -> str:
    """What the export computes in under ``providers`` (those that ran, best first): TensorRT runs it in fp16
    (``provider_settings``), the others in fp32."""
    return "fp16" if providers and providers[0] == "TensorrtExecutionProvider" else "fp32"


class OnnxSwapper:
    """Load an exported swap network once, then ``swap`` batches of aligned faces (float32 sRGB in [0, 1])."""

    def __init__(self, onnx_path: str | os.PathLike[str], providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(onnx_path).expanduser()
        if not self.path.is_file():
            raise ModelError(f"{self.path} not found: give an ONNX file written by `latentswap export --format onnx`")
        if providers is None:
            providers = choose_providers(ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(self.path), ort.SessionOptions(),
                                                providers=provider_settings(providers, self.path.parent))
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelError(f"{self.path} is not a usable ONNX file ({first_line}); export the model again") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        size = shape[2] if len(shape) == 4 else None
        fits = len(inputs) == 1 and len(outputs) == 1 and len(shape) == 4 and shape[1] == 3 and shape[3] == size
        if not (fits and isinstance(size, int)):
            described = ", ".join(f"{item.name} {item.shape}" for item in inputs)
            raise ModelError(f"{self.path} takes {described or 'no input'}, not one B x 3 x S x S face batch: "
                             "export the model with `latentswap export --format onnx`")
        self.input_name = inputs[0].name
        self.face_size: int = size
        self.batch_size: int | None = shape[0] if isinstance(shape[0], int) else None  # None: dynamic
        self.providers: list[str] = self.session.get_providers()
        self.precision = providers_precision(self.providers)  # for the header, as ``Swapper.precision``
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.card: ModelCard | None = None  # the model folder's provenance, when opened through open_swapper

    def run(self, rgb: np.ndarray) -> np.ndarray:
        """``N x 3 x S x S`` -> ``N x 4 x S x S`` float32; a fixed-batch file runs in padded chunks."""
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        if self.batch_size is None:
            return self.session.run(None, {self.input_name: rgb})[0]
        count = rgb.shape[0]
        chunks = []
        for start in range(0, count, self.batch_size):
            chunk = rgb[start:start + self.batch_size]
            padding = self.batch_size - chunk.shape[0]
            if padding:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], padding, axis=0)])
            chunks.append(self.session.run(None, {self.input_name: chunk})[0][: self.batch_size - padding])
        return np.concatenate(chunks) if chunks else np.zeros((0, 4, *rgb.shape[2:]), np.float32)

    def swap(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``N x S x S x 3`` aligned faces -> (swapped faces ``N x S x S x 3``, masks ``N x S x S``), float32."""
        if faces.ndim != 4 or faces.shape[1:] != (self.face_size, self.face_size, 3):
            raise ModelError(f"faces of shape {faces.shape} do not fit {self.path.name}: it swaps "
                             f"N x {self.face_size} x {self.face_size} x 3 aligned crops")
        out = self.run(np.ascontiguousarray(faces.transpose(0, 3, 1, 2))).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(out[..., :3]), np.ascontiguousarray(out[..., 3])
