"""dlib's networks run without dlib: its ``serialize`` format as its DNN model files use it, the layer records,
and the ONNX Runtime session they run in.

Shared by the modules that run dlib's networks (``track/mmod.py``: the CNN face detector;
``identity/dlib_resnet.py``: the face descriptor); it lives in ``identity``, the lower of their two layers.
Each of them knows its network's layout; this module reads the pieces and runs the result:

- ``DlibReader``: compact integers, dlib's float format (mantissa and exponent), booleans (``'0'``/``'1'``),
  strings, tensors (version 2: four dimensions, then little-endian float32) and alias tensors (their shape).
- ``read_layer``: one layer's details record (``con_``, ``affine_``/``bn_con``, ``relu_``, ``max_pool_``,
  ``avg_pool_``, ``add_prev_``, ``fc_``) as a plain dataclass of float32 arrays.
- ``read_layer_trailer``: what an ``add_layer`` writes after its details (bookkeeping flags, empty tensors).
- ``fold_affines``: each affine (inference batch norm) layer folded into the convolution before it.
- ``cpu_session``: an ONNX model on ONNX Runtime's CPU provider.

A file that is not what a module expects raises ``ModelFileError`` (a ``ModelError`` and a ``ValueError``) with
one line naming the file, what was found, the byte where, and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentswap_core.errors import ModelError


class ModelFileError(ModelError, ValueError):
    """A dlib model file is not the network a module can run (truncated, another layout, another net)."""


class DlibReader:
    """dlib's ``serialize`` primitives over a file's bytes. ``model`` (e.g. "dlib's MMOD face detector") and
    ``fix`` (what to do instead) make its one-line errors."""

    def __init__(self, data: bytes, path: Path, model: str, fix: str):
        self.data = data
        self.at = 0
        self.path = path
        self.model = model
        self.fix = fix

    @classmethod
    def open(cls, path: Path, model: str, fix: str) -> DlibReader:
        """The reader over the file at ``path``; ``ModelFileError`` where it cannot be read."""
        try:
            return cls(path.read_bytes(), path, model, fix)
        except OSError as error:
            raise ModelFileError(f"cannot read {model} {path}: {error.strerror}") from error

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path} is not {self.model} this module reads: {what} (at byte {self.at}); "
                              f"{self.fix}")

    def take(self, count: int) -> bytes:
        if count < 0:
            raise self.fail(f"a negative length ({count})")
        if self.at + count > len(self.data):
            raise self.fail("the file ends early")
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def integer(self) -> int:
        """A compact integer: a control byte (low 4 bits: byte count, 0x80: negative), then the bytes, little
        endian."""
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise self.fail(f"a malformed integer (control byte {control:#04x})")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        """A float or double in dlib's binary format: mantissa and exponent, both compact integers."""
        if self.at < len(self.data) and self.data[self.at] & 0x70:
            raise self.fail("a floating point number in dlib's old text format")
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:
            return {32000: math.inf, 32001: -math.inf}.get(exponent, math.nan)
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError:  # beyond a double, as dlib reads it
            return math.copysign(math.inf, mantissa)

    def boolean(self) -> bool:
        flag = self.take(1)
        if flag not in (b"0", b"1"):
            raise self.fail("a malformed boolean")
        return flag == b"1"

    def string(self) -> str:
        return self.take(self.integer()).decode("latin-1")

    def peek_string(self) -> str:
        """The string starting here, if one plausibly does (else ''), without consuming it."""
        start = self.at
        try:
            size = self.integer()
            text = self.take(size).decode("latin-1") if 0 < size < 64 else ""
        except ModelFileError:
            text = ""
        self.at = start
        return text if text.isprintable() else ""

    def expect(self, value: int, what: str) -> None:
        found = self.integer()
        if found != value:
            raise self.fail(f"{what} version {found}, not {value}")

    def tensor(self) -> np.ndarray:
        """A tensor: version 2, its four dimensions, then float32 little endian."""
        self.expect(2, "tensor")
        shape = tuple(self.integer() for _ in range(4))
        if min(shape) < 0:
            raise self.fail(f"a tensor of negative size {shape}")
        count = math.prod(shape)
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def finish(self) -> None:
        """Fails where the file holds more than was read: not the network its reader expects."""
        if self.at != len(self.data):
            raise self.fail(f"{len(self.data) - self.at} bytes after the network")

    def alias_tensor(self) -> tuple[int, ...]:
        self.expect(1, "alias_tensor")
        return tuple(self.integer() for _ in range(4))


