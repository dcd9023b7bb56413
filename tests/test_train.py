"""Training on two tiny real facesets: the loss falls, resume is exact, bad checkpoints are refused, CLI end to end."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from forked_cli import ForkedRun
from helpers import TINY_FACESET_SIZE, latentswap

from latentswap_core.errors import ModelError
from latentswap_core.io import read_image
from latentswap_core.train import Trainer, TrainOptions

SIZE = TINY_FACESET_SIZE


@pytest.fixture
def facesets(tiny_facesets) -> tuple[Path, Path]:
    return tiny_facesets


def options(facesets, output: Path, **overrides) -> TrainOptions:
    settings = dict(resolution=SIZE, steps=6, lr=5e-4, preview_every=0, pixel_loss_every=2, seed=3)
    settings.update(overrides)
    return TrainOptions(facesets[0], facesets[1], output, **settings)


def test_loss_decreases(facesets, shared_models, tmp_path: Path) -> None:
    history = Trainer(options(facesets, tmp_path / "model", steps=30, lr=1e-3, pixel_loss_every=4)).run().history
    latent = [row["latent"] + row["mask"] for row in history]
    assert len(latent) == 30
    # the pixel loss (through the decoder) runs on the schedule's steps only: the first, then every 4th
    assert [row["step"] for row in history if row.get("pixel") not in ("", None)] == list(range(1, 31, 4))
    assert sum(latent[-5:]) / 5 < 0.9 * sum(latent[:5]) / 5
    assert (tmp_path / "model" / "losses.csv").read_text().count("\n") == 31
    assert (tmp_path / "model" / "losses.png").stat().st_size > 1000


def test_a_caller_stops_a_run_from_its_step_callback_and_options_are_frozen(facesets, shared_models,
                                                                            tmp_path: Path) -> None:
    import dataclasses

    settings = options(facesets, tmp_path / "model", steps=6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.steps = 2  # type: ignore[misc]  (a run's options are what it was started with)
    result = Trainer(settings).run(on_step=lambda report: report.step >= 2)  # a budget of the caller's own
    assert result.step == 2 and len(result.history) == 2 and not result.interrupted


def counted_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The decoder-response fits the Trainer makes from now on, counted."""
    from latentswap_core.train import trainer as trainer_module

    fits: list[int] = []
    fit = trainer_module.fit_decoder_response

    def counted(*args, **kwargs):
        fits.append(1)
        return fit(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "fit_decoder_response", counted)
    return fits


def test_resume_continues_exactly(facesets, shared_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the resumed run starts in the pool's second generation
    augmenting = dict(augment=True, augment_pool=3, augment_refresh=2)
    straight = Trainer(options(facesets, tmp_path / "straight", **augmenting)).run().history
    first_trainer = Trainer(options(facesets, tmp_path / "split", steps=3, **augmenting))
    first = first_trainer.run()
    assert first.step == 3 and not first.interrupted
    cache = sorted((tmp_path / "split" / "cache").glob("*.safetensors"))
    stamps = [path.stat().st_mtime_ns for path in cache]
    fits = counted_fits(monkeypatch)
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "empty cache"))  # only the checkpoint has the fit
    resumed_trainer = Trainer(options(facesets, tmp_path / "split", resume=True, **augmenting))
    assert not fits  # the decoder response the first run fitted, read back
    assert first_trainer.response is not None and resumed_trainer.response is not None
    assert torch.equal(resumed_trainer.response.conv.weight, first_trainer.response.conv.weight)
    assert resumed_trainer.response_fit == first_trainer.response_fit
    resumed = resumed_trainer.run().history
    assert [row["step"] for row in resumed] == list(range(1, 7))
    for a, b in zip(straight[3:], resumed[3:], strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a, b)
    assert [path.stat().st_mtime_ns for path in cache] == stamps  # latents came from the cache
    trainer = json.loads((tmp_path / "split" / "trainer.json").read_text())
    assert trainer["step"] == 6 and trainer["identities"]["src"]["name"] == "actor"
    assert trainer["codec"]["name"] == "taef2" and trainer["schema"] == 1


def test_a_new_model_on_the_same_facesets_reads_the_decoder_fit_an_earlier_run_kept(
        facesets, shared_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "cache"))
    fits = counted_fits(monkeypatch)
    first = Trainer(options(facesets, tmp_path / "first"))
    assert len(fits) == 1 and len(list((tmp_path / "cache" / "decoder_response").iterdir())) == 1
    other_layout = Trainer(options(facesets, tmp_path / "liae", layout="liae"))  # another model, the same latents
    assert len(fits) == 1
    assert first.response is not None and other_layout.response is not None
    assert torch.equal(other_layout.response.conv.weight, first.response.conv.weight)
    assert other_layout.response_fit == first.response_fit
    Trainer(options(facesets, tmp_path / "reseeded", seed=4))  # the fit's probes are drawn from the seed
    assert len(fits) == 2


