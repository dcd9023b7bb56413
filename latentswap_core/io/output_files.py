"""Where a command's output frames go: one file per frame of a sequence pattern (or one file), refused before any
work when they would overwrite an input, replace a special file, or land where no folder can be made; and the
output folders, created right before the first frame is written (as Nuke's Write does) and removed again when a
failure left them empty."""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import takewhile
from pathlib import Path
from typing import Any

from latentswap_core.errors import OutputError
from latentswap_core.io.atomic import check_output_file
from latentswap_core.io.sequence import check_not_overwriting, looks_like_sequence, parse_sequence
from latentswap_core.io.source import FrameSource


def output_paths(source: FrameSource, output: str) -> dict[int, Path]:
    """The file each source frame is written to: a sequence pattern, or one file for one frame. Refused before
    any work: outputs that would overwrite an input, and output folders that cannot be created."""
    if looks_like_sequence(output):
        sequence = parse_sequence(output, source.frames)
        targets = {frame: sequence.path(frame) for frame in source.frames}
    elif len(source.frames) != 1:
        raise OutputError(f"{output}: {len(source.frames)} frames need a sequence pattern for the output, "
                          "such as out.####.exr")
    else:
        targets = {source.frames[0]: Path(output)}
    check_not_overwriting(source.input_files(), targets.values())
    for folder in {path.parent for path in targets.values()}:
        _check_can_create(folder)
    for path in targets.values():
        check_output_file(path)
    return targets


class OutputFolders:
    """The missing folders of an output: created (parents too) by ``create`` right before the first frame is
    written. Used as a context manager, a failure removes those still empty (no frame landed in them)."""

    def __init__(self, targets: Iterable[Path]) -> None:
        self._missing = sorted({path.parent for path in targets if not path.parent.is_dir()})
        self._made: list[Path] = []  # every folder made, parents before children

    def create(self) -> list[Path]:
        """Create the missing output folders; returns those created (none on later calls)."""
        created = []
        for folder in self._missing:
            new = list(takewhile(lambda path: not path.exists(), [folder, *folder.parents]))  # deepest first
            self._made.extend(reversed(new))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OutputError(f"{folder}: cannot create the output folder ({error.strerror or error}); "
                                  "choose another output") from None
            if new:
                created.append(folder)
        self._missing = []
        return created

    def remove_unused(self) -> None:
        """Remove the folders ``create`` made that are still empty, deepest first."""
        remove_empty_folders(reversed(self._made))
        self._made = []

    def __enter__(self) -> OutputFolders:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if kind is not None:
            self.remove_unused()


def missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first: what a command writing there may
    create, and should remove again if it fails before anything landed in them."""
    return list(takewhile(lambda folder: not os.path.lexists(folder), [path, *path.parents]))


def remove_empty_folders(folders: Iterable[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is an empty folder; keep the rest."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not a folder, or a file (ours or another job's) landed in it: keep it
            pass


def _check_can_create(folder: Path) -> None:
    """Refuse an output folder that is missing and cannot be made: a file in the way, or no permission."""
    if folder.is_dir():
        return
    existing = next((path for path in folder.parents if path.exists()), None)
    if existing is None:
        return  # not even the working folder exists: creating it will say why
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot create the output folder, {existing} is a file; choose another output")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot create the output folder, no permission to write in {existing}; "
                          "choose another output")
