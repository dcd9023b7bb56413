"""Identity embedders for the refiner's conditioning: aligned face crops -> unit identity vectors.

``dlib`` (default, offline): dlib's 128-d ResNet descriptor from ``face_recognition_models``. ``arcface``: an
ArcFace ONNX model the user gives (e.g. insightface's ``w600k_r50.onnx``), run by onnxruntime: the face box of
the aligned crop, resized to the model's input (112 px), RGB scaled to [-1, 1]. Both are frozen; the refiner
learns a differentiable stand-in for the one it was trained with (``LatentIdentityEncoder``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from latentswap_core.errors import ModelError
from latentswap_core.identity import DlibIdentity
from latentswap_core.identity.dlib_descriptor import ALIGNED_FACE_BOX


class Embedder(Protocol):
    dim: int

    def embed(self, faces: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-8)


class DlibEmbedder:
    dim = 128

    def __init__(self) -> None:
        self.identity = DlibIdentity()

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """``N x S x S x 3`` aligned crops (float [0, 1] or uint8) -> ``N x 128`` unit vectors."""
        return unit_rows(np.stack([self.identity.describe_aligned(face) for face in faces]))

    def describe(self) -> dict[str, Any]:
        return {"name": "dlib", "dim": self.dim}


class ArcFaceEmbedder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        import onnxruntime

        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ModelError(f"ArcFace model {self.path} not found: give the path of an ArcFace .onnx file")
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for any unreadable model
            raise ModelError(f"{self.path} is not a readable ONNX model ({type(error).__name__}): give an ArcFace "
                             ".onnx file") from None
        model_input = self.session.get_inputs()[0]
        shape = model_input.shape
        self.input_name = model_input.name
        self.size = shape[-1] if isinstance(shape[-1], int) else 112
        output_shape = self.session.get_outputs()[0].shape
        if len(shape) != 4 or len(output_shape) != 2 or not isinstance(output_shape[1], int):
            raise ModelError(f"{self.path} takes {shape} and gives {output_shape}: an ArcFace model takes "
                             "N x 3 x 112 x 112 faces and gives N x D embeddings")
        self.dim = int(output_shape[1])
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()

    def embed(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.dtype == np.uint8:
            faces = faces.astype(np.float32) / 255.0
        side = faces.shape[1]
        left, top, right, bottom = (round(f * side) for f in ALIGNED_FACE_BOX)
        crops = [cv2.resize(face[top:bottom, left:right], (self.size, self.size), interpolation=cv2.INTER_AREA)
                 for face in faces]
        batch = (np.stack(crops).astype(np.float32) * 2.0 - 1.0).transpose(0, 3, 1, 2)
        return unit_rows(self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})[0])

    def describe(self) -> dict[str, Any]:
        return {"name": "arcface", "dim": self.dim, "path": str(self.path), "sha256": self.sha256}


def open_embedder(arcface: str | os.PathLike[str] | None = None) -> DlibEmbedder | ArcFaceEmbedder:
    return ArcFaceEmbedder(arcface) if arcface else DlibEmbedder()
