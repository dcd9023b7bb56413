"""dlib's CNN face detector (MMOD, ``mmod_human_face_detector.dat``) read and run in ONNX Runtime, without dlib.

``MmodDetector(path)(image)`` answers what ``dlib.cnn_face_detection_model_v1(path)(image, 0)`` answers (its
detections' rectangles and confidences): the same boxes, in the same order, with the same confidences to about 1e-5.
It reproduces dlib's own steps, not an approximation of them:

1. ``input_rgb_image_pyramid<pyramid_down<6>>``: the image, less the mean colour stored in the file and divided
   by 256, is the first level of a pyramid whose levels are each 5/6 of the one before (rounded down), laid out
   side by side in one zero-padded tensor (``tiled_pyramid``); each level is resampled from the one before by
   dlib's bilinear ``resize_image`` on float images, float32 rounding and all (``resample_level``).
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

import itertools
import math
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

# A detection: dlib's rectangle (left, top, right, bottom; inclusive, pixels of the image searched) and its
# confidence.
Detection = tuple[int, int, int, int, float]

# pyramid_down<6>: each level is 5/6 of the one before; a point maps up a level by x * 6/5 + 0.3.
PYRAMID_N = 6
# compute_tiled_image_pyramid_details stops before a level under this many rows.
MIN_LEVEL_HEIGHT = 5
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
    if reader.at != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.at} bytes after the network")
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
# The tiled pyramid


@dataclass(frozen=True)
class Level:
    """One pyramid level's place in the tiled tensor: top-left corner and size, pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width - 1

    @property
    def bottom(self) -> int:
        return self.top + self.height - 1


def tiled_pyramid_layout(rows: int, cols: int, padding: int, outer_padding: int
                         ) -> tuple[tuple[Level, ...], int, int]:
    """dlib's ``compute_tiled_image_pyramid_details`` for ``pyramid_down<6>``: where each level of an image of
    ``rows`` x ``cols`` pixels goes in the tiled tensor, and the tensor's rows and columns. The levels run
    down a first column (the image at top) until the rest fit beside them, then up a second column along the
    right edge, bottom first; a level that would overlap the image is dropped with those after it."""
    if rows * cols == 0:
        return (), 0, 0
    sizes = [(cols, rows)]
    rate = (PYRAMID_N - 1.0) / PYRAMID_N
    while True:
        rows, cols = math.floor(rate * rows), math.floor(rate * cols)
        if rows * cols == 0 or rows < MIN_LEVEL_HEIGHT:
            break
        sizes.append((cols, rows))
    first_width, first_height = sizes[0]
    total_height = sum(height + padding for _, height in sizes) - 2 * padding
    height = 0
    previous_width = 0
    for width, level_height in sizes:
        if width <= first_width - previous_width - padding and (
                (height - first_height) * 2 >= total_height - first_height):
            break
        height += level_height + padding
        previous_width = width
    height -= padding
    tensor_rows, tensor_cols = height + 2 * outer_padding, first_width + 2 * outer_padding

    levels: list[Level] = []
    y = outer_padding
    while y < height + outer_padding and len(levels) < len(sizes):
        width, level_height = sizes[len(levels)]
        levels.append(Level(outer_padding, y, width, level_height))
        y += level_height + padding
    y -= padding
    image = levels[0]
    while len(levels) < len(sizes):
        width, level_height = sizes[len(levels)]
        right, bottom = outer_padding + first_width - 1, y - 1  # its bottom-right corner
        level = Level(right - width + 1, bottom - level_height + 1, width, level_height)
        if (max(level.left, image.left) <= min(level.right, image.right)
                and max(level.top, image.top) <= min(level.bottom, image.bottom)):
            break  # it would overlap the image
        levels.append(level)
        y -= level_height + padding
    return tuple(levels), tensor_rows, tensor_cols


