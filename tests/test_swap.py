"""`latentswap swap` end to end on a tiny model and a short EXR plate made from a real photo."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import TINY_PLATE_FACELESS_FRAME, latentswap

from latentswap_core.devices import cpu_has_bf16
from latentswap_core.errors import ModelError
from latentswap_core.io import read_image

FACELESS_FRAME = TINY_PLATE_FACELESS_FRAME

# the face (premultiplied), its blend alpha, and the plate grain it lacks (swap/layers.py)
FACE_LAYERS = ("face.R", "face.G", "face.B", "face.A", "lsgrain.R", "lsgrain.G", "lsgrain.B", "lsmask.Y")


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
    assert image.channels == ("R", "G", "B", "A", *FACE_LAYERS)
    assert image.pixels.dtype == np.float16 and image.pixels.shape[:2] == (360, 640)
    card = json.loads((model_dir / "model" / "provenance.json").read_text())
    meta = image.metadata
    assert meta["latentswap/consent"] == "REF-7" and meta["latentswap/codec"] == "taef2"
    # the facesets' folder names (tests/conftest.py), through the model's provenance into every frame
    assert (card["identities"]["src"]["name"], card["identities"]["dst"]["name"]) == ("actor", "double")
    assert (meta["latentswap/identity_src"], meta["latentswap/identity_dst"]) == ("actor", "double")
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


def test_a_frame_the_track_followed_without_confidence_is_bridged_from_its_neighbours(
        model_dir: Path, plate: Path, shared_models, tmp_path: Path, capsys) -> None:
    from latentswap_core.cli import main
    from latentswap_core.io import open_source
    from latentswap_core.track import TrackOptions, track_source
    from latentswap_core.track.trackfile import write_track_file

    frames = "1001,1003,1004"  # the plate moves and turns steadily: 1003 lies on the line from 1001 to 1004
    source = open_source(str(plate), [1001, 1003, 1004])
    track = track_source(source, TrackOptions())
    source.close()
    assert all(face.landmarks_reliable for entry in track.frames for face in entry.faces)
    write_track_file(tmp_path / "measured.track.json", track)
    for face in track.faces_at(1003):  # a microphone over the mouth: the mesh drifted 30 px and lost confidence
        face.landmarks_reliable = False
        face.landmarks = face.landmarks + [30.0, 0.0]
        face.to_aligned = face.to_aligned - np.outer(face.to_aligned[:, 0], [0.0, 0.0, 30.0])
    write_track_file(tmp_path / "unsure.track.json", track)

    def mask_at_1003(track_name: str, *extra: str) -> np.ndarray:
        out = tmp_path / f"{track_name}{len(extra)}"
        assert main(["swap", str(plate), "--model", str(model_dir), "-o", str(out / "swap.####.exr"), "--frames",
                     frames, "--track", str(tmp_path / f"{track_name}.track.json"), *extra]) == 0
        return read_image(out / "swap.1003.exr").channel("lsmask.Y").astype(np.float32) > 0.5

    measured = mask_at_1003("measured")
    capsys.readouterr()
    bridged = mask_at_1003("unsure")
    stdout = capsys.readouterr().out
    assert "(3 faces swapped" in stdout and "bridged from the frames around them: frames 1003" in stdout
    overlap = (measured & bridged).sum() / (measured | bridged).sum()
    assert overlap > 0.9, overlap  # where the measured landmarks put the face, not where the drifted ones do
    assert not mask_at_1003("unsure", "--bridge", "0").any()


def test_a_swap_without_refine_does_not_load_diffusers(model_dir: Path, plate: Path, shared_dir: Path,
                                                       tmp_path: Path) -> None:
    # the refiner's diffusers (and the torch._dynamo it imports) took 2.7 s of every swap's start on 2 cores
    import subprocess
    import sys

    program = ("import sys; from latentswap_core.cli import main; code = main(sys.argv[1:]); "
               "print('diffusers' in sys.modules); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", program, "swap", str(plate), "--model", str(model_dir), "-o",
                           str(tmp_path / "swap.####.exr"), "--frames", "1001"], capture_output=True, text=True,
                          env={**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"


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
        assert face.channels == FACE_LAYERS
        assert face.display_window == full.display_window == (0, 0, 640, 360)
        assert face.pixels.shape[0] * face.pixels.shape[1] < 0.3 * 640 * 360  # the box, not the frame
        x, y = face.origin
        layers = np.stack([placed(face.pixels[:, :, i].astype(np.float32), (360, 640), (x, y))
                           for i in range(len(FACE_LAYERS))], axis=2)
        # the faces' box holds every pixel the faces reach: the same face layers as the full-frame render's
        assert np.array_equal(layers, np.stack([full.channel(name).astype(np.float32) for name in face.channels],
                                               axis=2))
        original = read_image(Path(str(plate).replace("####", str(frame)))).pixels[:, :, :3].astype(np.float32)
        merged = original * (1.0 - layers[:, :, 3:4]) + layers[:, :, :3]  # Nuke's over, premultiplied
        assert np.allclose(merged, full.pixels[:, :, :3].astype(np.float32), atol=2e-3)
    faceless = read_image(face_layers / f"swap.{FACELESS_FRAME}.exr")
    assert faceless.pixels.shape == (1, 1, len(FACE_LAYERS)) and not faceless.pixels.any()


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
    grain = [float(value) for value in face["latentswap/grain"].split()]  # the plate's grain the face lacked
    assert len(grain) == 3 and all(value >= 0 for value in grain) and grain == [
        float(value) for value in full["latentswap/grain"].split()]
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
    assert ("held a swap's own layers (face.A, face.B, face.G, face.R, lsgrain.B, lsgrain.G, lsgrain.R, lsmask.Y): "
            "replaced") in done.stdout
    again = read_image(tmp_path / "again.1001.exr")
    assert again.channels == ("R", "G", "B", "A", *FACE_LAYERS)


def test_the_swapper_renders_the_src_identity_and_not_the_plates_own(model_dir: Path, tiny_facesets,
                                                                      shared_models) -> None:
    """The plate's faces (dst) come out through the src decoder: an audit found every swap test passing when the
    swapper rendered dst, the plate's own person."""
    import torch

    from latentswap_core.faceset import load_faceset
    from latentswap_core.models.card import read_card
    from latentswap_core.swap.swapper import Swapper

    swapper = Swapper(model_dir)
    card = read_card(model_dir / "model")
    assert card.identities["src"]["name"] != card.identities["dst"]["name"]
    plate_faces = load_faceset(tiny_facesets[1])
    faces = np.stack([plate_faces.face(i) for i in range(len(plate_faces.faces))]).astype(np.float32)
    swapped, _ = swapper.swap(faces)

    def decoded_as(identity: str) -> np.ndarray:
        with torch.no_grad():
            latent = swapper.network._encode(torch.from_numpy(faces).permute(0, 3, 1, 2))
            out = swapper.network._decode(swapper.model.reconstruct(latent, identity).latent).clamp(0, 1)
        return out.permute(0, 2, 3, 1).numpy()

    assert np.abs(swapped - decoded_as("src")).max() < 1e-5
    assert np.abs(swapped - decoded_as("dst")).mean() > 0.01


