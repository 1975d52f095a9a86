"""Command line: ``python -m localwebai COMMAND ...``; each command is a subparser whose
``run`` handles the parsed arguments and returns the exit status.

    python -m localwebai build OUT/ [--models DIR] [--host-sends-headers]
    python -m localwebai run | chat | pull ...   (the native runtime: localwebai.native.cli)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..native.cli import add_native_commands
from ..spec import format_bytes
from .build import BuildError, build


def run_build(args: argparse.Namespace) -> int:
    try:
        result = build(args.out, models=args.models, isolate=not args.host_sends_headers)
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    print(
        f"built {result.out} (version {result.version}): {len(result.files)} shell files, "
        f"{format_bytes(result.shell_bytes)}, {len(result.models)} model(s)"
    )
    return 0


def add_build_command(commands: argparse._SubParsersAction) -> None:
    build_cmd = commands.add_parser(
        "build",
        help="write a self-contained static site (any static host, any sub-path, offline)",
        description="Write the app as a static site to OUT (emptied first if it holds a build).",
    )
    build_cmd.add_argument("out", type=Path, help="output folder")
    build_cmd.add_argument(
        "--models", type=Path, help="folder of .gguf files to ship under OUT/models/ and list"
    )
    build_cmd.add_argument(
        "--host-sends-headers",
        action="store_true",
        help="the host sends COOP/COEP itself: the service worker then only caches the app "
        "(no added headers, no reload)",
    )
    build_cmd.set_defaults(run=run_build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localwebai",
        description="Run GGUF language models on this machine (llama.cpp), with the same Python "
        "API as the browser app, and build that app as a static site. MODEL is a .gguf path, an "
        "http(s) URL (downloaded once into the model cache) or a cached model's id or name.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_build_command(commands)
    add_native_commands(commands)
    args = parser.parse_args(argv)
    return args.run(args)
