"""The track stage: faces, 478-point landmarks and stable track ids over a shot, smoothed, in plate pixels.

``track_source(source, options)`` gives a ``ShotTrack``; ``write_track_file``/``read_track_file`` store
it (docs/track_file.md). Mediapipe is imported only when a ``FaceDetector`` is made.
"""

from latentswap_core.track.associate import AssociateOptions, TrackAssigner
from latentswap_core.track.crop import FaceFrame
from latentswap_core.track.detect import DetectOptions, FaceDetector, FaceObservation
from latentswap_core.track.smooth import SmoothOptions, smooth_landmarks
from latentswap_core.track.tracker import ShotTracker, TrackOptions, display_rgb, smooth_shot, track_source
from latentswap_core.track.trackfile import (
    FrameFaces,
    ShotTrack,
    TrackedFace,
    TrackFileError,
    read_track_file,
    write_track_file,
)

__all__ = [
    "AssociateOptions",
    "DetectOptions",
    "FaceDetector",
    "FaceFrame",
    "FaceObservation",
    "FrameFaces",
    "ShotTrack",
    "ShotTracker",
    "SmoothOptions",
    "TrackAssigner",
    "TrackFileError",
    "TrackOptions",
    "TrackedFace",
    "display_rgb",
    "read_track_file",
    "smooth_landmarks",
    "smooth_shot",
    "track_source",
    "write_track_file",
]
