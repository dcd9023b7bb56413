"""Training the identity-conditioned latent diffusion refiner: options, loop, checkpoints, reports.

Each step runs one UNet forward over up to three groups of ``batch`` latents, each with its own timesteps and
identity:

- **denoising**: real target faces noised anywhere on the schedule, conditioned on their own embedding (dropped
  to zero now and then, for classifier-free guidance): epsilon or v loss;
- **reconstruction** (with ``--model``): the model's reconstructions of target faces noised up to
  ``max_strength``, whose predicted clean latent must be the real face's (masked latent MSE);
- **swaps** (with ``--model`` and ``--swaps``): the model's swaps of plate faces noised up to ``max_strength``,
  conditioned on the target identity.

The identity loss is ``1 - cos`` between the latent identity encoder's embedding of every predicted clean
latent and its conditioning identity, weighted by the signal level of its timestep (a clean estimate from pure
noise says nothing). The encoder is fitted to the embedder first (``identity_steps``) and then frozen.

Like the swap model's trainer, the UNet runs in bf16 autocast on GPUs and CPUs with native bf16
(``train/precision.py``), the refiner a run delivers (``refiner/``, previews) holds a moving average of the UNet's
weights (``train/weight_average.py``), and checkpoints hold the optimizer, random states (CUDA's too) and loss
history (``train/run_state.py``), so ``--resume`` continues the run exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F

from latentswap_core.codecs import load_codec
from latentswap_core.codecs.base import Codec
from latentswap_core.devices import resolve_device
from latentswap_core.errors import ModelError
from latentswap_core.faceset import load_faceset
from latentswap_core.models import SwapModel, load_model
from latentswap_core.models.card import ModelCard, load_model_codec, model_folder, read_card
from latentswap_core.refine.config import RefinerConfig
from latentswap_core.refine.data import decode_to_uint8, prepare_data
from latentswap_core.refine.diffusion import predicted_clean, refine_latents, training_schedule, training_target
from latentswap_core.refine.embedders import open_embedder
from latentswap_core.refine.network import RefinerUNet, cosine_distance
from latentswap_core.refine.options import RefinerTrainOptions
from latentswap_core.refine.store import (
    REFINER_FOLDER,
    RefinerParts,
    build_parts,
    parts_from_weights,
    save_refiner,
    weights_of,
)
from latentswap_core.train.checkpoint import (
    STATE_FILE,
    TRAINER_FILE,
    check_fingerprint,
    read_trainer_state,
    write_trainer_state,
)
from latentswap_core.train.loop import StepReport, TrainResult, run_steps
from latentswap_core.train.losses import masked_latent_mse
from latentswap_core.train.precision import training_autocast
from latentswap_core.train.report import preview_grid, write_preview
from latentswap_core.train.run_state import new_run_folder, restore_run, run_record, run_tensors, write_losses
from latentswap_core.train.weight_average import start_average

LOSS_FIELDS = ("step", "loss", "denoise", "reconstruction", "identity", "seconds")
PREVIEW_SAMPLES = 4
IDENTITY_ENCODER_BATCH = 32
IDENTITY_ENCODER_LR = 1e-3
WEIGHTS_PREFIX = "refiner."  # the networks' names in trainer_state.safetensors


@dataclass
class _Group:
    """One group of a step's batch: noisy latents with their timesteps and conditioning."""

    start: torch.Tensor  # what is noised (normalised)
    timesteps: torch.Tensor
    identity: torch.Tensor
    clean: torch.Tensor | None = None  # the reconstruction target, if any
    mask: torch.Tensor | None = None
    noise: torch.Tensor = field(init=False)


