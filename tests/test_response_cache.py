"""The user cache of decoder-response fits: an entry is read back only whole, for its own digest and shape."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from latentswap_core.train import response_cache
from latentswap_core.train.decoder_response import DecoderResponse

CODEC = SimpleNamespace(downscale=8, latent_channels=16)  # what a cached fit's shape depends on
DIGEST = "a" * 64


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / response_cache.FOLDER


def response(seed: int = 0, channels: int = 16) -> DecoderResponse:
    made = DecoderResponse(channels, CODEC.downscale)
    made.conv.weight.copy_(torch.randn(made.conv.weight.shape, generator=torch.Generator().manual_seed(seed)))
    return made


def test_a_kept_fit_reads_back_whole_for_its_own_digest_only(cache: Path) -> None:
    kept = response()
    response_cache.keep_fit(DIGEST, kept, 0.8125)
    found = response_cache.cached_fit(CODEC, DIGEST)
    assert found is not None
    read, fit = found
    assert torch.equal(read.conv.weight, kept.conv.weight) and fit == 0.8125
    assert response_cache.cached_fit(CODEC, "b" * 64) is None
    (cache / f"{DIGEST}.safetensors").rename(cache / f"{'b' * 64}.safetensors")  # another digest's file
    assert response_cache.cached_fit(CODEC, "b" * 64) is None


@pytest.mark.parametrize("damage", ["cut short", "not safetensors", "another codec's shape", "not finite"])
def test_a_damaged_entry_is_not_read(cache: Path, damage: str) -> None:
    path = cache / f"{DIGEST}.safetensors"
    if damage == "another codec's shape":
        response_cache.keep_fit(DIGEST, response(channels=4), 0.9)
    elif damage == "not finite":
        broken = response()
        broken.conv.weight[0, 0, 0, 0] = float("nan")
        response_cache.keep_fit(DIGEST, broken, 0.9)
    else:
        response_cache.keep_fit(DIGEST, response(), 0.9)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2] if damage == "cut short" else b"{}" + data[8:])
    assert response_cache.cached_fit(CODEC, DIGEST) is None
    response_cache.keep_fit(DIGEST, response(), 0.9)  # fitted again, and replaced
    assert response_cache.cached_fit(CODEC, DIGEST) is not None


def test_a_cache_that_cannot_be_written_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LATENTSWAP_CACHE", str(blocker))
    response_cache.keep_fit(DIGEST, response(), 0.9)
    assert response_cache.cached_fit(CODEC, DIGEST) is None and blocker.read_text() == "not a folder"


def test_only_the_most_recently_used_entries_are_kept(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_cache, "KEEP", 3)
    digests = [str(index) * 64 for index in range(5)]
    for age, digest in enumerate(digests[:3]):
        response_cache.keep_fit(digest, response(), 0.9)
        os.utime(cache / f"{digest}.safetensors", ns=(age * 10**9, age * 10**9))
    assert response_cache.cached_fit(CODEC, digests[0]) is not None  # the oldest, used again
    response_cache.keep_fit(digests[3], response(), 0.9)
    response_cache.keep_fit(digests[4], response(), 0.9)
    assert sorted(path.stem for path in cache.iterdir()) == sorted([digests[0], digests[3], digests[4]])
