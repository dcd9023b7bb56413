"""Data-parallel training under torchrun on the CPU (gloo, 2 processes): the collectives, then the CLI end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY_FACESET_SIZE

TESTS = Path(__file__).resolve().parent


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_collectives_average_gradients_buffers_and_agree_on_stopping() -> None:
    done = torchrun(str(TESTS / "distributed_check.py"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rank 0 ok" in done.stdout and "rank 1 ok" in done.stdout  # both ranks print; their lines may interleave


@pytest.mark.slow
def test_torchrun_trains_one_model_with_replicas_in_step(tiny_facesets, shared_models, tmp_path: Path) -> None:
    output = tmp_path / "model"
    done = torchrun("-m", "latentswap_core", "train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]),
                    "-o", str(output), "--resolution", str(TINY_FACESET_SIZE), "--steps", "4", "--save-every", "2",
                    "--preview-every", "0", "--augment", "--augment-refresh", "2", "--consent", "REF-2",
                    "--progress-json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    # Only the first process reports: one progress event per step, not two.
    assert [event["step"] for event in events if event["event"] == "progress"] == [1, 2, 3, 4]
    trainer = json.loads((output / "trainer.json").read_text())
    assert trainer["processes"] == 2 and trainer["step"] == 4  # saves check that the replicas' weights agree
    with open(output / "losses.csv") as table:
        rows = list(csv.DictReader(table))
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4] and all(float(row["loss"]) > 0 for row in rows)
    assert len(list((output / "cache").glob("*.safetensors"))) == 2  # encoded once, by the first process
