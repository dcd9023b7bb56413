"""dlib's CNN face detector (MMOD, ``mmod_human_face_detector.dat``) read and run in ONNX Runtime, without dlib.

``MmodDetector(path)(image)`` answers what ``dlib.cnn_face_detection_model_v1(path)(image, 0)`` answers (its
detections' rectangles and confidences): the same boxes, in the same order, with the same confidences to about 1e-5.
It reproduces dlib's own steps, not an approximation of them:

1. ``input_rgb_image_pyramid<pyramid_down<6>>``: the image, less the mean colour stored in the file and divided
   by 256, is the first level of a pyramid whose levels are each 5/6 of the one before (rounded down), laid out
   side by side in one zero-padded tensor; each level is resampled from the one before by dlib's bilinear
   ``resize_image`` on float images, float32 rounding and all (``mmod_pyramid.py``).
2. The network: convolutions (dlib's padding is stored per layer), batch norm folded to ``affine`` (folded
   further into the convolution before it), ReLU; built as an ONNX graph and run by ONNX Runtime, about 20
   times faster than dlib's own CPU build here (which has no BLAS).
3. ``loss_mmod_::to_label``: every output cell scoring above 0 is a sliding window of the detector's size,
   centred where the cell maps back to in the tensor, then mapped to the image through the pyramid level
   nearest to it; boxes are sorted by score and non-max suppressed with the file's overlap test.

Conventions: images are uint8 RGB, H x W x 3; boxes are dlib rectangles in pixels of the image searched,
inclusive (``right = left + width - 1``); a confidence is the raw score of the net's last layer (above 0).

``read_model_file`` parses dlib's ``serialize`` format for this network (the records of ``loss_mmod_`` and
``input_rgb_image_pyramid`` here; the primitives and the ``con_``, ``bn_con``/``affine_`` and ``relu_`` records,
nested in ``add_layer`` records, with ``latentswap_core.identity.dlib_nets``) and raises ``ModelFileError`` (a
``ValueError``) naming the file where it holds anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentswap_core.identity.dlib_nets import (
    Affine,
    Convolution,
    DlibReader,
    ModelFileError,
    Relu,
    cpu_session,
    fold_affines,
    read_layer,
    read_layer_trailer,
)
from latentswap_core.track.mmod_pyramid import PyramidPlan, pyramid_plan, tensor_box_to_image, tiled_pyramid

# A detection: dlib's rectangle (left, top, right, bottom; inclusive, pixels of the image searched) and its
# confidence.
Detection = tuple[int, int, int, int, float]

# input_rgb_image_pyramid's paddings where the file predates storing them (record "input_rgb_image_pyramid").
DEFAULT_PADDING = 10
DEFAULT_OUTER_PADDING = 11
# What a file that is not the detector is told (ModelFileError's one line).
MODEL = "dlib's MMOD face detector"
FIX = "use face_recognition_models' mmod_human_face_detector.dat"

Layer = Convolution | Affine | Relu


# ---------------------------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class MmodModel:
    """What ``mmod_human_face_detector.dat`` holds that detection uses.

    ``layers``: input first. ``mean_rgb``: the colour subtracted from each pixel (0-255 units).
    ``padding``/``outer_padding``: pixels of zeros between pyramid levels and around the tiled tensor.
    ``windows``: the sliding windows (width, height) in tensor pixels, one per output channel.
    ``nms_iou``/``nms_covered``: two boxes are one face where their intersection over union exceeds
    ``nms_iou`` or covers more than ``nms_covered`` of either."""

    layers: tuple[Layer, ...]
    mean_rgb: tuple[float, float, float]
    padding: int
    outer_padding: int
    windows: tuple[tuple[int, int], ...]
    nms_iou: float
    nms_covered: float


def _read_options(reader: DlibReader) -> tuple[tuple[tuple[int, int], ...], float, float]:
    """mmod_options (versions 1-4): the detector windows and the non-max suppression test."""
    version = reader.integer()
    if not 1 <= version <= 4:
        raise reader.fail(f"mmod_options version {version}")
    if version == 1:
        windows = [(reader.integer(), reader.integer())]
    else:
        windows = []
        for _ in range(reader.integer()):
            window_version = reader.integer()
            if window_version not in (1, 2):
                raise reader.fail(f"detector window version {window_version}")
            windows.append((reader.integer(), reader.integer()))
            if window_version == 2:
                reader.string()  # its label
    reader.real(), reader.real(), reader.real()  # loss per false alarm, per missed target, truth match IoU
    nms_iou, nms_covered = reader.real(), reader.real()
    reader.real(), reader.real()  # overlaps_ignore
    if version >= 3:
        reader.take(1)  # assume_image_pyramid
    if version >= 4:
        if reader.boolean():
            raise reader.fail("bounding box regression, which this module does not run")
        reader.real()  # bbr_lambda
    return tuple(windows), nms_iou, nms_covered


def read_model_file(path: str | Path) -> MmodModel:
    """Parses dlib's serialization of ``loss_mmod<... input_rgb_image_pyramid<pyramid_down<6>>>``: the loss
    record, then the nested ``add_layer`` records (their versions outermost first, the input layer innermost,
    then each layer's details innermost first, each followed by its bookkeeping flags and empty tensors).
    Raises ``ModelFileError`` (a ``ValueError``) naming the file where the layout is not that."""
    path = Path(path)
    reader = DlibReader.open(path, MODEL, FIX)
    reader.expect(1, "add_loss_layer")
    if reader.string() != "loss_mmod_":
        raise reader.fail("no loss_mmod_ record at its start")
    windows, nms_iou, nms_covered = _read_options(reader)

    layer_versions = []  # outermost first
    while not reader.peek_string().startswith("input_"):
        layer_versions.append(reader.integer())
        if len(layer_versions) > 1000:
            raise reader.fail("no input layer")
    if not layer_versions or not all(version in (1, 2) for version in layer_versions[:-1]) or (
            layer_versions[-1] not in (2, 3)):
        raise reader.fail(f"add_layer versions {layer_versions}")
    input_name = reader.string()
    if input_name not in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise reader.fail(f"the input layer {input_name!r}")
    mean_rgb = (reader.real(), reader.real(), reader.real())
    if input_name == "input_rgb_image_pyramid2":
        padding, outer_padding = reader.integer(), reader.integer()
    else:
        padding, outer_padding = DEFAULT_PADDING, DEFAULT_OUTER_PADDING

    layers: list[Layer] = []
    for depth, version in enumerate(reversed(layer_versions)):  # innermost first
        layer = read_layer(reader, (Convolution, Affine, Relu))
        if isinstance(layer, Convolution | Affine | Relu):  # else None: a layer dlib was told to skip
            layers.append(layer)
        read_layer_trailer(reader, version, over_input=depth == 0)
    reader.finish()
    channels = 3
    for layer in layers:
        if isinstance(layer, Convolution):
            if layer.weight.shape[1] != channels:
                raise reader.fail(f"a convolution taking {layer.weight.shape[1]} channels after {channels}")
            channels = layer.weight.shape[0]
        elif isinstance(layer, Affine) and layer.scale.size != channels:
            raise reader.fail(f"an affine layer of {layer.scale.size} channels after {channels}")
    if channels != len(windows):
        raise reader.fail(f"{channels} output channels for {len(windows)} detector windows")
    red, green, blue = (float(np.float32(value)) for value in mean_rgb)  # floats in the file
    return MmodModel(tuple(fold_affines(layers, reader)), (red, green, blue), padding, outer_padding, windows,
                     nms_iou, nms_covered)


# ---------------------------------------------------------------------------------------------------------------
# Non-max suppression


def _area(box: tuple[int, int, int, int]) -> int:
    left, top, right, bottom = box
    return 0 if left > right or top > bottom else (right - left + 1) * (bottom - top + 1)


def boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int], iou: float, covered: float) -> bool:
    """dlib's ``test_box_overlap``: whether inclusive rectangles ``a`` and ``b`` are the same object."""
    inner = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    if inner == 0:
        return False
    outer = _area((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
    return inner / outer > iou or inner / _area(a) > covered or inner / _area(b) > covered


# ---------------------------------------------------------------------------------------------------------------
# The detector


def onnx_network(layers: tuple[Layer, ...]) -> bytes:
    """The network (convolutions and ReLUs, affine layers folded) as a serialized ONNX model: input ``tensor``
    (1, 3, rows, cols) float32, output ``scores`` (1, windows, rows', cols')."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights, name = [], [], "tensor"
    for index, layer in enumerate(layers):
        output = f"layer{index}"
        if isinstance(layer, Relu):
            nodes.append(helper.make_node("Relu", [name], [output]))
        else:
            assert isinstance(layer, Convolution)  # read_model_file folds the affine layers and allows nothing else
            rows, cols = layer.weight.shape[2:]
            weights += [numpy_helper.from_array(np.ascontiguousarray(layer.weight, np.float32), f"weight{index}"),
                        numpy_helper.from_array(np.ascontiguousarray(layer.bias, np.float32), f"bias{index}")]
            nodes.append(helper.make_node(
                "Conv", [name, f"weight{index}", f"bias{index}"], [output], kernel_shape=[rows, cols],
                strides=list(layer.stride), pads=[layer.padding[0], layer.padding[1]] * 2))
        name = output
    nodes.append(helper.make_node("Identity", [name], ["scores"]))
    graph = helper.make_graph(
        nodes, "mmod", [helper.make_tensor_value_info("tensor", TensorProto.FLOAT, [1, 3, "rows", "cols"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


class MmodNet:
    """The detector's network in ONNX Runtime (CPU): tiled tensor (1, 3, rows, cols) float32 in, scores
    (1, windows, rows', cols') out. ``threads``: ONNX Runtime's threads for one call (they do not spin between
    calls, so they cost nothing while the tracker does other work)."""

    def __init__(self, layers: tuple[Layer, ...], threads: int = 1):
        self.geometry = [((layer.weight.shape[2], layer.weight.shape[3]), layer.stride, layer.padding)
                         for layer in layers if isinstance(layer, Convolution)]
        self.session = cpu_session(onnx_network(layers), threads)

    def __call__(self, tensor: np.ndarray) -> np.ndarray:
        """Scores (windows, rows', cols') for a tiled tensor (3, rows, cols)."""
        return self.session.run(["scores"], {"tensor": np.ascontiguousarray(tensor)[np.newaxis]})[0][0]

    def output_size(self, rows: int, cols: int) -> tuple[int, int]:
        """The scores' rows and columns for a tensor of ``rows`` x ``cols`` ((0, 0) where it is too small)."""
        for kernel, stride, padding in self.geometry:
            rows = (rows + 2 * padding[0] - kernel[0]) // stride[0] + 1
            cols = (cols + 2 * padding[1] - kernel[1]) // stride[1] + 1
            if rows <= 0 or cols <= 0:
                return 0, 0
        return rows, cols


def output_to_input_map(layers: tuple[Layer, ...]) -> tuple[tuple[float, float], tuple[float, float]]:
    """dlib's ``output_tensor_to_input_tensor`` as (scale, offset) per axis (rows, then columns): an output cell
    at index i is centred on input-tensor pixel scale * i + offset. Each convolution maps p to
    p * stride - padding + kernel // 2, from the last layer to the first; the other layers keep p."""
    mapping = [(1.0, 0.0), (1.0, 0.0)]
    for layer in reversed(layers):
        if isinstance(layer, Convolution):
            for axis in range(2):
                scale, offset = mapping[axis]
                kernel, stride, pad = layer.weight.shape[2 + axis], layer.stride[axis], layer.padding[axis]
                mapping[axis] = (scale * stride, offset * stride - pad + kernel // 2)
    return mapping[0], mapping[1]


class MmodDetector:
    """dlib's CNN face detector from ``path`` (``mmod_human_face_detector.dat``), run by ONNX Runtime on the CPU.

    ``detector(image)`` for a uint8 RGB image (H, W, 3) (or grey, (H, W)) returns dlib's detections, best
    first: (left, top, right, bottom, confidence), an inclusive rectangle in the image's pixels and the net's
    score (> 0), as ``dlib.cnn_face_detection_model_v1(path)(image, 0)`` does. An image too small for the net
    (under about 30 px a side) has none, where dlib raises. ``threads``: CPU threads for one image."""

    # Pyramid plans kept, one per image size (a video's frames, and their half size, share theirs).
    PLANS_KEPT = 4

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.model = read_model_file(self.path)
        self.net = MmodNet(self.model.layers, threads)
        self.row_map, self.col_map = output_to_input_map(self.model.layers)
        self._plans: dict[tuple[int, int], PyramidPlan] = {}

    def plan(self, rows: int, cols: int) -> PyramidPlan:
        """The pyramid plan for images of ``rows`` x ``cols`` pixels (made once, kept for the last few sizes)."""
        plan = self._plans.pop((rows, cols), None)
        if plan is None:
            plan = pyramid_plan(rows, cols, self.model.padding, self.model.outer_padding)
        self._plans[(rows, cols)] = plan  # now the newest
        while len(self._plans) > self.PLANS_KEPT:
            del self._plans[next(iter(self._plans))]
        return plan

    def __call__(self, image: np.ndarray) -> list[Detection]:
        """The faces dlib finds in ``image`` (uint8, (H, W, 3) RGB or (H, W) grey), best first: (left, top,
        right, bottom, confidence), inclusive pixels of ``image`` (loss_mmod_::to_label with threshold 0)."""
        if image.dtype == np.uint8 and image.ndim == 2:  # grey, as dlib takes it: the same value in R, G and B
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"MmodDetector takes a uint8 RGB (H, W, 3) or grey (H, W) image, not {image.dtype} "
                             f"{image.shape}")
        model = self.model
        plan = self.plan(image.shape[0], image.shape[1])
        levels = plan.levels
        if not levels or min(self.net.output_size(plan.rows, plan.cols)) <= 0:
            return []
        tensor = tiled_pyramid(image, model.mean_rgb, plan)
        scores = self.net(tensor)
        # Each cell scoring above 0: the window centred where it maps to in the tensor, mapped to the image.
        (row_scale, row_offset), (col_scale, col_offset) = self.row_map, self.col_map
        found: list[tuple[float, tuple[int, int, int, int]]] = []
        for window, row, col in zip(*(index.tolist() for index in np.nonzero(scores > 0)), strict=True):  # threshold 0
            width, height = model.windows[window]
            x, y = col_scale * col + col_offset, row_scale * row + row_offset
            half_width, half_height = (width - 1) / 2, (height - 1) / 2  # centered_drect
            box = (x - half_width, y - half_height, x + half_width, y + half_height)
            found.append((float(scores[window, row, col]), tensor_box_to_image(box, levels)))
        found.sort(key=lambda item: -item[0])  # best first; then each box not the same face as a better one
        kept: list[tuple[float, tuple[int, int, int, int]]] = []
        for score, box in found:
            if not any(boxes_overlap(other, box, model.nms_iou, model.nms_covered) for _, other in kept):
                kept.append((score, box))
        return [(*box, score) for score, box in kept]


__all__ = ["Detection", "MmodDetector", "MmodModel", "MmodNet", "ModelFileError", "boxes_overlap", "read_model_file"]
