"""dlib's face descriptor network (``dlib_face_recognition_resnet_model_v1.dat``) read and run in ONNX Runtime,
without dlib.

``FaceDescriptorNet(path)(chips)`` answers what ``dlib.face_recognition_model_v1(path).compute_face_descriptor``
answers for each aligned chip: 150 x 150 uint8 RGB in, a 128-d float32 descriptor out, batched. The chips are
dlib's: ``dlib.get_face_chip(image, shape)`` (150 px, padding 0.25) is the chip that
``compute_face_descriptor(image, shape, 0)`` describes. Two faces of one person lie closer than 0.6 (euclidean).

The network is dlib's ``anet_type`` of ``dnn_face_recognition_ex.cpp``, reproduced layer by layer:

1. ``input_rgb_image_sized<150>``: each pixel's (value - mean colour stored in the file) / 256, float32, planar.
2. ``con<32,7,7,2,2>``, ``affine``, ``relu``, ``max_pool<3,3,2,2>``, then 14 residual blocks (levels of 32,
   64, 128, 256 and 256 filters) and ``avg_pool_everything``, ``fc_no_bias<128>``. dlib's convolutions and
   pools pad by ``size // 2`` where their stride is 1, else not at all.
3. A block is ``relu(x + affine(con3x3(relu(affine(con3x3(x))))))``; the first of each level after the 32s halves:
   its first convolution has stride 2 and the shortcut is ``avg_pool<2,2,2,2>(x)``. dlib's ``add_prev`` adds
   tensors of different sizes: the sum has the larger of each dimension, each operand zero-extended at the end
   (channels beyond its own are 0, rows and columns beyond its own are 0). This matters twice here: from 8 x 8
   the strided 3 x 3 convolution gives 3 x 3 but the pooled shortcut 4 x 4, so that level's output is 4 x 4, its
   last row and column the shortcut's alone (and 0 in the channels the shortcut lacks); from 4 x 4 the last
   level's convolution gives 1 x 1 against the shortcut's 2 x 2, all four averaged by ``avg_pool_everything``.
4. ``loss_metric``: the descriptor is the fc output as it is, not normalised.

Affine layers (batch norm as dlib stores it for inference) are folded into the convolution before them.

``read_model_file`` parses the file (dlib's ``serialize`` format, with ``latentswap_core.identity.dlib_nets``)
into a ``ResnetModel`` and raises ``ModelFileError`` (a ``ModelError`` and a ``ValueError``) naming the file where it
holds anything but this network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentswap_core.identity.dlib_nets import (
    AddPrev,
    Affine,
    Convolution,
    DlibReader,
    FullyConnected,
    Layer,
    Pooling,
    Relu,
    cpu_session,
    fold_affines,
    read_layer,
    read_layer_trailer,
)

MODEL = "dlib's face recognition ResNet"
FIX = "use face_recognition_models' dlib_face_recognition_resnet_model_v1.dat"
DESCRIPTOR_SIZE = 128
# Chips per ONNX Runtime call (dlib's own batch): the fastest per chip on this 2-core CPU (5.3 ms at 1 thread,
# against 6.4 for one chip a call and 5.7 for 64); larger batches only hold more memory.
BATCH = 16


# ---------------------------------------------------------------------------------------------------------------
# The network's layout


@dataclass(frozen=True)
class Tag:
    """dlib's ``tagN``: its input passes through and is remembered as tag ``number``."""

    number: int


@dataclass(frozen=True)
class Skip:
    """dlib's ``skipN``: its output is tag ``number``'s (the nearest below), not its input."""

    number: int


@dataclass(frozen=True)
class AddTagged:
    """dlib's ``add_prevN``: its input plus tag ``number``'s, zero-extended to the larger of each dimension."""

    number: int


@dataclass(frozen=True)
class Expected:
    """A layer the layout expects: its kind and, where it has them, filters (or outputs), window (0: the whole
    input) and stride, square; ``average`` for pools."""

    kind: type
    size: int = 0
    window: int = 0
    stride: int = 1
    average: bool = False


Step = Layer | Tag | Skip | AddTagged


def _conv(filters: int, window: int, stride: int) -> Expected:
    return Expected(Convolution, filters, window, stride)


def _block(filters: int, stride: int, sub: list) -> list:
    # block = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [Expected(Affine), _conv(filters, 3, 1), Expected(Relu), Expected(Affine), _conv(filters, 3, stride),
            *sub]


def _ares(filters: int, sub: list) -> list:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [Expected(Relu), AddTagged(1), *_block(filters, 1, [Tag(1), *sub])]


