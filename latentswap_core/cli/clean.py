"""``latentswap clean``: remove the hidden partial files that writers killed mid-frame left in a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentswap_core.cli.arguments import number
from latentswap_core.errors import OutputError
from latentswap_core.io.stale_partials import STALE_AFTER_SECONDS, remove_stale_partials, stale_partials


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "clean", help="remove stale partial files (.NAME.partial-*) that killed renders left behind",
        description="Remove the hidden partial files of writers that died (a killed render or training, a lost "
                    "farm node) from a folder and its subfolders: files untouched for --older-than hours whose "
                    "process is gone from this machine. Finished files are never touched.",
    )
    parser.add_argument("folder", help="an output folder (renders, models, facesets)")
    parser.add_argument("--older-than", type=number(0.0), default=STALE_AFTER_SECONDS / 3600,
                        metavar="HOURS", help="only files untouched this long (default: %(default)g)")
    parser.add_argument("--dry-run", action="store_true", help="list the files without removing them")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise OutputError(f"{folder}: not a folder; give the output folder to clean")
    seconds = args.older_than * 3600
    paths = (stale_partials if args.dry_run else remove_stale_partials)(folder, seconds, recursive=True)
    for path in paths:
        print(path)
    print(f"{'would remove' if args.dry_run else 'removed'} {len(paths)} stale partial file(s) in {folder}")
    return 0