@dataclass(frozen=True)
class ResamplePlan:
    """dlib's bilinear ``resize_image`` of a float image (H, W) to (h, w), precomputed for flat gathers.

    dlib walks the output's rows with y += (H-1)/(h-1) in double; along each row it takes four columns at a time
    (SSE: positions accumulate in float32, truncate to the left neighbour, the four corner weights are float32
    products of the row and column fractions, the blend float32 sums), then finishes the row's last columns in
    double (``x += (W-1)/(w-1)``; float32 column fractions and sums, blended by the double row fraction).
    ``block_columns`` of the w columns are the four-at-a-time ones: ``block_corners`` index them (row-major,
    h * block_columns) in the flattened source, top-left, top-right, bottom-left, bottom-right, and
    ``block_weights`` weigh those corners. The other columns: ``tail_corners``, ``tail_column_fraction``
    (float32) and ``tail_row_fraction`` (double), flattened the same way."""

    rows: int
    cols: int
    block_columns: int
    block_corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    block_weights: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    tail_corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    tail_column_fraction: np.ndarray
    tail_row_fraction: np.ndarray


def resample_plan(source_rows: int, source_cols: int, rows: int, cols: int) -> ResamplePlan:
    """The ``ResamplePlan`` from (``source_rows``, ``source_cols``) to (``rows``, ``cols``) pixels."""
    y_scale = (source_rows - 1) / max(rows - 1, 1)
    x_scale = (source_cols - 1) / max(cols - 1, 1)
    y = np.add.accumulate(np.concatenate(([-y_scale], np.full(rows, y_scale))))[1:]  # double, as dlib adds
    top = np.floor(y).astype(np.int64)
    bottom = np.minimum(top + 1, source_rows - 1)
    row_fraction = y - top

    # Four lanes, each stepping 4 * x_scale in float32; lane j of step k is column 4k + j. dlib stops before
    # the first step whose last lane's right neighbour is outside the source.
    steps = cols // 4 + 2
    start = -4 * x_scale
    lanes = np.stack([np.add.accumulate(np.concatenate((
        [np.float32(start + j * x_scale)], np.full(steps, np.float32(4 * x_scale), np.float32))))[1:]
        for j in range(4)], axis=1)  # (steps, 4) float32
    lane_left = lanes.astype(np.int32)  # truncation, as _mm_cvttps_epi32
    breaks = np.nonzero(lane_left[:, 3] + 1 >= source_cols)[0]
    block_columns = min(4 * (int(breaks[0]) if breaks.size else steps), cols)
    block_x = lanes.ravel()[:block_columns]
    block_left = lane_left.ravel()[:block_columns].astype(np.int64)
    lr = (block_x - block_left.astype(np.float32)).astype(np.float32)
    inv_lr = np.float32(1) - lr
    tb = row_fraction.astype(np.float32)[:, None]
    inv_tb = (1 - row_fraction).astype(np.float32)[:, None]
    block_weights = ((inv_tb * inv_lr).ravel(), (inv_tb * lr).ravel(), (tb * inv_lr).ravel(), (tb * lr).ravel())

    tail = cols - block_columns
    x = np.add.accumulate(np.concatenate(([-x_scale + block_columns * x_scale], np.full(tail, x_scale))))[1:]
    tail_left = np.floor(x).astype(np.int64)

    def corners(left: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        right = np.minimum(left + 1, source_cols - 1)
        upper, lower = (top * source_cols)[:, None], (bottom * source_cols)[:, None]
        return ((upper + left).ravel().astype(np.int32), (upper + right).ravel().astype(np.int32),
                (lower + left).ravel().astype(np.int32), (lower + right).ravel().astype(np.int32))

    tail_shape = (rows, tail)
    return ResamplePlan(rows, cols, block_columns, corners(block_left), block_weights, corners(tail_left),
                        np.broadcast_to((x - tail_left).astype(np.float32), tail_shape).ravel(),
                        np.broadcast_to(row_fraction[:, None], tail_shape).ravel())


def resample_level(source: np.ndarray, plan: ResamplePlan) -> np.ndarray:
    """``source`` (channels, H, W) float32, contiguous, resized as dlib's ``resize_image`` does, bit for bit."""
    flat = source.reshape(source.shape[0], -1)
    out = np.empty((source.shape[0], plan.rows, plan.cols), np.float32)
    top_left, top_right, bottom_left, bottom_right = plan.block_corners
    w_tl, w_tr, w_bl, w_br = plan.block_weights
    blend = np.take(flat, top_left, axis=1)
    blend *= w_tl
    term = np.take(flat, top_right, axis=1)
    term *= w_tr
    blend += term
    for corner, weight in ((bottom_left, w_bl), (bottom_right, w_br)):
        np.take(flat, corner, axis=1, out=term)
        term *= weight
        blend += term
    out[:, :, :plan.block_columns] = blend.reshape(source.shape[0], plan.rows, plan.block_columns)
    if plan.block_columns < plan.cols:
        tl, tr, bl, br = (np.take(flat, corner, axis=1) for corner in plan.tail_corners)
        lr = plan.tail_column_fraction
        inv_lr = np.float32(1) - lr
        upper = (inv_lr * tl + lr * tr).astype(np.float64)
        lower = (inv_lr * bl + lr * br).astype(np.float64)
        tb = plan.tail_row_fraction
        out[:, :, plan.block_columns:] = ((1 - tb) * upper + tb * lower).reshape(source.shape[0], plan.rows, -1)
    return out


@dataclass(frozen=True)
class PyramidPlan:
    """Everything ``tiled_pyramid`` needs for one image size: the levels' places, the tensor's rows and columns,
    and how each level is resampled from the one before (about 16 MB for 640 x 360)."""

    levels: tuple[Level, ...]
    rows: int
    cols: int
    resamples: tuple[ResamplePlan, ...]


def pyramid_plan(rows: int, cols: int, padding: int, outer_padding: int) -> PyramidPlan:
    """The ``PyramidPlan`` for an image of ``rows`` x ``cols`` pixels."""
    levels, tensor_rows, tensor_cols = tiled_pyramid_layout(rows, cols, padding, outer_padding)
    resamples = tuple(resample_plan(a.height, a.width, b.height, b.width) for a, b in itertools.pairwise(levels))
    return PyramidPlan(levels, tensor_rows, tensor_cols, resamples)


def tiled_pyramid(image: np.ndarray, mean_rgb: tuple[float, float, float], plan: PyramidPlan) -> np.ndarray:
    """dlib's ``input_rgb_image_pyramid::to_tensor`` for a uint8 RGB image (H, W, 3): (3, rows, cols) float32,
    the image's levels, each pixel (value - mean) / 256, in zeros."""
    tensor = np.zeros((3, plan.rows, plan.cols), np.float32)
    if not plan.levels:
        return tensor
    level = (image.transpose(2, 0, 1).astype(np.float32) - np.array(mean_rgb, np.float32)[:, None, None])
    level /= np.float32(256)
    first = plan.levels[0]
    tensor[:, first.top:first.bottom + 1, first.left:first.right + 1] = level
    for place, resample in zip(plan.levels[1:], plan.resamples, strict=True):
        level = resample_level(level, resample)
        tensor[:, place.top:place.bottom + 1, place.left:place.right + 1] = level
    return tensor


def tensor_box_to_image(box: tuple[float, float, float, float], levels: tuple[Level, ...]
                        ) -> tuple[int, int, int, int]:
    """dlib's ``tiled_pyramid_to_image`` then rounding to a rectangle: a box (left, top, right, bottom) in the
    tiled tensor, mapped through the level nearest its centre (rounded to a pixel) to the image, each corner
    up one level at a time as x * 6/5 + 0.3, rounded half up."""
    left, top, right, bottom = box
    cx, cy = math.floor((left + right) / 2 + 0.5), math.floor((top + bottom) / 2 + 0.5)
    best, best_distance = 0, math.inf
    for index, level in enumerate(levels):
        nx = min(max(cx, level.left), level.right)
        ny = min(max(cy, level.top), level.bottom)
        if nx == cx and ny == cy:
            best = index
            break
        distance = math.hypot(nx - cx, ny - cy)
        if distance < best_distance:
            best, best_distance = index, distance
    origin = levels[best]
    corners = [left - origin.left, top - origin.top, right - origin.left, bottom - origin.top]
    ratio = PYRAMID_N / (PYRAMID_N - 1.0)
    for _ in range(best):
        corners = [value * ratio + 0.3 for value in corners]
    rounded = [math.floor(value + 0.5) for value in corners]
    return rounded[0], rounded[1], rounded[2], rounded[3]


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


__all__ = ["Detection", "MmodDetector", "MmodModel", "MmodNet", "ModelFileError", "PyramidPlan", "boxes_overlap",
           "pyramid_plan", "read_model_file", "resample_level", "resample_plan", "tensor_box_to_image",
           "tiled_pyramid", "tiled_pyramid_layout"]
