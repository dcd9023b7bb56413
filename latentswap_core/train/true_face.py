"""DeepFaceLab's true-face power (``--true-face-power``): a discriminator on the code the decoders read.

In the DF layout each identity's decoder reads the shared inter's output for its own faces only, so at swap time
the src decoder meets codes of dst faces, of poses and expressions it never saw, and renders the nearest src face it
knows: on the real clip's self-reconstruction the model renders faces it trained on at 0.91 face SSIM, the swap at
0.53 (docs/training.md, "Where the SSIM is lost"). A small discriminator learns to tell the src faces' codes from
the dst faces'; the swap model is trained, with weight ``power``, to make the src codes pass for dst codes, so the
src decoder trains on codes spread like the ones it will swap. DeepFaceLab's SAEHD (``true_face_power``, DF only)
does the same with the same losses (its help says "typical 0.01"; our latent losses are on another scale, and
only 0.1 has been measured here: docs/training.md).

Both losses are in one scalar, for one backward and one optimizer step over the swap model and the discriminator:
the discriminator's loss sees the codes detached (it trains the discriminator only), the model's term runs the
discriminator on detached weights (it trains the model only). So the eager and the static (CUDA-graph) steps add the
same one term, and the optimizer state, the gradient averaging of several processes and ``--resume`` cover the
discriminator as they cover the model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from latentswap_core.errors import ModelError

WIDTH = 256  # DeepFaceLab's CodeDiscriminator: 256 channels, doubled at each further downscale (at most 8x)
TENSOR_PREFIX = "true_face."  # the discriminator's weights in trainer_state.safetensors
TRUE_FACE_KEY = "true face power"  # in a run's fingerprint only when on


class CodeDiscriminator(nn.Module):
    """Code ``B x C x s x s`` -> logits ``B x 1 x s' x s'`` (src: low, dst: high), DeepFaceLab's: ``1 + s // 8``
    stride-2 convs (the first 4x4, then 3x3) with leaky ReLUs, and a 1x1 conv."""

    def __init__(self, code_channels: int, code_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = code_channels
        for index in range(1 + code_size // 8):
            width = WIDTH * min(2**index, 8)
            layers += [nn.Conv2d(previous, width, 4 if index == 0 else 3, stride=2, padding=1),
                       nn.LeakyReLU(0.1)]
            previous = width
        layers.append(nn.Conv2d(previous, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


class TrueFace(nn.Module):
    """The discriminator and the loss term it gives the training step."""

    def __init__(self, code_channels: int, code_size: int, power: float) -> None:
        super().__init__()
        self.discriminator = CodeDiscriminator(code_channels, code_size)
        self.power = power

    def loss(self, src_code: torch.Tensor, dst_code: torch.Tensor) -> torch.Tensor:
        """``power`` x the model's loss (src codes taken for dst codes, through the discriminator's weights held
        still) + the discriminator's loss (dst codes: 1, src codes: 0, on the codes held still); in float32."""
        src_code, dst_code = src_code.float(), dst_code.float()
        held = {name: weight.detach() for name, weight in self.discriminator.named_parameters()}
        fooled = functional_call(self.discriminator, held, (src_code,))
        model_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        real, fake = self.discriminator(dst_code.detach()), self.discriminator(src_code.detach())
        discriminator_loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                                    + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return self.power * model_loss + discriminator_loss

    def tensors(self) -> dict[str, torch.Tensor]:
        """The discriminator's weights, for the trainer state."""
        return {TENSOR_PREFIX + name: value.detach().cpu().contiguous()
                for name, value in self.discriminator.state_dict().items()}

    def load(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        """The discriminator's weights from a trainer state, or a one-line ``ModelError`` naming ``where``."""
        state = {key[len(TENSOR_PREFIX):]: value for key, value in tensors.items() if key.startswith(TENSOR_PREFIX)}
        try:
            self.discriminator.load_state_dict(state, strict=True)
        except RuntimeError:
            raise ModelError(f"{where} holds no true-face discriminator for this model: resume it with the "
                             "--true-face-power it was trained with") from None
