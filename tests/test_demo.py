"""`latentswap demo`, shortened: every stage runs and every promised file is where it says."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import latentswap

from latentswap_core.demo.shot import load_photo
from latentswap_core.io import read_image


@pytest.mark.slow
def test_short_demo_writes_every_output(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    environment = {**os.environ, "LATENTSWAP_SHARED": str(shared_dir)}
    done = latentswap("demo", "-o", str(out), "--frames", "4", "--minutes", "0.1", env=environment, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for stage in ("1/7 plate", "2/7 track", "3/7 facesets", "4/7 train", "5/7 swap", "6/7 review", "7/7 evaluate"):
        assert stage in done.stdout
    frames = sorted((out / "swap").glob("swap.*.exr"))
    assert [path.name for path in frames] == [f"swap.{f}.exr" for f in range(1001, 1005)]
    swapped = read_image(frames[0])
    assert swapped.pixels.shape == (1080, 1920, 12) and swapped.channel("lsmask.Y").max() > 0.9
    sheet = read_image(out / "contact_sheet.png").pixels
    assert sheet.shape == (4 * 360, 3 * 360, 3) and sheet.std() > 10
    movie = next(out.glob("preview.*"))
    assert movie.suffix in (".mp4", ".gif") and movie.stat().st_size > 10_000
    for label in ("contact sheet:", "preview movie:", "loss plot:", "swapped EXRs:", "report:", "identity distance",
                  "pixels changed outside the mask: 0"):
        assert label in done.stdout
    assert (out / "report" / "index.html").is_file() and (out / "report" / "summary.json").is_file()
    assert (out / "model" / "losses.png").is_file() and (out / "plate.track.json").is_file()
    assert np.isfinite(swapped.pixels.astype(np.float32)).all()


def test_demo_refuses_a_folder_that_is_not_empty(shared_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    environment = {**os.environ, "LATENTSWAP_SHARED": str(shared_dir)}
    done = latentswap("demo", "-o", str(tmp_path), env=environment)
    assert done.returncode == 2 and "is not empty" in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "precious"


@pytest.mark.parametrize("content", [None, b"not a JPEG"], ids=["missing", "unreadable"])
def test_a_shared_photo_cv2_cannot_read_is_an_error_naming_the_file(tmp_path: Path, content: bytes | None) -> None:
    faces = tmp_path / "data" / "faces"
    faces.mkdir(parents=True)
    if content is not None:
        (faces / "obama.jpg").write_bytes(content)
    with pytest.raises(ValueError, match=r"cannot read the photo .*obama\.jpg"):
        load_photo("obama", tmp_path)
