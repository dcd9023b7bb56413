"""benchmarks/reference_swap.py, the references ``real_quality.py --references`` puts in place of the swapped face:
each mode renders what it names, and keeps the model's own mask."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reference_swap import MODES, reference_forward  # noqa: E402


@pytest.fixture(scope="module")
def network(shared_dir: Path, tiny_model: Path):
    from latentswap_core.swap import Swapper

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        return Swapper(tiny_model, "cpu").network


def test_each_reference_renders_what_it_names_with_the_models_mask(network) -> None:
    size = network.model.config.face_size
    rgb = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        latent = network._encode(rgb)
        expected = {"plate": rgb,
                    "codec": network._decode(latent).clamp(0, 1),
                    "dst": network._decode(network.model.swap(latent, "dst").latent).clamp(0, 1)}
        swap = network(rgb)
        rendered = {mode: reference_forward(mode)(network, rgb) for mode in MODES}
    assert network.to_identity == "src"
    for mode, out in rendered.items():
        assert out.shape == swap.shape
        assert torch.allclose(out[:, :3], expected[mode], atol=1e-6), mode
        assert torch.allclose(out[:, 3:], swap[:, 3:], atol=1e-6), mode  # the blend's mask is the swap's
        assert not torch.allclose(out[:, :3], swap[:, :3], atol=1e-3), mode  # not the swapped face
