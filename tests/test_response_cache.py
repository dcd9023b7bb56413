"""The user cache of decoder-response fits: an entry is read back only whole, for its own digest, device, engine and
shape; a cache that cannot be written never stops a training."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors import SafetensorError

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


def only_entry(cache: Path) -> Path:
    entries = list(cache.iterdir())
    assert len(entries) == 1
    return entries[0]


def test_a_kept_fit_reads_back_whole_for_its_own_digest_device_and_engine_only(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = response()
    response_cache.keep_fit(DIGEST, "cpu", kept, 0.8125)
    found = response_cache.cached_fit(CODEC, DIGEST, "cpu")
    assert found is not None
    read, fit = found
    assert torch.equal(read.conv.weight, kept.conv.weight) and fit == 0.8125
    assert response_cache.cached_fit(CODEC, "b" * 64, "cpu") is None
    assert response_cache.cached_fit(CODEC, DIGEST, "cuda") is None  # decoded elsewhere: not quite the same fit
    with monkeypatch.context() as patch:
        patch.setattr(response_cache, "_engine", lambda: "another engine")  # an upgrade may decode differently
        assert response_cache.cached_fit(CODEC, DIGEST, "cpu") is None
    other = response_cache._entry(response_cache._key("b" * 64, "cpu"))
    only_entry(cache).rename(other)  # another key's file
    assert response_cache.cached_fit(CODEC, "b" * 64, "cpu") is None


@pytest.mark.parametrize("damage", ["cut short", "not safetensors", "another codec's shape", "not finite"])
def test_a_damaged_entry_is_not_read(cache: Path, damage: str) -> None:
    if damage == "another codec's shape":
        response_cache.keep_fit(DIGEST, "cpu", response(channels=4), 0.9)
    elif damage == "not finite":
        broken = response()
        broken.conv.weight[0, 0, 0, 0] = float("nan")
        response_cache.keep_fit(DIGEST, "cpu", broken, 0.9)
    else:
        response_cache.keep_fit(DIGEST, "cpu", response(), 0.9)
        path = only_entry(cache)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2] if damage == "cut short" else b"{}" + data[8:])
    assert response_cache.cached_fit(CODEC, DIGEST, "cpu") is None
    response_cache.keep_fit(DIGEST, "cpu", response(), 0.9)  # fitted again, and replaced
    assert response_cache.cached_fit(CODEC, DIGEST, "cpu") is not None


def test_a_cache_that_cannot_be_written_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LATENTSWAP_CACHE", str(blocker))
    response_cache.keep_fit(DIGEST, "cpu", response(), 0.9)
    assert response_cache.cached_fit(CODEC, DIGEST, "cpu") is None and blocker.read_text() == "not a folder"
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "cache"))

    def full_disk(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(response_cache, "save_file", full_disk)  # how safetensors reports a failed write
    response_cache.keep_fit(DIGEST, "cpu", response(), 0.9)
    assert list((tmp_path / "cache" / response_cache.FOLDER).iterdir()) == []  # nothing half-written either


def test_only_the_most_recently_used_entries_are_kept(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_cache, "KEEP", 3)
    digests = [str(index) * 64 for index in range(5)]
    paths = [response_cache._entry(response_cache._key(digest, "cpu")) for digest in digests]
    for age, digest in enumerate(digests[:3]):
        response_cache.keep_fit(digest, "cpu", response(), 0.9)
        os.utime(paths[age], ns=(age * 10**9, age * 10**9))
    assert response_cache.cached_fit(CODEC, digests[0], "cpu") is not None  # the oldest, used again
    unfinished = cache / f".{paths[3].stem}.partial-123-0123456789abcdef{response_cache.SUFFIX}"
    unfinished.write_bytes(b"another run, writing")  # not an entry: neither kept in the count nor removed
    response_cache.keep_fit(digests[3], "cpu", response(), 0.9)
    response_cache.keep_fit(digests[4], "cpu", response(), 0.9)
    assert sorted(cache.iterdir()) == sorted([paths[0], paths[3], paths[4], unfinished])
