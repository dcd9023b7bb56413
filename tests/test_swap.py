"""`latentswap swap` end to end on a tiny model and a short EXR plate made from a real photo."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY_PLATE_FACELESS_FRAME, latentswap

from latentswap_core.io import read_image

FACELESS_FRAME = TINY_PLATE_FACELESS_FRAME


@pytest.fixture(scope="module")
def model_dir(tiny_model: Path) -> Path:
    return tiny_model


@pytest.fixture(scope="module")
def plate(tiny_plate: Path) -> Path:
    return tiny_plate


def env() -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture(scope="module")
def swapped(model_dir: Path, plate: Path, shared_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("swapped")
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(out / "swap.####.exr"),
                      "--mask-blur", "6", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_output_holds_comp_face_and_mask_layers_with_metadata(swapped, model_dir: Path) -> None:
    out, stdout = swapped
    image = read_image(out / "swap.1001.exr")
    assert image.channels == ("R", "G", "B", "A", "face.R", "face.G", "face.B", "face.A", "lsmask.Y")
    assert image.pixels.dtype == np.float16 and image.pixels.shape[:2] == (360, 640)
    card = json.loads((model_dir / "model" / "provenance.json").read_text())
    meta = image.metadata
    assert meta["latentswap/consent"] == "REF-7" and meta["latentswap/codec"] == "taef2"
    assert meta["latentswap/identity_src"] == card["identities"]["src"]["name"]
    assert len(meta["latentswap/model_id"]) == 16 and meta["latentswap/source_frame"] == "1001"
    assert "wrote 4 frames" in stdout


def test_pixels_outside_the_face_are_bit_identical(swapped, plate: Path) -> None:
    out, _ = swapped
    for frame in (1001, 1003, 1004):
        original = read_image(Path(str(plate).replace("####", str(frame)))).pixels
        result = read_image(out / f"swap.{frame}.exr")
        mask = result.channel("lsmask.Y")
        outside = mask == 0
        assert 0.02 < (~outside).mean() < 0.5  # a face was blended, and only there
        assert np.array_equal(result.pixels[:, :, :4][outside], original[outside])
        changed = np.abs(result.pixels[:, :, :3].astype(np.float32) - original[:, :, :3]).max(axis=2) > 0
        assert changed[mask > 0.5].mean() > 0.5  # the face really was replaced
        face_alpha = result.channel("face.A")
        assert np.allclose(face_alpha, mask, atol=1e-3)


def test_a_frame_without_a_face_is_copied_unchanged_and_reported(swapped, plate: Path) -> None:
    out, stdout = swapped
    original = read_image(Path(str(plate).replace("####", str(FACELESS_FRAME)))).pixels
    result = read_image(out / f"swap.{FACELESS_FRAME}.exr")
    assert np.array_equal(result.pixels[:, :, :4], original)
    assert not result.channel("lsmask.Y").any()
    assert f"no face to swap in 1 frames, copied unchanged: {FACELESS_FRAME}" in stdout


def test_bad_input_fails_before_any_frame_is_written(model_dir: Path, plate: Path, shared_dir: Path,
                                                     tmp_path: Path) -> None:
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    out = tmp_path / "out"
    out.mkdir()
    target = str(out / "swap.####.exr")

    gap = tmp_path / "gap"
    shutil.copytree(plate.parent, gap)
    (gap / "plate.1003.exr").unlink()
    done = latentswap("swap", str(gap / "plate.####.exr"), "--model", str(model_dir), "-o", target, env=environment)
    assert done.returncode == 2 and "1003" in done.stderr and "missing" in done.stderr

    done = latentswap("swap", str(plate), "--model", str(tmp_path), "-o", target, env=environment)
    assert done.returncode == 2 and "is not a trained model" in done.stderr

    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir, tampered)
    provenance = tampered / "model" / "provenance.json"
    card = json.loads(provenance.read_text())
    card["codec"]["weights_sha256"] = {name: "0" * 64 for name in card["codec"]["weights_sha256"]}
    provenance.write_text(json.dumps(card))
    done = latentswap("swap", str(plate), "--model", str(tampered), "-o", target, env=environment)
    assert done.returncode == 2 and "differ from those" in done.stderr and "--codec-path" in done.stderr

    track = tmp_path / "shot.track.json"
    assert latentswap("track", str(plate), "-o", str(track), env=environment).returncode == 0
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", target, "--track", str(track),
                      "--faces", "7", env=environment)  # the old spelling of --track-id, as saved Nuke scripts pass
    assert done.returncode == 2 and "--track-id 7: not in shot.track.json; track ids there: 0" in done.stderr

    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", target, "--blend", "screen",
                      env=environment)
    assert done.returncode == 2 and "argument --blend: invalid choice: 'screen'" in done.stderr
    assert not any(out.iterdir()) and "Traceback" not in done.stderr


def test_skip_existing_keeps_finished_frames(model_dir: Path, plate: Path, shared_dir: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    target = tmp_path / "swap.####.exr"
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(target), "--frames", "1001-1002",
                      env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    first = (tmp_path / "swap.1001.exr").stat().st_mtime_ns
    cut = tmp_path / "swap.1003.exr"  # a frame cut short (a full disk, a killed copy) is not a finished frame
    shutil.copy(tmp_path / "swap.1002.exr", cut)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(target), "--skip-existing",
                      "--color-transfer", "mkl", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "swap.1001.exr").stat().st_mtime_ns == first
    assert "kept 2 existing frames: 1001-1002" in done.stdout
    assert read_image(cut).metadata["latentswap/source_frame"] == "1003"  # rendered again, whole
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"swap.{f}.exr" for f in range(1001, 1005)]


def test_faces_with_unreliable_landmarks_are_left_alone_and_reported(model_dir: Path, plate: Path, shared_models,
                                                                      tmp_path: Path, capsys) -> None:
    from latentswap_core.cli import main
    from latentswap_core.io import open_source
    from latentswap_core.track import TrackOptions, track_source
    from latentswap_core.track.trackfile import write_track_file

    source = open_source(str(plate), [1001, 1003])
    track = track_source(source, TrackOptions())
    source.close()
    for face in track.faces_at(1003):
        face.landmarks_reliable = False  # e.g. a profile the mesh could not mark
    track_file = tmp_path / "shot.track.json"
    write_track_file(track_file, track)
    out = tmp_path / "out"
    assert main(["swap", str(plate), "--model", str(model_dir), "-o", str(out / "swap.####.exr"), "--frames",
                 "1001,1003", "--track", str(track_file)]) == 0
    stdout = capsys.readouterr().out
    assert "wrote 2 frames" in stdout and "(1 faces swapped" in stdout
    assert stdout.splitlines()[-1] == ("1 faces with unreliable landmarks not swapped (profiles, tiny or occluded "
                                       "faces): frames 1003")
    original = read_image(Path(str(plate).replace("####", "1003"))).pixels
    result = read_image(out / "swap.1003.exr")
    assert np.array_equal(result.pixels[:, :, :4], original) and not result.channel("lsmask.Y").any()
    assert read_image(out / "swap.1001.exr").channel("lsmask.Y").any()


def test_onnx_backend_matches_torch_and_sends_no_telemetry(swapped, model_dir: Path, plate: Path, shared_dir: Path,
                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models"), "HOME": str(home)}
    environment.pop("ORT_DISABLE_TELEMETRY", None)
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(tmp_path / "swap.####.exr"),
                      "--mask-blur", "6", "--backend", "onnx", "--frames", "1001", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (model_dir / "model" / "swap.onnx").is_file()  # exported once, beside the weights
    # onnxruntime queues telemetry with a device id under ~/.cache/Microsoft unless told not to
    assert not (home / ".cache" / "Microsoft").exists()
    torch_result = read_image(swapped[0] / "swap.1001.exr").pixels.astype(np.float32)
    onnx = read_image(tmp_path / "swap.1001.exr")
    assert np.abs(torch_result - onnx.pixels.astype(np.float32)).max() < 2e-3  # half-float output of two runtimes
    assert (onnx.metadata["latentswap/backend"], onnx.metadata["latentswap/providers"]) == ("onnx",
                                                                                            "CPUExecutionProvider")


@pytest.fixture(scope="module")
def face_layers(model_dir: Path, plate: Path, shared_dir: Path, tmp_path_factory) -> Path:
    """The plate swapped with --layers face (what the Nuke gizmo asks for), PIZ-compressed."""
    out = tmp_path_factory.mktemp("face_layers")
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(out / "swap.####.exr"),
                      "--mask-blur", "6", "--layers", "face", "--compression", "piz", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def test_face_layers_hold_the_faces_box_only_and_merge_over_the_plate_to_the_comp(swapped, face_layers,
                                                                                  plate: Path) -> None:
    from latentswap_core.io.matte import placed

    out, _ = swapped
    for frame in (1001, 1003, 1004):
        full = read_image(out / f"swap.{frame}.exr")
        face = read_image(face_layers / f"swap.{frame}.exr")
        assert face.channels == ("face.R", "face.G", "face.B", "face.A", "lsmask.Y")
        assert face.display_window == full.display_window == (0, 0, 640, 360)
        assert face.pixels.shape[0] * face.pixels.shape[1] < 0.3 * 640 * 360  # the box, not the frame
        x, y = face.origin
        layers = np.stack([placed(face.pixels[:, :, i].astype(np.float32), (360, 640), (x, y)) for i in range(5)],
                          axis=2)
        # the faces' box holds every pixel the faces reach: the same face layers as the full-frame render's
        assert np.array_equal(layers, np.stack([full.channel(name).astype(np.float32) for name in face.channels],
                                               axis=2))
        original = read_image(Path(str(plate).replace("####", str(frame)))).pixels[:, :, :3].astype(np.float32)
        merged = original * (1.0 - layers[:, :, 3:4]) + layers[:, :, :3]  # Nuke's over, premultiplied
        assert np.allclose(merged, full.pixels[:, :, :3].astype(np.float32), atol=2e-3)
    faceless = read_image(face_layers / f"swap.{FACELESS_FRAME}.exr")
    assert faceless.pixels.shape == (1, 1, 5) and not faceless.pixels.any()


def test_the_header_records_the_settings_the_run_and_the_model_relative_to_the_output(swapped, face_layers,
                                                                                     model_dir: Path) -> None:
    out, _ = swapped
    full = read_image(out / "swap.1001.exr").metadata
    face = read_image(face_layers / "swap.1001.exr").metadata
    assert (full["latentswap/layers"], face["latentswap/layers"]) == ("all", "face")
    assert (full["compression"], face["compression"]) == ("zips", "piz")  # Nuke's default, and the one asked for
    assert full["latentswap/mask_blur"] == "6" and full["latentswap/color_transfer"] == "rct"
    assert full["latentswap/mask"] == "landmarks" and full["latentswap/face_selection"] == "all"
    assert full["latentswap/backend"] == "torch" and full["latentswap/providers"] == "cpu"
    recorded = full["latentswap/model"]
    assert not os.path.isabs(recorded) and (out / recorded).resolve() == (model_dir / "model").resolve()


def test_a_bad_compression_or_layers_fails_at_once_in_one_line(model_dir: Path, plate: Path, tmp_path: Path) -> None:
    for option, value, expected in (("--compression", "zip:abc", "'zip:abc': the level of zip is a whole number"),
                                    ("--compression", "lzma", "unknown EXR compression 'lzma'"),
                                    ("--compression", "piz:3", "piz takes no level"),
                                    ("--layers", "depth", "invalid choice: 'depth'")):
        done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(tmp_path / "out" / "s.####.exr"),
                          option, value)
        assert done.returncode == 2 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_swapping_a_swap_output_replaces_its_layers(swapped, model_dir: Path, shared_dir: Path,
                                                    tmp_path: Path) -> None:
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("swap", str(swapped[0] / "swap.####.exr"), "--model", str(model_dir), "-o",
                      str(tmp_path / "again.####.exr"), "--frames", "1001", env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "held a swap's own layers (face.A, face.B, face.G, face.R, lsmask.Y): replaced" in done.stdout
    again = read_image(tmp_path / "again.1001.exr")
    assert again.channels == ("R", "G", "B", "A", "face.R", "face.G", "face.B", "face.A", "lsmask.Y")
