"""``latentswap swap`` with the model's swapped face replaced by a reference, for ``real_quality.py --references``:
how much of the face SSIM the rest of the pipeline and the codec cost, apart from what the model renders.

  plate   the aligned plate face itself: the pipeline alone (the warp to the aligned crop and back, colour transfer,
          the blend)
  codec   the plate face encoded and decoded by the codec: the codec's round trip at the model's face size
  dst     the model's other decoder (the plate's own person, ``dst``) on the plate face's latent: the model
          reconstructing faces it trained on, where the swap renders them with the src decoder

Each mode keeps everything else of the swap: the model's mask, the options, the output. Used only by benchmarks.

Run:  .venv/bin/python benchmarks/reference_swap.py {plate,codec,dst} <latentswap swap arguments>
"""

from __future__ import annotations

import sys

import torch

from latentswap_core.cli import run
from latentswap_core.swap import swapper

MODES = ("plate", "codec", "dst")
_SWAP = swapper.SwapNetwork.forward  # the swap itself: its mask is the one every reference keeps


def reference_forward(mode: str):  # noqa: ANN201  (a forward for swapper.SwapNetwork)
    def forward(self: swapper.SwapNetwork, rgb: torch.Tensor) -> torch.Tensor:
        swapped = _SWAP(self, rgb)
        if mode == "plate":
            face = rgb
        else:
            latent = self._encode(rgb)
            if mode == "dst":
                other = next(name for name in self.model.config.identities if name != self.to_identity)
                latent = self.model.swap(latent, other).latent
            face = self._decode(latent).clamp(0.0, 1.0)
        return torch.cat([face, swapped[:, 3:]], dim=1)

    return forward


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: reference_swap.py {{{','.join(MODES)}}} <latentswap swap arguments>")
    swapper.SwapNetwork.forward = reference_forward(sys.argv.pop(1))  # type: ignore[method-assign]
    sys.argv[0] = "latentswap"
    run()
