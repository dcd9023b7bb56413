"""What a trained model folder says about itself: its card (identities, consent, codec and weight hashes, face
size and type), read from ``provenance.json`` beside the weights, and the codec it was trained in. Used by the
swap (for the output's metadata) and by the refiner's training (which learns on a model's swaps)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentswap_core.codecs.base import Codec
from latentswap_core.codecs.loader import load_recorded_codec
from latentswap_core.codecs.names import CODEC_NAMES
from latentswap_core.errors import ModelError
from latentswap_core.io.json_file import read_json
from latentswap_core.models.limits import MAX_CONSENT_CHARS
from latentswap_core.models.store import WEIGHTS_FILE

MODEL_FOLDER = "model"
PROVENANCE_FILE = "provenance.json"


@dataclass
class ModelCard:
    """Who and what a model is, as recorded when it was trained; written into every swapped frame."""

    folder: Path
    model_id: str  # the first 16 hex digits of the weights' sha256
    weights_sha256: str
    codec: dict[str, Any]
    identities: dict[str, Any]
    consent: str | None
    step: int
    face_size: int
    face_type: str  # how the training crops were framed; the swap must crop plates the same way

    def metadata(self) -> dict[str, str]:
        """Flat string metadata for an EXR header (``latentswap/...`` keys)."""
        src = self.identities.get("src", {}).get("name", "")
        dst = self.identities.get("dst", {}).get("name", "")
        hashes = sorted(self.codec["weights_sha256"].items())
        codec_hashes = ",".join(f"{name}:{digest[:16]}" for name, digest in hashes)
        return {
            "latentswap/model": str(self.folder),
            "latentswap/model_id": self.model_id,
            "latentswap/model_sha256": self.weights_sha256,
            "latentswap/model_step": str(self.step),
            "latentswap/face_type": self.face_type,
            "latentswap/face_size": str(self.face_size),
            "latentswap/codec_downscale": str(self.codec.get("downscale", "")),
            "latentswap/codec": self.codec["name"],
            "latentswap/codec_sha256": codec_hashes,
            "latentswap/identity_src": src,
            "latentswap/identity_dst": dst,
            "latentswap/consent": self.consent or "",
        }


def model_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding config.json: ``path`` itself or its ``model/`` (a training folder)."""
    path = Path(path).expanduser()
    if (path / MODEL_FOLDER / "config.json").is_file():
        return path / MODEL_FOLDER
    if (path / "config.json").is_file():
        return path
    raise ModelError(f"{path} is not a trained model: give the folder `latentswap train -o` wrote (it holds model/)")


def read_card(folder: Path) -> ModelCard:
    provenance_path = folder / PROVENANCE_FILE
    provenance = read_json(provenance_path, ModelError, "train the model again or restore the file")
    try:
        codec = provenance["codec"]
        identities = provenance.get("identities", {})
        consent = provenance.get("consent")
        step = int(provenance.get("step", 0))
        # Plain JSON data of the expected types, nothing else: strings stay text, whatever they say.
        if not (isinstance(codec, dict) and isinstance(codec["name"], str) and isinstance(codec["weights_sha256"], dict)
                and isinstance(identities, dict) and all(isinstance(v, dict) for v in identities.values())
                and (consent is None or isinstance(consent, str))):
            raise TypeError("a field of the wrong type")
        if consent is not None and len(consent) > MAX_CONSENT_CHARS:
            raise ValueError(f"a consent text of {len(consent)} characters (at most {MAX_CONSENT_CHARS})")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelError(f"{provenance_path} is missing or damaged ({type(error).__name__}: {error}): train the "
                         "model again or restore the file") from None
    if codec["name"] not in CODEC_NAMES:
        raise ModelError(f"{provenance_path}: the model was trained in codec {codec['name']!r}, which this LatentSwap "
                         f"does not know ({', '.join(CODEC_NAMES)}): use the LatentSwap that trained it")
    config_path, weights_path = folder / "config.json", folder / WEIGHTS_FILE
    try:
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    except OSError as error:
        raise ModelError(f"{weights_path} cannot be read ({error.strerror}): keep it beside {config_path}") from None
    config = read_json(config_path, ModelError, "save the model again")
    try:
        face_size = int(config.get("face_size", 0))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise ModelError(f"{config_path} is not a readable model config ({type(error).__name__}): save the model "
                         "again") from None
    return ModelCard(folder=folder, model_id=digest[:16], weights_sha256=digest, codec=codec,
                     identities=identities, consent=consent, step=step, face_size=face_size,
                     face_type=str(provenance.get("face_type", "whole_face")))


def load_model_codec(card: ModelCard, codec_path: str | os.PathLike[str] | None = None) -> Codec:
    """The codec the model was trained in, with the very weights it was trained with (checked by hash)."""
    return load_recorded_codec(card.codec, str(card.folder), codec_path)