def _ares_down(filters: int, sub: list) -> list:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [Expected(Relu), AddTagged(2), Expected(Pooling, window=2, stride=2, average=True), Skip(1), Tag(2),
            *_block(filters, 2, [Tag(1), *sub])]


def network_layout() -> list[Expected | Tag | Skip | AddTagged]:
    """``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp`` below its loss layer, outermost first (the order
    of the ``add_layer``/``add_tag_layer``/``add_skip_layer`` versions in the file)."""
    net = [Expected(Pooling, window=3, stride=2), Expected(Relu), Expected(Affine), _conv(32, 7, 2)]
    for filters, blocks, down in ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True)):
        for index in range(blocks):
            net = _ares_down(filters, net) if down and index == 0 else _ares(filters, net)
    return [Expected(FullyConnected, DESCRIPTOR_SIZE), Expected(Pooling, window=0, stride=1, average=True), *net]


# ---------------------------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class ResnetModel:
    """What ``dlib_face_recognition_resnet_model_v1.dat`` holds.

    ``steps``: the network from the input up (``Convolution``, ``Affine``, ``Relu``, ``Pooling``,
    ``FullyConnected``, ``Tag``, ``Skip``, ``AddTagged``). ``mean_rgb``: the colour subtracted from each pixel
    (0-255 units; the difference is then divided by 256). ``chip_size``: the chips' rows and columns (150).
    ``distance_threshold``: ``loss_metric``'s same-person distance (0.6)."""

    steps: tuple[Step, ...]
    mean_rgb: tuple[float, float, float]
    chip_size: tuple[int, int]
    distance_threshold: float


def _check(reader: DlibReader, expected: Expected, layer: Layer) -> None:
    """Fails where ``layer`` is not the one the layout expects there (dlib's own deserialize checks these)."""
    if isinstance(layer, Convolution):
        filters, _, rows, cols = layer.weight.shape
        pad = 0 if expected.stride != 1 else expected.window // 2  # dlib's default padding for con_
        if (filters, rows, cols, layer.stride, layer.padding) != (
                expected.size, expected.window, expected.window, (expected.stride,) * 2, (pad,) * 2):
            raise reader.fail(f"a convolution of {filters} {rows}x{cols} filters, stride {layer.stride}, padding "
                              f"{layer.padding} where the network has {expected.size} "
                              f"{expected.window}x{expected.window}, stride {expected.stride}, padding {pad}")
    elif isinstance(layer, Pooling):
        pad = 0 if expected.stride != 1 else expected.window // 2
        if (layer.average, layer.window, layer.stride, layer.padding) != (
                expected.average, (expected.window,) * 2, (expected.stride,) * 2, (pad,) * 2):
            raise reader.fail(f"a pooling layer {layer} where the network has {expected}")
    elif isinstance(layer, FullyConnected) and (layer.weight.shape[1] != expected.size or layer.bias is not None):
        raise reader.fail(f"a fully connected layer of {layer.weight.shape[1]} outputs"
                          f"{' with' if layer.bias is not None else ' without'} bias where the network has "
                          f"{expected.size} without")


def _check_shapes(reader: DlibReader, steps: list[Step], chip_size: tuple[int, int]) -> None:
    """Fails where the layers' parameters do not fit the tensors that reach them."""
    try:
        shapes = tensor_shapes(steps, chip_size)
    except ValueError as error:
        raise reader.fail(str(error)) from error
    for step, (channels, _, _) in zip(steps, shapes, strict=False):
        if isinstance(step, Convolution) and step.weight.shape[1] != channels:
            raise reader.fail(f"a convolution taking {step.weight.shape[1]} channels after {channels}")
        if isinstance(step, Affine) and step.scale.size != channels:
            raise reader.fail(f"an affine layer of {step.scale.size} channels after {channels}")
    channels, rows, cols = shapes[-2]
    last = steps[-1]
    if not isinstance(last, FullyConnected) or last.weight.shape[0] != channels * rows * cols:
        raise reader.fail(f"a last layer that does not take the {channels * rows * cols} values before it")