class RefinerTrainer:
    """Set up (codec, swap model, cached data, networks, maybe a resumed checkpoint), then ``run()``."""

    def __init__(self, options: RefinerTrainOptions) -> None:
        self.options = o = options
        self.device = torch.device(resolve_device(o.device))
        torch.manual_seed(o.seed)
        faceset = load_faceset(o.faceset)
        self.codec, self.model, card, resolution = self._open_codec_and_model(faceset.size)
        if card is not None and faceset.face_type != card.face_type:
            raise ModelError(f"{o.faceset} holds {faceset.face_type} crops, the model was trained on "
                             f"{card.face_type} crops: extract the faceset with the model's --face-type")
        model_id = card.model_id if card is not None else None
        self.face_type = faceset.face_type
        self.codec.check_face_size(resolution)
        embedder = open_embedder(o.arcface)
        self.fingerprint = {
            "codec": f"{self.codec.describe()['name']} {sorted(self.codec.describe()['weights_sha256'].values())}",
            "resolution": resolution, "preset": o.preset, "prediction": o.prediction,
            "faceset": str(o.faceset.resolve()), "model": model_id,
            "swaps": [str(folder.resolve()) for folder in o.swaps], "embedder": embedder.describe(),
        }
        run_state = self._open_output()
        self.data = prepare_data(o.faceset, o.swaps, self.codec, resolution, self.model, model_id or "", embedder,
                                 o.output / "cache")
        self.parts = self._new_parts(resolution, embedder, model_id) if run_state is None else \
            self._resumed_parts(*run_state)
        config = self.parts.config
        self.mean = torch.tensor(config.latent_mean).view(1, -1, 1, 1)
        self.std = torch.tensor(config.latent_std).view(1, -1, 1, 1)
        self.target_embedding = self.parts.target_embedding.to(self.device)
        self.schedule = training_schedule(config)
        self.optimizer = torch.optim.AdamW(self.parts.net.parameters(), lr=o.lr)
        self._resume(run_state)
        self.average = start_average(self.parts.net, o.average_decay, run_state[1] if run_state else None)
        self.parts.identity_encoder.requires_grad_(False)
        self._saved_step, self._preview_step = (self.step if run_state else -1), -1

    # --- setup ---------------------------------------------------------------------------------------------
    def _open_codec_and_model(self, faceset_size: int) -> tuple[Codec, SwapModel | None, ModelCard | None, int]:
        """The swap model's codec, model, card and face size with ``--model``; else ``--codec`` at ``--resolution``
        (default: the faceset's size)."""
        o = self.options
        if o.model is None:
            codec = load_codec(o.codec, o.codec_path).to(self.device)
            return codec, None, None, o.resolution or faceset_size
        folder = model_folder(o.model)
        card = read_card(folder)
        if o.resolution and o.resolution != card.face_size:
            raise ModelError(f"--resolution {o.resolution} differs from the model's {card.face_size} px faces: "
                             "leave --resolution out with --model")
        codec = load_model_codec(card, o.codec_path).to(self.device)
        return codec, load_model(folder, self.device), card, card.face_size

    def _open_output(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        o = self.options
        if not o.resume:
            held = any((o.output / name).exists() for name in (TRAINER_FILE, STATE_FILE, REFINER_FOLDER))
            new_run_folder(o.output, held, "a refiner")
            return None
        trainer, tensors = read_trainer_state(o.output)
        check_fingerprint(o.output, trainer, self.fingerprint)
        return trainer, tensors

    def _new_parts(self, resolution: int, embedder, model_id: str | None) -> RefinerParts:
        parts = build_parts(self._new_config(resolution, embedder), self._provenance(model_id))
        parts.net.to(self.device)
        parts.identity_encoder.to(self.device)
        return parts

    def _resume(self, run_state: tuple[dict[str, Any], dict[str, torch.Tensor]] | None) -> None:
        """The batch sampler, and the step, time, loss history, optimizer and random states: new, or the
        checkpoint's (``train/run_state.py``)."""
        o = self.options
        self.sampler = torch.Generator().manual_seed(o.seed)
        self.step, self.elapsed = 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.identity_encoder_fit: dict[str, float] = {}
        if run_state is None:
            return
        trainer, tensors = run_state
        self.step, self.elapsed, self.history = restore_run(o.output, trainer, tensors, self.optimizer, o.lr,
                                                            self.sampler, self.device)
        self.identity_encoder_fit = trainer.get("identity_encoder_fit", {})

    def _resumed_parts(self, trainer: dict[str, Any], tensors: dict[str, torch.Tensor]) -> RefinerParts:
        """The networks as the checkpoint's trainer state holds them (the refiner folder may be a save behind)."""
        source = str(self.options.output / TRAINER_FILE)
        config = RefinerConfig.from_dict(trainer.get("config"), source)
        weights = {name[len(WEIGHTS_PREFIX):]: tensors.pop(name) for name in list(tensors)
                   if name.startswith(WEIGHTS_PREFIX)}
        parts = parts_from_weights(config, trainer.get("provenance", {}), weights, self.device, source)
        parts.net.train()
        return parts

    def _new_config(self, resolution: int, embedder) -> RefinerConfig:
        latents = self.data.target.latents
        channels = latents.shape[1]
        per_channel = latents.transpose(0, 1).reshape(channels, -1)
        return RefinerConfig(latent_channels=channels, latent_size=latents.shape[-1], face_size=resolution,
                             latent_mean=per_channel.mean(1).tolist(),
                             latent_std=per_channel.std(1).clamp_min(1e-3).tolist(),
                             preset=self.options.preset, identity_dim=embedder.dim,
                             identity_embedder=embedder.describe(), prediction_type=self.options.prediction)

    def _provenance(self, model_id: str | None) -> dict[str, Any]:
        o = self.options
        target = F.normalize(self.data.target_ids.mean(0), dim=0)
        return {
            "codec": self.codec.describe(),
            "target": {"name": o.target_name, "faceset": str(o.faceset.resolve()),
                       "embedding": [round(float(v), 7) for v in target]},
            "model": {"folder": str(o.model.resolve()), "model_id": model_id} if o.model else None,
            "face_type": self.face_type, "consent": o.consent, "step": 0,
        }

    def normalise(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents - self.mean.to(latents.device)) / self.std.to(latents.device)

    def denormalise(self, latents: torch.Tensor) -> torch.Tensor:
        return latents * self.std.to(latents.device) + self.mean.to(latents.device)

    # --- the identity encoder -------------------------------------------------------------------------------
    def fit_identity_encoder(self) -> dict[str, float]:
        """Distil the embedder into the latent identity encoder; returns how well it fits and separates."""
        encoder = self.parts.identity_encoder.train().requires_grad_(True)
        optimizer = torch.optim.Adam(encoder.parameters(), lr=IDENTITY_ENCODER_LR)
        latents = self.normalise(self.data.encoder_latents).to(self.device)
        targets = self.data.encoder_ids.to(self.device)
        generator = torch.Generator().manual_seed(self.options.seed + 1)
        for _ in range(self.options.identity_steps):
            picks = torch.randint(len(latents), (IDENTITY_ENCODER_BATCH,), generator=generator)
            batch = latents[picks]
            flipped = (torch.rand(len(picks), generator=generator) < 0.5).to(self.device)[:, None, None, None]
            batch = torch.where(flipped, batch.flip(-1), batch)
            loss = cosine_distance(encoder(batch), targets[picks]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        encoder.eval().requires_grad_(False)
        with torch.no_grad():
            fit = float(cosine_distance(encoder(latents), targets).mean())
        return {"steps": self.options.identity_steps, "cosine_distance": round(fit, 4)}

    # --- one step -------------------------------------------------------------------------------------------
    def _pick(self, count: int) -> torch.Tensor:
        return torch.randint(count, (self.options.batch,), generator=self.sampler)

    def _timesteps(self, fraction: float) -> torch.Tensor:
        top = max(1, round(fraction * self.schedule.config.num_train_timesteps))
        return torch.randint(top, (self.options.batch,), generator=self.sampler)

    def _groups(self) -> list[_Group]:
        o, data = self.options, self.data
        batch = o.batch
        target = self.target_embedding.cpu().expand(batch, -1)
        picks = self._pick(len(data.target))
        dropped = (torch.rand(batch, generator=self.sampler) < o.drop_identity)[:, None]
        own = torch.where(dropped, torch.zeros_like(data.target_ids[picks]), data.target_ids[picks])
        clean = self.normalise(data.target.latents[picks])
        groups = [_Group(clean, self._timesteps(1.0), own, clean=clean)]
        if data.reconstructions is not None:
            picks = self._pick(len(data.target))
            groups.append(_Group(self.normalise(data.reconstructions[picks]), self._timesteps(o.max_strength), target,
                                 clean=self.normalise(data.target.latents[picks]),
                                 mask=data.target.latent_masks[picks]))
        if data.swaps is not None:
            picks = self._pick(len(data.swaps))
            groups.append(_Group(self.normalise(data.swaps[picks]), self._timesteps(o.max_strength), target))
        for group in groups:
            flipped = (torch.rand(batch, generator=self.sampler) < 0.5)[:, None, None, None]
            for name in ("start", "clean", "mask"):
                value = getattr(group, name)
                if value is not None:
                    setattr(group, name, torch.where(flipped, value.flip(-1), value).to(self.device))
            group.timesteps, group.identity = group.timesteps.to(self.device), group.identity.to(self.device)
            group.noise = torch.randn(group.start.shape, generator=self.sampler).to(self.device)
        return groups

    def _train_step(self) -> dict[str, float]:
        o = self.options
        groups = self._groups()
        timesteps = torch.cat([g.timesteps for g in groups])
        noisy = torch.cat([self.schedule.add_noise(g.start, g.noise, g.timesteps) for g in groups])
        identity = torch.cat([g.identity for g in groups])
        with training_autocast(self.device, o.cpu_bf16):
            prediction = self.parts.net(noisy, timesteps, identity).float()
        first = groups[0]
        assert first.clean is not None, "the first group is the target's own faces, noised from clean"
        denoise = F.mse_loss(prediction[:o.batch], training_target(self.schedule, first.clean, first.noise,
                                                                   first.timesteps))
        clean = predicted_clean(self.schedule, prediction, noisy, timesteps)
        losses = {"denoise": denoise, "reconstruction": torch.zeros((), device=self.device)}
        if self.data.reconstructions is not None:
            paired = groups[1]
            assert paired.clean is not None and paired.mask is not None, "the reconstruction group carries both"
            estimate = clean[o.batch:2 * o.batch]
            losses["reconstruction"] = o.reconstruction_weight * masked_latent_mse(estimate, paired.clean,
                                                                                   paired.mask)
        conditioned = identity.abs().sum(1) > 0
        signal = self.schedule.alphas_cumprod.to(self.device)[timesteps].float() * conditioned
        distance = cosine_distance(self.parts.identity_encoder(clean), identity)
        losses["identity"] = o.identity_weight * (distance * signal).sum() / signal.sum().clamp_min(1e-6)
        loss = sum(losses.values(), torch.zeros((), device=self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parts.net.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        if self.average:
            self.average.update(self.step)
        return {"loss": float(loss.detach()), **{name: float(value.detach()) for name, value in losses.items()}}

    # --- the loop -------------------------------------------------------------------------------------------
    def run(self, on_step: Callable[[StepReport], bool | None] | None = None,
            on_message: Callable[[str], None] | None = None) -> TrainResult:
        """Train until ``steps`` or ``minutes``; Ctrl-C finishes the current step, saves and returns."""
        o = self.options
        if not self.identity_encoder_fit and o.identity_steps:
            self.identity_encoder_fit = self.fit_identity_encoder()
            if on_message:
                on_message(f"identity encoder fitted in {o.identity_steps} steps: cosine distance to the embedder "
                           f"{self.identity_encoder_fit['cosine_distance']:.3f}")
        stopped_early = run_steps(self, o, on_step)
        if o.preview_every and self._preview_step != self.step:
            self.preview()
        if self._saved_step != self.step:
            self.save()
        return TrainResult(self.step, stopped_early, o.output, self.history)

    @property
    def delivered_parts(self) -> RefinerParts:
        """The refiner the run delivers (``refiner/``, previews): the UNet's weight average, else the live UNet."""
        if self.average is None:
            return self.parts
        return dataclasses.replace(self.parts, net=cast(RefinerUNet, self.average.model))  # a copy of parts.net

    @torch.no_grad()
    def preview(self) -> Path:
        """Columns: the input the refiner gets (with ``--swaps``: plate face, swap; with ``--model``: real face,
        reconstruction; else the real face), then the delivered refiner's refinement at ``preview_strength``."""
        o, data = self.options, self.data
        net = self.delivered_parts.net
        net.eval()
        try:
            if data.swaps is not None:
                assert data.swap_sources is not None, "swaps come with the plate faces they were made from"
                count = min(PREVIEW_SAMPLES, len(data.swaps))
                columns = [data.swap_sources[:count].float() / 255]
                start = data.swaps[:count]
            else:
                count = min(PREVIEW_SAMPLES, len(data.target))
                columns = [data.target.faces[:count].float() / 255]
                start = (data.reconstructions if data.reconstructions is not None else data.target.latents)[:count]
            noise = torch.randn(start.shape, generator=torch.Generator().manual_seed(o.seed)).to(self.device)
            refined = refine_latents(net, self.parts.config, self.normalise(start.to(self.device)),
                                     self.target_embedding.expand(count, -1), noise, o.preview_strength,
                                     o.preview_steps)
            if data.swaps is not None or data.reconstructions is not None:
                columns.append(decode_to_uint8(self.codec, start).float() / 255)
            columns.append(decode_to_uint8(self.codec, self.denormalise(refined)).float() / 255)
        finally:
            self.parts.net.train()
        self._preview_step = self.step
        return write_preview(o.output, self.step, preview_grid(columns))

    def save(self) -> None:
        """The checkpoint (live networks, the UNet's weight average, optimizer and random states: the commit), then
        ``refiner/`` (the delivered refiner) and the losses."""
        o = self.options
        self.parts.provenance["step"] = self.step
        tensors, optimizer_json = run_tensors(self.optimizer, self.sampler, self.device)
        tensors.update({WEIGHTS_PREFIX + name: t for name, t in weights_of(self.parts).items()})
        if self.average:
            tensors.update(self.average.tensors())
        trainer = run_record(self, o.as_json(), self.fingerprint, optimizer_json, {
            "config": self.parts.config.to_dict(), "provenance": self.parts.provenance,
            "identity_encoder_fit": self.identity_encoder_fit})
        write_trainer_state(o.output, tensors, trainer)  # the commit: the refiner folder below follows it
        save_refiner(self.delivered_parts, o.output / REFINER_FOLDER)
        write_losses(o.output, self.history, LOSS_FIELDS, LOSS_FIELDS[1:-1])
        self._saved_step = self.step

