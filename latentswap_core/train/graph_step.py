"""The static training step (``static_step.py``) captured in CUDA graphs and replayed: one graph per step kind (with
and without the decoded pixel loss), so a step costs one launch from Python instead of about a thousand.

Following torch's recipe for capturing a whole network's step (the CUDA semantics notes, "whole network capture"):
- warm-up: the first ``WARMUP_STEPS`` steps of each kind run eagerly on a side stream. They are real training steps
  (the optimizer's state, cuDNN's algorithm choice and the allocator settle in them), not rehearsals;
- capture: the gradients are set to None first, so the captured backward writes them afresh from the graph's pool
  instead of adding to them; capture records the step without running it, so the capturing call then replays it;
- replay: every later step of that kind. Every tensor the step reads or changes (weights, AdamW's state with
  ``capturable=True`` and a tensor lr, the VQ buffers, the weight average, the loss sums, the faces, the pool
  buffers the host refills between steps) lives outside the graph's memory and is changed in place.
The step draws from the trainer's device generator, registered with each graph so that a replay advances it as an
eager step would. Both graphs share one memory pool: they never run at the same time, and each replay writes
every tensor it made at capture (activations, gradients, loss parts) before reading it, so the other graph's
replays may reuse that memory in between.
Capture uses ``thread_local`` error mode: the augmented pool encodes faces on another thread meanwhile.
Untested until a GPU runs it: ``tests/test_static_step.py`` checks the step it captures on the CPU.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from latentswap_core.models import SwapModel

WARMUP_STEPS = 3  # eager steps of each kind before it is captured (torch's examples use 3 to 11)


class CapturedStep:
    """``step(kind)`` (a function that changes only tensors it holds) run through one CUDA graph per ``kind``."""

    def __init__(self, step: Callable[[bool], None], optimizer: torch.optim.Optimizer,
                 generator: torch.Generator) -> None:
        self._step, self._optimizer, self._generator = step, optimizer, generator
        self._graphs: dict[bool, torch.cuda.CUDAGraph] = {}
        self._eager_runs: dict[bool, int] = {}
        self._pool: Any = None  # the first graph's memory pool, shared by the second
        self._side_stream: torch.cuda.Stream | None = None

    def __call__(self, kind: bool) -> None:
        graph = self._graphs.get(kind)
        if graph is None and self._eager_runs.get(kind, 0) < WARMUP_STEPS:
            self._warm_up(kind)
            return
        if graph is None:
            graph = self._graphs[kind] = self._capture(kind)
        graph.replay()

    def _warm_up(self, kind: bool) -> None:
        if self._side_stream is None:
            self._side_stream = torch.cuda.Stream()
        self._side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._side_stream):
            self._optimizer.zero_grad(set_to_none=True)
            self._step(kind)
        torch.cuda.current_stream().wait_stream(self._side_stream)
        self._eager_runs[kind] = self._eager_runs.get(kind, 0) + 1

    def _capture(self, kind: bool) -> torch.cuda.CUDAGraph:
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self._generator)
        self._optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            self._step(kind)
        self._pool = graph.pool()
        return graph


def probe_step_bytes(model: SwapModel, codec, latents: torch.Tensor, autocast: Callable) -> int:
    """CUDA: the peak memory one training step of a copy of ``model`` takes above what was allocated before it, on
    ``latents`` (the probe batch) for both identities, each decoded whole for the pixel loss (``--batch auto``).
    The copy's weights and AdamW state count in, so the figure errs high."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    probe = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(probe.parameters(), fused=True)
    loss = torch.zeros((), device=latents.device)
    for identity in probe.config.identities:
        with autocast():
            out = probe.reconstruct(latents, identity)
            decoded = codec.decode(out.latent, clamp=False)
        loss = loss + (out.latent.float() - latents).pow(2).mean() + decoded.float().mean() + out.mask.float().mean()
    loss.backward()
    optimizer.step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    del probe, optimizer, loss, out, decoded
    torch.cuda.empty_cache()
    return peak
