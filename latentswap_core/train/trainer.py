"""The training loop: two facesets' cached latents -> a swap model, with checkpoints that resume exactly.

Each step draws a batch per identity and reconstructs it with that identity's decoder. A batch mixes faces of
the faceset with a share of pre-encoded augmented variants (moved and recoloured, ``AugmentedPool``: encoded in
the background, a new generation every ``augment_refresh`` steps), flips them at random, and gives the model
randomly warped latents as input while the targets stay unwarped (DeepFaceLab's random warp, in latent space).
The loss is masked latent MSE + mask MSE + VQ commitment + the decoder response (L1 of the latent error's pixel
effect through a linear model of the codec's decoder, ``decoder_response.py``), and every ``pixel_loss_every``
steps DSSIM + L1 of a window of a few decoded faces against their crops, through the frozen codec; an optional
eyes/mouth priority weighs them all. Batch sampling uses its own generator; it and torch's global RNG (VQ
restarts) are saved with the optimizer and pool generations depend only on the seed and step, so ``--resume``
continues with the same losses an uninterrupted run would have had. The model a run delivers (``model/``, previews)
is a moving average of the trained weights (``weight_average.py``); the checkpoint keeps both.
That is the eager step (``--step-mode eager``, the CPU's default). ``static`` and ``graph`` run the same training
with fixed shapes and every draw on the device (``static_step.py``), the latter captured in CUDA graphs
(``graph_step.py``); the defaults per device are in ``device_defaults.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from latentswap_core.codecs import load_codec
from latentswap_core.errors import ModelError
from latentswap_core.faceset import load_faceset
from latentswap_core.io.matte import MatteSequence
from latentswap_core.models import SwapModel, SwapModelConfig
from latentswap_core.train.augment import AugmentedPool, AugmentSettings, random_latent_warp
from latentswap_core.train.checkpoint import (
    Checkpoint,
    check_fingerprint,
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from latentswap_core.train.decoder_response import (
    WEIGHT_TENSOR,
    DecoderResponse,
    fit_decoder_response,
    fit_digest,
    saved_fit,
)
from latentswap_core.train.device_defaults import (
    AUTO_BATCH,
    AUTO_BATCH_PROBE,
    auto_batch,
)
from latentswap_core.train.distributed import (
    average_buffers,
    average_gradients,
    average_values,
    barrier,
    broadcast_module,
    join_world,
    replicas_differ,
)
from latentswap_core.train.faceset_report import FacesetReport, faceset_report
from latentswap_core.train.graph_step import probe_step_bytes
from latentswap_core.train.latent_cache import FaceLatents, load_latents
from latentswap_core.train.loop import StepReport, TrainResult, run_steps
from latentswap_core.train.losses import masked_pixel_loss, masked_response_loss, reconstruction_losses
from latentswap_core.train.options import TrainOptions
from latentswap_core.train.precision import training_autocast
from latentswap_core.train.report import preview_grid, write_preview
from latentswap_core.train.response_cache import cached_fit, keep_fit
from latentswap_core.train.run_state import new_run_folder, restore_run, run_record, run_tensors, write_losses
from latentswap_core.train.static_step import StaticStep
from latentswap_core.train.true_face import TRUE_FACE_KEY, TrueFace
from latentswap_core.train.weight_average import start_average

PREVIEW_SAMPLES = 3
SAMPLER_SEED_STRIDE = 1_000_003  # process r of a data-parallel run samples with seed + r * stride
REPLICA_TOLERANCE = 1e-4


@dataclass
class Batch:
    """A batch of one identity's faces as the cache holds them (see FaceLatents), on the training device; the
    crops themselves only for a step with the decoded pixel loss."""

    latents: torch.Tensor
    latent_masks: torch.Tensor
    latent_priority: torch.Tensor
    masks: torch.Tensor
    priority: torch.Tensor
    latent_keep: torch.Tensor
    keep: torch.Tensor
    faces: torch.Tensor | None = None
    inputs: torch.Tensor | None = None  # what the model sees: ``latents``, randomly warped when augmenting
    FIELDS = ("latents", "latent_masks", "latent_priority", "masks", "priority", "latent_keep", "keep")


class Trainer:
    """Set up (codec, cached latents, model, optimizer, maybe a resumed checkpoint), then ``run()``.

    ``on_faceset_report``: called (by the main process) with the facesets' report (counts, poses, coverage,
    warnings; ``faceset_report.py``) once the run is accepted and before the latents are encoded; the report is also
    written to the model dir and kept as ``faceset_report``.
    """

    def __init__(self, options: TrainOptions,
                 on_faceset_report: Callable[[FacesetReport], None] | None = None) -> None:
        self.options = o = options
        self.world, self.device = join_world(o.device)
        self.codec = load_codec(o.codec, o.codec_path).to(self.device)
        torch.manual_seed(o.seed)
        config = SwapModelConfig.for_codec(self.codec, o.resolution, layout=o.layout, preset=o.preset, vq=o.vq)
        self.fingerprint = {
            "codec": f"{o.codec} {sorted(self.codec.describe()['weights_sha256'].values())}",
            "resolution": o.resolution, "preset": o.preset, "layout": o.layout, "vq": o.vq,
            "src faceset": str(o.src.resolve()), "dst faceset": str(o.dst.resolve()),
        }
        if o.true_face_power:  # a key only when on: runs from before the option keep their fingerprint
            self.fingerprint[TRUE_FACE_KEY] = o.true_face_power
        self.face_type = matching_face_type(o.src, o.dst)  # unusable facesets: refused before -o is created
        checkpoint = self._open_model_dir()
        self._build_model(config, checkpoint)
        self._resume(checkpoint)
        broadcast_module(self.model, self.world)
        if self.true_face:
            broadcast_module(self.true_face, self.world)
        self.average = start_average(self.model, o.average_decay, checkpoint.tensors if checkpoint else None)
        self.faceset_report = self._report_facesets(on_faceset_report)
        self._load_latents()
        self.response, self.response_fit, self._response_digest = self._fit_decoder_response(checkpoint)
        self._saved_step = self.step
        self._saved_once = checkpoint is not None
        self._preview_step = -1
        self.augment_settings = AugmentSettings()
        self._pools: dict[str, AugmentedPool] = {}
        if o.batch == AUTO_BATCH:  # CUDA (the CPU's was settled by TrainOptions): as many faces as fit
            self.options = o = replace(o, batch=self._auto_batch())
        self._static = StaticStep(self, checkpoint.tensors if checkpoint else None) if o.step_mode != "eager" else None

    # --- setup ---------------------------------------------------------------------------------------------
    def _auto_batch(self) -> int:
        """``--batch auto`` on CUDA: from one probe step's memory and the free memory (``device_defaults``)."""
        free_bytes, _ = torch.cuda.mem_get_info(self.device)
        probe = self.src.latents[:AUTO_BATCH_PROBE].to(self.device)
        return auto_batch(probe_step_bytes(self.model, self.codec, probe, self._autocast), free_bytes)

    def _open_model_dir(self) -> Checkpoint | None:
        """A new model dir (refused if it holds a run), or with ``--resume`` its checkpoint, checked to be this
        run's (the same fingerprint)."""
        o = self.options
        if not o.resume:
            new_run_folder(o.output, has_checkpoint(o.output), "a trained model")
            return None
        checkpoint = load_checkpoint(o.output, self.device)
        check_fingerprint(o.output, checkpoint.trainer, self.fingerprint, optional=frozenset({TRUE_FACE_KEY}))
        return checkpoint

    def _build_model(self, config: SwapModelConfig, checkpoint: Checkpoint | None) -> None:
        """The swap model (new, or the checkpoint's live weights) on the device, laid out for it, and its
        optimizer."""
        o = self.options
        if checkpoint:
            saved = checkpoint.model.config
            if (saved.latent_channels, saved.latent_size) != (config.latent_channels, config.latent_size):
                raise ModelError(f"{o.output} was trained on {saved.latent_channels} x {saved.latent_size}^2 latents, "
                                 f"the {o.codec} codec now gives {config.latent_channels} x {config.latent_size}^2: "
                                 "train into a new -o folder")
        self.model = (checkpoint.model if checkpoint else SwapModel(config)).to(self.device).train()
        # cuDNN's and oneDNN's convolutions run NHWC (CPU, 512 px faces: fp32 10-45 % faster, bf16 25-55 %)
        self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":  # fixed shapes let cuDNN pick its fastest algorithms once
            torch.backends.cudnn.benchmark = True
        self.true_face = self._build_true_face(config, checkpoint)
        # one optimizer for both: the true-face term trains each with its own loss (true_face.py)
        self._parameters = list(self.model.parameters()) + (
            list(self.true_face.parameters()) if self.true_face else [])
        # fused: one kernel for all parameters instead of a dozen per tensor (CPU: 5.0 -> 1.5 ms a step, 3.8 M weights)
        if o.step_mode == "eager":
            self.optimizer = torch.optim.AdamW(self._parameters, lr=o.lr, fused=True)
        else:  # the static step: lr a tensor on the device, and on CUDA safe to capture in a graph
            self.optimizer = torch.optim.AdamW(self._parameters, lr=torch.tensor(o.lr, device=self.device), fused=True,
                                               capturable=self.device.type == "cuda")

    def _build_true_face(self, config: SwapModelConfig, checkpoint: Checkpoint | None) -> TrueFace | None:
        """The true-face discriminator (``--true-face-power``; new, or the checkpoint's), or None when off."""
        o = self.options
        if not o.true_face_power:
            return None
        code_side = config.latent_size // 2 ** (config.front_stages + config.stages)
        true_face = TrueFace(config.inter_dims, code_side, o.true_face_power)
        if checkpoint:
            true_face.load(checkpoint.tensors, str(o.output))
        return true_face.to(self.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def _resume(self, checkpoint: Checkpoint | None) -> None:
        """The batch sampler, and the step, time, loss history, optimizer and random states: new, or the
        checkpoint's (``run_state.py``)."""
        o = self.options
        self.sampler = torch.Generator().manual_seed(o.seed + SAMPLER_SEED_STRIDE * self.world.rank)
        self.step, self.elapsed = 0, 0.0
        self.history: list[dict[str, Any]] = []
        if checkpoint is None:
            return
        # the other processes reseed: their batches differ from the first run's, not their weights
        sampler = self.sampler if self.world.is_main else None
        self.step, self.elapsed, self.history = restore_run(o.output, checkpoint.trainer, checkpoint.tensors,
                                                            self.optimizer, o.lr, sampler, self.device)
        if not self.world.is_main:
            self.sampler.manual_seed(o.seed + SAMPLER_SEED_STRIDE * self.world.rank + self.step)

    def _report_facesets(self, on_faceset_report: Callable[[FacesetReport], None] | None) -> FacesetReport | None:
        """The facesets' report, written to the model dir and passed on (the main process; the others: None)."""
        if not self.world.is_main:
            return None
        o = self.options
        report = faceset_report(o.src, o.dst, o.resolution)
        report.write(o.output)
        if on_faceset_report is not None:
            on_faceset_report(report)
        return report

    def _load_latents(self) -> None:
        """Both facesets' cached latents (encoded by the main process, read by the others) and what batches are
        drawn from."""
        o = self.options
        cache = o.output / "cache"
        if not self.world.is_main:
            barrier(self.world)  # the main process encodes the facesets; the others read its cache
        self.src = load_latents(o.src, self.codec, o.resolution, cache, "src", self._holdout(o.src_holdout))
        self.dst = load_latents(o.dst, self.codec, o.resolution, cache, "dst", self._holdout(o.dst_holdout))
        if self.world.is_main:
            barrier(self.world)
        self._resident = {"src": self._on_device(self.src), "dst": self._on_device(self.dst)}

    def _fit_decoder_response(self, checkpoint: Checkpoint | None
                              ) -> tuple[DecoderResponse | None, float | None, str | None]:
        """The linear model of the codec's decoder the response loss uses, how well it fits, and the digest of what
        it was fitted to (Nones without). A resumed run fitted to the same takes the checkpoint's; a new one, the
        user cache's (``response_cache.py``); else it is fitted, and kept there."""
        o = self.options
        if not (o.decoder_response and self.codec.weights_sha256):  # a weight-free codec's latents are its pixels
            return None, None, None
        latents = torch.cat([self.src.latents, self.dst.latents])
        digest = fit_digest(self.codec, latents, o.seed)
        if (checkpoint is not None and checkpoint.trainer.get("decoder_response_digest") == digest
                and WEIGHT_TENSOR in checkpoint.tensors):
            response, fit = saved_fit(self.codec, checkpoint.tensors[WEIGHT_TENSOR]), checkpoint.trainer[
                "decoder_response_fit"]
        elif (kept := cached_fit(self.codec, digest, self.device.type)) is not None:  # an earlier run's
            response, fit = kept
        else:
            response, fit = fit_decoder_response(self.codec, latents, o.seed)
            keep_fit(digest, self.device.type, response, fit)
        return response.to(self.device), fit, digest

    @staticmethod
    def _holdout(pattern: str | None) -> MatteSequence | None:
        return MatteSequence(pattern) if pattern else None

    def _on_device(self, data: FaceLatents) -> FaceLatents:
        """What batches are drawn from: on the GPU when the faceset takes under a quarter of its free memory (no
        copy from the host each step), else in pinned host memory. The host copy stays for the augmented pool."""
        if self.device.type != "cuda":
            return data
        free_bytes, _ = torch.cuda.mem_get_info(self.device)
        return data.to(self.device) if data.nbytes() < free_bytes // 4 else data.pin_memory()

    # --- one step ------------------------------------------------------------------------------------------
    def _batch(self, data: FaceLatents, role: str, faces: bool) -> Batch:
        """``batch`` faces of one identity: from the faceset, a share from its augmented pool, flipped at random;
        with augmentation on, the model's inputs are randomly warped latents (the targets stay unwarped). The
        rows to replace or flip are chosen on the host, so only those rows are touched."""
        o = self.options
        resident = self._resident[role]
        picks = torch.randint(len(data), (o.batch,), generator=self.sampler).to(resident.latents.device)
        names = Batch.FIELDS + (("faces",) if faces else ())
        tensors = {name: getattr(resident, name)[picks].to(self.device) for name in names}  # copies: ours to change
        if o.augment and o.augment_share > 0:
            pool = self._pool(role, data).for_step(self.step)
            pool_picks = torch.randint(len(pool), (o.batch,), generator=self.sampler)
            rows = (torch.rand(o.batch, generator=self.sampler) < o.augment_share).nonzero().flatten()
            for name, t in tensors.items():
                t[rows.to(self.device)] = getattr(pool, name)[pool_picks[rows]].to(self.device)
        if o.flip:
            rows = (torch.rand(o.batch, generator=self.sampler) < 0.5).nonzero().flatten().to(self.device)
            for t in tensors.values():
                t[rows] = t[rows].flip(-1)
        batch = Batch(**tensors)
        warp = self.augment_settings.warp if o.augment else 0.0
        batch.inputs = random_latent_warp(batch.latents, self.sampler, warp)
        return batch

    def _pool(self, role: str, data: FaceLatents) -> AugmentedPool:
        if role not in self._pools:
            o = self.options
            name = role if self.world.is_main else f"{role}@{self.world.rank}"  # each process its own variants
            self._pools[role] = AugmentedPool(data, self.codec, o.augment_pool, o.augment_refresh, o.seed,
                                              self.augment_settings, name)
        return self._pools[role]

    def close(self) -> None:
        """Stop the augmentation pools' background threads (``run`` does this when it ends)."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _autocast(self):
        """bf16 for the swap model and the frozen decoder: on GPUs (Ampere and later) and CPUs with native bf16
        (AVX512-BF16, AMX), where a 512 px latent step's model forward + backward takes 0.056 s instead of 0.12 s,
        and TAEF2's decode forward + backward of two 256 px faces 0.28 s instead of 0.77 s. Weights, optimizer and
        losses stay float32 (``precision.py``)."""
        return training_autocast(self.device, self.options.cpu_bf16)

    def _pixel_window(self) -> tuple[slice, slice, slice, slice]:
        """A random square of the latent (rows, columns) that the pixel and response losses compare, and the same
        square in pixels (rows, columns). Decoding a 256 px window of a 512 px face costs a quarter of all of it."""
        side = self.model.config.latent_size
        scale = self.options.resolution // side
        window = min(side, max(1, self.options.pixel_loss_crop // scale))
        top, left = torch.randint(side - window + 1, (2,), generator=self.sampler).tolist()
        return (slice(top, top + window), slice(left, left + window),
                slice(top * scale, (top + window) * scale), slice(left * scale, (left + window) * scale))

    def _pixel_loss(self, predicted: torch.Tensor, batch: Batch) -> torch.Tensor:
        """DSSIM + L1 (+ eyes/mouth L1) of a window of a few predicted faces, decoded by the frozen codec."""
        o = self.options
        n = min(o.pixel_loss_samples, o.batch)
        rows, columns, pixel_rows, pixel_columns = self._pixel_window()
        with self._autocast():
            decoded = decode_window(self.codec, predicted[:n], rows, columns)

        def pixels(t: torch.Tensor) -> torch.Tensor:
            return t[:n, :, pixel_rows, pixel_columns].float() / 255

        keep = pixels(batch.keep)
        assert batch.faces is not None, "a pixel-loss step's batch carries its faces (_batch(faces=True))"
        return masked_pixel_loss(decoded, pixels(batch.faces), pixels(batch.masks) * keep, o.resolution,
                                 pixels(batch.priority) * keep, o.eyes_mouth_priority)

    def _response_loss(self, response: DecoderResponse, predicted: torch.Tensor, batch: Batch) -> torch.Tensor:
        """L1 (+ eyes/mouth L1) of the latent error's predicted pixel effect, in a random ``pixel_loss_crop`` window
        of larger faces (the linear response needs no context margin)."""
        rows, columns, pixel_rows, pixel_columns = self._pixel_window()
        error = predicted[..., rows, columns].float() - batch.latents[..., rows, columns]
        masks, priority, keep = (t[..., pixel_rows, pixel_columns].float() / 255
                                 for t in (batch.masks, batch.priority, batch.keep))
        masks, priority = masks * keep, priority * keep
        with self._autocast():  # a loss weighting: bf16's digits are plenty (CPU, 256 px: 5 ms of a 53 ms step)
            effect = response(error)
        return masked_response_loss(effect, masks, priority, self.options.eyes_mouth_priority)

    def _pixel_step(self) -> bool:
        """Whether this step adds the decoded pixel loss: the first, then every ``pixel_loss_every``-th."""
        every = self.options.pixel_loss_every
        return every > 0 and self.step % every == 0

    def _train_step(self) -> dict[str, float]:
        if self._static is not None:
            return self._static_train_step()
        o = self.options
        pixel_step = self._pixel_step()
        # the parts add up on the device and are read back once, at the end: the GPU never waits for the host
        totals: dict[str, torch.Tensor] = {}

        def add(name: str, value: torch.Tensor, share: float) -> None:
            value = value.detach().float() * share
            totals[name] = totals[name] + value if name in totals else value

        batches = 2 * o.accumulate
        self.optimizer.zero_grad(set_to_none=True)
        for _ in range(o.accumulate):
            loss = torch.zeros((), device=self.device)
            codes: dict[str, torch.Tensor] = {}
            for identity, data in (("src", self.src), ("dst", self.dst)):
                batch = self._batch(data, identity, faces=pixel_step)
                with self._autocast():
                    out = self.model.reconstruct(batch.inputs, identity)
                if out.decoder_input is not None:
                    codes[identity] = out.decoder_input
                parts = reconstruction_losses(out, batch, o.eyes_mouth_priority)
                if self.response is not None:
                    parts["response"] = o.response_weight * self._response_loss(self.response, out.latent, batch)
                if pixel_step:
                    parts["pixel"] = o.pixel_weight * self._pixel_loss(out.latent, batch)
                for name, value in parts.items():
                    add(name, value, 1 / o.accumulate)
                if out.vq_stats is not None:  # codebook health: averaged over both identities' batches
                    add("codebook_usage", out.vq_stats.usage, 1 / batches)
                    add("perplexity", out.vq_stats.perplexity, 1 / batches)
                loss = loss + sum(parts.values())
            if self.true_face:
                loss = loss + self.true_face.loss(codes["src"], codes["dst"])
            (loss / o.accumulate).backward()
            add("loss", loss, 1 / o.accumulate)
        average_gradients(self._parameters, self.world)
        self.optimizer.step()
        average_buffers(self.model, self.world)
        self.step += 1
        if self.average:
            self.average.update(self.step)
        names = list(totals)
        values = dict(zip(names, torch.stack([totals[name] for name in names]).tolist(), strict=True))
        reported = {name: values.get(name, float("nan"))
                    for name in ("loss", "latent", "mask", "commitment", "response", "pixel", "codebook_usage",
                                 "perplexity")}
        return average_values(reported, self.world)

    def _static_train_step(self) -> dict[str, float]:
        """The static step (``static_step.py``); its losses on read-back steps (every ``loss_every``-th), else none
        (they stay on the device)."""
        assert self._static is not None
        self._static.before_step(self.step)
        self._static.run(self._pixel_step())
        self.step += 1
        return self._static.read_losses() if self.step % self.options.loss_every == 0 else {}

    # --- the loop ------------------------------------------------------------------------------------------
    def run(self, on_step: Callable[[StepReport], bool | None] | None = None) -> TrainResult:
        """Train until ``steps`` or ``minutes``; Ctrl-C finishes the current step, saves and returns."""
        o = self.options
        with closing(self):
            read_back = self._static.read_losses if self._static else None
            stopped_early = run_steps(self, o, on_step, self.world, read_back)
        if o.preview_every and self._preview_step != self.step and self.world.is_main:
            self.preview()
        if self._saved_step != self.step or not self._saved_once:
            self.save()
        return TrainResult(self.step, stopped_early, o.output, self.history)

    @property
    def delivered_model(self) -> SwapModel:
        """The model the run delivers (``model/``, previews): the weight average, else the live weights."""
        return self.average.model if self.average else self.model

    def preview(self) -> Path:
        """Decode a few faces of each identity with the delivered model: src, src recon, dst, dst recon, swap (dst
        with src's look)."""
        model = self.delivered_model
        model.eval()
        try:
            with torch.no_grad(), self._autocast():
                src, dst = self.src.latents[:PREVIEW_SAMPLES], self.dst.latents[:PREVIEW_SAMPLES]
                count = min(len(src), len(dst))
                src, dst = src[:count].to(self.device), dst[:count].to(self.device)
                columns = [
                    self.src.faces[:count].float() / 255,
                    self.codec.decode(model.reconstruct(src, "src").latent),
                    self.dst.faces[:count].float() / 255,
                    self.codec.decode(model.reconstruct(dst, "dst").latent),
                    self.codec.decode(model.swap(dst, "src").latent),
                ]
        finally:
            self.model.train()
        self._preview_step = self.step
        return write_preview(self.options.output, self.step, preview_grid(columns))

    def save(self) -> None:
        """Write the checkpoint (the main process; the others only check that their replicas are in step)."""
        o = self.options
        difference = max(replicas_differ(module, self.world) for module in (self.model, self.true_face)
                         if module is not None)
        if difference > REPLICA_TOLERANCE:
            raise ModelError(f"training processes diverged (weights differ by {difference:.3g}): the run is not "
                             "saved; --resume from the last checkpoint")
        self._saved_step, self._saved_once = self.step, True
        if not self.world.is_main:
            return
        tensors, optimizer_json = run_tensors(self.optimizer, self.sampler, self.device)
        trainer = run_record(self, o.as_json(), self.fingerprint, optimizer_json, {
            "codec": self.codec.describe(),
            "model_config": self.model.config.to_dict(),
            "identities": {"src": {"name": o.src_name, "faceset": str(o.src.resolve())},
                           "dst": {"name": o.dst_name, "faceset": str(o.dst.resolve())}},
            "consent": o.consent,
            "face_type": self.face_type,
            "processes": self.world.size,
            "decoder_response_fit": self.response_fit,
            "decoder_response_digest": self._response_digest,
        })
        if self.response is not None:
            tensors[WEIGHT_TENSOR] = self.response.conv.weight.detach().cpu()
        if self.average:
            tensors.update(self.average.tensors())
        if self._static:
            tensors.update(self._static.state())
        if self.true_face:
            tensors.update(self.true_face.tensors())
        save_checkpoint(o.output, self.model, tensors, trainer, self.delivered_model)
        write_losses(o.output, self.history)


def matching_face_type(src: Path, dst: Path) -> str:
    """The face type both facesets were extracted with (the swap crops faces the same way), or a ModelError."""
    types = {role: load_faceset(folder).face_type for role, folder in (("src", src), ("dst", dst))}
    if types["src"] != types["dst"]:
        raise ModelError(f"the src faceset holds {types['src']} crops and the dst faceset {types['dst']} crops: "
                         "extract both with the same --face-type")
    return types["src"]


def decode_window(codec, latent: torch.Tensor, rows: slice, columns: slice) -> torch.Tensor:
    """The pixels of ``latent[..., rows, columns]``, unclamped, decoded with ``codec.window_margin`` latent pixels
    of context around the window (on the codec's ``window_grid``) that are then dropped: without them the
    decoder's zero padding at the window's edge would show up as error the model cannot fix. The decoded region has
    one size for every window of a size (moved inward at the latent's edges), so cuDNN tunes its algorithms once."""
    height, width = latent.shape[-2:]
    margin = max(height, width) if codec.window_margin is None else codec.window_margin
    grid = codec.window_grid

    def region(window: slice, side: int) -> tuple[int, int]:
        size = min(side, (-(-(window.stop - window.start + 2 * margin) // grid) + 1) * grid)
        start = min(max(0, (window.start - margin) // grid * grid), side - size)
        return start, start + size

    (top, bottom), (left, right) = region(rows, height), region(columns, width)
    decoded = codec.decode(latent[..., top:bottom, left:right], clamp=False)
    scale = codec.downscale
    return decoded[..., (rows.start - top) * scale:(rows.stop - top) * scale,
                   (columns.start - left) * scale:(columns.stop - left) * scale]
