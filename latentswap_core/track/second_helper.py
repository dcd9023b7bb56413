"""The second detector's net (dlib's CNN face detector) in this process, or in a helper process.

``load_net`` and ``search`` run it here. ``Helper`` runs it in a helper process, a fresh interpreter (not a fork:
mediapipe's and OpenCV's threads run in the tracker's process; and not multiprocessing's spawn, which runs the
caller's main script again), so that ``second_detector.SecondDetector`` can search two scales of a frame at once on
two cores. The helper loads the net once, reads images on its stdin and answers on its stdout, and ends when it
reads None or its stdin closes: when its parent closes the pipe (``stop``) or dies, however it dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from latentswap_core.errors import ModelError
from latentswap_core.heap import keep_large_blocks
from latentswap_core.identity.dlib_descriptor import INSTALL_HINT

MODEL_FILE = "mmod_human_face_detector.dat"

# A detection as it crosses the pipe: dlib's rectangle (left, top, right, bottom, in pixels of the image searched)
# and its confidence.
RawDetection = tuple[int, int, int, int, float]


def load_net(models_folder: Path | None) -> Any:
    """dlib's CNN face detector from ``models_folder`` (raises ``ModelError`` where it is missing)."""
    import dlib

    keep_large_blocks()  # dlib's buffers reused, not faulted in again each call (heap.py)
    path = (models_folder or Path("face_recognition_models")) / MODEL_FILE
    if models_folder is None or not path.is_file():
        raise ModelError(f"dlib's CNN face detector {path} is missing; {INSTALL_HINT}")
    return dlib.cnn_face_detection_model_v1(str(path))


def search(net: Any, image: np.ndarray) -> list[RawDetection]:
    """The faces ``net`` finds in a contiguous uint8 RGB ``image``, in dlib's order, not upsampled."""
    return [(detection.rect.left(), detection.rect.top(), detection.rect.right(), detection.rect.bottom(),
             float(detection.confidence)) for detection in net(image, 0)]


def _serve(requests: Connection, answers: Connection, models_folder: Path | None) -> None:
    """The helper process's loop: loads the net, then answers each image received with its raw detections (or an
    error's message) until it receives None or its pipe closes (its parent closed it or died)."""
    try:
        net = load_net(models_folder)
    except Exception as error:  # told to the parent, which then searches in its own process
        answers.send(f"{type(error).__name__}: {error}")
        return
    answers.send("ready")
    while True:
        try:
            image = requests.recv()
        except (EOFError, OSError):
            return
        if image is None:
            return
        try:
            answer: list[RawDetection] | str = search(net, image)
        except Exception as error:
            answer = f"{type(error).__name__}: {error}"
        try:
            answers.send(answer)
        except OSError:  # the parent closed its end while this image was searched
            return


def serve_helper() -> None:
    """The helper process's entry: images come on stdin, answers go out on what was stdout (stdout itself then
    writes to stderr, so that nothing a library prints can corrupt an answer); argv[2]: the models folder."""
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    folder = sys.argv[2] if len(sys.argv) > 2 else ""
    _serve(Connection(os.dup(0), writable=False), answers, Path(folder) if folder else None)


# The helper runs this file without importing the track package (whose modules, OpenCV and OCIO would cost it
# about 125 MB of memory it never uses): ``python -c HELPER_MAIN this_file models_folder``.
HELPER_MAIN = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('latentswap_second_helper', "
               "sys.argv[1]); module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
               "module.serve_helper()")


class Helper:
    """The helper process and this end of its two pipes. It is a fresh interpreter (not a fork: mediapipe's and
    OpenCV's threads run here, and not multiprocessing's spawn, which runs the caller's main script again)."""

    def __init__(self, models_folder: Path | None):
        to_child, requests = os.pipe()  # not inheritable: only the helper holds its ends, so its pipe closes
        answers, from_child = os.pipe()  # when this process ends, however it ends
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", HELPER_MAIN, __file__, str(models_folder) if models_folder is not None else ""],
                stdin=to_child, stdout=from_child, close_fds=True)
        except BaseException:
            for end in (requests, answers):
                os.close(end)
            raise
        finally:
            os.close(to_child)
            os.close(from_child)
        self.requests = Connection(requests, readable=False)
        self.answers = Connection(answers, writable=False)
        self._ready = False

    @property
    def closed(self) -> bool:
        return self.requests.closed

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether the helper has loaded its net (waiting up to ``timeout`` seconds); False (and the helper
        closed) where it failed to."""
        if not self._ready and not self.closed:
            try:
                if self.answers.poll(timeout):
                    answer = self.answers.recv()
                    if answer != "ready":
                        raise RuntimeError(answer)
                    self._ready = True
            except (EOFError, OSError, RuntimeError):
                self.close()
        return self._ready and not self.closed

    def send(self, image: np.ndarray) -> bool:
        """Whether the helper took ``image``: False while it is still loading its net (the caller searches
        in its own process meanwhile, not waiting) and once it has failed (it is then closed)."""
        if not self.ready():
            return False
        try:
            self.requests.send(image)
            return True
        except (OSError, ValueError):
            self.close()
            return False

    def receive(self) -> list[RawDetection] | None:
        """The answer to the last image sent; None (and the helper closed) where it failed."""
        try:
            answer = self.answers.recv()
        except (EOFError, OSError):
            answer = None
        if not isinstance(answer, list):
            self.close()
            return None
        return answer

    def close(self) -> None:
        stop(self.requests, self.answers, self.process)


def stop(requests: Connection, answers: Connection, process: subprocess.Popen) -> None:
    """Ends the helper: asked to stop, then killed if it has not within 5 s. Safe to call more than once."""
    if not requests.closed:
        try:
            requests.send(None)
        except (OSError, ValueError):
            pass
        requests.close()
    if not answers.closed:
        answers.close()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
