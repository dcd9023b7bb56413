"""Vector-quantisation bottleneck (VQ-VAE): nearest code, straight-through gradient, EMA codebook, dead-code restart."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VQStats:
    """Codebook use in the last batch: fraction of codes used, perplexity (1 .. codebook size), codes restarted.

    0-dim tensors on the model's device, so that a training step need not wait for the GPU to log them: reading one
    as a number (``float(stats.usage)``) waits."""

    usage: torch.Tensor
    perplexity: torch.Tensor
    restarted: torch.Tensor


def perplexity_of_counts(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram, as a 0-dim tensor."""
    probabilities = counts.float() / counts.sum().clamp_min(1)
    return torch.exp(-(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum())


def perplexity(indices: torch.Tensor, codebook_size: int) -> float:
    """exp(entropy) of the code histogram: ``codebook_size`` for uniform use, 1 for a single code."""
    return float(perplexity_of_counts(torch.bincount(indices.flatten(), minlength=codebook_size)))


class VectorQuantizer(nn.Module):
    """Quantise ``B x D x H x W`` to the nearest of ``codebook_size`` codes of dimension ``D``.

    Training mode: the codebook follows exponential moving averages of the vectors assigned to each code
    (Laplace-smoothed counts), and codes unused for ``dead_code_updates`` updates are re-initialised from
    encoder outputs of the current batch (the first training batch also initialises the codebook from them).
    Eval mode changes nothing and is deterministic. The codebook,
    its EMA statistics and the codes' ages are buffers, so they are saved with the weights.
    """

    # the buffers registered in __init__ (nn.Module's attribute lookup types them as Tensor | Module)
    codebook: torch.Tensor  # codebook_size x code_dim
    ema_count: torch.Tensor  # codebook_size, float
    ema_sum: torch.Tensor  # codebook_size x code_dim
    unused_updates: torch.Tensor  # codebook_size, long: updates since each code was last picked
    initialised: torch.Tensor  # scalar bool

    def __init__(
        self,
        codebook_size: int,
        code_dim: int,
        commitment_weight: float = 0.25,
        decay: float = 0.99,
        dead_code_updates: int = 50,
        epsilon: float = 1e-5,
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.code_dim = code_dim
        self.commitment_weight = commitment_weight
        self.decay = decay
        self.dead_code_updates = dead_code_updates
        self.epsilon = epsilon
        codebook = torch.empty(codebook_size, code_dim)
        if not codebook.is_meta:  # random values, as torch.randn's; none for a shapes-only (meta) model, where
            codebook.normal_()  # drawing them would import torch's Python decompositions (0.3 s at each load)
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", codebook.clone())
        self.register_buffer("unused_updates", torch.zeros(codebook_size, dtype=torch.long))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self._initialised_seen = False  # the buffer read once as True: no need to read it (a GPU wait) each step
        zero = torch.zeros(())
        self.last_stats = VQStats(usage=zero, perplexity=zero, restarted=zero.long())

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of ``N x D``."""
        distances = (
            flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)[None, :]
        )
        return distances.argmin(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, VQStats]:
        """-> (quantised z with a straight-through gradient, commitment loss (weighted), stats of this batch)."""
        batch, dim, height, width = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, dim)
        # distances and EMA sums in float32 also under bf16 autocast: rounded, they picked other codes than the nearest
        with torch.no_grad(), torch.autocast(z.device.type, enabled=False):
            if self.training and not self._is_initialised():
                self._initialise(flat.detach().float())
            indices = self.nearest(flat.detach().float())
            # not bincount: on CUDA it reads the largest index back to size its output (a wait for the GPU)
            counts = torch.zeros(self.codebook_size, dtype=torch.long, device=indices.device).index_add_(
                0, indices, torch.ones_like(indices))
            restarted = self._update(flat.detach().float(), indices, counts) if self.training else counts.new_zeros(())
        quantised_flat = self.codebook[indices].to(z.dtype)
        quantised = quantised_flat.reshape(batch, height, width, dim).permute(0, 3, 1, 2)
        commitment = self.commitment_weight * F.mse_loss(z, quantised.detach())
        straight_through = z + (quantised - z).detach()
        stats = VQStats((counts > 0).float().mean(), perplexity_of_counts(counts), restarted)
        self.last_stats = stats
        return straight_through, commitment, stats

    def is_initialised(self) -> bool:
        """Whether the codebook has been drawn from encoder outputs (reads the buffer once it was False: a GPU
        wait, so a step that must not wait primes the codebook first with ``initialise``)."""
        return self._is_initialised()

    @torch.no_grad()
    def initialise(self, z: torch.Tensor) -> None:
        """Draw the codebook from the encoder outputs ``z`` (``B x D x H x W``) now, as the first training batch
        would: what a step captured in a CUDA graph needs done before it, since it cannot branch on the buffer."""
        self._initialise(z.permute(0, 2, 3, 1).reshape(-1, self.code_dim).float())
        self._initialised_seen = True

    def _is_initialised(self) -> bool:
        if not self._initialised_seen:
            self._initialised_seen = bool(self.initialised)
        return self._initialised_seen

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._initialised_seen = False  # the loaded buffer decides

    def _initialise(self, flat: torch.Tensor) -> None:
        """First training batch: codes drawn from the encoder outputs, so none starts far from the data."""
        picks = torch.randint(0, flat.shape[0], (self.codebook_size,), device=flat.device)
        fresh = flat[picks] + 1e-3 * torch.randn_like(flat[picks])
        self.codebook.copy_(fresh)
        self.ema_sum.copy_(fresh)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    def _update(self, flat: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """EMA step and dead-code restart, without reading anything back from the device; -> codes restarted."""
        # a matmul: deterministic, unlike index_add_; compared with arange, not F.one_hot, which reads the indices'
        # range back on the CPU
        codes = torch.arange(self.codebook_size, device=indices.device)
        one_hot = (indices[:, None] == codes).to(flat.dtype)
        self.ema_count.mul_(self.decay).add_(counts.to(flat.dtype), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(one_hot.t() @ flat, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        self.unused_updates.add_(1).masked_fill_(counts > 0, 0)
        dead = self.unused_updates >= self.dead_code_updates
        # a fresh candidate for every code, kept only where the code is dead: no branch on the device's data
        picks = torch.randint(0, flat.shape[0], (self.codebook_size,), device=flat.device)
        fresh = flat[picks] + 1e-3 * torch.randn_like(flat[picks])
        self.codebook.copy_(torch.where(dead[:, None], fresh, self.codebook))
        self.ema_sum.copy_(torch.where(dead[:, None], fresh, self.ema_sum))
        self.ema_count.masked_fill_(dead, 1.0)
        self.unused_updates.masked_fill_(dead, 0)
        return dead.sum()
