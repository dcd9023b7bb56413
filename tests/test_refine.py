"""The latent diffusion refiner on tiny data: it trains, resumes exactly, samples deterministically, refines only
the face region of each crop, and `latentswap swap --refine` writes a whole, correctly sized comp."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_FACESET_SIZE, latentswap
from safetensors.torch import load_file

from latentswap_core.errors import ModelError
from latentswap_core.io import read_image
from latentswap_core.refine import Refiner, RefinerApplyOptions, RefinerTrainer, RefinerTrainOptions
from latentswap_core.refine.apply import smooth_detail
from latentswap_core.refine.diffusion import training_target
from latentswap_core.refine.embedders import ArcFaceEmbedder
from latentswap_core.refine.network import cosine_distance

TINY = {"preset": "tiny", "identity_steps": 60, "device": "cpu"}


def options(tiny_facesets, tiny_model: Path, output: Path, swaps: bool = True, **overrides) -> RefinerTrainOptions:
    """The model's src faceset refined; with ``swaps``, also the model's swaps of the dst faceset."""
    settings = {**TINY, "steps": 8, "preview_every": 4, "save_every": 4, **overrides}
    return RefinerTrainOptions(tiny_facesets[0], output, model=tiny_model,
                               swaps=(tiny_facesets[1],) if swaps else (), **settings)


@pytest.fixture(scope="module")
def trained(tiny_facesets, tiny_model: Path, tmp_path_factory, shared_dir: Path) -> RefinerTrainer:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        trainer = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path_factory.mktemp("refiner") / "r"))
        trainer.run()
    return trainer


def fixed_denoising_loss(trainer: RefinerTrainer) -> float:
    """The denoising loss on the same target latents, noise and timesteps, whatever the weights."""
    generator = torch.Generator().manual_seed(123)
    clean = trainer.normalise(trainer.data.target.latents)
    clean = clean.repeat(5, 1, 1, 1)
    timesteps = torch.tensor([100, 300, 500, 700, 900]).repeat_interleave(len(trainer.data.target))
    noise = torch.randn(clean.shape, generator=generator)
    identity = trainer.data.target_ids.repeat(5, 1)
    with torch.no_grad():
        prediction = trainer.parts.net(trainer.schedule.add_noise(clean, noise, timesteps), timesteps, identity)
    return float(torch.nn.functional.mse_loss(prediction, training_target(trainer.schedule, clean, noise, timesteps)))


def test_refiner_writes_weights_previews_losses_and_provenance(trained: RefinerTrainer) -> None:
    out = trained.options.output
    for name in ("refiner/config.json", "refiner/refiner.safetensors", "refiner/provenance.json", "trainer.json",
                 "trainer_state.safetensors", "losses.csv", "losses.png", "preview.png", "previews/step_000008.png"):
        assert (out / name).is_file(), name
    provenance = json.loads((out / "refiner" / "provenance.json").read_text())
    assert provenance["step"] == 8 and provenance["codec"]["name"] == "taef2"
    assert len(provenance["target"]["embedding"]) == 128 and provenance["model"]["model_id"]
    preview = read_image(out / "preview.png").pixels
    assert preview.shape == (2 * TINY_FACESET_SIZE, 3 * TINY_FACESET_SIZE, 3)  # plate face, swap, refined swap


def test_identity_encoder_tells_the_target_from_the_plate_faces(trained: RefinerTrainer) -> None:
    """The differentiable stand-in for dlib: target faces land nearer the target identity than plate faces."""
    assert trained.identity_encoder_fit["cosine_distance"] < 0.05
    encoder, target = trained.parts.identity_encoder, trained.target_embedding[None]
    with torch.no_grad():
        own = cosine_distance(encoder(trained.normalise(trained.data.target.latents)), target).mean()
        plate_latents = trained.data.encoder_latents[len(trained.data.target):len(trained.data.target) + 2]
        other = cosine_distance(encoder(trained.normalise(plate_latents)), target).mean()
    assert own < other


def test_loss_falls(tiny_facesets, tiny_model: Path, tmp_path: Path, shared_models: Path) -> None:
    trainer = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "r", False, steps=30, lr=1e-3,
                                     preview_every=0, save_every=0, identity_steps=10))
    before = fixed_denoising_loss(trainer)
    trainer.run()
    assert fixed_denoising_loss(trainer) < 0.8 * before


def test_resume_continues_the_exact_run(tiny_facesets, tiny_model: Path, tmp_path: Path,
                                        shared_models: Path) -> None:
    straight = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "straight", False, steps=5, preview_every=0,
                                      save_every=0, identity_steps=10)).run()
    RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "split", False, steps=3, preview_every=0,
                           identity_steps=10)).run()
    resumed = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "split", False, steps=5, preview_every=0,
                                     identity_steps=10, resume=True))
    assert resumed.step == 3
    history = resumed.run().history
    # The first resumed step is bit-exact; later ones may differ by float rounding of threaded reductions.
    assert history[3]["loss"] == straight.history[3]["loss"]
    assert [row["loss"] for row in history[3:]] == pytest.approx([row["loss"] for row in straight.history[3:]],
                                                                 rel=1e-5)
    with pytest.raises(ModelError, match="preset"):
        RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "split", False, steps=9, preset="small",
                               resume=True))


def test_the_checkpoint_holds_and_restores_every_random_state_cuda_s_too(tiny_facesets, tiny_model: Path,
                                                                        tmp_path: Path, shared_models: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The refiner's checkpoint goes through the same run state as the swap model's (train/run_state.py): torch's,
    the sampler's and, from a CUDA run, CUDA's generator are saved and come back on --resume."""
    from latentswap_core.train import run_state

    quick = {"preview_every": 0, "save_every": 0, "identity_steps": 10}
    trainer = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "r", False, steps=2, **quick))
    trainer.run()
    marker = torch.arange(16, dtype=torch.uint8)  # CUDA's generator, faked: saved as a run on CUDA saves it
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda: marker)
    trainer.device = torch.device("cuda")
    trainer.save()
    saved = load_file(str(tmp_path / "r" / "trainer_state.safetensors"))
    assert torch.equal(saved["rng.cuda"], marker)

    restored: list[torch.Tensor] = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", restored.append)
    restore = run_state.restore_random_states
    monkeypatch.setattr(run_state, "restore_random_states",  # as a run resumed on CUDA restores them
                        lambda tensors, sampler, device: restore(tensors, sampler, torch.device("cuda")))
    resumed = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "r", False, steps=4, resume=True,
                                     **quick))
    assert len(restored) == 1 and torch.equal(restored[0], marker)
    assert torch.equal(torch.get_rng_state(), saved["rng.torch"])
    assert torch.equal(resumed.sampler.get_state(), saved["rng.sampler"])