SETTINGS = {"base": (), "mix_0": ("--mix", "0"), "mix_half": ("--mix", "0.5"), "erode": ("--mask-erode", "6"),
            "blur": ("--mask-blur", "6"), "no_colour_transfer": ("--color-transfer", "none"),
            "poisson": ("--blend", "poisson"), "model_mask": ("--mask", "model"),
            # the merge as torch ops on the CPU (what --device cuda runs on the GPU), with the defaults and with knobs
            "torch": ("--blend-device", "torch"),
            "knobs": ("--mask-erode", "3", "--mask-blur", "6", "--mix", "0.8", "--color-transfer", "mkl"),
            "knobs_torch": ("--mask-erode", "3", "--mask-blur", "6", "--mix", "0.8", "--color-transfer", "mkl",
                            "--blend-device", "torch")}
if cpu_has_bf16():  # elsewhere the CLI refuses it (tests/test_swap_precision.py)
    # without colour transfer, which scales the tiny model's nearly flat face, and the rounding with it, several times
    SETTINGS["bf16"] = ("--precision", "bf16", "--color-transfer", "none")
# The torch merge against numpy's through half-float EXRs: float32 differences of ~1e-5 can flip a half's last bit
# (1e-3 at values of 1 to 2).
TORCH_BLEND_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def by_setting(model_dir: Path, plate: Path, shared_dir: Path, tmp_path_factory) -> dict[str, object]:
    """Frame 1001 swapped once per CLI setting (all layers), read back: every setting must reach the pixels."""
    root = tmp_path_factory.mktemp("settings")
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    track = root / "plate.track.json"  # tracked once: the settings differ after tracking
    tracked = latentswap("track", str(plate), "-o", str(track), "--frames", "1001", env=environment, timeout=300)
    assert tracked.returncode == 0, tracked.stderr
    images = {}
    for name, setting in SETTINGS.items():
        done = latentswap("swap", str(plate), "--model", str(model_dir), "-o", str(root / name / "swap.####.exr"),
                          "--frames", "1001", "--layers", "all", "--track", str(track), *setting, env=environment,
                          timeout=300)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        images[name] = read_image(root / name / "swap.1001.exr")
    images["plate"] = read_image(Path(str(plate).replace("####", "1001")))
    return images


