"""Per-frame measures of a swap against its plate: identity, fidelity and flicker. Plain arrays in, numbers out.

Images are display-referred sRGB float in [0, 1] (``color.working_rgb``), H x W x 3; masks are H x W in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from latentswap_core.blend.compose import nonzero_box
from latentswap_core.identity import identity_distance

PSNR_CAP_DB = 100.0  # PSNR of identical images is infinite; reported as this so that JSON holds a number


def identity_scores(descriptor: np.ndarray, target: np.ndarray, source: np.ndarray) -> dict[str, float | bool]:
    """Distances of one swapped face's descriptor to the target identity and to the source identity; ``retrieved``
    is True when the target is the nearer of the two (the face is recognised as the person the swap should show)."""
    to_target = identity_distance(descriptor, target)
    to_source = identity_distance(descriptor, source)
    return {"to_target": to_target, "to_source": to_source, "retrieved": bool(to_target < to_source)}


def masked_psnr(result: np.ndarray, plate: np.ndarray, mask: np.ndarray) -> float | None:
    """PSNR in dB over the pixels where ``mask > 0`` (weighted by the mask), capped at ``PSNR_CAP_DB``; None when
    the mask is empty."""
    found = nonzero_box(np.asarray(mask) > 0)  # the face's box, not the frame: the rest weighs nothing
    if found is None:
        return None
    y0, y1, x0, x1 = found
    box = slice(y0, y1), slice(x0, x1)
    weight = np.asarray(mask[box], np.float64)
    total = weight.sum()
    if total <= 0:
        return None
    squared = ((np.asarray(result[box], np.float64) - np.asarray(plate[box], np.float64)) ** 2).mean(axis=2)
    mse = float((squared * weight).sum() / total)
    if mse <= 10.0 ** (-PSNR_CAP_DB / 10.0):
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / mse))


def masked_ssim(result: np.ndarray, plate: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean SSIM (Gaussian window, sigma 1.5, luminance of sRGB) over the mask's bounding box, weighted by the
    mask; 1 for identical faces, None when the mask is empty."""
    from skimage.metrics import structural_similarity

    found = nonzero_box(np.asarray(mask) > 0)
    if found is None:
        return None
    margin = 5
    y0, y1 = max(found[0] - margin, 0), found[1] + margin
    x0, x1 = max(found[2] - margin, 0), found[3] + margin
    luma = np.array([0.2126, 0.7152, 0.0722])
    a = np.asarray(result[y0:y1, x0:x1], np.float64) @ luma
    b = np.asarray(plate[y0:y1, x0:x1], np.float64) @ luma
    if min(a.shape) < 7:
        return None
    _, ssim_map = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, full=True)
    weight = np.asarray(mask[y0:y1, x0:x1], np.float64)
    return float((ssim_map * weight).sum() / weight.sum())


def changed_outside(result: np.ndarray, plate: np.ndarray, outside: np.ndarray) -> int:
    """How many pixels where ``outside`` is True differ from the plate in any channel (raw values, bit for bit)."""
    result = np.asarray(result)
    plate = np.asarray(plate)
    if result.shape != plate.shape:
        raise ValueError(f"result {result.shape} and plate {plate.shape} differ in shape")
    different = result != plate
    if different.ndim == 3:
        different = different.any(axis=2)
    return int((different & outside).sum())


def crop_change(crops: Sequence[np.ndarray | None], masks: Sequence[np.ndarray | None]) -> list[float | None]:
    """Per frame, the mean absolute change of an aligned face crop from the frame before, inside that frame's
    crop mask; None for the first frame and where either frame has no face."""
    change: list[float | None] = [None] * len(crops)
    for t in range(1, len(crops)):
        before, now, mask = crops[t - 1], crops[t], masks[t]
        if before is None or now is None or mask is None or mask.sum() <= 0:
            continue
        difference = np.abs(np.asarray(now, np.float64) - np.asarray(before, np.float64)).mean(axis=2)
        change[t] = float((difference * mask).sum() / mask.sum())
    return change


def flicker(result_crops: Sequence[np.ndarray | None], plate_crops: Sequence[np.ndarray | None],
            masks: Sequence[np.ndarray | None]) -> list[float | None]:
    """Per frame, the result's aligned-crop change minus the plate's (both cropped with the plate's alignment, so
    head motion is removed): positive where the swap flickers more than the plate does, 0 for an unchanged plate."""
    result = crop_change(result_crops, masks)
    plate = crop_change(plate_crops, masks)
    return [None if r is None or p is None else r - p for r, p in zip(result, plate, strict=True)]


