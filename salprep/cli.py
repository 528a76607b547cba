"""The ``salprep`` command line: one subcommand per module in :mod:`salprep.commands`.

Each command module exposes ``register_parser(subparsers)`` (adds its parser and sets
``func=run``) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from salprep import __version__
from salprep.atomic import check_output
from salprep.errors import EXIT_BAD_INPUT, NOT_ALLOWED, SalprepError

# subcommand name -> module under salprep.commands (order = order in --help)
COMMANDS = {
    "demo-data": "demo_data",
    "probe": "probe",
    "annotation-digest": "annotation_digest",
    "gt": "gt",
    "flow": "flow",
    "depth": "depth",
    "frames": "frames",
    "features": "features",
    "train": "train",
    "evaluate": "evaluate",
    "verify": "verify",
    "report": "report",
    "recipe": "recipe",
    "visualise": "visualise",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or with ``only`` of that one alone (its module is then the
    only command module imported: a Snakemake job running ``salprep gt`` does not load the demo
    generator, the networks or torch)."""
    parser = argparse.ArgumentParser(
        prog="salprep",
        description="Offline preprocessing and feature extraction for video saliency research.",
    )
    parser.add_argument("--version", action="version", version=f"salprep {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(f"salprep.commands.{module_name}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name == f"salprep.commands.{module_name}":
                continue
            raise
        module.register_parser(sub)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_chosen_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="salprep: %(levelname)s: %(message)s",
    )
    try:
        for dest, directory in getattr(args, "outputs", ()):  # before any work (set by each parser)
            if getattr(args, dest, None):
                check_output(getattr(args, dest), directory=directory)
        return int(args.func(args) or 0)
    except SalprepError as exc:
        print(f"salprep: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        if exc.errno not in NOT_ALLOWED:
            raise
        # a file or folder the user may not read or write (a shared store): theirs to fix
        print(f"salprep: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("salprep: interrupted", file=sys.stderr)
        return 130
