"""The precompute cache's key: a hash of every setting that changes the swapped pixels.

Each Precompute renders into ``<cache dir>/<key>/`` and leaves the settings it rendered with beside the frames
(``settings.json``), so a cache is never mistaken for another: change the model, the faces, the colour transfer
or the plate and the node says which setting made its cache stale; change it back and the earlier cache is
ready again. Two nodes (or two versions of a script) with the same settings share one cache, which holds the
same pixels for both. Pure logic, no ``nuke``: the gizmo module gathers the settings from the node.
"""

import hashlib
import json
import os

from nuke_plugin.atomic import write_text_atomically

SETTINGS_FILE = "settings.json"
KEY_LENGTH = 16  # hex digits: 64 bits, no collision among the caches of one shot
MAX_SETTINGS_BYTES = 1 << 20  # a settings file is a few hundred bytes; anything near this is not ours
MODEL_FILE_TYPES = (".json", ".safetensors", ".onnx")  # what a model or refiner folder renders with
TITLES = {  # a setting's name on the status line, in the order the node shows them
    "plate": "plate", "model": "model", "model_files": "model weights", "engine": "engine", "faces": "faces",
    "track": "track", "face_edits": "face edits", "color_transfer": "color transfer", "blend": "blend",
    "precision": "precision", "refiner": "refiner", "refiner_files": "refiner weights",
    "refine_strength": "refine strength", "refine_steps": "refine steps", "colour": "colour management",
}


def settings_key(settings):
    """The cache key of a settings dict (JSON values): ``KEY_LENGTH`` hex digits, the same on every machine."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def file_stamp(path):
    """``[bytes, whole seconds of mtime]`` of a file, or None where there is none: a file rewritten in place
    (a model trained on) changes its stamp; whole seconds survive file systems that store coarser times."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, int(status.st_mtime)]


def folder_stamps(folder):
    """``{file name: file_stamp}`` of the model files directly in ``folder`` (empty when it is not one)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return {}
    return {name: file_stamp(os.path.join(folder, name)) for name in names
            if name.endswith(MODEL_FILE_TYPES) and os.path.isfile(os.path.join(folder, name))}


def text_digest(text):
    """A short digest of a long text (the face knobs' animation), so the settings file stays readable."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def changed_settings(rendered, current):
    """The titles of the settings that differ between a cache's ``rendered`` settings and the ``current`` ones, in
    the order the node shows them."""
    order = list(TITLES)
    names = sorted(set(rendered) | set(current), key=lambda name: (order.index(name) if name in order else len(order),
                                                                   name))
    return [TITLES.get(name, name.replace("_", " ")) for name in names if rendered.get(name) != current.get(name)]


def write_settings(folder, settings):
    """``folder/settings.json``, written whole or not at all."""
    path = os.path.join(folder, SETTINGS_FILE)
    write_text_atomically(path, json.dumps(settings, indent=1, sort_keys=True) + "\n")
    return path


def read_settings(folder):
    """The settings a cache folder was rendered with, or None when it has none (or one that is not ours: not a
    regular file, too large, not JSON, nested past Python's recursion limit)."""
    path = os.path.join(folder, SETTINGS_FILE)
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_SETTINGS_BYTES:
            return None
        with open(path, encoding="utf-8") as stream:
            settings = json.load(stream)
    except (OSError, ValueError, RecursionError):
        return None
    return settings if isinstance(settings, dict) else None