def summarise(values: Sequence[float | None], worst: str = "max") -> dict[str, float | int | None]:
    """Mean, median and worst (``max`` or ``min``) of the frames that have a value, and their count."""
    present = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                       np.float64)
    if not len(present):
        return {"mean": None, "median": None, "worst": None, "count": 0}
    extreme = present.max() if worst == "max" else present.min()
    return {"mean": float(present.mean()), "median": float(np.median(present)), "worst": float(extreme),
            "count": int(len(present))}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of two sets of feature vectors (rows), each taken to be Gaussian (the FID formula)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


class OnnxExtras:
    """ArcFace similarity, LPIPS and FID from local ONNX files, each optional (nothing is downloaded).

    Every network gets RGB in [-1, 1] at its input size (NCHW or NHWC, read from the model). ArcFace: one input,
    an embedding out; cosine similarity to the target faceset's mean embedding. LPIPS: two inputs (result, plate
    crop), a distance out. FID: one input, features out; Fréchet distance of the result's aligned crops to the
    target faceset's. A metric without its file, or without onnxruntime, is skipped with a message.
    """

    FLAGS = {"arcface": "--arcface", "fid": "--fid-weights", "lpips": "--lpips-weights"}
    FID_REFERENCE_FACES = 256

    def __init__(self, arcface: Path | None, fid: Path | None, lpips: Path | None) -> None:
        from latentswap_core.errors import ModelError

        self.sessions: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.messages: list[str] = []
        self._target_embedding: np.ndarray | None = None
        self._target_features: list[np.ndarray] = []
        self._result_features: list[np.ndarray] = []
        for name, path in (("arcface", arcface), ("fid", fid), ("lpips", lpips)):
            flag = self.FLAGS[name]
            if path is None:
                self._skip(name, f"{name} skipped: no {flag} ONNX file given")
                continue
            if not Path(path).is_file():
                raise ModelError(f"{flag} {path} is not a file; pass a local ONNX file (weights are never downloaded)")
            try:
                import onnxruntime
            except ImportError:
                self._skip(name, f"{name} skipped: onnxruntime is not installed (pip install onnxruntime)")
                continue
            try:
                self.sessions[name] = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            except Exception as error:  # onnxruntime raises its own unexported types
                raise ModelError(f"{flag} {path} cannot be loaded as an ONNX model: {error}") from None

    def _skip(self, name: str, message: str) -> None:
        self.skipped[name] = message
        self.messages.append(message)

    def reference(self, target: Path, count: int) -> None:
        """Embeddings (ArcFace) and features (FID) of the target faceset's faces."""
        if "arcface" not in self.sessions and "fid" not in self.sessions:
            return
        from latentswap_core.faceset import load_faceset

        faceset = load_faceset(target)
        total = len(faceset.faces)
        picks = np.unique(np.linspace(0, total - 1, min(max(count, self.FID_REFERENCE_FACES), total)).round())
        faces = [faceset.face(int(i)) for i in picks]
        if "arcface" in self.sessions:
            embeddings = [_unit(self._run("arcface", face)) for face in faces[:: max(1, len(faces) // count)]]
            self._target_embedding = _unit(np.mean(embeddings, axis=0))
        if "fid" in self.sessions:
            self._target_features = [self._run("fid", face) for face in faces]

    def measure(self, result: np.ndarray, plate: np.ndarray) -> dict[str, float]:
        """The per-frame extras of one aligned result crop and the plate's crop."""
        row: dict[str, float] = {}
        if self._target_embedding is not None:
            row["arcface_similarity"] = float(_unit(self._run("arcface", result)) @ self._target_embedding)
        if "lpips" in self.sessions:
            row["lpips"] = float(np.mean(self._run("lpips", result, plate)))
        if "fid" in self.sessions:
            self._result_features.append(self._run("fid", result))
        return row

    def fid(self) -> dict[str, float | int] | None:
        if len(self._result_features) < 2 or len(self._target_features) < 2:
            if "fid" in self.sessions:
                self._skip("fid", "fid skipped: fewer than 2 faces in the result or the target faceset")
            return None
        value = frechet_distance(np.stack(self._result_features), np.stack(self._target_features))
        return {"value": value, "result_faces": len(self._result_features),
                "target_faces": len(self._target_features)}

    def _run(self, name: str, *images: np.ndarray) -> np.ndarray:
        session = self.sessions[name]
        feeds = {}
        for spec, image in zip(session.get_inputs(), images, strict=False):
            shape = list(spec.shape)
            channels_first = len(shape) == 4 and shape[1] == 3
            side = shape[2] if channels_first else shape[1] if len(shape) == 4 else None
            side = side if isinstance(side, int) and side > 0 else image.shape[0]
            pixels = cv2.resize(np.asarray(image, np.float32), (side, side), interpolation=cv2.INTER_AREA)
            pixels = pixels * 2.0 - 1.0
            feeds[spec.name] = (pixels.transpose(2, 0, 1) if channels_first else pixels)[None].astype(np.float32)
        return np.asarray(session.run(None, feeds)[0], np.float64).reshape(-1)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def grid_energy(crop: np.ndarray, period: int, mask: np.ndarray | None = None) -> float | None:
    """How much a face crop's luminance rings at ``period`` pixels: the codec grid measure.

    A codec that decodes latents off its manifold prints its block size (TAEF2: 8 px) as a faint grid. The
    grid's energy lies at the spatial frequencies ``k / period`` (k = 1 .. period - 1 along rows, columns and
    both); a face's own energy there is no larger than next to them. The measure is the mean, over those
    frequencies, of the power there over the median power of the 5 x 5 frequencies around it (minus the grid's
    own lines): about 1-3 for a clean face, larger with a grid. ``crop``: aligned face, H x W x 3 in [0, 1], at
    the size the codec decoded it; ``mask``: where to look (the mask's bounding square, else the centre half).
    None when the region is smaller than four periods."""
    luma = np.asarray(crop, np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    height, width = luma.shape
    if mask is not None and np.any(np.asarray(mask) > 0.5):
        rows, cols = np.nonzero(np.asarray(mask) > 0.5)
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    else:
        y0, y1, x0, x1 = height // 4, height - height // 4, width // 4, width - width // 4
    side = min(y1 - y0, x1 - x0) // period * period  # whole periods: the grid's frequencies fall on bins
    if side < 4 * period:
        return None
    top, left = (y0 + y1 - side) // 2, (x0 + x1 - side) // 2
    patch = luma[top:top + side, left:left + side]
    patch = patch - patch.mean()
    window = np.hanning(side + 2)[1:-1]
    power = np.abs(np.fft.fft2(patch * np.outer(window, window))) ** 2
    step = side // period
    grid_bins = [(u * step, v * step) for u in range(period) for v in range(period) if u or v]
    on_grid = np.zeros_like(power, bool)
    for u, v in grid_bins:
        on_grid[u, v] = True
    ratios = []
    for u, v in grid_bins:
        around = [(int((u + du) % side), int((v + dv) % side)) for du in range(-2, 3) for dv in range(-2, 3)]
        background = [power[a, b] for a, b in around if not on_grid[a, b]]
        ratios.append(power[u, v] / max(float(np.median(background)), 1e-20))
    return float(np.mean(ratios))


def detail_ratio(result: np.ndarray, plate: np.ndarray, mask: np.ndarray) -> float | None:
    """The result's fine detail over the plate's, inside ``mask``: the ratio of the mean absolute Laplacian of
    the luminance (after a 3 x 3 Gaussian that steadies it against noise). 1: as sharp as the plate; a blurred
    face is below 1, an over-sharpened or grainy one above. None when the mask is empty or the plate is flat."""
    weight = np.asarray(mask, np.float64)
    if weight.sum() <= 0:
        return None
    luma = np.array([0.2126, 0.7152, 0.0722], np.float32)

    def detail(image: np.ndarray) -> float:
        smooth = cv2.GaussianBlur(np.asarray(image, np.float32) @ luma, (3, 3), 0)
        return float((np.abs(cv2.Laplacian(smooth, cv2.CV_32F)) * weight).sum() / weight.sum())

    reference = detail(plate)
    return detail(result) / reference if reference > 1e-6 else None


def at_precision(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``values`` stored as ``like``'s type would store them: float to an integer plate's code values (its full
    range is [0, 1], rounded), or to half; a result is compared with a plate at the plate's own precision."""
    values = np.asarray(values)
    if values.dtype == like.dtype:
        return values
    if np.issubdtype(like.dtype, np.integer):
        top = np.iinfo(like.dtype).max
        if np.issubdtype(values.dtype, np.integer):
            values = values.astype(np.float64) / np.iinfo(values.dtype).max
        return np.rint(np.clip(np.asarray(values, np.float64), 0.0, 1.0) * top).astype(like.dtype)
    return np.asarray(values).astype(like.dtype)


def occlusion_coverage(alpha: np.ndarray, face: np.ndarray, occluder: np.ndarray) -> dict[str, float | None]:
    """How a blend alpha (1: the swapped face) treats a drawn occluder matte, inside the face region (all H x W
    in [0, 1], halves as the threshold): ``occluder_kept``, the share of occluder pixels in the face where the plate
    stays (alpha below 0.5), and ``face_covered``, the share of the face's other pixels that the swap covers."""
    inside = np.asarray(face) >= 0.5
    occluded = inside & (np.asarray(occluder) >= 0.5)
    clear = inside & (np.asarray(occluder) < 0.5)
    swapped = np.asarray(alpha) >= 0.5
    return {"occluder_kept": float((~swapped[occluded]).mean()) if occluded.any() else None,
            "face_covered": float(swapped[clear].mean()) if clear.any() else None}
