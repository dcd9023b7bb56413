"""Frame sequence notations, frame ranges, discovery on disk and missing-frame reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentswap_core.errors import SequenceError
from latentswap_core.io import Image, looks_like_sequence, open_source, parse_frames, parse_sequence, write_image


def make_frames(folder: Path, frames, name="plate", ext="exr", padding=4) -> None:
    for frame in frames:
        pixels = np.full((6, 8, 3), frame % 7 / 7, dtype=np.float16)
        write_image(folder / f"{name}.{str(frame).zfill(padding)}.{ext}", Image(pixels, ("R", "G", "B")))


@pytest.mark.parametrize("pattern", ["plate.####.exr", "plate.%04d.exr", "plate.$F4.exr", "plate.@@@@.exr",
                                     "plate.1001-1004#.exr"])
def test_every_notation_names_the_same_files(tmp_path: Path, pattern: str) -> None:
    make_frames(tmp_path, range(1001, 1005))
    sequence = parse_sequence(tmp_path / pattern)
    assert sequence.frames == (1001, 1002, 1003, 1004)
    assert sequence.path(1001) == tmp_path / "plate.1001.exr"
    assert sequence.pattern == str(tmp_path / "plate.####.exr")
    source = open_source(tmp_path / pattern)
    assert [frame for frame, _ in source] == [1001, 1002, 1003, 1004]


def test_hash_count_is_the_padding_in_nuke_notation(tmp_path: Path) -> None:
    make_frames(tmp_path, [7, 8], padding=6)
    assert parse_sequence(tmp_path / "plate.######.exr").path(7).name == "plate.000007.exr"
    assert parse_sequence(tmp_path / "plate.######.exr").frames == (7, 8)
    with pytest.raises(SequenceError, match="no frames found"):
        parse_sequence(tmp_path / "plate.####.exr")


def test_a_numbered_file_name_is_one_image_not_a_pattern() -> None:
    assert not looks_like_sequence("shot/plate.1001.exr")
    assert looks_like_sequence("shot/plate.1001-1005#.exr") and looks_like_sequence("plate.%d.exr")
    with pytest.raises(SequenceError, match="plate.1001.exr: not a frame sequence pattern"):
        parse_sequence("plate.1001.exr")


def test_frame_ranges() -> None:
    assert parse_frames("1001-1005") == (1001, 1002, 1003, 1004, 1005)
    assert parse_frames("1001-1009x2") == (1001, 1003, 1005, 1007, 1009)
    assert parse_frames("1,5,10-12") == (1, 5, 10, 11, 12)
    # a range names frames, not an order: every command reads them forward, once (the tracker follows motion)
    assert parse_frames("1010,1001,1005") == (1001, 1005, 1010)
    assert parse_frames("1005-1001") == (1001, 1002, 1003, 1004, 1005)
    assert parse_frames("1001-1003,1002,1001") == (1001, 1002, 1003)
    with pytest.raises(SequenceError, match=r"cannot read the frame range 'ten'"):
        parse_frames("ten")


def test_frames_option_selects_and_steps(tmp_path: Path) -> None:
    make_frames(tmp_path, range(1001, 1011))
    source = open_source(tmp_path / "plate.####.exr", "1001-1010x3")
    assert source.frames == (1001, 1004, 1007, 1010)
    assert open_source(tmp_path / "plate.####.exr", "1010,1001-1002").frames == (1001, 1002, 1010)
    assert open_source(tmp_path / "plate.1004-1001#.exr").frames == (1001, 1002, 1003, 1004)  # written in, backwards


def test_missing_frames_are_listed_before_any_read(tmp_path: Path) -> None:
    make_frames(tmp_path, [1001, 1002, 1003, 1005, 1009, 1010])
    with pytest.raises(SequenceError) as error:
        open_source(tmp_path / "plate.####.exr")
    message = str(error.value)
    assert "plate.####.exr: 4 of 10 frames missing in 1001-1010: 1004,1006-1008" in message
    assert "\n" not in message
    with pytest.raises(SequenceError, match=r"3 of 7 frames missing in 1001-1007: 1004,1006-1007"):
        open_source(tmp_path / "plate.%04d.exr", "1001-1007")
    assert open_source(tmp_path / "plate.%04d.exr", "1001-1003").frames == (1001, 1002, 1003)


def test_a_regularly_stepped_render_is_not_missing_frames(tmp_path: Path) -> None:
    make_frames(tmp_path, range(1001, 1010, 2))
    assert open_source(tmp_path / "plate.####.exr").frames == (1001, 1003, 1005, 1007, 1009)


def test_single_image_folder_and_unknown_paths(tmp_path: Path) -> None:
    make_frames(tmp_path, range(1, 4))
    single = open_source(tmp_path / "plate.0002.exr")
    assert single.frames == (1,) and single.file_of(1).name == "plate.0002.exr"
    as_sequence = open_source(tmp_path)
    assert as_sequence.frames == (1, 2, 3) and as_sequence.file_of(3).name == "plate.0003.exr"
    with pytest.raises(SequenceError, match="no such file, folder or frame sequence"):
        open_source(tmp_path / "nothing_here")
    with pytest.raises(SequenceError, match=r"missing.exr: file not found"):
        open_source(tmp_path / "missing.exr")


def test_folder_of_photos_in_natural_order(tmp_path: Path, face_photo: np.ndarray) -> None:
    for name in ["face10.jpg", "face2.jpg", "portrait.png"]:
        write_image(tmp_path / name, Image(face_photo[::4, ::4], ("R", "G", "B")))
    source = open_source(tmp_path)
    assert [source.file_of(frame).name for frame in source.frames] == ["face2.jpg", "face10.jpg", "portrait.png"]
    assert source.read(2).pixels.dtype == np.uint8
    with pytest.raises(SequenceError, match="no image number 4; it holds 3 images"):
        open_source(tmp_path, "3-4")


def test_movie_frames_count_from_one(tmp_path: Path, face_photo: np.ndarray) -> None:
    import cv2

    movie = tmp_path / "shot.mp4"
    face = np.ascontiguousarray(face_photo[:240, :320, ::-1])
    writer = cv2.VideoWriter(str(movie), cv2.VideoWriter_fourcc(*"mp4v"), 24, (320, 240))
    for shift in range(6):
        writer.write(np.roll(face, shift * 8, axis=1))
    writer.release()
    source = open_source(movie)
    assert source.frames == (1, 2, 3, 4, 5, 6)
    frame = source.read(4)
    assert frame.pixels.shape == (240, 320, 3) and frame.channels == ("R", "G", "B")
    # Frame 4 is the photo shifted 24 px: compare against it (lossy codec, so loosely), in RGB order.
    expected = np.roll(face_photo[:240, :320], 24, axis=1).astype(float)
    assert np.abs(frame.pixels.astype(float) - expected).mean() < 12
    assert open_source(movie, "2-3").frames == (2, 3)
    with pytest.raises(SequenceError, match="no frame 9; the movie has frames 1-6"):
        open_source(movie, "9")
    source.close()
