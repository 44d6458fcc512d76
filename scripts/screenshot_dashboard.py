#!/usr/bin/env python3
"""Render the offline dashboard in headless Chromium: a PNG screenshot and a render check.

    uv run python scripts/screenshot_dashboard.py [data/reporting/dashboard.html] [out.png] [--check]

Chromium runs with networking features off and a throw-away profile, so the page must render
from the file alone (plotly.js embedded). ``--check`` also dumps the DOM after the scripts ran
and fails unless every chart div holds a rendered plotly SVG, and the PNG is not blank.
Needs ``chromium`` (Debian/Ubuntu: ``apt-get install chromium``) or $CHROMIUM pointing at one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # let plotly.js draw before the capture
)


def find_chromium() -> str:
    """The Chromium binary: ``$CHROMIUM`` or the first known name on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "Chromium not found: install it (apt-get install chromium) or set CHROMIUM=/path/to/it"
    )


def _chromium(args: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [find_chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def screenshot(
    html: Path, png: Path, width: int = 1400, height: int = 3200, timeout: int = 90
) -> None:
    """Write a full-width PNG of the page."""
    png.parent.mkdir(parents=True, exist_ok=True)
    result = _chromium(
        [
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ],
        timeout,
    )
    if not png.exists() or png.stat().st_size == 0:
        raise SystemExit(
            f"Chromium wrote no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )


def rendered_charts(html: Path, timeout: int = 90) -> tuple[int, int]:
    """(chart containers in the page, of which plotly drew an SVG) after the scripts ran."""
    dom = _chromium(["--dump-dom", html.resolve().as_uri()], timeout).stdout
    containers = len(re.findall(r'class="plotly-graph-div', dom))
    drawn = len(re.findall(r'class="plot-container plotly"', dom))
    return containers, drawn


def is_blank(png: Path) -> bool:
    """True when the image has (almost) a single colour. Skipped without Pillow."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib in the project env
        return False
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    return colours is not None and len(colours) < 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("html", nargs="?", default="data/reporting/dashboard.html", type=Path)
    parser.add_argument("png", nargs="?", default="data/reporting/dashboard.png", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=3200)
    parser.add_argument("--check", action="store_true", help="fail unless every chart rendered")
    args = parser.parse_args(argv)
    if not args.html.exists():
        raise SystemExit(f"{args.html} not found: run `kedro run --pipeline reporting` first")
    screenshot(args.html, args.png, args.width, args.height)
    print(f"Screenshot: {args.png} ({args.png.stat().st_size / 1024:.0f} KB)")
    if args.check:
        containers, drawn = rendered_charts(args.html)
        print(f"Charts rendered: {drawn} of {containers}")
        if containers == 0 or drawn < containers:
            print("Not every chart rendered (plotly.js missing or failing?)", file=sys.stderr)
            return 1
        if is_blank(args.png):
            print(f"{args.png} is blank", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
