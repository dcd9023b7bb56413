"""Stable track ids: which face in this frame is which face of the frames before.

Each live track predicts its landmarks in the new frame from its last landmarks and last velocity
(so two faces crossing keep their ids). Faces and tracks are paired by the Hungarian method on
``(1 - IoU of boxes) + RMS landmark distance / face radius``; a pair is allowed only if that distance
is within a gate that widens the longer the track has been unseen. A track unseen for more than
``max_missing`` frames ends; a face that pairs with no track starts a new id (left to right within a
frame). Frames are counted by position in the shot, so ``--frames 1001-1100x2`` works alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latentswap_core.track.crop import FaceFrame
from latentswap_core.track.detect import FaceObservation, box_iou, landmark_box

_FORBIDDEN = 1e6


@dataclass(frozen=True)
class AssociateOptions:
    """``max_missing``: frames a lost track waits to be re-acquired. ``gate``: largest landmark distance
    (in face radii) between a face and a track's prediction, plus ``speed_gate`` times the track's RMS
    landmark speed (radii per frame) times the frames since it was seen (the faster and the longer, the
    less sure the prediction); ``new_gate`` instead for tracks seen once (no velocity yet); ``gate_growth``
    is added per further unseen frame; at most ``max_gate``. ``hint_frames``: tracks seen this recently are
    marked at their predicted place even where the detector misses the face."""

    max_missing: int = 12
    gate: float = 1.0
    speed_gate: float = 0.5
    new_gate: float = 2.5
    gate_growth: float = 0.5
    max_gate: float = 4.0
    hint_frames: int = 2


@dataclass
class _Track:
    track_id: int
    last_seen: int
    landmarks: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((1, 2)))
    seen: int = 1

    def predicted(self, position: int) -> np.ndarray:
        return self.landmarks + self.velocity * (position - self.last_seen)


class TrackAssigner:
    """Feed ``assign`` each frame's faces in shot order; it returns their track ids."""

    def __init__(self, options: AssociateOptions | None = None, first_id: int = 0):
        self.options = options or AssociateOptions()
        self._tracks: list[_Track] = []
        self._next_id = first_id

    @property
    def next_id(self) -> int:
        """The id the next new track will get."""
        return self._next_id

    def hints(self, position: int) -> list[FaceFrame]:
        """Predicted face frames of tracks seen within ``hint_frames`` before ``position``."""
        return [FaceFrame.from_landmarks(track.predicted(position)) for track in self._tracks
                if position - track.last_seen <= self.options.hint_frames]

    def assign(self, position: int, faces: list[FaceObservation]) -> list[int]:
        """Track ids for ``faces`` seen at ``position`` (frames in increasing order)."""
        self._tracks = [track for track in self._tracks if position - track.last_seen <= self.options.max_missing + 1]
        ids: list[int | None] = [None] * len(faces)
        if self._tracks and faces:
            from scipy.optimize import linear_sum_assignment  # here: 0.1 s of every command's start otherwise

            cost = np.array([[self._cost(track, face, position) for face in faces] for track in self._tracks])
            for row, column in zip(*linear_sum_assignment(cost), strict=True):
                if cost[row, column] < _FORBIDDEN:
                    track = self._tracks[row]
                    gap = position - track.last_seen
                    track.velocity = (faces[column].landmarks - track.landmarks) / gap
                    track.landmarks, track.last_seen = faces[column].landmarks, position
                    track.seen += 1
                    ids[column] = track.track_id
        for index in sorted((i for i, value in enumerate(ids) if value is None), key=lambda i: faces[i].bbox[0]):
            ids[index] = self._next_id
            self._tracks.append(_Track(self._next_id, position, faces[index].landmarks, np.zeros((1, 2))))
            self._next_id += 1
        return [int(value) for value in ids]  # type: ignore[arg-type]

    def _cost(self, track: _Track, face: FaceObservation, position: int) -> float:
        predicted = track.predicted(position)
        radius = FaceFrame.from_landmarks(track.landmarks).radius
        distance = float(np.sqrt(((face.landmarks - predicted) ** 2).sum(axis=1).mean())) / radius
        gap = position - track.last_seen
        if track.seen > 1:
            speed = float(np.sqrt((track.velocity**2).sum(axis=1).mean())) / radius
            base = self.options.gate + self.options.speed_gate * speed * gap
        else:
            base = self.options.new_gate
        gate = min(base + self.options.gate_growth * (gap - 1), self.options.max_gate)
        if distance > gate:
            return _FORBIDDEN
        return distance + 1.0 - box_iou(face.bbox, landmark_box(predicted))
