"""A trained model as one file for other runtimes: ONNX (onnxruntime, TensorRT) and TorchScript (Nuke's
CatFileCreator / Inference nodes). Both hold the whole ``SwapNetwork`` (codec encoder -> swap model -> codec
decoder), and each export is checked against torch before it lands under its final name.

ONNX: input ``face`` ``B x 3 x S x S`` (aligned RGB in [0, 1]), output ``swap`` ``B x 4 x S x S`` (swapped RGB
and mask), B dynamic unless a batch size is fixed. The legacy TorchScript-based exporter (``dynamo=False``) is
the default: it exports this graph (VQ nearest-code lookup, pixel_shuffle, interpolate) in about 12 s for a
128 px model on 2 CPU cores, matching torch to ~5e-6. The dynamo exporter also works but only after its
non-strict ``torch.export`` fails on the VQ's codebook statistics (``bincount``/``.item()``, data-dependent)
and it retries in strict mode with side-effect warnings; it takes about 2.5x longer. ``exporter="dynamo"``
keeps it one argument away for when torch drops the legacy exporter.

TorchScript: Nuke passes the whole input image as ``1 x C x H x W`` float and wants one tensor back. The
module takes the first 3 channels (so rgba inputs work), resizes H x W to the model's S x S (bilinear,
antialiased when shrinking) if they differ, swaps, and resizes the 4-channel result back to H x W. Feed it
the aligned crop the gizmo makes; at S x S no resampling happens. Nuke 14/15 run TorchScript saved by
torch 1.12 or older builds of their own torch: a file saved by a much newer torch may need re-saving there.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.errors import LatentSwapError, ModelError, OutputError
from latentswap_core.io import atomic_path
from latentswap_core.io.atomic import check_output_file
from latentswap_core.models.card import ModelCard
from latentswap_core.swap.opsets import MAX_OPSET, MIN_OPSET
from latentswap_core.swap.swapper import Swapper

FORMATS = ("onnx", "torchscript")
EXPORTERS = ("legacy", "dynamo")
ONNX_TOLERANCE = 1e-3
TORCHSCRIPT_TOLERANCE = 1e-4
CHECK_FACES = 2
INPUT_NAME = "face"
OUTPUT_NAME = "swap"
METADATA_FILE = "latentswap.json"  # inside the TorchScript zip (torch.jit.load(..., _extra_files=...))


@dataclass(frozen=True)
class ExportReport:
    """What was written and how well it agrees with torch."""

    path: Path
    format: str
    size_bytes: int
    seconds: float
    max_abs_diff: float
    tolerance: float
    checked_on: str  # the faces the check ran on, in words


def export_metadata(card: ModelCard) -> dict[str, str]:
    """The model card as flat strings: ONNX metadata_props and the TorchScript file's latentswap.json."""
    from latentswap_core import __version__

    return {
        "model_id": card.model_id,
        "model_sha256": card.weights_sha256,
        "model_step": str(card.step),
        "codec": card.codec["name"],
        "codec_sha256": json.dumps(card.codec["weights_sha256"], sort_keys=True),
        "identities": json.dumps({role: info.get("name", "") for role, info in card.identities.items()},
                                 sort_keys=True),
        "consent": card.consent or "",
        "face_size": str(card.face_size),
        "latentswap_version": __version__,
    }


