"""The swap model's training step with fixed shapes and nothing read back from the device: what CUDA graphs capture
(``graph_step.py``), and what ``--step-mode static`` runs eagerly on any device.

It trains what the eager step (``Trainer._train_step``) trains, drawn differently:
- every random draw (batch picks, pool share, flips, latent warp, the loss window) comes from one generator on the
  training device, saved in the checkpoint (``rng.device``) and restored by ``--resume``;
- rows are chosen with ``torch.where`` on random masks, the loss window is a fixed size at offsets held as index
  tensors (``index_select``, not slices), the decoded window too (``decode_window_at``); one window per identity
  serves the response and the pixel loss (the eager step draws one for each);
- the loss parts add up in a device buffer that the host reads every ``loss_every`` steps (``read_losses``);
- the weight average follows a step counter on the device; AdamW's lr is a tensor (capturable on CUDA);
- the VQ codebook's first draw (``VectorQuantizer.initialise``) is made before the first step, not in it; its EMA
  update and dead-code restarts were already branch-free and run inside the step;
- the augmented pool's generations are copied into fixed device buffers between steps (``before_step``), on the
  host, outside any graph; the pool still encodes them in the background.
Two step kinds, with and without the decoded pixel loss: the host picks one from the step number.
The same losses as the eager step, from other random draws: a static run's numbers are its own (and reproducible),
not an eager run's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from latentswap_core.train.augment import random_latent_warp
from latentswap_core.train.graph_step import CapturedStep
from latentswap_core.train.latent_cache import FaceLatents
from latentswap_core.train.losses import masked_pixel_loss, masked_response_loss, reconstruction_losses
from latentswap_core.train.precision import training_autocast

if TYPE_CHECKING:
    from latentswap_core.train.trainer import Batch, Trainer

LOSS_NAMES = ("loss", "latent", "mask", "commitment", "response", "pixel", "codebook_usage", "perplexity")
DEVICE_RNG = "rng.device"  # the static step's generator in trainer_state.safetensors


class StaticStep:
    """The static step of one ``Trainer`` (its model, optimizer, average, faces and options)."""

    def __init__(self, trainer: Trainer, checkpoint_tensors: dict[str, torch.Tensor] | None) -> None:
        self.trainer = t = trainer
        o, device = t.options, t.device
        self.generator = torch.Generator(device=device).manual_seed(o.seed)
        if checkpoint_tensors is not None and DEVICE_RNG in checkpoint_tensors:
            self.generator.set_state(checkpoint_tensors[DEVICE_RNG])
        elif checkpoint_tensors is not None:  # a checkpoint of an eager run: a new stream, its own for each step
            self.generator.manual_seed(o.seed + t.step)
        # every face on the device, even a faceset the eager step would read from pinned host memory: a graph
        # cannot index host memory (the trainer's device copies are reused; on the CPU nothing is copied)
        self.faces = {role: t._resident[role].to(device) for role in ("src", "dst")}
        self.pool_buffers: dict[str, FaceLatents] = {}
        self.step_number = torch.full((), float(t.step), device=device)  # the weight average's decay follows it
        self.sums = torch.zeros(len(LOSS_NAMES), device=device)
        self.counts = torch.zeros(len(LOSS_NAMES), device=device)
        self.pending = 0  # steps added to ``sums`` since the last read-back (known on the host)
        present = {kind: [self._reported(name, kind) for name in LOSS_NAMES] for kind in (False, True)}
        self._present = {kind: torch.tensor(flags, dtype=torch.float32, device=device)
                         for kind, flags in present.items()}
        self._zero = torch.zeros((), device=device)
        side = t.model.config.latent_size
        self.scale = o.resolution // side
        self.window = min(side, max(1, o.pixel_loss_crop // self.scale))
        self._latent_range = torch.arange(self.window, device=device)
        self._pixel_range = torch.arange(self.window * self.scale, device=device)
        self._run = CapturedStep(self.step, t.optimizer, self.generator) if o.step_mode == "graph" else None

    def _reported(self, name: str, pixel_step: bool) -> bool:
        t = self.trainer
        if name == "response":
            return t.response is not None
        if name == "pixel":
            return pixel_step
        if name in ("codebook_usage", "perplexity"):
            return t.model.quantizer is not None
        return True

    # --- on the host, between steps ------------------------------------------------------------------------
    def before_step(self, step: int) -> None:
        """The augmented pool's generation for ``step`` into the device buffers (at refresh points only), and the
        codebook's first draw before the first step."""
        t, o = self.trainer, self.trainer.options
        if o.augment and o.augment_share > 0:
            for role in ("src", "dst"):
                if role not in self.pool_buffers or step % o.augment_refresh == 0:
                    generation = t._pool(role, getattr(t, role)).for_step(step)
                    self._fill_pool(role, generation)
        quantizer = t.model.quantizer
        if quantizer is not None and not quantizer.is_initialised():  # a host read, once per run
            inputs = self.batch("src", faces=False).inputs
            assert inputs is not None
            with torch.no_grad(), self._autocast():
                quantizer.initialise(t.model.encoder(inputs))

    def _fill_pool(self, role: str, generation: FaceLatents) -> None:
        buffers = self.pool_buffers.get(role)
        if buffers is None:  # a copy, also on the CPU: the buffers are refilled in place, the generation is the pool's
            self.pool_buffers[role] = FaceLatents(**{name: tensor.to(self.trainer.device, copy=True)
                                                     for name, tensor in vars(generation).items()})
            return
        for name, tensor in vars(generation).items():
            getattr(buffers, name).copy_(tensor, non_blocking=True)

    def run(self, pixel_step: bool) -> None:
        """One training step of the kind ``pixel_step``: captured and replayed (graph mode) or run eagerly."""
        if self._run is not None:
            self._run(pixel_step)
        else:
            self.trainer.optimizer.zero_grad(set_to_none=True)
            self.step(pixel_step)
        self.pending += 1

    def read_losses(self) -> dict[str, float]:
        """The mean of each loss part over the steps since the last read-back (NaN: none of them had it), read
        from the device at once; the buffer starts again. Empty when no step is pending."""
        if not self.pending:
            return {}
        means = torch.where(self.counts > 0, self.sums / self.counts.clamp_min(1), torch.nan)
        values = means.tolist()
        self.sums.zero_()
        self.counts.zero_()
        self.pending = 0
        return dict(zip(LOSS_NAMES, values, strict=True))

    def state(self) -> dict[str, torch.Tensor]:
        """The device generator's state, for the checkpoint."""
        return {DEVICE_RNG: self.generator.get_state()}

    # --- on the device: the step itself -----------------------------------------------------------------------
    def step(self, pixel_step: bool) -> None:
        """Forward, losses, backward, optimizer, weight average and loss sums; no host read, no host branch on
        data. The caller zeroes the gradients (a captured graph writes them afresh)."""
        t, o = self.trainer, self.trainer.options
        parts: dict[str, torch.Tensor] = {}
        loss = self._zero
        codes: dict[str, torch.Tensor] = {}
        for identity in ("src", "dst"):
            batch = self.batch(identity, faces=pixel_step)
            with self._autocast():
                out = t.model.reconstruct(batch.inputs, identity)
            if out.decoder_input is not None:
                codes[identity] = out.decoder_input
            own = reconstruction_losses(out, batch, o.eyes_mouth_priority)
            top, left = torch.randint(t.model.config.latent_size - self.window + 1, (2,), generator=self.generator,
                                      device=t.device)
            if t.response is not None:
                own["response"] = o.response_weight * self._response_loss(out.latent, batch, top, left)
            if pixel_step:
                own["pixel"] = o.pixel_weight * self._pixel_loss(out.latent, batch, top, left)
            loss = loss + sum(own.values())
            for name, value in own.items():
                parts[name] = parts.get(name, self._zero) + value.detach().float()
            if out.vq_stats is not None:  # codebook health: averaged over both identities' batches
                for name, value in (("codebook_usage", out.vq_stats.usage), ("perplexity", out.vq_stats.perplexity)):
                    parts[name] = parts.get(name, self._zero) + value.detach().float() / 2
        if t.true_face:
            loss = loss + t.true_face.loss(codes["src"], codes["dst"])
        loss.backward()
        t.optimizer.step()
        self.step_number.add_(1)
        if t.average:
            t.average.update_on_device(self.step_number)
        parts["loss"] = loss.detach()
        self.sums.add_(torch.stack([parts.get(name, self._zero) for name in LOSS_NAMES]))
        self.counts.add_(self._present[pixel_step])

    def batch(self, role: str, faces: bool) -> Batch:
        """``batch`` faces of one identity, as ``Trainer._batch`` draws them, with fixed shapes: every row is
        drawn from the faceset and from the pool, and ``torch.where`` keeps one; every row is flipped, and
        ``torch.where`` keeps the flip or not."""
        from latentswap_core.train.trainer import Batch

        o, device, generator = self.trainer.options, self.trainer.device, self.generator
        data = self.faces[role]
        picks = torch.randint(len(data), (o.batch,), generator=generator, device=device)
        names = Batch.FIELDS + (("faces",) if faces else ())
        tensors = {name: getattr(data, name).index_select(0, picks) for name in names}
        if o.augment and o.augment_share > 0:
            pool = self.pool_buffers[role]
            pool_picks = torch.randint(len(pool), (o.batch,), generator=generator, device=device)
            from_pool = (torch.rand(o.batch, generator=generator, device=device) < o.augment_share).view(-1, 1, 1, 1)
            tensors = {name: torch.where(from_pool, getattr(pool, name).index_select(0, pool_picks), t)
                       for name, t in tensors.items()}
        if o.flip:
            flipped = (torch.rand(o.batch, generator=generator, device=device) < 0.5).view(-1, 1, 1, 1)
            tensors = {name: torch.where(flipped, t.flip(-1), t) for name, t in tensors.items()}
        batch = Batch(**tensors)
        warp = self.trainer.augment_settings.warp if o.augment else 0.0
        batch.inputs = random_latent_warp(batch.latents, generator, warp)
        return batch

    def _autocast(self):
        # no weight-cast cache: a captured graph must cast the weights it is replayed with, not those of its capture
        return training_autocast(self.trainer.device, self.trainer.options.cpu_bf16, cache_enabled=False)

    def _window(self, t: torch.Tensor, top: torch.Tensor, left: torch.Tensor, scale: int) -> torch.Tensor:
        """The loss window of ``t`` (latent-sized for ``scale`` 1, pixel-sized for the codec's scale), as float."""
        steps = self._latent_range if scale == 1 else self._pixel_range
        rows, columns = top * scale + steps, left * scale + steps
        return t.index_select(-2, rows).index_select(-1, columns).float()

    def _response_loss(self, predicted: torch.Tensor, batch: Batch, top: torch.Tensor,
                       left: torch.Tensor) -> torch.Tensor:
        """``Trainer._response_loss`` at the window ``top, left``."""
        t = self.trainer
        assert t.response is not None
        error = self._window(predicted, top, left, 1) - self._window(batch.latents, top, left, 1)
        masks, priority, keep = (self._window(m, top, left, self.scale) / 255
                                 for m in (batch.masks, batch.priority, batch.keep))
        with self._autocast():
            effect = t.response(error)
        return masked_response_loss(effect, masks * keep, priority * keep, t.options.eyes_mouth_priority)

    def _pixel_loss(self, predicted: torch.Tensor, batch: Batch, top: torch.Tensor,
                    left: torch.Tensor) -> torch.Tensor:
        """``Trainer._pixel_loss`` at the window ``top, left``."""
        t, o = self.trainer, self.trainer.options
        n = min(o.pixel_loss_samples, o.batch)
        with self._autocast():
            decoded = decode_window_at(t.codec, predicted[:n], top, left, self.window)
        assert batch.faces is not None, "a pixel-loss step's batch carries its faces"
        keep = self._window(batch.keep[:n], top, left, self.scale) / 255
        faces, masks, priority = (self._window(m[:n], top, left, self.scale) / 255
                                  for m in (batch.faces, batch.masks, batch.priority))
        return masked_pixel_loss(decoded, faces, masks * keep, o.resolution, priority * keep, o.eyes_mouth_priority)


def decode_window_at(codec: Any, latent: torch.Tensor, top: torch.Tensor, left: torch.Tensor,
                     window: int) -> torch.Tensor:
    """``decode_window`` (``trainer.py``) for a ``window`` x ``window`` square at 0-dim index tensors ``top, left``:
    the region decoded around it has one size (the window plus ``codec.window_margin`` on the codec's grid) and an
    offset computed on the device, so the shapes do not depend on where the window is."""
    side = latent.shape[-1]
    margin = side if codec.window_margin is None else codec.window_margin
    grid, scale = codec.window_grid, codec.downscale
    size = min(side, (-(-(window + 2 * margin) // grid) + 1) * grid)
    region = torch.arange(size, device=latent.device)
    pixels = torch.arange(window * scale, device=latent.device)

    def start(offset: torch.Tensor) -> torch.Tensor:
        return (torch.div(offset - margin, grid, rounding_mode="floor") * grid).clamp(0, side - size)

    row_start, column_start = start(top), start(left)
    region_latent = latent.index_select(-2, row_start + region).index_select(-1, column_start + region)
    decoded = codec.decode(region_latent, clamp=False)
    return decoded.index_select(-2, (top - row_start) * scale + pixels).index_select(
        -1, (left - column_start) * scale + pixels)