def test_a_faceset_changed_between_runs_is_encoded_again_on_resume(facesets, shared_models, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    src = tmp_path / "actor"
    shutil.copytree(facesets[0], src)
    Trainer(options((src, facesets[1]), tmp_path / "model", steps=2)).run()
    before = {path.name for path in (tmp_path / "model" / "cache").glob("src-*.safetensors")}
    index = json.loads((src / "faceset.json").read_text())
    assert len(index["faces"]) == 2
    index["faces"] = index["faces"][:1]  # the TD dropped a bad face
    (src / "faceset.json").write_text(json.dumps(index))
    fits = counted_fits(monkeypatch)
    resumed = Trainer(options((src, facesets[1]), tmp_path / "model", steps=4, resume=True))
    assert resumed.src.latents.shape[0] == 1  # the faceset as it is now, not the cached one
    assert len(fits) == 1  # and the decoder response fitted to its latents again
    after = {path.name for path in (tmp_path / "model" / "cache").glob("src-*.safetensors")}
    assert len(before) == 1 and len(after - before) == 1
    assert resumed.run().step == 4


@pytest.fixture(scope="module")
def trained(tiny_facesets, shared_dir: Path, tmp_path_factory) -> Path:
    """A 2-step model dir, shared by the refusal tests (the one that damages it works on a copy)."""
    output = tmp_path_factory.mktemp("trained") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        Trainer(options(tiny_facesets, output, steps=2)).run()
    return output


@pytest.mark.parametrize(("change", "expected"), [({"resolution": 192}, "resolution 128, not 192"),
                                                   ({"layout": "liae"}, "layout 'df', not 'liae'")])
def test_resume_with_other_settings_is_refused(facesets, shared_models, trained, change, expected) -> None:
    with pytest.raises(ModelError, match=expected):
        Trainer(options(facesets, trained, resume=True, **change))


def test_overwriting_a_trained_model_is_refused(facesets, shared_models, trained) -> None:
    with pytest.raises(ModelError, match="already holds a trained model: add --resume"):
        Trainer(options(facesets, trained))


def test_corrupt_trainer_state_is_refused(facesets, shared_models, trained, tmp_path: Path) -> None:
    copy = shutil.copytree(trained, tmp_path / "model")
    state = copy / "trainer_state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(ModelError, match="trainer_state.safetensors is corrupt"):
        Trainer(options(facesets, copy, resume=True))
    (copy / "trainer.json").write_text("{not json")
    with pytest.raises(ModelError, match="trainer.json is not readable JSON"):
        Trainer(options(facesets, copy, resume=True))


def test_cli_trains_writes_previews_and_warns_without_consent(facesets, shared_models, tmp_path: Path) -> None:
    output = tmp_path / "model"
    done = latentswap("train", "--src", str(facesets[0]), "--dst", str(facesets[1]), "-o", str(output),
                      "--resolution", str(SIZE), "--steps", "4", "--preview-every", "2", "--save-every", "2",
                      "--progress-json", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "no --consent given: record who agreed to this face being used" in done.stderr
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    steps = [event for event in events if event["event"] == "progress"]
    assert [event["step"] for event in steps] == [1, 2, 3, 4] and all("loss" in event for event in steps)
    assert steps[1]["preview"].endswith("step_000002.png") and events[-1]["event"] == "message"
    for name in ("model/config.json", "model/model.safetensors", "model/provenance.json", "trainer.json",
                 "trainer_state.safetensors", "losses.csv", "losses.png", "preview.png", "previews/step_000004.png"):
        assert (output / name).is_file(), name
    # Rows: the two faces of each faceset; columns: src, src recon, dst, dst recon, swap.
    assert read_image(output / "preview.png").pixels.shape == (2 * SIZE, 5 * SIZE, 3)
    assert json.loads((output / "trainer.json").read_text())["consent"] is None
    # Codebook health is logged: perplexity between 1 and the codebook size, usage a fraction of the codes.
    codebook_size = json.loads((output / "model" / "config.json").read_text())["codebook_size"]
    assert all(1.0 <= event["perplexity"] <= codebook_size for event in steps)
    with open(output / "losses.csv") as table:
        rows = list(csv.DictReader(table))
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    assert all(0.0 < float(row["codebook_usage"]) <= 1.0 and float(row["perplexity"]) >= 1.0 for row in rows)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_terminate_saves_and_says_how_to_continue(facesets, shared_models, tmp_path: Path, stop) -> None:
    output = tmp_path / "model"
    process = ForkedRun(
        ["train", "--src", str(facesets[0]), "--dst", str(facesets[1]), "-o", str(output), "--resolution", str(SIZE),
         "--steps", "100000", "--progress-json", "--consent", "REF-1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in process.stdout:
            if json.loads(line)["event"] == "progress":
                process.send_signal(stop)
                break
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "--resume continues" in stdout and "Traceback" not in stderr and "warning" not in stderr
    trainer = json.loads((output / "trainer.json").read_text())
    assert trainer["step"] >= 1 and trainer["consent"] == "REF-1"
    assert f"interrupted at step {trainer['step']};" in stdout


def test_dssim_is_zero_for_identical_images_and_grows_with_noise() -> None:
    import torch

    from latentswap_core.train.losses import dssim, dssim_windows

    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    noisy = (image + 0.2 * torch.randn(image.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert float(dssim(image, image)) == pytest.approx(0.0, abs=1e-6)
    assert 0.05 < float(dssim(image, noisy)) < float(dssim(image, 1 - image)) <= 1.0
    assert dssim_windows(128) == (11,) and dssim_windows(256) == (23, 11) and dssim_windows(512) == (45, 23)


def test_minutes_estimates_the_total(facesets, shared_models, tmp_path: Path) -> None:
    reports = []
    result = Trainer(options(facesets, tmp_path / "model", steps=None, minutes=0.02)).run(reports.append)
    assert result.step == len(reports) >= 1 and all(report.total >= report.step for report in reports)


def test_a_decoded_window_matches_the_same_pixels_of_the_whole_decode(shared_models, face_photo) -> None:
    import cv2
    import numpy as np
    import torch

    from latentswap_core.codecs import load_codec
    from latentswap_core.train.trainer import decode_window

    codec = load_codec("taef2")
    side = min(face_photo.shape[:2])
    face = cv2.resize(face_photo[:side, :side], (512, 512), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rgb = torch.from_numpy(face).permute(2, 0, 1)[None]
    rows, columns = slice(17, 49), slice(3, 35)
    with torch.no_grad():
        latent = codec.encode(rgb)
        whole = codec.decode(latent, clamp=False)
        window = decode_window(codec, latent, rows, columns)
        bare = codec.decode(latent[..., rows, columns], clamp=False)
        everything = decode_window(codec, latent, slice(0, 64), slice(0, 64))
    assert window.shape == bare.shape == (1, 3, 256, 256)
    same_pixels = whole[..., 136:392, 24:280]
    round_trip = float((whole - rgb).abs().mean())
    assert float((window - same_pixels).abs().mean()) < min(0.5 * round_trip, 0.6 * (bare - same_pixels).abs().mean())
    assert torch.equal(everything, whole)


def test_on_a_bf16_cpu_the_swap_model_runs_in_bf16_with_float32_weights(facesets, shared_models, tmp_path,
                                                                         native_bf16_cpu) -> None:
    first_losses, dtypes = {}, {}
    for bf16 in (True, False):
        trainer = Trainer(options(facesets, tmp_path / str(bf16), cpu_bf16=bf16, pixel_loss_every=1))
        stem = trainer.model.encoder.stem

        def note_dtype(_module, _inputs, output, bf16=bf16) -> None:
            dtypes.setdefault(bf16, output.dtype)

        stem.register_forward_hook(note_dtype)
        first_losses[bf16] = trainer._train_step()
        assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
        assert stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert dtypes == {True: torch.bfloat16, False: torch.float32}
    for name in ("latent", "mask", "response", "pixel"):  # same batch and weights: same losses, to bf16's digits
        assert first_losses[True][name] == pytest.approx(first_losses[False][name], rel=0.03), name


def test_training_runs_bf16_only_on_gpus_that_compute_it_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    """On pre-Ampere GPUs (V100, T4: compute capability 7) bf16 is emulated, slower than float32: the trainers
    stay in float32 there. The GPU a run trains on is the one judged."""
    from latentswap_core.train.precision import bf16_autocast_on

    capabilities = {0: (8, 0), 1: (7, 5)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capabilities[device])
    assert bf16_autocast_on(torch.device("cuda"), cpu_bf16=False)
    assert bf16_autocast_on(torch.device("cuda:0"), cpu_bf16=True)
    assert not bf16_autocast_on(torch.device("cuda:1"), cpu_bf16=True)
