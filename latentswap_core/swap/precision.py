"""The number format the swap network (codec and model) computes in: ``fp32``, or ``bf16`` autocast for drafts.

Weights stay float32 and the faces come out as float32 either way. Measured on a 2-core AMD EPYC with AVX512-BF16
(docs/swap.md, "Precision"): a 256 px face's TAEF2 round trip takes 0.40-0.45 s in bf16 against 0.88-0.92 s in
fp32 (two round trips, batch 1), and the real clip's self model renders faces that differ from fp32 by 0.74 of an
8-bit level on average (99th percentile 4.7, largest 17). So fp32 is the default, for finals; bf16 is for drafts,
and only where it is faster: a CUDA GPU, or a CPU that computes bf16 natively (elsewhere it is emulated).

Without torch: the command line reads these before any engine module loads.
"""

from __future__ import annotations

from latentswap_core.errors import ModelError

PRECISIONS = ("fp32", "bf16")
DEFAULT_PRECISION = "fp32"


def check_precision(precision: str, backend: str, device: str) -> None:
    """A one-line ``ModelError`` unless ``precision`` can run, and run faster than fp32, with ``backend`` on
    ``device`` (auto, cpu, cuda or cuda:N)."""
    if precision not in PRECISIONS:
        raise ModelError(f"--precision {precision} is unknown: use one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return
    if backend != "torch":
        raise ModelError(f"--precision {precision} needs --backend torch: the ONNX export runs in fp32 (on a GPU, "
                         "onnxruntime's TensorRT provider runs it in fp16)")
    from latentswap_core import devices  # torch: only once a precision other than fp32 is asked for

    device = devices.resolve_device(device)
    if device == "cpu" and not devices.cpu_has_bf16():
        raise ModelError(f"--precision {precision}: this CPU computes no bf16 natively (AVX512-BF16 or AMX), so it "
                         "would be slower than fp32; use --precision fp32 or a GPU (--device cuda)")
    if device.startswith("cuda") and not devices.cuda_has_bf16(device):
        raise ModelError(f"--precision {precision}: this GPU ({device}) computes bf16 only by emulation, slower than "
                         "fp32 (native bf16 needs an Ampere or later GPU); use --precision fp32")
