"""The static training step (``--step-mode static``, what ``graph`` captures on CUDA), checked on the CPU: it never
waits for the device, it trains, it resumes exactly, it reads losses back every N steps; and the device defaults
(step mode, batch, pixel-loss schedule) are what TrainOptions and the CLI pick."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import torch
from helpers import TINY_FACESET_SIZE

from latentswap_core import devices
from latentswap_core.errors import ModelError
from latentswap_core.train import Trainer, TrainOptions
from latentswap_core.train.device_defaults import (
    AUTO_BATCH,
    CPU_BATCH,
    DEVICE_DEFAULT,
    LOSS_EVERY,
    PIXEL_LOSS_SCHEDULES,
)
from latentswap_core.train.no_host_sync import HostSyncError, no_host_sync
from latentswap_core.train.static_step import LOSS_NAMES

SIZE = TINY_FACESET_SIZE


@pytest.fixture(scope="module")
def facesets(tiny_facesets) -> tuple[Path, Path]:
    return tiny_facesets


def options(facesets, output: Path, **overrides) -> TrainOptions:
    settings = dict(resolution=SIZE, steps=6, lr=5e-4, preview_every=0, pixel_loss_every=2, seed=3, device="cpu",
                    step_mode="static", loss_every=1)
    settings.update(overrides)
    return TrainOptions(facesets[0], facesets[1], output, **settings)


# --- no host sync ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_the_static_step_never_waits_for_the_device(facesets, shared_models, tmp_path: Path, augment) -> None:
    trainer = Trainer(options(facesets, tmp_path / "model", augment=augment, augment_pool=3, augment_refresh=2,
                              loss_every=50))
    static = trainer._static
    assert static is not None and trainer.model.quantizer is not None  # with VQ
    before = [p.detach().clone() for p in trainer.model.parameters()]
    for step, pixel_step in enumerate((True, False, True)):  # both kinds; a pool refresh at step 2
        static.before_step(step)  # on the host, between steps: pool buffers, the codebook's first draw
        with no_host_sync(static.generator):
            static.run(pixel_step)
    assert static.counts[LOSS_NAMES.index("pixel")] == 2 and static.counts[0] == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))
    trainer.step = 3
    with no_host_sync(static.generator):  # the Trainer's whole step between read-backs, a pool refresh at 4
        assert trainer._train_step() == {} and trainer._train_step() == {}
    losses = static.read_losses()
    assert all(math.isfinite(losses[name]) for name in LOSS_NAMES)
    trainer.close()


def test_the_guard_catches_what_the_eager_step_does(facesets, shared_models, tmp_path: Path) -> None:
    """The eager step draws on the host and reads its losses every step: the guard must refuse it (else the test
    above proves nothing), and each kind of wait on its own."""
    trainer = Trainer(options(facesets, tmp_path / "model", step_mode="eager"))
    trainer._train_step()  # the VQ's first draw reads a buffer: not what this test is about
    with pytest.raises(HostSyncError), no_host_sync(torch.Generator()):
        trainer._train_step()
    t, generator = torch.ones(4), torch.Generator()  # each wait looked up inside the guard, as a step would
    waits = [lambda: t[0].item(), lambda: t.tolist(), lambda: t.numpy(), lambda: t.cpu(), lambda: t.nonzero(),
             lambda: bool(t[0]), lambda: t[t > 0], lambda: torch.nonzero(t), lambda: float(t[0]),
             lambda: torch.bincount(t.long()), lambda: torch.randint(4, (2,), generator=torch.Generator())]
    for wait in waits:
        with pytest.raises(HostSyncError), no_host_sync(generator):
            wait()
    with no_host_sync(generator):
        torch.where(t > 0, torch.randint(4, (4,), generator=generator), t)  # on the device: allowed


# --- training, resume, read-back ------------------------------------------------------------------------------
def test_the_static_step_trains(facesets, shared_models, tmp_path: Path) -> None:
    history = Trainer(options(facesets, tmp_path / "model", steps=30, lr=1e-3, pixel_loss_every=4)).run().history
    assert [row["step"] for row in history] == list(range(1, 31))
    latent = [row["latent"] + row["mask"] for row in history]
    assert sum(latent[-5:]) / 5 < 0.9 * sum(latent[:5]) / 5
    assert [row["step"] for row in history if row["pixel"] != ""] == list(range(1, 31, 4))


def test_a_resumed_static_run_continues_exactly(facesets, shared_models, tmp_path: Path) -> None:
    settings = dict(steps=8, loss_every=2, augment=True, augment_pool=3, augment_refresh=3)
    straight = Trainer(options(facesets, tmp_path / "straight", **settings)).run().history
    first = Trainer(options(facesets, tmp_path / "split", **{**settings, "steps": 4})).run()
    assert first.step == 4
    resumed = Trainer(options(facesets, tmp_path / "split", resume=True, **settings)).run().history
    assert [row["step"] for row in straight] == [row["step"] for row in resumed] == [2, 4, 6, 8]
    for a, b in zip(straight, resumed, strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a, b)


def test_losses_are_read_back_every_n_steps_as_the_mean_since_the_last(facesets, shared_models,
                                                                       tmp_path: Path) -> None:
    quick = dict(steps=7, decoder_response=False)  # the response loss is not what this is about
    every_step = Trainer(options(facesets, tmp_path / "every", **quick)).run().history
    reports: list[tuple[int, dict]] = []
    trainer = Trainer(options(facesets, tmp_path / "third", loss_every=3, **quick))
    history = trainer.run(on_step=lambda report: reports.append((report.step, report.losses))).history
    assert [row["step"] for row in history] == [3, 6, 7]  # every 3rd, and the run's last step
    for row, steps in zip(history, ([1, 2, 3], [4, 5, 6], [7]), strict=True):
        rows = [every_step[step - 1] for step in steps]
        for name in ("loss", "latent", "perplexity"):
            assert row[name] == pytest.approx(sum(r[name] for r in rows) / len(rows), rel=1e-5), (name, steps)
        pixel = [r["pixel"] for r in rows if r["pixel"] != ""]  # the pixel loss: the mean over its own steps
        assert row["pixel"] == (pytest.approx(sum(pixel) / len(pixel), rel=1e-5) if pixel else "")
    # StepReport: the latest read-back (none before the first)
    assert [step for step, losses in reports if not losses] == [1, 2]
    assert reports[3][1] == reports[2][1] and reports[2][1]["loss"] == pytest.approx(history[0]["loss"], abs=1e-7)


def test_a_checkpoint_holds_the_losses_up_to_its_step(facesets, shared_models, tmp_path: Path) -> None:
    history = Trainer(options(facesets, tmp_path / "model", steps=5, loss_every=4, save_every=3,
                              decoder_response=False)).run().history
    assert [row["step"] for row in history] == [3, 4, 5]  # read back for the save at 3, then at 4, then the end


# --- modes and device defaults --------------------------------------------------------------------------------
def test_graph_mode_on_a_cpu_is_refused_in_one_line_and_auto_is_eager(facesets, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as refused:
        options(facesets, tmp_path / "model", step_mode="graph")
    assert "\n" not in str(refused.value) and "--step-mode static" in str(refused.value)
    auto = options(facesets, tmp_path / "model", step_mode="auto", loss_every=DEVICE_DEFAULT)
    assert (auto.step_mode, auto.loss_every) == ("eager", LOSS_EVERY["eager"])
    for static_only in (dict(accumulate=2), dict(step_mode="eager", loss_every=5)):
        with pytest.raises(ModelError) as refused:
            options(facesets, tmp_path / "model", **static_only)
        assert "\n" not in str(refused.value)


def test_the_device_defaults_are_what_train_options_pick(facesets, tmp_path: Path, monkeypatch) -> None:
    def defaults(**given) -> TrainOptions:
        return TrainOptions(facesets[0], facesets[1], tmp_path / "model", steps=1, **given)

    cpu = defaults(device="cpu")
    schedule = PIXEL_LOSS_SCHEDULES["cpu"]
    assert (cpu.batch, cpu.pixel_loss_every, cpu.pixel_loss_samples) == (CPU_BATCH, schedule.every, schedule.samples)
    assert (cpu.batch, schedule.every, schedule.samples, cpu.step_mode) == (4, 32, 1, "eager")  # as before
    assert defaults(device="cpu", batch=7, pixel_loss_every=0).pixel_loss_every == 0  # given: kept
    monkeypatch.setattr(devices, "resolve_device", lambda request: "cuda")  # as on a GPU machine
    cuda = defaults()
    schedule = PIXEL_LOSS_SCHEDULES["cuda"]
    assert (cuda.pixel_loss_every, cuda.pixel_loss_samples) == (schedule.every, schedule.samples)
    assert (cuda.batch, cuda.step_mode, cuda.loss_every) == (AUTO_BATCH, "graph", LOSS_EVERY["graph"])
    assert defaults(accumulate=2).step_mode == "eager"


def test_batch_auto_on_cuda_fills_the_free_memory_with_headroom_and_a_cap() -> None:
    from latentswap_core.train.device_defaults import (
        AUTO_BATCH_HEADROOM,
        AUTO_BATCH_PROBE,
        MAX_AUTO_BATCH,
        auto_batch,
    )

    per_face = 50 * 2**20
    free = 4 * 2**30
    expected = int(free * AUTO_BATCH_HEADROOM) // per_face
    assert 1 < expected < MAX_AUTO_BATCH
    assert auto_batch(AUTO_BATCH_PROBE * per_face, free) == expected
    assert auto_batch(AUTO_BATCH_PROBE * per_face, 1000 * free) == MAX_AUTO_BATCH
    assert auto_batch(AUTO_BATCH_PROBE * per_face, per_face // 2) == 1  # never 0: a batch of one still trains


def test_the_cli_takes_batch_auto_and_the_step_mode_with_the_engines_defaults() -> None:
    from latentswap_core.cli.train import add_commands
    from latentswap_core.train.device_defaults import DEFAULT_STEP_MODE, STEP_MODES

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    given = ["train", "--src", "a", "--dst", "b", "-o", "m", "--steps", "1"]
    args = parser.parse_args(given)
    assert (args.batch, args.step_mode, args.loss_every) == (AUTO_BATCH, DEFAULT_STEP_MODE, DEVICE_DEFAULT)
    assert (args.pixel_loss_every, args.pixel_loss_samples) == (DEVICE_DEFAULT, DEVICE_DEFAULT)
    assert parser.parse_args([*given, "--batch", "auto"]).batch == AUTO_BATCH
    assert parser.parse_args([*given, "--batch", "8"]).batch == 8
    for mode in STEP_MODES:
        assert parser.parse_args([*given, "--step-mode", mode]).step_mode == mode


# --- the parts ------------------------------------------------------------------------------------------------
def test_the_average_follows_a_device_step_counter_as_it_follows_the_host_step() -> None:
    from latentswap_core.train.weight_average import WeightAverage

    model = torch.nn.Linear(4, 3)
    on_host, on_device = WeightAverage(model, 0.99), WeightAverage(model, 0.99)
    counter = torch.zeros(())
    for step in range(1, 40):
        with torch.no_grad():
            model.weight.add_(torch.randn_like(model.weight))
        counter.add_(1)
        on_host.update(step)
        on_device.update_on_device(counter)
    for a, b in zip(on_host.model.parameters(), on_device.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("top, left", [(0, 0), (3, 7), (8, 8)])
def test_a_window_decoded_at_index_tensors_matches_the_sliced_one(shared_models, top, left) -> None:
    from latentswap_core.codecs import load_codec
    from latentswap_core.train.static_step import decode_window_at
    from latentswap_core.train.trainer import decode_window

    codec = load_codec("taef2")
    latent = torch.randn(1, codec.latent_channels, 16, 16, generator=torch.Generator().manual_seed(0))
    window = 8
    with torch.no_grad():
        sliced = decode_window(codec, latent, slice(top, top + window), slice(left, left + window))
        indexed = decode_window_at(codec, latent, torch.tensor(top), torch.tensor(left), window)
    torch.testing.assert_close(indexed, sliced)


# --- CUDA only: the graphs themselves -------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_on_cuda_the_captured_step_trains_as_the_eager_static_step(facesets, shared_models, tmp_path: Path) -> None:
    from latentswap_core.train.graph_step import WARMUP_STEPS

    settings = dict(device="cuda", steps=4 * WARMUP_STEPS + 4, loss_every=2, batch=4, augment=True,
                    augment_pool=3, augment_refresh=5)
    static = Trainer(options(facesets, tmp_path / "static", **settings)).run().history
    trainer = Trainer(options(facesets, tmp_path / "graph", step_mode="graph", **settings))
    graphed = trainer.run().history
    assert [row["step"] for row in graphed] == [row["step"] for row in static]
    for a, b in zip(static, graphed, strict=True):  # bf16 and cuDNN's choices: close, not equal
        assert b["loss"] == pytest.approx(a["loss"], rel=0.05), (a, b)
    static_step = trainer._static
    assert static_step is not None and static_step._run is not None and len(static_step._run._graphs) == 2
    static_step.before_step(trainer.step)
    with no_host_sync(static_step.generator):  # a replay: one launch, no wait (torch's sync debug mode: error)
        static_step.run(False)
