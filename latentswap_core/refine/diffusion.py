"""The diffusion arithmetic: the training schedule (diffusers' DDPM), what the UNet predicts, the clean latent
implied by a prediction, and img2img sampling from a swap latent with a fast deterministic sampler."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from latentswap_core.errors import ModelError
from latentswap_core.refine.config import SAMPLERS, RefinerConfig
from latentswap_core.refine.network import RefinerUNet


def training_schedule(config: RefinerConfig) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=config.train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type=config.prediction_type, clip_sample=False)


def inference_schedule(config: RefinerConfig, sampler: str):
    """A fresh sampler (multistep samplers keep state between steps): DDIM with eta 0, or DPM-Solver++."""
    common = {"num_train_timesteps": config.train_timesteps, "beta_schedule": config.beta_schedule,
              "prediction_type": config.prediction_type, "timestep_spacing": "trailing"}
    if sampler == "ddim":
        return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False)
    if sampler == "dpm-solver":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++")
    raise ModelError(f"--refine-sampler {sampler!r} is unknown: use one of {', '.join(SAMPLERS)}")


def training_target(schedule: DDPMScheduler, clean: torch.Tensor, noise: torch.Tensor,
                    timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet should predict for ``add_noise(clean, noise, timesteps)``."""
    if schedule.config.prediction_type == "v_prediction":
        return schedule.get_velocity(clean, noise, timesteps)
    return noise


def predicted_clean(schedule: DDPMScheduler, prediction: torch.Tensor, noisy: torch.Tensor,
                    timesteps: torch.Tensor) -> torch.Tensor:
    """The clean latent a prediction implies (the x0 estimate the reconstruction and identity losses judge)."""
    alphas = schedule.alphas_cumprod.to(noisy.device)[timesteps].float().view(-1, 1, 1, 1)
    signal, noise_level = alphas.sqrt(), (1.0 - alphas).sqrt()
    if schedule.config.prediction_type == "v_prediction":
        return signal * noisy - noise_level * prediction
    return (noisy - noise_level * prediction) / signal


@torch.no_grad()
def refine_latents(net: RefinerUNet, config: RefinerConfig, start: torch.Tensor, identity: torch.Tensor,
                   noise: torch.Tensor, strength: float, steps: int, sampler: str = "ddim",
                   guidance: float = 1.0) -> torch.Tensor:
    """img2img in latent space: ``start`` (normalised swap latents) noised to ``strength`` of the schedule with
    ``noise``, then denoised in ``round(steps * strength)`` sampler steps, conditioned on ``identity``. The
    result depends only on the inputs (the samplers are deterministic), so a fixed noise gives a fixed result."""
    schedule = inference_schedule(config, sampler)
    schedule.set_timesteps(steps, device=start.device)
    run = min(steps, round(steps * strength))
    if run == 0:
        return start
    first = steps - run
    timesteps = schedule.timesteps[first * schedule.order:]
    if hasattr(schedule, "set_begin_index"):
        schedule.set_begin_index(first * schedule.order)
    batch = start.shape[0]
    latents = schedule.add_noise(start, noise, timesteps[:1].repeat(batch))
    unconditional = torch.zeros_like(identity)
    for t in timesteps:
        t_batch = t.repeat(batch)
        prediction = net(latents, t_batch, identity)
        if guidance != 1.0:
            free = net(latents, t_batch, unconditional)
            prediction = free + guidance * (prediction - free)
        latents = schedule.step(prediction, t, latents).prev_sample
    return latents
