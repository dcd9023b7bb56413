"""The tests' fork server (tests/cli_server.py) runs ``latentswap`` as a fresh interpreter does: the same
output and exit code, the caller's folder and environment, and a timeout that kills the run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import forked_cli
import pytest
from helpers import TINY_FACESET_SIZE, latentswap


def same_as_fresh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    forked, fresh = latentswap(*args, env=env), latentswap(*args, env=env, fresh=True)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    return forked


def test_output_and_exit_codes_match_a_fresh_interpreter(tiny_plate: Path) -> None:
    assert same_as_fresh("--version").returncode == 0
    assert same_as_fresh("info", str(tiny_plate)).stdout.count("1001") >= 1
    refused = same_as_fresh("info", "no such plate.exr")
    assert refused.returncode == 2 and refused.stderr.startswith("latentswap: error: ")
    assert same_as_fresh("swap", "--mix", "2").returncode == 2  # argparse's refusal


def test_the_run_sees_the_callers_folder_and_environment(tiny_plate: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(str(tiny_plate)).parent)
    assert latentswap("info", Path(str(tiny_plate)).name).returncode == 0  # a path relative to the caller's folder
    broken = {**os.environ, "OCIO": str(tmp_path / "missing.ocio")}
    done = same_as_fresh("convert", Path(str(tiny_plate)).name, "-o", str(tmp_path / "out.####.exr"),
                         "--output-colorspace", "sRGB - Texture", env=broken)
    assert done.returncode == 2 and "missing.ocio" in done.stderr


def test_a_run_past_its_timeout_is_killed(tiny_facesets, shared_models, tmp_path: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        latentswap("train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]), "-o",
                   str(tmp_path / "model"), "--steps", "100000", "--consent", "REF-7", timeout=3)
    assert latentswap("--version").returncode == 0  # the server goes on


def test_the_forked_executable_passes_output_codes_and_signals_and_a_kill_takes_the_run_with_it(
        tiny_facesets, shared_models, tmp_path: Path) -> None:
    """What the Nuke plugin's tests run as its engine (forked_cli.executable()): the CLI's output and exit code;
    SIGTERM (the plugin's cancel) reaches the run, which saves and exits 130; SIGKILL ends the run too."""
    cli = forked_cli.executable()
    fresh = latentswap("info", "no such plate.exr", fresh=True)
    done = subprocess.run([cli, "info", "no such plate.exr"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    train = [cli, "train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]), "--resolution",
             str(TINY_FACESET_SIZE), "--steps", "100000", "--progress-json", "--consent", "REF-7", "-o"]
    for stop in (signal.SIGTERM, signal.SIGKILL):
        process = subprocess.Popen([*train, str(tmp_path / stop.name)], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if json.loads(line)["event"] == "progress":
                    break
            process.send_signal(stop)
            rest: list[str] = []
            reader = threading.Thread(target=lambda out=process.stdout, rest=rest: rest.append(out.read()), daemon=True)
            reader.start()
            reader.join(60)
            assert not reader.is_alive(), f"the run went on after {stop.name} to the executable"  # it held stdout
        finally:
            process.kill()
            process.wait()
        if stop == signal.SIGTERM:
            assert process.returncode == 130 and "--resume continues" in rest[0]
        else:
            assert process.returncode == -signal.SIGKILL


def test_a_client_gone_before_its_run_started_leaves_the_server_serving_and_runs_end_with_the_server(
        tiny_facesets, shared_models, tmp_path: Path) -> None:
    server = forked_cli._ForkServer()  # a server of this test's own, stopped below
    streams = [os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY), os.open(os.devnull, os.O_WRONLY)]
    try:
        request = {"args": ["--version"], "env": dict(os.environ), "cwd": str(tmp_path)}
        for _ in range(3):  # gone before the answer: the run ends, the server does not
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(server.socket_path)
                socket.send_fds(client, [json.dumps(request).encode() + b"\n"], streams)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:  # gone before it asked
            client.connect(server.socket_path)
        training, pid = server.start(["train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]),
                                      "--resolution", str(TINY_FACESET_SIZE), "--steps", "100000", "--consent",
                                      "REF-7", "-o", str(tmp_path / "model")], dict(os.environ), str(tmp_path), streams)
        os.kill(pid, 0)  # running
    finally:
        for stream in streams:
            os.close(stream)
        server.stop()
    training.close()
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a run went on after its server stopped")


def test_a_signal_to_a_run_that_has_ended_is_nothing(tmp_path: Path) -> None:
    run = forked_cli.ForkedRun(["--version"], stdout=subprocess.DEVNULL)
    assert run.wait(60) == 0
    run.send_signal(signal.SIGTERM)
    run.kill()
    assert run.returncode == 0
