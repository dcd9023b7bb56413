"""The track file (docs/track_file.md) <-> per-face animation values on the LatentSwap node (stdlib only).

Track writes each face's alignment as four curves in Nuke terms (coordinates.nuke_face_params): the centre
of the aligned square (XY, Nuke pixels), its side in plate pixels (``scale``) and its angle (``rotate``,
degrees). A hand edit of those curves goes back into the track file the next Precompute reads: the edited
frames get a new ``to_aligned`` and the face's landmarks and box follow the edit (they are moved by
``inverse(A_new) o A_old``), so the swap, the mask and the extract all see the edited face.
"""

from __future__ import annotations

import json
import math

from nuke_plugin import coordinates
from nuke_plugin.atomic import write_text_atomically

VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 2 adds cuts and per-face person/detector/landmarks_reliable, kept as they are
# An edit closer than this to the baked value is a round trip through knobs, not a change (px, px, degrees).
EDIT_TOLERANCE = (1e-3, 1e-3, 1e-4)


class TrackBakeError(Exception):
    """The track file cannot be read or written; the message is one line naming the file and the fix."""


def read_track(path):
    """The track file's JSON object (a dict), with a light check of what this module relies on."""
    try:
        with open(path, encoding="utf-8") as stream:
            track = json.load(stream)
    except OSError as error:
        reason = error.strerror or error
        raise TrackBakeError(f"{path}: cannot read the track file ({reason}); run Track again") from None
    except ValueError as error:
        raise TrackBakeError(f"{path}: not a JSON track file ({error}); run Track again") from None
    check_track(track, path)
    return track


def write_track(path, track):
    """Write ``track`` to ``path`` atomically (``atomic.write_text_atomically``)."""
    check_track(track, path)
    write_text_atomically(path, _dumps(track))


def _dumps(track):
    """The engine's own layout (latentswap_core/track/trackfile.py): one face per line."""
    head = {key: value for key, value in track.items() if key != "frames"}
    lines = []
    for entry in track["frames"]:
        faces = ",\n".join("      " + json.dumps(face, separators=(",", ":")) for face in entry["faces"])
        rest = {key: value for key, value in entry.items() if key not in ("frame", "faces")}
        extra = "".join(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in rest.items())
        body = "[\n" + faces + "\n    ]" if faces else "[]"
        lines.append('    {{"frame": {}{}, "faces": {}}}'.format(json.dumps(entry["frame"]), extra, body))
    return json.dumps(head)[:-1] + ', "frames": [\n' + ",\n".join(lines) + "\n]}\n"


def check_track(track, name="track file"):
    if not isinstance(track, dict) or track.get("version") not in READABLE_VERSIONS:
        version = track.get("version") if isinstance(track, dict) else None
        raise TrackBakeError(f"{name}: version {version!r}, this plugin reads versions 1 and {VERSION}; run Track "
                             "again")
    for key in ("height", "width"):
        if not isinstance(track.get(key), int) or isinstance(track.get(key), bool):
            raise TrackBakeError(f"{name}: \"{key}\" is missing or not an integer; run Track again")
    if not isinstance(track.get("frames"), list):
        raise TrackBakeError(f"{name}: \"frames\" is missing or not a list; run Track again")


def face_animation(track, height=None):
    """``{track_id: {frame: (cx, cy, scale, rotate)}}`` in Nuke terms, from each face's ``to_aligned``.

    ``height``: the plate's height (default: the track file's own ``height``).
    """
    height = track["height"] if height is None else height
    animation: dict = {}
    for entry in track["frames"]:
        for face in entry["faces"]:
            values = coordinates.nuke_face_params(face["to_aligned"], height)
            animation.setdefault(int(face["track_id"]), {})[int(entry["frame"])] = values
    return animation


def apply_edits(track, edits, height=None, tolerance=EDIT_TOLERANCE):
    """A copy of ``track`` with the edited transforms written back.

    ``edits``: ``{track_id: {frame: (cx, cy, scale, rotate)}}`` in Nuke terms (face_animation's shape). Only
    the frames in ``edits`` whose values differ from the baked ones (by more than ``tolerance``) change: their
    ``to_aligned`` becomes ``A_old o D^-1``, where D is the plate-space similarity taking the baked square to
    the edited one, and their landmarks and box are moved by D (= ``inverse(A_new) o A_old``). A face or frame
    in ``edits`` that the track does not hold is a TrackBakeError.
    """
    height = track["height"] if height is None else height
    edited = json.loads(json.dumps(track))  # a deep copy with only JSON types
    faces = {}
    for entry in edited["frames"]:
        for face in entry["faces"]:
            faces[(int(face["track_id"]), int(entry["frame"]))] = face
    for track_id, frames in edits.items():
        for frame, values in frames.items():
            face = faces.get((int(track_id), int(frame)))
            if face is None:
                raise TrackBakeError(f"face {track_id} is not in frame {frame} of the track; set keys only on "
                                     "frames where Track found the face")
            _edit_face(face, [float(value) for value in values], height, tolerance)
    return edited


def _edit_face(face, values, height, tolerance):
    old = face["to_aligned"]
    baked = coordinates.nuke_face_params(old, height)
    if _same(baked, values, tolerance):
        return
    old_square = coordinates.to_aligned_from_nuke_params(baked[0], baked[1], baked[2], baked[3], height)
    new_square = coordinates.to_aligned_from_nuke_params(values[0], values[1], values[2], values[3], height)
    # D: plate -> plate, the baked square onto the edited one (engine pixels).
    move = coordinates.compose_affine(coordinates.invert_affine(new_square), old_square)
    new = coordinates.compose_affine(old, coordinates.invert_affine(move))
    face["to_aligned"] = [[float(f"{value:.12g}") for value in row] for row in new]
    points = [coordinates.apply_affine(move, point) for point in face["landmarks"]]
    face["landmarks"] = [[round(x, 3), round(y, 3)] for x, y in points]
    xs = [x for x, _ in face["landmarks"]]
    ys = [y for _, y in face["landmarks"]]
    face["bbox"] = [round(min(xs), 3), round(min(ys), 3), round(max(xs), 3), round(max(ys), 3)]


def _same(baked, values, tolerance):
    centre, scale, angle = tolerance
    turn = (values[3] - baked[3] + 180.0) % 360.0 - 180.0
    return (math.hypot(values[0] - baked[0], values[1] - baked[1]) <= centre
            and abs(values[2] - baked[2]) <= scale and abs(turn) <= angle)