# ---------------------------------------------------------------------------------------------------------------
# Layer records


@dataclass(frozen=True)
class Convolution:
    """A ``con_`` layer: ``weight`` (out, in, rows, cols) and ``bias`` (out,) float32, with dlib's stride and
    zero padding in pixels (rows, then columns)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """An ``affine_`` layer (or a ``bn_con`` read as dlib reads it into one): ``x * scale + shift`` per
    channel, float32."""

    scale: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class Relu:
    """A ``relu_`` layer."""


@dataclass(frozen=True)
class Pooling:
    """A ``max_pool_`` (``average`` False) or ``avg_pool_`` layer: window, stride and zero padding in pixels
    (rows, then columns). A window of (0, 0) is the whole input (``max_pool_everything``/``avg_pool_everything``).
    dlib's windows start at ``index * stride - padding``; its output has ``1 + (size + 2 * padding - window) //
    stride`` cells a side; a window's part outside the input is left out (not counted in an average)."""

    average: bool
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    """An ``add_prev_`` layer: its input plus the output of the nearest tagged layer below it. Which tag is not
    in the file (dlib's type names it). Where the two differ in size, dlib adds them zero-extended to the larger
    of each dimension, aligned at index 0 (samples, channels, rows, columns: ``tt::add``)."""


@dataclass(frozen=True)
class FullyConnected:
    """An ``fc_`` layer: ``weight`` (inputs, outputs) float32; y = x.reshape(N, -1) @ weight (+ ``bias``
    (outputs,), None for ``fc_no_bias``)."""

    weight: np.ndarray
    bias: np.ndarray | None


Layer = Convolution | Affine | Relu | Pooling | AddPrev | FullyConnected
LAYER_TYPES = (Convolution, Affine, Relu, Pooling, AddPrev, FullyConnected)

# Each details record's name and the layer it is read as.
RECORDS: dict[str, type] = {
    "con_4": Convolution, "con_5": Convolution, "con_6": Convolution,
    "affine_": Affine, "affine_2": Affine, "bn_con2": Affine,
    "relu_": Relu, "relu_2": Relu,
    "max_pool_2": Pooling, "avg_pool_2": Pooling,
    "add_prev_": AddPrev,
    "fc_2": FullyConnected, "fc_3": FullyConnected,
}


