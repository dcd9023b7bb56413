"""The track report: a contact sheet with one thumbnail per person per camera shot, so a user can pick the
person to replace without opening JSON (``latentswap track --report sheet.png``).

Rows are people, columns the shots between cuts. Each cell shows the person's clearest face in that shot
(largest, most confident landmarks: ``ShotTracker.thumbnails``), with the frame range the person is seen in
there; an orange border marks a cell whose faces all have unreliable landmarks (profiles, tiny faces).
"""

from __future__ import annotations

import cv2
import numpy as np

from latentswap_core.io import format_frames
from latentswap_core.track.trackfile import ShotTrack

CELL = 96
LABEL = 28
PEOPLE_COLUMN = 90


def person_summary(track: ShotTrack) -> list[str]:
    """One line per person: frames, faces, tracks, and how many faces have unreliable landmarks."""
    lines = []
    for person in track.people:
        faces = [(entry.frame, face) for entry in track.frames for face in entry.faces if face.person == person]
        frames = [frame for frame, _ in faces]
        tracks = sorted({face.track_id for _, face in faces})
        unreliable = sum(not face.landmarks_reliable for _, face in faces)
        height = float(np.median([face.bbox[3] - face.bbox[1] for _, face in faces]))
        lines.append(f"person {person}: {len(faces)} faces in frames {format_frames(frames)}, "
                     f"about {height:.0f} px tall, track{'s' if len(tracks) > 1 else ''} "
                     f"{', '.join(map(str, tracks))}"
                     + (f"; {unreliable} with unreliable landmarks" if unreliable else ""))
    return lines


def contact_sheet(track: ShotTrack, thumbnails: dict[int, tuple[float, int, np.ndarray]]) -> np.ndarray:
    """The sheet as sRGB uint8 (H x W x 3). ``thumbnails``: track id -> (quality, frame, crop)."""
    shots = track.shot_ranges()
    people = track.people
    sheet = np.full((LABEL + len(people) * (CELL + LABEL), PEOPLE_COLUMN + len(shots) * CELL, 3), 24, np.uint8)
    for column, (first, last) in enumerate(shots):
        _text(sheet, f"{first}-{last}", PEOPLE_COLUMN + column * CELL + 4, LABEL - 9)
    for row, person in enumerate(people):
        top = LABEL + row * (CELL + LABEL)
        _text(sheet, f"person {person}", 4, top + CELL // 2)
        for column, (first, last) in enumerate(shots):
            faces = [(entry.frame, face) for entry in track.frames if first <= entry.frame <= last
                     for face in entry.faces if face.person == person]
            if not faces:
                continue
            best = max((thumbnails[face.track_id] for _, face in faces if face.track_id in thumbnails),
                       key=lambda item: item[0], default=None)
            left = PEOPLE_COLUMN + column * CELL
            if best is not None:
                sheet[top:top + CELL, left:left + CELL] = cv2.resize(best[2], (CELL, CELL))
            if not any(face.landmarks_reliable for _, face in faces):
                cv2.rectangle(sheet, (left, top), (left + CELL - 1, top + CELL - 1), (255, 140, 0), 2)
            frames = [frame for frame, _ in faces]
            _text(sheet, f"{min(frames)}-{max(frames)}", left + 4, top + CELL + LABEL - 10)
    return sheet


def _text(image: np.ndarray, text: str, x: int, y: int) -> None:
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
