"""The ``mim3d`` command line: one sub-command per job, each defined next to the code it runs.

Every sub-command lives in the module that does the work and exposes ``add_parser(subparsers)``
(which registers the command and sets ``func``). This file only collects them, so adding a
command is one line in :data:`COMMANDS`. A :class:`mim3d.errors.Mim3dError` is printed as one
line (no traceback) and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from mim3d.errors import Mim3dError

# command name -> module that defines ``add_parser(subparsers)`` for it.
COMMANDS: dict[str, str] = {
    "convert-original": "mim3d.convert",
    "predict": "mim3d.predict",
    "train": "mim3d.train",
    "simulate": "mim3d.ensemble",
    "export-npz": "mim3d.formats.npz",
    "grid-sph": "mim3d.formats.sph",
    "fit-normalizer": "mim3d.normalize",
    "evaluate": "mim3d.evaluate",
    "memory": "mim3d.memory",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mim3d",
        description="3D Memory-In-Memory networks for supernova blast-wave forecasting.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except Mim3dError as err:
        print(f"mim3d {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mim3d {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
