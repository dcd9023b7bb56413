"""A linear stand-in for the frozen decoder's response to small latent errors, fitted on the shot's own latents.

Latent MSE treats every latent direction alike, but the decoder does not: some small latent errors come out as
visible grain and streaks. The pixel loss sees them, at the price of a decoder forward and backward pass (at
256 px, ten times a latent-only step). ``DecoderResponse`` predicts the pixel change ``decode(z + e) - decode(z)``
from ``e`` with one k x k convolution and a pixel shuffle; fitted by least squares on white-noise probes of real
latents (system identification: white input recovers the average Jacobian's kernel), it lets every step weigh
latent errors by what they do to the pixels, at the cost of one small convolution.
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

PROBES = 24  # white-noise probes of as many faces (fewer faces: faces repeat)
PROBE_SIDE = 32  # latent pixels of the probed window (a whole 256 px face with an R/8 codec)
PROBE_LEVEL = 0.25  # noise std as a fraction of each latent channel's std
RIDGE = 1e-3  # relative to the mean diagonal of the normal matrix
# windows decoded in one call: on 2 CPU cores a batch costs a third of as many single decodes (small latents leave
# the cores idle between layers); 16 256 px decodes fit in ~1 GB
DECODE_BATCH = 16
# what a checkpoint keeps of a fit: its weights, and (in the run record) the digest of what it was fitted to
WEIGHT_TENSOR = "decoder_response.weight"
# part of that digest: raise it with any change to how ``fit_decoder_response`` fits, so no resume reads an old fit
FIT_VERSION = 1


class DecoderResponse(nn.Module):
    """Latent error ``B x C x h x w`` -> its predicted pixel error ``B x 3 x h*d x w*d`` (a frozen linear map)."""

    def __init__(self, channels: int, downscale: int, kernel: int = 3) -> None:
        super().__init__()
        self.downscale = downscale
        self.conv = nn.Conv2d(channels, 3 * downscale * downscale, kernel, padding=kernel // 2, bias=False)
        self.requires_grad_(False)

    def forward(self, latent_error: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(latent_error.to(self.conv.weight.dtype)), self.downscale)


@torch.no_grad()
def fit_decoder_response(codec, latents: torch.Tensor, seed: int = 0, kernel: int = 3) -> tuple[DecoderResponse, float]:
    """Fit a DecoderResponse to ``codec``'s decoder around ``latents`` (``N x C x S x S``, any device); returns it
    (on the CPU, float32) and the fraction of the probes' pixel-change variance it explains on held-out probes."""
    generator = torch.Generator().manual_seed(seed)
    channels, side = latents.shape[1], latents.shape[-1]
    window = min(side, PROBE_SIDE)
    scale = latents.float().std(dim=(0, 2, 3)).clamp_min(1e-6)[None, :, None, None]
    response = DecoderResponse(channels, codec.downscale, kernel)
    inputs = channels * kernel * kernel
    normal = torch.zeros(inputs, inputs, dtype=torch.float64)
    cross = torch.zeros(inputs, response.conv.out_channels, dtype=torch.float64)
    windows: dict[tuple[int, int, int], tuple[int, torch.Tensor]] = {}  # (face, top, left) -> (place, latents)
    probes = []
    for _ in range(PROBES):
        index = int(torch.randint(len(latents), (1,), generator=generator))
        top, left = torch.randint(side - window + 1, (2,), generator=generator).tolist()
        z = latents[index:index + 1, :, top:top + window, left:left + window].float().cpu()
        place, z = windows.setdefault((index, top, left), (len(windows), z))
        probes.append((place, z, torch.randn(z.shape, generator=generator) * scale * PROBE_LEVEL))
    # each window's unperturbed decode once: a small faceset's probes repeat its faces
    clean = _decoded(codec, torch.cat([z for _, z in windows.values()]))
    perturbed = _decoded(codec, torch.cat([z + error for _, z, error in probes]))
    held_out: list[tuple[torch.Tensor, torch.Tensor]] = []
    for probe, ((place, _, e), decoded) in enumerate(zip(probes, perturbed.split(1), strict=True)):
        change = decoded - clean[place:place + 1]
        if probe % 4 == 3:
            held_out.append((e, change))
            continue
        rows = F.unfold(e, kernel, padding=kernel // 2)[0].T.double()  # (h*w) x (C*k*k)
        targets = F.pixel_unshuffle(change, codec.downscale)[0].flatten(1).T.double()  # (h*w) x (3*d*d)
        normal += rows.T @ rows
        cross += rows.T @ targets
    normal += torch.eye(inputs, dtype=torch.float64) * RIDGE * normal.diagonal().mean()
    solution = torch.linalg.solve(normal, cross)  # (C*k*k) x (3*d*d)
    response.conv.weight.copy_(solution.T.reshape(response.conv.weight.shape).float())
    residual = sum(float(((response(e) - c) ** 2).sum()) for e, c in held_out)
    total = sum(float(((c - c.mean()) ** 2).sum()) for _, c in held_out)
    return response, 1.0 - residual / total


def _decoded(codec, latents: torch.Tensor) -> torch.Tensor:
    """``latents`` decoded (not clamped) on the CPU as float32, ``DECODE_BATCH`` at a time."""
    return torch.cat([codec.decode(part, clamp=False).float().cpu() for part in latents.split(DECODE_BATCH)])


def fit_digest(codec, latents: torch.Tensor, seed: int, kernel: int = 3) -> str:
    """What ``fit_decoder_response`` answers from, as a digest: the fit's version, the codec's weights, the latents'
    values, the seed, the kernel and the probing constants. A resumed run whose digest is the one saved reuses the
    saved fit: the same fit, without its decodes (seconds of every start on a CPU)."""
    digest = hashlib.sha256(json.dumps([FIT_VERSION, sorted(codec.weights_sha256.items()), list(latents.shape), seed,
                                        kernel, PROBES, PROBE_SIDE, PROBE_LEVEL, RIDGE]).encode())
    digest.update(latents.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def saved_fit(codec, weight: torch.Tensor, kernel: int = 3) -> DecoderResponse:
    """The ``DecoderResponse`` whose weights a checkpoint saved (``WEIGHT_TENSOR``)."""
    response = DecoderResponse(weight.shape[1], codec.downscale, kernel)
    response.conv.weight.copy_(weight)
    return response
