"""A frame appears whole under its final name or not at all, even when the writer is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from latentswap_core.io import Image, atomic_path, read_image, write_image
from latentswap_core.io.atomic import partial_path

# Noise does not compress, so writing this 4K float frame takes long enough to be caught mid-write.
WRITER = """
import sys, numpy as np
from latentswap_core.io import Image, write_image
pixels = np.random.default_rng(1).random((2160, 4096, 4), dtype=np.float32)
write_image(sys.argv[1], Image(pixels, ("R", "G", "B", "A")), compression="zip")
"""


def kill_mid_write(final: Path) -> list[Path]:
    """Start a writer of ``final``, SIGKILL it once its partial file has data; return the partial files."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(final)])
    deadline = time.monotonic() + 60
    partials: list[Path] = []
    while time.monotonic() < deadline and process.poll() is None:
        partials = list(final.parent.glob(f".{final.stem}.partial-*"))
        if partials and partials[0].stat().st_size > 0:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the writer finished before it could be killed mid-frame"
    return partials


def test_killed_writer_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    final = tmp_path / "comp.1001.exr"
    partials = kill_mid_write(final)
    assert partials, "the partial file was never seen"
    assert not final.exists()
    assert all(path.name.startswith(".comp.1001.partial-") for path in tmp_path.iterdir())


def test_killed_rewrite_keeps_the_previous_frame_intact(tmp_path: Path) -> None:
    final = tmp_path / "comp.1001.exr"
    previous = np.full((8, 8, 3), 0.5, np.float16)
    write_image(final, Image(previous, ("R", "G", "B")))
    before = final.read_bytes()
    kill_mid_write(final)
    assert final.read_bytes() == before
    assert np.array_equal(read_image(final).pixels, previous)


def test_failed_block_removes_its_partial_file(tmp_path: Path) -> None:
    final = tmp_path / "notes.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(final) as temporary:
        temporary.write_text("half of it")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_partial_names_are_hidden_keep_the_extension_and_never_repeat(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "plate.1001.exr") as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".exr"
        assert temporary.name.startswith(".plate.1001.partial-") and f"-{os.getpid()}-" in temporary.name
        temporary.write_bytes(b"x")
    assert (tmp_path / "plate.1001.exr").read_bytes() == b"x"
    final = Path("/shots/sh010/swap.1001.exr")
    assert len({partial_path(final) for _ in range(2000)}) == 2000  # two writers of one frame never share a name


def test_files_get_the_umask_permissions_whatever_the_writer_asked_for(tmp_path: Path) -> None:
    from latentswap_core.io.atomic import FILE_MODE

    final = tmp_path / "weights.bin"
    with atomic_path(final) as temporary:
        descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY, 0o600)  # as safetensors creates its files
        os.close(descriptor)
    assert final.stat().st_mode & 0o777 == FILE_MODE  # 0644 under the usual umask 022, not the writer's 0600
