#!/usr/bin/env python3
"""Converts a terminal capture with ANSI colours (tmux capture-pane -e -p) to an SVG.

Usage: ansi_to_svg.py WIDTH TITLE < capture.ansi > screen.svg
Needs rich (pip install rich), which does the parsing and the drawing.
"""

import io
import sys

from rich.console import Console
from rich.text import Text


def main() -> None:
    width = int(sys.argv[1])
    title = sys.argv[2]
    capture = sys.stdin.read().rstrip("\n")
    console = Console(
        record=True,
        width=width,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),  # only the recording is wanted
    )
    for line in capture.split("\n"):
        # One capture line per screen row: never wrap, never drop trailing cells.
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop", soft_wrap=False)
    sys.stdout.write(console.export_svg(title=title))


if __name__ == "__main__":
    main()