def read_model_file(path: str | Path) -> ResnetModel:
    """Parses dlib's serialization of ``loss_metric<fc_no_bias<128, ... input_rgb_image_sized<150>>>``: the loss
    record, then the versions of the nested ``add_layer``/``add_tag_layer``/``add_skip_layer`` records outermost
    first (tags and skips write nothing else), the input record, then each ``add_layer``'s details innermost
    first, each followed by its bookkeeping flags and empty tensors. Raises ``ModelFileError`` (a ``ValueError``)
    naming the file where the layout is not that."""
    path = Path(path)
    reader = DlibReader.open(path, MODEL, FIX)
    reader.expect(1, "add_loss_layer")
    loss = reader.string()
    if loss == "loss_metric_2":
        reader.real()  # margin
        distance_threshold = float(np.float32(reader.real()))
    elif loss == "loss_metric_":
        distance_threshold = 0.75  # dlib's value for files of this version
    else:
        raise reader.fail(f"the loss {loss!r}, not loss_metric_")

    layout = network_layout()
    versions = [reader.integer() for _ in layout]  # outermost first
    for index, (node, version) in enumerate(zip(layout, versions, strict=True)):
        allowed = (1,) if isinstance(node, Tag | Skip) else (2, 3) if index == len(layout) - 1 else (1, 2)
        if version not in allowed:
            what = node.kind.__name__ if isinstance(node, Expected) else type(node).__name__
            raise reader.fail(f"version {version} for layer {index} ({what}), not one of {allowed}")
    input_name = reader.string()
    if input_name != "input_rgb_image_sized":
        raise reader.fail(f"the input layer {input_name!r}, not input_rgb_image_sized")
    mean_rgb = tuple(float(np.float32(reader.real())) for _ in range(3))
    chip_size = (reader.integer(), reader.integer())

    steps: list[Step] = []
    for depth, (node, version) in enumerate(zip(reversed(layout), reversed(versions), strict=True)):
        if isinstance(node, Tag | Skip):
            steps.append(node)  # no record of their own
            continue
        if isinstance(node, AddTagged):
            read_layer(reader, (AddPrev,))
            steps.append(node)
        else:
            layer = read_layer(reader, (node.kind,))
            if layer is not None:  # None: a disabled affine or relu, which passes its input on
                _check(reader, node, layer)
                steps.append(layer)
        read_layer_trailer(reader, version, over_input=depth == 0)
    reader.finish()
    _check_shapes(reader, steps, chip_size)
    red, green, blue = mean_rgb
    return ResnetModel(tuple(fold_affines(steps, reader)), (red, green, blue), chip_size, distance_threshold)


def tensor_shapes(steps: Sequence[Step], chip_size: tuple[int, int]) -> list[tuple[int, int, int]]:
    """The (channels, rows, columns) of one chip's tensor before each step and after the last, as dlib sizes
    them (output ``1 + (size + 2 * padding - window) // stride`` a side; ``add_prev``: the larger of each)."""
    shape = (3, *chip_size)
    tags: dict[int, tuple[int, int, int]] = {}
    shapes = [shape]
    for step in steps:
        channels, rows, cols = shape
        if isinstance(step, Convolution | Pooling):
            if isinstance(step, Convolution):
                channels, window = step.weight.shape[0], step.weight.shape[2:]
            else:
                window = tuple(size or whole for size, whole in zip(step.window, (rows, cols), strict=True))
            rows, cols = (1 + (size + 2 * pad - win) // stride for size, pad, win, stride
                          in zip((rows, cols), step.padding, window, step.stride, strict=True))
            shape = (channels, rows, cols)
        elif isinstance(step, FullyConnected):
            shape = (step.weight.shape[1], 1, 1)
        elif isinstance(step, Tag):
            tags[step.number] = shape
        elif isinstance(step, Skip):
            shape = tags[step.number]
        elif isinstance(step, AddTagged):
            shape = (max(shape[0], tags[step.number][0]), max(shape[1], tags[step.number][1]),
                     max(shape[2], tags[step.number][2]))
        if min(shape) <= 0:
            raise ValueError(f"a chip of {chip_size} pixels is too small for the network")
        shapes.append(shape)
    return shapes


# ---------------------------------------------------------------------------------------------------------------
# The network in ONNX Runtime