def comp(image) -> np.ndarray:
    return image.pixels[:, :, :4].astype(np.float32)


def mask(image) -> np.ndarray:
    return image.channel("lsmask.Y").astype(np.float32)


def test_mix_zero_is_the_plate_bit_for_bit_and_half_mix_halves_the_mask(by_setting) -> None:
    assert np.array_equal(by_setting["mix_0"].pixels[:, :, :4], by_setting["plate"].pixels)
    assert mask(by_setting["base"]).max() > 0.9
    assert np.abs(mask(by_setting["mix_half"]) - 0.5 * mask(by_setting["base"])).max() < 2e-3


def test_erode_shrinks_the_mask_and_blur_softens_its_edge(by_setting) -> None:
    base, eroded, blurred = (mask(by_setting[name]) for name in ("base", "erode", "blur"))
    assert (eroded <= base + 1e-3).all() and eroded.sum() < 0.9 * base.sum()
    soft = [int(((m > 0.02) & (m < 0.98)).sum()) for m in (base, blurred)]
    steepest = [float(max(np.abs(np.diff(m, axis=0)).max(), np.abs(np.diff(m, axis=1)).max())) for m in (base, blurred)]
    assert soft[1] > 1.5 * soft[0] and steepest[1] < 0.6 * steepest[0], (soft, steepest)


def test_colour_transfer_moves_the_faces_masked_mean_toward_the_plates(by_setting) -> None:
    inside = mask(by_setting["base"]) > 0.99
    plate_mean = comp(by_setting["plate"])[inside][:, :3].mean(axis=0)
    distance = {name: float(np.abs(comp(by_setting[name])[inside][:, :3].mean(axis=0) - plate_mean).sum())
                for name in ("base", "no_colour_transfer")}
    assert distance["base"] < 0.5 * distance["no_colour_transfer"], distance


def test_the_torch_blend_agrees_with_numpy_and_leaves_the_plate_outside_the_face(by_setting) -> None:
    plate = by_setting["plate"].pixels
    for on_numpy, on_torch in (("base", "torch"), ("knobs", "knobs_torch")):
        numpy_image, torch_image = by_setting[on_numpy], by_setting[on_torch]
        assert numpy_image.metadata["latentswap/blend_device"] == "numpy"
        assert torch_image.metadata["latentswap/blend_device"] == "torch cpu"
        assert torch_image.channels == numpy_image.channels
        difference = np.abs(torch_image.pixels.astype(np.float32) - numpy_image.pixels.astype(np.float32))
        assert difference.max() < TORCH_BLEND_TOLERANCE, (on_torch, difference.max())
        untouched = mask(torch_image) == 0
        assert untouched.any() and (~untouched).any()
        assert np.array_equal(torch_image.pixels[:, :, :4][untouched], plate[untouched])
    assert np.abs(comp(by_setting["knobs_torch"]) - comp(by_setting["torch"])).max() > 0.05  # the knobs reach it


