"""The ``latentswap`` command: a thin layer over the engine's modules.

Every error a user can cause is printed as one line (``latentswap: error: ...``) with exit code 2;
``--debug`` shows tracebacks. With ``--progress-json`` progress and errors go to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from latentswap_core.engine_id import version_line
from latentswap_core.errors import LatentSwapError
from latentswap_core.progress import emit_json

EXAMPLES = """\
examples:
  latentswap info /shots/sh010/plate.####.exr
  latentswap info plate.%04d.exr --frames 1001-1100 --json
  latentswap convert interview.mov -o /shots/sh010/plate.####.exr --output-colorspace ACEScg
  latentswap convert plate.1001-1100#.exr -o review/plate.####.png --output-colorspace "sRGB - Texture"
  latentswap track /shots/sh010/plate.####.exr -o sh010.track.json --frames 1001-1100
  latentswap extract interview.mov -o facesets/actor --size 256 --every 2
  latentswap extract /shots/sh010/plate.####.exr -o facesets/double --track sh010.track.json --person 0
  latentswap train --src facesets/actor --dst facesets/double -o models/actor_double --steps 20000 --consent REF-123
  latentswap train-refiner --faceset facesets/actor --model models/actor_double --swaps facesets/double \
      -o models/actor_refiner --steps 5000 --consent REF-123
  latentswap swap /shots/sh010/plate.####.exr --model models/actor_double --refine models/actor_refiner \
      -o swap/sh010.####.exr --track sh010.track.json --person 0 --refine-strength 0.3 --refine-steps 20
  latentswap colorspaces
  latentswap models

Frame sequences: plate.####.exr, plate.%04d.exr, plate.$F4.exr or plate.1001-1100#.exr;
frame ranges: 1001-1100, 1001-1100x2, 1001,1005,1010-1020.
Colour: $OCIO is used when set, else OpenColorIO's built-in studio config.
Models: searched in $LATENTSWAP_MODELS, then the user cache folder, then the weights that come with
the install (see `latentswap models`).
"""


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes as one line, as every other error a user can cause (argparse adds a usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"latentswap: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _commands() -> tuple[ModuleType, ...]:
    """The command modules, in the order ``--help`` lists them (imported here: ``--version`` needs none of them)."""
    from latentswap_core.cli import (
        catalog,
        clean,
        convert,
        demo,
        evaluate,
        export,
        extract,
        info,
        refine,
        swap,
        track,
        train,
        train_mask,
    )

    return info, convert, track, extract, catalog, train, train_mask, refine, swap, export, demo, evaluate, clean


class _VersionAction(argparse.Action):
    """``--version``: the digest is computed only when asked for, not for every command."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="latentswap",
        description="LatentSwap: per-shot face replacement for VFX plates.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and the engine's digest "
                        "(of its installed files: the Nuke gizmo keys its cache with it) and exit")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks of errors")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in _commands():
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(version_line())  # the Nuke plugin asks on its GUI thread: answered before any command module loads
        return 0
    from latentswap_core.io.output_files import missing_folders, remove_empty_folders

    args = build_parser().parse_args(argv)
    # Farms and the Nuke plugin stop jobs with SIGTERM: unwind like Ctrl-C, so partial files are removed.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if hasattr(signal, "SIGBREAK"):  # Windows: the Nuke plugin stops a job with CTRL_BREAK_EVENT
        signal.signal(signal.SIGBREAK, _raise_interrupt)
    output = getattr(args, "output", None)
    new_folders = missing_folders(Path(output).absolute()) if isinstance(output, str) and output else []
    code = 70
    try:
        code = _run(args)
    finally:
        if code != 0:  # a failed command leaves no empty output folder behind
            remove_empty_folders(new_folders)
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; a user's error is one line on stderr (a JSON line with --progress-json)."""
    json_lines = getattr(args, "progress_json", False)
    try:
        return int(args.run(args) or 0)
    except LatentSwapError as error:
        return _fail(str(error), 2, json_lines)
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return _fail("interrupted; finished frames are kept, run again to continue", 130, json_lines)
    except Exception as error:
        if args.debug:
            raise
        if isinstance(error, OSError) and error.errno in _USER_OS_ERRORS:
            return _fail(_os_message(error), 2, json_lines)
        return _fail(f"unexpected {type(error).__name__}: {error} (run again with --debug for the traceback "
                     "and report it)", 70, json_lines)


# What the machine or the user's paths cause, not our code: a full disk, a read-only or foreign folder, a name too
# long, a file where a folder is needed. One line naming the path, exit 2.
_USER_OS_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG,
                   errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENOENT, errno.EMFILE, errno.EXDEV}
_OS_ADVICE = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space", errno.ENAMETOOLONG: "use a shorter "
              "name (255 bytes at most)", errno.EACCES: "check its permissions", errno.EPERM: "check its permissions",
              errno.EROFS: "write somewhere writable", errno.EEXIST: "choose another name or remove it",
              errno.ENOTDIR: "a file stands where a folder is needed; choose another path"}


def _os_message(error: OSError) -> str:
    place = error.filename if error.filename is not None else "a file"
    advice = _OS_ADVICE.get(error.errno or 0, "check the path")
    return f"{place!s}: {error.strerror or error}; {advice}"


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str, code: int, json_lines: bool) -> int:
    message = message.replace("\r", "\\r").replace("\n", "\\n")  # a newline in a path must not split the line
    if json_lines:
        emit_json("error", message=message, exit_code=code)
    print(f"latentswap: error: {message}", file=sys.stderr)
    return code


def run() -> None:
    sys.exit(main())