def test_the_refiner_delivers_its_unet_s_weight_average_and_resumes_it_exactly(tiny_facesets, tiny_model: Path,
                                                                               tmp_path: Path,
                                                                               shared_models: Path) -> None:
    quick = {"preview_every": 0, "identity_steps": 10, "average_decay": 0.5}
    straight = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "straight", False, steps=6, save_every=0,
                                      **quick))
    initial = {name: p.detach().clone() for name, p in straight.parts.net.named_parameters()}
    straight.run()
    RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "split", False, steps=3, **quick)).run()
    RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "split", False, steps=6, resume=True,
                           **quick)).run()

    state = load_file(str(tmp_path / "straight" / "trainer_state.safetensors"))
    delivered = load_file(str(tmp_path / "straight" / "refiner" / "refiner.safetensors"))
    averaged = {name.removeprefix("average."): t for name, t in state.items() if name.startswith("average.")}
    assert set(averaged) == {name for name, _ in straight.parts.net.named_parameters()}
    for name, tensor in averaged.items():
        assert torch.equal(delivered["net." + name], tensor), name
    assert max(float((state["refiner.net." + name] - t).abs().max()) for name, t in averaged.items()) > 1e-5
    assert max(float((initial[name] - t).abs().max()) for name, t in averaged.items()) > 1e-5  # it follows
    resumed = load_file(str(tmp_path / "split" / "refiner" / "refiner.safetensors"))
    for name, tensor in delivered.items():
        assert torch.allclose(tensor, resumed[name], atol=1e-6), name


