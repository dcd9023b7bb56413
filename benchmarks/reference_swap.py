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
import torch.nn.functional as F

from latentswap_core.cli import run
from latentswap_core.swap import swapper

MODES = ("plate", "codec", "dst")


def reference_forward(mode: str):  # noqa: ANN201  (a forward for swapper.SwapNetwork)
    def forward(self: swapper.SwapNetwork, rgb: torch.Tensor) -> torch.Tensor:
        latent = self._encode(rgb)
        swapped = self.model.swap(latent, self.to_identity)
        if mode == "plate":
            face = rgb
        elif mode == "codec":
            face = self._decode(latent).clamp(0.0, 1.0)
        else:
            other = next(name for name in self.model.config.identities if name != self.to_identity)
            face = self._decode(self.model.swap(latent, other).latent).clamp(0.0, 1.0)
        mask = F.interpolate(swapped.mask, size=face.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([face, mask.clamp(0.0, 1.0)], dim=1)

    return forward


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: reference_swap.py {{{','.join(MODES)}}} <latentswap swap arguments>")
    swapper.SwapNetwork.forward = reference_forward(sys.argv.pop(1))  # type: ignore[method-assign]
    sys.argv[0] = "latentswap"
    run()
