"""Output folders are created as Nuke's Write does: right before the first frame, and only by a job that writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import latentswap

from latentswap_core.errors import OutputError
from latentswap_core.io import Image, read_image, write_image
from latentswap_core.io.output_files import OutputFolders, output_paths


@pytest.fixture
def pngs(tmp_path: Path) -> Path:
    """Three 16 x 8 RGB PNG frames of noise, 1001-1003, in tmp_path/in."""
    folder = tmp_path / "in"
    folder.mkdir()
    for frame in (1001, 1002, 1003):
        pixels = np.random.default_rng(frame).integers(0, 256, (8, 16, 3), dtype=np.uint8)
        write_image(folder / f"plate.{frame}.png", Image(pixels, ("R", "G", "B")))
    return folder


def folders_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_dir())


def test_convert_creates_a_missing_nested_folder_and_says_so(tmp_path: Path, pngs: Path) -> None:
    out = tmp_path / "review" / "sh010" / "v001"
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(out / "plate.####.png"))
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out.iterdir()) == [f"plate.{frame}.png" for frame in (1001, 1002, 1003)]
    assert np.array_equal(read_image(out / "plate.1002.png").pixels, read_image(pngs / "plate.1002.png").pixels)
    assert done.stdout.splitlines() == [f"created folder {out}", f"wrote 3 frames: {out / 'plate.####.png'}"]

    again = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(out / "plate.####.png"))
    assert again.returncode == 0 and "created folder" not in again.stdout  # it exists now


def test_convert_says_so_in_a_json_message_with_progress_json(tmp_path: Path, pngs: Path) -> None:
    out = tmp_path / "new"
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(out / "c.####.exr"), "--progress-json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]  # every line is JSON
    assert {"event": "message", "text": f"created folder {out}"} in events
    assert len(list(out.glob("c.*.exr"))) == 3


def test_a_failed_convert_leaves_no_new_folder(tmp_path: Path, pngs: Path) -> None:
    before = folders_under(tmp_path)
    # Fails before a frame is read: an unknown colourspace.
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(tmp_path / "a" / "b" / "c.####.exr"),
                      "--output-colorspace", "no such space")
    assert done.returncode == 2 and "no such space" in done.stderr
    # Fails writing the first frame, after the folder was made for it: an unknown compression.
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(tmp_path / "a" / "b" / "c.####.exr"),
                      "--compression", "bogus")
    assert done.returncode == 2 and "bogus" in done.stderr
    # Fails reading the first frame.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plate.1001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    done = latentswap("convert", str(broken / "plate.####.png"), "-o", str(tmp_path / "a" / "b" / "c.####.exr"))
    assert done.returncode == 2 and "plate.1001.png" in done.stderr
    assert folders_under(tmp_path) == sorted([*before, broken])
    assert "created folder" not in done.stdout


def test_a_convert_failing_after_a_frame_keeps_the_folder_and_the_frame(tmp_path: Path, pngs: Path) -> None:
    second = pngs / "plate.1002.png"
    second.write_bytes(second.read_bytes()[:300])  # a whole header, cut-off pixels: found when it is read
    out = tmp_path / "out" / "v1"
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(out / "c.####.png"))
    assert done.returncode == 2 and "plate.1002.png" in done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["c.1001.png"]  # rerun with --skip-existing to go on


def test_an_output_below_a_file_is_refused_before_any_work(tmp_path: Path, pngs: Path) -> None:
    (tmp_path / "shot").write_text("a file, not a folder")
    done = latentswap("convert", str(pngs / "plate.####.png"), "-o", str(tmp_path / "shot" / "v1" / "c.####.png"))
    assert done.returncode == 2
    assert f"cannot create the output folder, {tmp_path / 'shot'} is a file" in done.stderr
    assert (tmp_path / "shot").read_text() == "a file, not a folder"


def test_output_folders_create_and_remove_only_what_they_made(tmp_path: Path) -> None:
    """The helper both ``convert`` and ``swap`` (render_shot) use."""
    (tmp_path / "shots").mkdir()
    targets = [tmp_path / "shots" / "sh010" / "comp" / f"swap.{frame}.exr" for frame in (1001, 1002)]
    with pytest.raises(RuntimeError), OutputFolders(targets) as folders:
        assert not (tmp_path / "shots" / "sh010").exists()  # nothing before the first frame
        assert folders.create() == [tmp_path / "shots" / "sh010" / "comp"]
        assert (tmp_path / "shots" / "sh010" / "comp").is_dir()
        assert folders.create() == []  # once
        raise RuntimeError("the job failed before writing a frame")
    assert folders_under(tmp_path) == [tmp_path / "shots"]  # what existed before stays

    with pytest.raises(RuntimeError), OutputFolders(targets) as folders:
        folders.create()
        targets[0].write_bytes(b"a finished frame")
        raise RuntimeError("the job failed after a frame")
    assert targets[0].is_file()  # a folder holding a frame is kept, for --skip-existing

    with OutputFolders([tmp_path / "done" / "f.exr"]) as folders:
        folders.create()
    assert (tmp_path / "done").is_dir()  # a job that succeeds keeps its (empty) folder


def test_a_folder_without_permission_is_refused_before_any_work(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))  # root

    class OneFrame:
        frames = (1,)

        def input_files(self) -> list[Path]:
            return []

    with pytest.raises(OutputError, match="no permission to write in"):
        output_paths(OneFrame(), str(locked / "v1" / "out.png"))  # type: ignore[arg-type]


# --- swap: the same helper, in render_shot ------------------------------------------------------------------


def test_swap_creates_a_missing_folder_and_says_so(tiny_model: Path, tiny_plate: Path, shared_dir: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "comp" / "sh010" / "v001"
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(out / "swap.####.exr"),
                      "--frames", "1001", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [path.name for path in out.iterdir()] == ["swap.1001.exr"]
    assert done.stdout.splitlines()[0] == f"created folder {out}"


def test_a_swap_failing_before_its_first_frame_leaves_no_new_folder(tiny_model: Path, tiny_plate: Path,
                                                                    shared_models: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from latentswap_core.io import open_source
    from latentswap_core.swap import render
    from latentswap_core.swap.swapper import Swapper
    from latentswap_core.track import TrackOptions, track_source

    swapper = Swapper(tiny_model, "cpu")
    source = open_source(str(tiny_plate), [1001])
    track = track_source(source, TrackOptions(face_type=swapper.card.face_type))
    output = str(tmp_path / "comp" / "v001" / "swap.####.exr")

    def full_disk(path, *args, **kwargs) -> None:
        assert Path(path).parent.is_dir()  # the folder is there when the first frame is written
        raise OutputError(f"{path}: no space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(render, "write_image", full_disk)
        with pytest.raises(OutputError, match="no space left"):
            render.render_shot(source, output, swapper, track, render.RenderOptions())
    assert list(tmp_path.iterdir()) == []

    report = render.render_shot(source, output, swapper, track, render.RenderOptions())
    assert report.created_folders == [tmp_path / "comp" / "v001"] and report.written == [1001]
    source.close()


def test_a_failed_extract_leaves_no_new_folder_and_keeps_what_was_there(tmp_path: Path, pngs: Path) -> None:
    """Any command, not only frame writers: extract makes its faceset folder (and parents) before it finds that no
    face is usable; its failure removes them, but not a folder that was there before, nor a file in it."""
    out = tmp_path / "facesets" / "sh010" / "dst"
    done = latentswap("extract", str(pngs / "plate.####.png"), "-o", str(out))
    assert done.returncode == 2 and "no face" in done.stderr, done.stderr
    assert folders_under(tmp_path) == [tmp_path / "in"]
    (tmp_path / "facesets").mkdir()
    (tmp_path / "facesets" / "notes.txt").write_text("kept")
    assert latentswap("extract", str(pngs / "plate.####.png"), "-o", str(out)).returncode == 2
    assert folders_under(tmp_path) == [tmp_path / "facesets", tmp_path / "in"]