def test_bf16_precision_reaches_the_face_only_and_the_header(by_setting) -> None:
    """A draft in bf16: the face moves by a fraction of an 8-bit level on average, the plate around it not at all."""
    if "bf16" not in by_setting:
        pytest.skip("this CPU computes no bf16 natively: --precision bf16 is refused here")
    base, draft, plate = by_setting["no_colour_transfer"], by_setting["bf16"], by_setting["plate"].pixels
    assert (base.metadata["latentswap/precision"], draft.metadata["latentswap/precision"]) == ("fp32", "bf16")
    inside = mask(base) > 0.5
    difference = np.abs(comp(draft) - comp(base))[inside][:, :3]
    assert 0 < difference.mean() < 0.01, difference.mean()
    untouched = mask(draft) == 0
    assert untouched.any() and np.array_equal(draft.pixels[:, :, :4][untouched], plate[untouched])


def test_poisson_blend_and_the_model_mask_each_change_the_result(by_setting) -> None:
    base = comp(by_setting["base"])
    assert np.abs(comp(by_setting["poisson"]) - base).max() > 0.02
    assert np.abs(mask(by_setting["model_mask"]) - mask(by_setting["base"])).max() > 0.1


def test_a_float32_overscan_plate_with_a_depth_layer_keeps_its_type_windows_and_layers(swapped, model_dir: Path,
                                                                                       plate: Path, shared_models,
                                                                                       tmp_path: Path) -> None:
    from latentswap_core.io import Image, write_image

    source = read_image(Path(str(plate).replace("####", "1001"))).pixels.astype(np.float32)
    depth = np.linspace(1.0, 100.0, source.shape[0] * source.shape[1], dtype=np.float32).reshape(*source.shape[:2], 1)
    overscan = np.pad(np.concatenate([source, depth], axis=2), ((8, 8), (16, 16), (0, 0)), mode="edge")
    original = Image(overscan, ("R", "G", "B", "A", "depth.Z"), origin=(-16, -8), display_window=(0, 0, 640, 360))
    write_image(tmp_path / "plate.1001.exr", original)
    done = latentswap("swap", str(tmp_path / "plate.####.exr"), "--model", str(model_dir), "-o",
                      str(tmp_path / "out" / "swap.####.exr"), env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    result = read_image(tmp_path / "out" / "swap.1001.exr")
    assert result.pixels.dtype == np.float32
    assert (result.origin, result.display_window) == ((-16, -8), (0, 0, 640, 360))
    assert np.array_equal(result.channel("depth.Z"), original.channel("depth.Z"))
    outside = result.channel("lsmask.Y") == 0
    changed = np.zeros(outside.shape, bool)
    for name in ("R", "G", "B", "A"):
        assert np.array_equal(result.channel(name)[outside], original.channel(name)[outside]), name
        changed |= result.channel(name) != original.channel(name)
    assert changed.sum() > 1000  # the face itself was swapped
    reference = read_image(swapped[0] / "swap.1001.exr").metadata
    missing = {key for key in reference if key.startswith("latentswap/")} - set(result.metadata)
    assert not missing


def test_an_onnx_swapper_without_its_model_card_is_a_one_line_model_error_naming_the_file() -> None:
    from latentswap_core.swap.render import swapper_card

    bare = SimpleNamespace(face_size=128, card=None, path=Path("shot/model/swap.onnx"))
    with pytest.raises(ModelError, match=r"^shot/model/swap\.onnx has no model card: open its model folder") as error:
        swapper_card(bare)
    assert "\n" not in str(error.value)
