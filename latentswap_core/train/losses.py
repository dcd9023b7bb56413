"""Training losses: masked latent MSE, mask loss, and pixel DSSIM + L1 through the frozen codec decoder."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def masked_latent_mse(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                      priority: torch.Tensor | None = None, priority_weight: float = 0.0,
                      unmasked_weight: float = 0.1, keep: torch.Tensor | None = None) -> torch.Tensor:
    """MSE weighted by the face mask (``B x 1 x S x S``) plus ``unmasked_weight`` everywhere (for the background)
    plus ``priority_weight`` times the eyes/mouth mask ``priority``, all times ``keep`` (0 where a holdout matte
    covers the face: nothing there is learnt)."""
    weight = mask + unmasked_weight
    if priority is not None and priority_weight:
        weight = weight + priority_weight * priority
    if keep is not None:
        weight = weight * keep
    return ((predicted - target) ** 2 * weight).sum() / (weight.sum().clamp_min(1e-6) * predicted.shape[1])


def mask_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(predicted.float(), target.float())


def reconstruction_losses(out: Any, batch: Any, priority_weight: float) -> dict[str, torch.Tensor]:
    """The parts every training step has, for a swap model's output ``out`` (``SwapOutput``) on ``batch`` (the
    trainer's ``Batch``): masked latent MSE, the mask loss and the VQ commitment."""
    return {
        "latent": masked_latent_mse(out.latent.float(), batch.latents, batch.latent_masks, batch.latent_priority,
                                    priority_weight, keep=batch.latent_keep),
        # the face minus what is held out: a model mask (swap --mask model) that leaves occluders be
        "mask": mask_loss(out.mask, batch.latent_masks * batch.latent_keep),
        "commitment": out.commitment_loss.float(),
    }


def gaussian_line(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    line = torch.exp(-(coords**2) / (2 * sigma**2))
    return (line / line.sum()).to(dtype)


def ssim(a: torch.Tensor, b: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of ``B x C x H x W`` images in [0, 1] with a Gaussian window (valid convolution).

    The five local moments are blurred in one separable pass (a row then a column kernel): at DeepFaceLab's
    23 px window this is ~10x cheaper than a 2-D kernel, forward and backward.
    """
    channels = a.shape[1]
    line = gaussian_line(window_size, sigma, a.device, a.dtype)
    moments = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    groups = moments.shape[1]
    blurred = F.conv2d(moments, line.view(1, 1, 1, -1).expand(groups, 1, 1, window_size), groups=groups)
    blurred = F.conv2d(blurred, line.view(1, 1, -1, 1).expand(groups, 1, window_size, 1), groups=groups)
    mu_a, mu_b, aa, bb, ab = blurred.split(channels, dim=1)
    c1, c2 = 0.01**2, 0.03**2
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    covariance = ab - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + c1) * (2 * covariance + c2)
    denominator = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (numerator / denominator).mean()


def dssim(a: torch.Tensor, b: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2: 0 for identical images."""
    return (1.0 - ssim(a, b, window_size, sigma=window_size / 7.0)) / 2.0


def dssim_windows(face_size: int) -> tuple[int, ...]:
    """DeepFaceLab's filter sizes, odd and at least 3: face_size / 11.6, and from 256 px also face_size / 23.2."""
    divisors = (11.6, 23.2) if face_size >= 256 else (11.6,)
    return tuple(size if size % 2 else size + 1 for size in (max(3, int(face_size / d)) for d in divisors))


def masked_pixel_loss(decoded: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, face_size: int,
                      priority: torch.Tensor | None = None, priority_weight: float = 0.0) -> torch.Tensor:
    """DSSIM (DeepFaceLab's windows for ``face_size``, averaged) + L1 of the decoded face against the crop, both
    multiplied by the face mask (``B x 1 x H x W``), plus ``priority_weight`` x L1 inside the eyes/mouth mask.

    ``decoded`` may be a window of the face: the DSSIM windows follow the whole face's size, not the window's.
    """
    decoded, target = decoded.float() * mask, target.float() * mask
    windows = [w for w in dssim_windows(face_size) if w <= min(decoded.shape[-2:])] or [3]
    loss = sum(dssim(decoded, target, w) for w in windows) / len(windows) + F.l1_loss(decoded, target)
    if priority is not None and priority_weight:
        loss = loss + priority_weight * (priority * (decoded - target).abs()).mean()
    return loss


def masked_response_loss(pixel_error: torch.Tensor, mask: torch.Tensor, priority: torch.Tensor | None = None,
                         priority_weight: float = 0.0) -> torch.Tensor:
    """L1 of a predicted pixel error (``DecoderResponse`` of the latent error) inside the face mask, plus
    ``priority_weight`` x L1 inside the eyes/mouth mask: the pixel loss's L1 term without decoding."""
    magnitude = pixel_error.float().abs()
    loss = (magnitude * mask).mean()
    if priority is not None and priority_weight:
        loss = loss + priority_weight * (magnitude * priority).mean()
    return loss