def onnx_network(steps: Sequence[Step], mean_rgb: tuple[float, float, float], chip_size: tuple[int, int]) -> bytes:
    """The network as a serialized ONNX model: input ``chips`` (N, rows, cols, 3) uint8 RGB, output
    ``descriptors`` (N, 128) float32. ``steps``: as ``read_model_file`` gives them, affine layers folded."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    weights: list = []

    def constant(array: np.ndarray, name: str) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    # input_rgb_image_sized: (value - mean) / 256 per channel, planar
    nodes += [helper.make_node("Cast", ["chips"], ["chips_float"], to=TensorProto.FLOAT),
              helper.make_node("Sub", ["chips_float", constant(np.array(mean_rgb, np.float32), "mean_rgb")],
                               ["centred"]),
              helper.make_node("Mul", ["centred", constant(np.array(1 / 256, np.float32), "scale")], ["scaled"]),
              helper.make_node("Transpose", ["scaled"], ["input"], perm=[0, 3, 1, 2])]
    shapes = tensor_shapes(steps, chip_size)
    name = "input"
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}  # each tag's tensor and its shape
    for index, step in enumerate(steps):
        output = f"step{index}"
        if isinstance(step, Convolution):
            rows, cols = step.weight.shape[2:]
            nodes.append(helper.make_node(
                "Conv", [name, constant(step.weight.astype(np.float32), f"weight{index}"),
                         constant(step.bias.astype(np.float32), f"bias{index}")], [output],
                kernel_shape=[rows, cols], strides=list(step.stride), pads=[*step.padding, *step.padding]))
        elif isinstance(step, Relu):
            nodes.append(helper.make_node("Relu", [name], [output]))
        elif isinstance(step, Pooling):
            if step.window == (0, 0):
                nodes.append(helper.make_node("GlobalAveragePool" if step.average else "GlobalMaxPool",
                                              [name], [output]))
            elif step.average:  # dlib's average leaves out the padding: count_include_pad=0
                nodes.append(helper.make_node("AveragePool", [name], [output], kernel_shape=list(step.window),
                                              strides=list(step.stride), pads=[*step.padding, *step.padding],
                                              count_include_pad=0))
            else:
                nodes.append(helper.make_node("MaxPool", [name], [output], kernel_shape=list(step.window),
                                              strides=list(step.stride), pads=[*step.padding, *step.padding]))
        elif isinstance(step, FullyConnected):
            nodes.append(helper.make_node("Flatten", [name], [f"{output}_flat"], axis=1))
            product = output if step.bias is None else f"{output}_product"
            nodes.append(helper.make_node("MatMul", [f"{output}_flat", constant(step.weight, f"weight{index}")],
                                          [product]))
            if step.bias is not None:
                nodes.append(helper.make_node("Add", [product, constant(step.bias, f"bias{index}")], [output]))
        elif isinstance(step, Tag):
            tags[step.number] = (name, shapes[index])
            continue
        elif isinstance(step, Skip):
            name = tags[step.number][0]
            continue
        elif isinstance(step, AddTagged):
            # tt::add: both operands zero-extended at the end of each dimension to the larger size
            operands = []
            for operand, shape in ((name, shapes[index]), tags[step.number]):
                extra = [big - small for big, small in zip(shapes[index + 1], shape, strict=True)]
                if any(extra):
                    padded = f"{output}_{operand}_padded"
                    nodes.append(helper.make_node(
                        "Pad", [operand, constant(np.array([0, 0, 0, 0, 0, *extra], np.int64), f"{padded}_pads")],
                        [padded], mode="constant"))
                    operand = padded
                operands.append(operand)
            nodes.append(helper.make_node("Add", operands, [output]))
        else:
            raise TypeError(f"no ONNX node for {step}")
        name = output
    nodes.append(helper.make_node("Identity", [name], ["descriptors"]))
    graph = helper.make_graph(
        nodes, "dlib_face_descriptor",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["N", *chip_size, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", DESCRIPTOR_SIZE])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


class FaceDescriptorNet:
    """dlib's face descriptor network from ``path`` (``dlib_face_recognition_resnet_model_v1.dat``), run by ONNX
    Runtime on the CPU.

    ``net(chips)`` for aligned chips (N, 150, 150, 3) uint8 RGB (dlib's ``get_face_chip``, size 150, padding
    0.25) returns their descriptors (N, 128) float32, as ``compute_face_descriptor(chip)`` does for each, to
    about 1e-6 a component (3.6e-7 on 27 real faces). ``threads``: ONNX Runtime's threads for one call (they do
    not spin between calls)."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.model = read_model_file(self.path)
        self.session = cpu_session(onnx_network(self.model.steps, self.model.mean_rgb, self.model.chip_size), threads)

    @property
    def chip_size(self) -> int:
        """The chips' side in pixels (150)."""
        return self.model.chip_size[0]

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) float32 of aligned chips (N, 150, 150, 3) uint8 RGB."""
        rows, cols = self.model.chip_size
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (rows, cols, 3):
            raise ValueError(f"FaceDescriptorNet takes uint8 RGB chips (N, {rows}, {cols}, 3) as dlib's "
                             f"get_face_chip makes them, not {chips.dtype} {chips.shape}")
        out = np.empty((len(chips), DESCRIPTOR_SIZE), np.float32)
        for start in range(0, len(chips), BATCH):
            batch = np.ascontiguousarray(chips[start:start + BATCH])
            out[start:start + len(batch)] = self.session.run(["descriptors"], {"chips": batch})[0]
        return out


__all__ = ["DESCRIPTOR_SIZE", "AddTagged", "FaceDescriptorNet", "ResnetModel", "Skip", "Tag",
           "network_layout", "onnx_network", "read_model_file", "tensor_shapes"]