def test_average_decay_0_delivers_the_live_unet_and_older_checkpoints_resume(tiny_facesets, tiny_model: Path,
                                                                             tmp_path: Path,
                                                                             shared_models: Path) -> None:
    quick = {"preview_every": 0, "identity_steps": 10}
    RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "r", False, steps=2, average_decay=0.0,
                           **quick)).run()
    state = load_file(str(tmp_path / "r" / "trainer_state.safetensors"))
    delivered = load_file(str(tmp_path / "r" / "refiner" / "refiner.safetensors"))
    assert not any(name.startswith(("average.", "rng.cuda")) for name in state)  # as checkpoints before them
    for name, tensor in delivered.items():
        assert torch.equal(state["refiner." + name], tensor), name
    resumed = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / "r", False, steps=3, resume=True,
                                     **quick))  # with the weight average: it starts from the live weights
    for name, parameter in resumed.average.model.named_parameters():
        assert torch.equal(parameter, state["refiner.net." + name]), name
    assert resumed.run().step == 3


def test_on_a_bf16_cpu_the_unet_runs_in_bf16_with_float32_weights(tiny_facesets, tiny_model: Path, tmp_path: Path,
                                                                  shared_models: Path, native_bf16_cpu) -> None:
    first_losses, dtypes = {}, {}
    for bf16 in (True, False):
        trainer = RefinerTrainer(options(tiny_facesets, tiny_model, tmp_path / str(bf16), False, steps=1,
                                         identity_steps=0, cpu_bf16=bf16))

        def note_dtype(_module, _inputs, output, bf16=bf16) -> None:
            dtypes.setdefault(bf16, output.dtype)

        trainer.parts.net.unet.conv_in.register_forward_hook(note_dtype)
        first_losses[bf16] = trainer._train_step()
        assert all(p.dtype == torch.float32 for p in trainer.parts.net.parameters())
    assert dtypes == {True: torch.bfloat16, False: torch.float32}
    assert first_losses[True]["denoise"] == pytest.approx(first_losses[False]["denoise"], rel=0.05)


def test_sampling_is_deterministic_for_a_seed_and_changes_only_the_masked_face(trained: RefinerTrainer,
                                                                              shared_models: Path) -> None:
    folder = trained.options.output
    faces = trained.data.target.faces.permute(0, 2, 3, 1).numpy().astype(np.float32) / 255
    masks = np.zeros(faces.shape[:3], np.float32)
    masks[:, 32:96, 32:96] = 1.0
    keys = [(0, 1001), (1, 1001)]

    def refined(seed: int) -> np.ndarray:
        return Refiner(folder, RefinerApplyOptions(seed=seed, strength=0.5, steps=6)).refine(faces, masks, keys)

    first, again, other = refined(3), refined(3), refined(4)
    assert first.shape == faces.shape and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
    outside = masks == 0
    assert np.array_equal(first[outside], faces[outside])
    assert np.abs(first - faces)[masks == 1].mean() > 1e-3


def test_a_track_keeps_its_noise_on_every_frame_and_another_track_gets_its_own(trained: RefinerTrainer,
                                                                                shared_models: Path) -> None:
    """One sampling noise per track, the same on every frame and in every call, so a still face stays still."""
    face = trained.data.target.faces[:1].permute(0, 2, 3, 1).numpy().astype(np.float32) / 255
    faces, masks = np.repeat(face, 3, axis=0), np.ones((3, *face.shape[1:3]), np.float32)
    refiner = Refiner(trained.options.output, RefinerApplyOptions(seed=3, strength=0.5, steps=6, temporal=0.0))
    together = refiner.refine(faces, masks, [(0, 1001), (0, 1002), (1, 1002)])
    assert np.array_equal(together[0], together[1])  # track 0 on two frames
    assert np.abs(together[2] - together[0]).max() > 1e-3  # track 1
    later = refiner.refine(faces[:1], masks[:1], [(0, 1040)])  # a later frame, another call
    assert np.allclose(later[0], together[0], atol=1e-5)  # up to the batch size's float rounding


