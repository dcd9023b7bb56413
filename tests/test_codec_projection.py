"""The swap's codec projection: a swapped latent decoded and encoded again before the last decode loses the codec's
block grid (the TAEF2 decoder prints its 8 px blocks for latents its encoder would not make)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from latentswap_core.codecs import load_codec
from latentswap_core.evaluate.metrics import grid_energy
from latentswap_core.faceset import load_faceset
from latentswap_core.swap.swapper import SwapNetwork


def test_a_round_trip_through_the_codec_removes_the_grid_of_an_off_manifold_latent(shared_models: Path,
                                                                                   tiny_facesets) -> None:
    codec = load_codec("taef2")
    faceset = load_faceset(tiny_facesets[1])
    face, mask = faceset.face(0), faceset.mask(0)
    rgb = torch.from_numpy(face).permute(2, 0, 1)[None]
    with torch.no_grad():
        latent = codec.encode(rgb)
        # a regressor trained with MSE is unsure of fine placement and smooths its latents: a latent blurred over
        # 3 x 3 latent pixels decodes with the grid (3.4x the faces' own on the singer's faces; white latent noise
        # gives none)
        off = torch.nn.functional.avg_pool2d(latent, 3, stride=1, padding=1, count_include_pad=False)
        decoded = codec.decode(off).clamp(0, 1)
        projected = codec.decode(codec.encode(decoded)).clamp(0, 1)

    def grid(image: torch.Tensor) -> float:
        return grid_energy(image[0].permute(1, 2, 0).numpy(), 8, mask) / grid_energy(face, 8, mask)

    assert grid(decoded) > 1.5 and grid(projected) < grid(decoded) - 0.3


def test_the_swap_network_projects_as_many_times_as_asked(shared_models: Path, tiny_model: Path) -> None:
    from latentswap_core.swap import Swapper

    swapper = Swapper(tiny_model, "cpu", projections=0)
    network = swapper.network
    rgb = torch.rand(1, 3, swapper.face_size, swapper.face_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        latent = network.model.swap(network._encode(rgb), network.to_identity).latent
        once = network._decode(network._encode(network._decode(latent).clamp(0, 1))).clamp(0, 1)
        plain = network(rgb)[:, :3]
        projected = SwapNetwork(swapper.codec, network.model, network.to_identity, 1)(rgb)[:, :3]
    assert torch.allclose(projected, once, atol=1e-5)
    assert not torch.allclose(plain, projected, atol=1e-3)
    with pytest.raises(Exception, match="--codec-projection 9 is not allowed: use 0 to 4"):
        from latentswap_core.swap.backends import open_swapper

        open_swapper(tiny_model, "torch", "cpu", None, 9)
