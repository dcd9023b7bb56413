"""Options shared by several commands, so they read the same everywhere."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from latentswap_core.face_selection import FaceSelection
from latentswap_core.train.options import TrainOptions

Options = TypeVar("Options")

MAX_COUNT = 10**9  # steps, frames: more is a typo, not a plan
MAX_BATCH = 4096  # faces per step or per model call: more does not fit any GPU at 128 px
MAX_SEED = 2**63 - 1


def engine_default(options: type, name: str) -> Any:
    """The default of field ``name`` of the engine's options dataclass ``options`` (``TrainOptions``,
    ``RenderOptions``, ...): written there once, for the command line, its --help and the engine's callers alike."""
    field = next(field for field in dataclasses.fields(options) if field.name == name)
    if field.default is dataclasses.MISSING:
        raise KeyError(f"{options.__name__}.{name} has no default")
    return field.default


def defaults_of(options: type) -> Callable[[str], Any]:
    """``engine_default`` for one options dataclass: ``default = defaults_of(TrainOptions)``, then ``default("lr")``."""
    return functools.partial(engine_default, options)


def options_from(args: argparse.Namespace, options: Callable[..., Options], prefix: str = "",
                 **given: Any) -> Options:
    """``options`` (an options dataclass) made from the parsed arguments named as its fields (after ``prefix``:
    ``--refine-steps`` for ``steps`` with ``prefix="refine_"``), and ``given`` for fields the command line spells
    otherwise; fields no argument sets keep the engine's defaults."""
    names = {field.name for field in dataclasses.fields(options)}  # type: ignore[arg-type]
    parsed = {name[len(prefix):]: value for name, value in vars(args).items()
              if name.startswith(prefix) and name[len(prefix):] in names and name[len(prefix):] not in given}
    return options(**parsed, **given)


def number(low: float | None = None, high: float | None = None, *,
           above: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number (NaN and infinity are refused) in ``low``..``high`` (and > ``above``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        _check_range(value, low, high, above)
        return value
    return parse


def whole(low: int | None = 0, high: int | None = MAX_COUNT) -> Callable[[str], int]:
    """An argparse type: a whole number in ``low``..``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        _check_range(value, low, high, None)
        return value
    return parse


def _check_range(value: float, low: float | None, high: float | None, above: float | None) -> None:
    if above is not None and not value > above:
        raise argparse.ArgumentTypeError(f"{_text(value)} is not allowed: give more than {_text(above)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{_text(low)} to {_text(high)}" if low is not None and high is not None else \
            f"{_text(low)} or more" if low is not None else f"at most {_text(high)}"
        raise argparse.ArgumentTypeError(f"{_text(value)} is outside {bounds}")


def _text(value: float | None) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def exr_compression(text: str) -> str:
    """An argparse type: an OpenEXR compression (``zip``, ``dwaa:45``)."""
    from latentswap_core.errors import ImageError
    from latentswap_core.io.image import check_exr_compression

    try:
        return check_exr_compression(text)
    except ImageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_frames(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", metavar="RANGE",
                        help="frames to use, e.g. 1001-1100 or 1001-1100x2 (default: all found)")


def add_face_selection(parser: argparse.ArgumentParser, default: str = "every face") -> None:
    """``--track-id N`` and ``--person P``, both repeatable; read them with ``face_selection(args)``."""
    parser.add_argument("--track-id", type=_face_id, action="append", dest="track_ids", metavar="N",
                        help="only the faces of track N: one unbroken run of one face within a camera cut (repeat "
                             f"for several; default: {default})")
    parser.add_argument("--person", type=_face_id, action="append", dest="people", metavar="P",
                        help="only the faces of person P: one human over the whole shot, across cuts, as `latentswap "
                             "track` lists them and its --report sheet shows (repeat for several; not together with "
                             "--track-id)")


def face_selection(args: argparse.Namespace) -> FaceSelection:
    """The faces ``add_face_selection``'s options pick (refused with a one-line error when both are given)."""
    return FaceSelection.from_arguments(args.track_ids, args.people)


def track_name(track: str | None, source: str, frames: str | None = None) -> str:
    """The track as an error about ``--track-id``/``--person`` names it: its file, or the tracking just done of
    ``source`` (a description); with ``frames`` when only those were looked at."""
    name = Path(track).name if track else f"the faces tracked in {source}"
    return f"{name}, frames {frames}" if frames else name


def _face_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a whole number, 0 or more)")
    return value


def add_progress_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress-json", action="store_true",
                        help="report progress as JSON lines on stdout (for the Nuke plugin and farms)")


def add_ocio_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ocio-config", metavar="CONFIG",
                        help="OpenColorIO config file or ocio:// name (default: $OCIO, else the built-in "
                             "studio config)")


def add_colorspace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--colorspace", metavar="NAME",
                        help="the source's colourspace (default: ACEScg for float, sRGB - Texture for 8/16-bit)")


def add_training_length(parser: argparse.ArgumentParser, resumable: bool = True) -> None:
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=whole(1), metavar="N",
                        help="train until step N (counting resumed steps)" if resumable else "train N steps")
    length.add_argument("--minutes", type=number(high=10**6, above=0), metavar="M", help="train for M minutes")


def add_training_run(parser: argparse.ArgumentParser, folder: str) -> None:
    """How a training run is kept and reported: resume, checkpoints, previews, seed, device, progress."""
    parser.add_argument("--resume", action="store_true", help=f"continue the run saved in {folder}")
    default = defaults_of(TrainOptions)  # the swap trainer's; tests/test_cli_defaults.py holds the refiner's to them

    parser.add_argument("--save-every", type=whole(0), default=default("save_every"), metavar="N",
                        help=f"checkpoint every N steps (0: at the end only; default: {default('save_every')})")
    parser.add_argument("--preview-every", type=whole(0), default=default("preview_every"), metavar="K",
                        help=f"preview grid every K steps (0: none; default: {default('preview_every')})")
    parser.add_argument("--seed", type=whole(0, MAX_SEED), default=default("seed"),
                        help=f"random seed (default: {default('seed')})")
    parser.add_argument("--device", default=default("device"),
                        help=f"cpu, cuda or auto (default: {default('device')})")
    add_progress_json(parser)