def test_refine_strength_zero_is_the_codec_round_trip_only(trained: RefinerTrainer, shared_models: Path) -> None:
    faces = trained.data.target.faces.permute(0, 2, 3, 1).numpy().astype(np.float32) / 255
    masks = np.ones(faces.shape[:3], np.float32)
    refiner = Refiner(trained.options.output, RefinerApplyOptions(strength=0.0))
    kept = refiner.refine(faces, masks, [(0, 1), (1, 1)])
    with torch.no_grad():
        round_trip = refiner.codec.decode(refiner.codec.encode(torch.from_numpy(faces).permute(0, 3, 1, 2)))
    assert np.allclose(kept, round_trip.clamp(0, 1).permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_added_detail_is_blended_with_the_same_tracks_previous_frame() -> None:
    detail = torch.stack([torch.full((1, 2, 2), value) for value in (1.0, 3.0, 5.0, 7.0)])
    previous: dict = {}
    keys = [(0, 1001), (0, 1002), (1, 1002), (0, 1005)]  # track 1 is new; 1005 is three frames after 1002
    smoothed = smooth_detail(detail, keys, previous, temporal=0.5)
    assert smoothed[:, 0, 0, 0].tolist() == [1.0, 2.0, 5.0, 7.0]
    assert previous[0][0] == 1005 and previous[1][0] == 1002
    assert smooth_detail(detail, [(0, 1006)], previous, temporal=0.0)[0, 0, 0, 0] == 1.0


def test_refiner_refuses_a_model_it_was_not_trained_for(trained: RefinerTrainer, shared_models: Path) -> None:
    refiner = Refiner(trained.options.output)
    codec = trained.codec.describe()
    refiner.check_model(TINY_FACESET_SIZE, codec, trained.face_type, "m")
    with pytest.raises(ModelError, match="256 px"):
        refiner.check_model(256, codec, trained.face_type, "m")
    with pytest.raises(ModelError, match="latent space"):
        refiner.check_model(TINY_FACESET_SIZE, {**codec, "weights_sha256": {"x": "0"}}, trained.face_type, "m")


def test_arcface_onnx_embedder_gives_unit_vectors(tmp_path: Path) -> None:
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.AdaptiveAvgPool2d(1),
                                  torch.nn.Flatten(), torch.nn.Linear(8, 512))
    path = tmp_path / "arcface.onnx"
    torch.onnx.export(network, (torch.zeros(1, 3, 112, 112),), str(path), input_names=["input.1"],
                      dynamic_axes={"input.1": {0: "batch"}}, dynamo=False)
    embedder = ArcFaceEmbedder(path)
    faces = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    vectors = embedder.embed(faces)
    assert vectors.shape == (2, 512) and embedder.dim == 512
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="broken.onnx"):
        ArcFaceEmbedder(tmp_path / "broken.onnx")


def test_swap_with_refine_changes_only_the_face_and_records_the_refiner(trained: RefinerTrainer, tiny_model: Path,
                                                                       tiny_plate: Path, shared_dir: Path,
                                                                       tmp_path: Path) -> None:
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    folder = trained.options.output
    done = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(tmp_path / "s.####.exr"),
                      "--frames", "1003-1004", "--refine", str(folder), "--refine-steps", "6", env=environment,
                      timeout=300)
    assert done.returncode == 0, done.stderr
    for frame in (1003, 1004):
        original = read_image(Path(str(tiny_plate).replace("####", str(frame)))).pixels
        result = read_image(tmp_path / f"s.{frame}.exr")
        assert result.pixels.shape[:2] == original.shape[:2]
        outside = result.channel("lsmask.Y") == 0
        assert 0.5 < outside.mean() < 0.98
        assert np.array_equal(result.pixels[:, :, :4][outside], original[outside])
        assert result.metadata["latentswap/refiner_id"] and "steps=6" in result.metadata["latentswap/refine"]
    (folder / "broken").mkdir()
    (folder / "broken" / "refiner.safetensors").write_bytes(b"garbage")
    (folder / "broken" / "provenance.json").write_text("{}")
    failed = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(tmp_path / "t.####.exr"),
                        "--refine", str(folder / "broken"), env=environment)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.count("\n") == 1 and "broken" in failed.stderr
    assert not list(tmp_path.glob("t.*"))


def test_train_refiner_cli_refuses_swaps_without_a_model(tiny_facesets, tmp_path: Path) -> None:
    done = latentswap("train-refiner", "--faceset", str(tiny_facesets[0]), "--swaps", str(tiny_facesets[1]),
                      "-o", str(tmp_path / "r"), "--steps", "2")
    assert done.returncode == 2 and done.stderr.strip().endswith("--swaps needs --model: the refiner learns from "
                                                                 "that model's swaps of those faces")
    assert not (tmp_path / "r").exists()