def read_layer(reader: DlibReader, kinds: tuple[type, ...] = LAYER_TYPES) -> Layer | None:
    """One layer's details record, read as dlib reads it (None: an ``affine_`` or ``relu_`` dlib was told to
    skip). A record not of one of ``kinds`` fails."""
    name = reader.string()
    if RECORDS.get(name) not in kinds:
        raise reader.fail(f"a layer {name!r}")
    if name in ("con_4", "con_5", "con_6"):
        params = reader.tensor().ravel()
        filters, rows, cols = reader.integer(), reader.integer(), reader.integer()
        stride = (reader.integer(), reader.integer())
        padding = (reader.integer(), reader.integer())
        weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        for _ in range(4):
            reader.real()  # learning rate and weight decay multipliers
        use_bias = reader.boolean() if name in ("con_5", "con_6") else True
        if name == "con_6" and reader.boolean():
            raise reader.fail("a convolution with a fused ReLU")
        weight_size = math.prod(weight_shape)
        if weight_shape[0] != filters or weight_shape[2:] != (rows, cols) or (
                params.size != weight_size + (filters if use_bias else 0)):
            raise reader.fail(f"a {name} layer whose parameters do not fit its {filters} {rows}x{cols} filters")
        bias = params[weight_size:] if use_bias else np.zeros(filters, np.float32)
        if use_bias and math.prod(bias_shape) != filters:
            raise reader.fail(f"a {name} layer with {math.prod(bias_shape)} biases for {filters} filters")
        return Convolution(params[:weight_size].reshape(weight_shape), bias.copy(), stride, padding)
    if name in ("affine_", "affine_2"):
        params = reader.tensor().ravel()
        gamma, beta = math.prod(reader.alias_tensor()), math.prod(reader.alias_tensor())
        mode = reader.integer()
        disabled = reader.boolean() if name == "affine_2" else False
        if disabled:
            return None
        if mode != 0 or params.size != gamma + beta or gamma != beta:  # 0: CONV_MODE, one value per channel
            raise reader.fail("an affine layer that is not per channel")
        return Affine(params[:gamma].copy(), params[gamma:].copy())
    if name == "bn_con2":
        params = reader.tensor().ravel()
        gamma, beta = math.prod(reader.alias_tensor()), math.prod(reader.alias_tensor())
        reader.tensor(), reader.tensor()  # the last batch's means and inverse deviations
        running_means, running_variances = reader.tensor().ravel(), reader.tensor().ravel()
        reader.integer(), reader.integer()  # updates, running window
        for _ in range(4):
            reader.real()
        eps = np.float32(reader.real())
        if params.size != gamma + beta or not gamma == beta == running_means.size == running_variances.size:
            raise reader.fail("a batch norm layer whose parameters do not fit")
        # As dlib reads a bn_con into an affine_: scale = gamma / sqrt(variance + eps), in float32.
        scale = params[:gamma] / np.sqrt(running_variances + eps)
        return Affine(scale, params[gamma:] - scale * running_means)
    if name in ("relu_", "relu_2"):
        disabled = reader.boolean() if name == "relu_2" else False
        return None if disabled else Relu()
    if name in ("max_pool_2", "avg_pool_2"):
        window = (reader.integer(), reader.integer())
        stride = (reader.integer(), reader.integer())
        padding = (reader.integer(), reader.integer())
        if min(stride) <= 0 or min(window) < 0 or min(padding) < 0 or any(
                pad >= size if size else pad for size, pad in zip(window, padding, strict=True)):
            raise reader.fail(f"a {name} layer with window {window}, stride {stride}, padding {padding}")
        return Pooling(name == "avg_pool_2", window, stride, padding)
    if name == "add_prev_":
        return AddPrev()
    # fc_2, fc_3
    outputs, inputs = reader.integer(), reader.integer()
    params = reader.tensor().ravel()
    weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
    bias_mode = reader.integer()  # 0: FC_HAS_BIAS, 1: FC_NO_BIAS
    for _ in range(4):
        reader.real()  # learning rate and weight decay multipliers
    use_bias = reader.boolean() if name == "fc_3" else True
    use_bias = use_bias and bias_mode == 0
    if bias_mode not in (0, 1) or math.prod(weight_shape) != inputs * outputs or (
            params.size != (inputs + use_bias) * outputs) or (use_bias and math.prod(bias_shape) != outputs):
        raise reader.fail(f"a {name} layer whose parameters do not fit its {inputs} inputs and {outputs} outputs")
    weight = params[:inputs * outputs].reshape(inputs, outputs).copy()
    return FullyConnected(weight, params[inputs * outputs:].copy() if use_bias else None)


def read_layer_trailer(reader: DlibReader, version: int, over_input: bool) -> None:
    """Skips what an ``add_layer`` of ``version`` writes after its details: three flags (setup called,
    gradient stale, output getters disabled), ``x_grad`` and the cached output; then, for the layer over the
    input (``over_input``), ``grad_final`` and (version 3) the sample expansion factor, else (version 2)
    ``params_grad``."""
    for _ in range(3):
        reader.boolean()
    reader.tensor(), reader.tensor()
    if over_input:
        reader.tensor()
        if version == 3:
            reader.integer()
    elif version == 2:
        reader.tensor()


def fold_affines(layers: Sequence[Any], reader: DlibReader) -> list[Any]:
    """The layers with each affine layer folded into the convolution before it:
    (x * w + b) * s + t = x * (w s) + (b s + t). Raises ``ModelFileError`` (through ``reader.fail``) for an
    affine layer that follows anything else. Items other than layer records (a network's own steps) pass on."""
    folded: list[Any] = []
    for layer in layers:
        if isinstance(layer, Affine):
            before = folded[-1] if folded else None
            if not isinstance(before, Convolution):
                raise reader.fail("an affine layer that does not follow a convolution")
            folded[-1] = Convolution(before.weight * layer.scale[:, None, None, None],
                                     before.bias * layer.scale + layer.shift, before.stride, before.padding)
        else:
            folded.append(layer)
    return folded


def cpu_session(network: bytes, threads: int) -> Any:
    """An ONNX Runtime session of the serialized ONNX model ``network`` on the CPU, ``threads`` wide; its threads
    do not spin between calls, so they cost nothing while the caller does other work."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(network, options, providers=["CPUExecutionProvider"])


__all__ = ["LAYER_TYPES", "RECORDS", "AddPrev", "Affine", "Convolution", "DlibReader", "FullyConnected", "Layer",
           "ModelFileError", "Pooling", "Relu", "cpu_session", "fold_affines", "read_layer",
           "read_layer_trailer"]