def check_faces(swapper: Swapper, count: int = CHECK_FACES) -> tuple[torch.Tensor, str]:
    """``count x 3 x S x S`` faces for the checks: the first crops of the dst faceset the model was trained on,
    when it is still where provenance.json says, else a seeded random batch."""
    from latentswap_core.faceset import load_faceset

    size = swapper.face_size
    folder = swapper.card.identities.get("dst", {}).get("faceset")
    try:
        faceset = load_faceset(folder)
        crops = [faceset.face(index % len(faceset.faces)) for index in range(count)]
        faces = torch.from_numpy(np.stack(crops).astype(np.float32)).permute(0, 3, 1, 2)
        if faces.shape[-1] != size:
            faces = F.interpolate(faces, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return faces.clamp(0.0, 1.0).contiguous(), f"{count} faces of {folder}"
    except (LatentSwapError, OSError, TypeError, ValueError):  # moved or never recorded: check on noise
        generator = torch.Generator().manual_seed(0)
        return torch.rand(count, 3, size, size, generator=generator), f"{count} seeded random faces"


def export_model(model_dir: str | os.PathLike[str], output: str | os.PathLike[str], file_format: str,
                 batch_size: int | None = None, opset: int = MIN_OPSET, exporter: str = "legacy",
                 codec_path: str | os.PathLike[str] | None = None) -> ExportReport:
    """Load the model folder and export it (see ``export_onnx`` / ``export_torchscript``)."""
    if file_format not in FORMATS:
        raise OutputError(f"unknown export format {file_format!r}: use one of {', '.join(FORMATS)}")
    if file_format == "torchscript" and batch_size not in (None, 1):
        raise OutputError("--batch-size is for onnx: the TorchScript module takes one image (Nuke's Inference node)")
    check_output(output)
    swapper = Swapper(model_dir, "cpu", codec_path)
    if file_format == "onnx":
        return export_onnx(swapper, output, batch_size=batch_size, opset=opset, exporter=exporter)
    return export_torchscript(swapper, output)


def check_output(output: str | os.PathLike[str]) -> Path:
    path = Path(output).expanduser()
    if path.is_dir():
        raise OutputError(f"{path} is a folder: give the file to write, e.g. {path / 'model.onnx'}")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {parent} is not writable")
    return check_output_file(path)


def export_onnx(swapper: Swapper, output: str | os.PathLike[str], batch_size: int | None = None,
                opset: int = MIN_OPSET, exporter: str = "legacy") -> ExportReport:
    """Write ``output`` (atomically) only if onnxruntime on CPU matches torch within ``ONNX_TOLERANCE``."""
    import onnx

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OutputError(f"opset {opset} cannot be written: the export writes opsets {MIN_OPSET} to {MAX_OPSET}")
    if exporter not in EXPORTERS:
        raise OutputError(f"unknown ONNX exporter {exporter!r}: use one of {', '.join(EXPORTERS)}")
    if batch_size is not None and batch_size < 1:
        raise OutputError(f"--batch-size {batch_size}: give 1 or more, or leave it out for a dynamic batch")
    path = check_output(output)
    size = swapper.face_size
    faces, checked_on = check_faces(swapper, batch_size or CHECK_FACES)
    network = swapper.network.eval()
    started = time.perf_counter()
    with atomic_path(path) as temporary:
        options: dict = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset)
        if exporter == "dynamo":
            if batch_size is None:
                options["dynamic_shapes"] = {"rgb": {0: torch.export.Dim("batch", min=1, max=1024)}}
            options.update(dynamo=True, external_data=False, verbose=False)
        else:
            if batch_size is None:
                options["dynamic_axes"] = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
            options.update(dynamo=False)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about the VQ's statistics, deprecation notes
            torch.onnx.export(network, (faces[:1] if batch_size is None else faces,), str(temporary), **options)
        model = onnx.load(str(temporary))
        _fix_output_shape(model, batch_size, size)
        del model.metadata_props[:]
        for key, value in export_metadata(swapper.card).items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        onnx.save(model, str(temporary))
        seconds = time.perf_counter() - started
        from latentswap_core.swap.onnx_runner import OnnxSwapper

        runner = OnnxSwapper(temporary, providers=["CPUExecutionProvider"])
        with torch.no_grad():
            expected = network(faces).numpy()
        found = runner.run(faces.numpy())
        diff = float(np.abs(found - expected).max())
        if not diff < ONNX_TOLERANCE:
            raise ModelError(f"the ONNX export of {swapper.card.folder} differs from torch by {diff:.2e} "
                             f"(limit {ONNX_TOLERANCE:.0e}) on {checked_on}; nothing written to {path}: "
                             f"try --exporter {'dynamo' if exporter == 'legacy' else 'legacy'} or another --opset")
    return ExportReport(path, "onnx", path.stat().st_size, seconds, diff, ONNX_TOLERANCE, checked_on)


def _fix_output_shape(model, batch_size: int | None, size: int) -> None:
    """Name the output's dims as the input's (the legacy exporter calls the channel dim 'Concatswap_dim_1')."""
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        return
    for dim, value in zip(dims, (batch_size, 4, size, size), strict=True):
        if value is None:
            dim.dim_param = "batch"
        else:
            dim.dim_value = value


class NukeSwap(nn.Module):
    """Nuke's Inference contract around the traced network: ``1 x C x H x W`` (C >= 3, rgb first, in [0, 1])
    -> ``1 x 4 x H x W`` (swapped rgb, mask). H x W other than the model's S x S are resampled bilinearly
    to S and back."""

    def __init__(self, network: torch.jit.ScriptModule, face_size: int) -> None:
        super().__init__()
        self.network = network
        self.face_size = face_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        rgb = image[:, :3].float()
        height, width = rgb.shape[2], rgb.shape[3]
        size = self.face_size
        resize = height != size or width != size
        if resize:
            rgb = F.interpolate(rgb, size=[size, size], mode="bilinear", align_corners=False,
                                antialias=height > size or width > size)
        out = self.network(rgb)
        if resize:
            out = F.interpolate(out, size=[height, width], mode="bilinear", align_corners=False).clamp(0.0, 1.0)
        return out.to(image.dtype)


def export_torchscript(swapper: Swapper, output: str | os.PathLike[str]) -> ExportReport:
    """Write ``output`` (atomically) only if the reloaded module matches torch within ``TORCHSCRIPT_TOLERANCE``."""
    path = check_output(output)
    faces, checked_on = check_faces(swapper, 1)
    network = swapper.network.eval()
    started = time.perf_counter()
    with atomic_path(path) as temporary:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about the VQ's statistics (not part of the output)
            traced = torch.jit.trace(network, (faces,), check_trace=False)
            module = torch.jit.script(NukeSwap(traced, swapper.face_size).eval())
        extra = {METADATA_FILE: json.dumps(export_metadata(swapper.card), indent=2)}
        torch.jit.save(module, str(temporary), _extra_files=extra)
        seconds = time.perf_counter() - started
        reloaded = torch.jit.load(str(temporary), map_location="cpu")
        with torch.no_grad():
            diff = float((reloaded(faces) - network(faces)).abs().max())
        if not diff < TORCHSCRIPT_TOLERANCE:
            raise ModelError(f"the TorchScript export of {swapper.card.folder} differs from torch by {diff:.2e} "
                             f"(limit {TORCHSCRIPT_TOLERANCE:.0e}) on {checked_on}; nothing written to {path}")
    return ExportReport(path, "torchscript", path.stat().st_size, seconds, diff, TORCHSCRIPT_TOLERANCE, checked_on)
