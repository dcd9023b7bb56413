"""Which tracked faces a command works on: ``--track-id`` or ``--person`` (``extract``, ``swap``, ``eval``).

A track id names one unbroken run of one face within one camera cut; a person names one human over the whole
shot, across cuts and gaps (``latentswap track`` joins that human's runs; -1 where it has not). A selection picks
by one or the other, never both (both together would only ever narrow one by the other); none picks every face.
It reads nothing but the faces' ``track_id`` and ``person``, so every stage from the track on may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from latentswap_core.errors import SettingsError, TrackFileError


class SelectableFace(Protocol):
    track_id: int
    person: int


@dataclass(frozen=True)
class FaceSelection:
    """``track_ids``: the faces of these tracks; ``people``: the faces of these people; neither: every face."""

    track_ids: tuple[int, ...] | None = None
    people: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.track_ids is not None and self.people is not None:
            raise SettingsError("--track-id and --person both pick faces: give one of them (--person: one human "
                                "over the whole shot, across cuts; --track-id: one unbroken run of a face)")
        for name, option in (("track_ids", "--track-id"), ("people", "--person")):
            ids = getattr(self, name)
            if ids is None:
                continue
            ids = tuple(ids)
            if not ids or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
                raise SettingsError(f"{option} {', '.join(map(str, ids)) or '(none)'}: ids are whole numbers, "
                                    "0 or more, as `latentswap track` lists them")
            object.__setattr__(self, name, ids)

    @classmethod
    def from_arguments(cls, track_ids: Iterable[int] | None, people: Iterable[int] | None) -> FaceSelection:
        """From the command line's repeatable options (None or an empty list: not given)."""
        return cls(tuple(track_ids) if track_ids else None, tuple(people) if people else None)

    @property
    def everyone(self) -> bool:
        return self.track_ids is None and self.people is None

    def describe(self) -> str:
        """``all``, ``track 0,2`` or ``person 1``: for headers and reports."""
        if self.track_ids is not None:
            return "track " + ",".join(map(str, self.track_ids))
        if self.people is not None:
            return "person " + ",".join(map(str, self.people))
        return "all"

    def matches(self, face: SelectableFace) -> bool:
        if self.track_ids is not None:
            return face.track_id in self.track_ids
        if self.people is not None:
            return face.person in self.people
        return True

    def check(self, faces: Iterable[SelectableFace], name: str) -> None:
        """Refuse ids that none of ``faces`` (all of a shot's, or of the frames used) carries, naming the ids
        there (``name``: the track as the user knows it, e.g. its file), so that a typo fails at once instead of
        giving an empty faceset or an untouched plate."""
        if self.everyone:
            return
        faces = list(faces)
        track_ids = sorted({face.track_id for face in faces})
        if self.track_ids is not None:
            missing = sorted(set(self.track_ids) - set(track_ids))
            if missing:
                raise TrackFileError(f"--track-id {_listed(missing)}: not in {name}; track ids there: "
                                     f"{_listed(track_ids) or 'none'}")
        if self.people is not None:
            people = sorted({face.person for face in faces if face.person >= 0})
            missing = sorted(set(self.people) - set(people))
            if missing:
                hint = " (no people are assigned in it: pick faces with --track-id)" if track_ids and not people \
                    else ""
                raise TrackFileError(f"--person {_listed(missing)}: not in {name}; people there: "
                                     f"{_listed(people) or 'none'}{hint}")


def _listed(ids: Iterable[int]) -> str:
    return ", ".join(map(str, ids))
