"""A log record emitted while an ingestion progress bar is drawn gets a line of its own."""

from __future__ import annotations

import io
import logging
import re

import pytest
from kedro.logging import RichHandler
from rich.console import Console

from nyc_lakehouse.pipelines.ingestion.progress import Progress

MESSAGE = "page 7 retried after a 503"
# Colour (CSI) and hyperlink (OSC 8) escapes take no room on a screen.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x1b\x07]*(?:\x1b\\|\x07)")


def _screen_lines(text: str) -> list[str]:
    """The lines a terminal shows for ``text``: each carriage return overwrites from column 0."""
    lines = []
    for raw in _ESCAPES.sub("", text).split("\n"):
        cells: list[str] = []
        for segment in raw.split("\r"):
            cells[: len(segment)] = segment
        lines.append("".join(cells).rstrip())
    return lines


def _kedro_rich_handler(stream: io.StringIO) -> logging.Handler:
    # The handler conf/logging.yml gives `kedro run`, on a terminal console.
    return RichHandler(console=Console(file=stream, force_terminal=True, width=140))


def _stream_handler(stream: io.StringIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return handler


@pytest.fixture
def logger():
    log = logging.getLogger("nyc_lakehouse.pipelines.ingestion.test_progress")
    log.setLevel(logging.INFO)
    return log


@pytest.mark.parametrize("make_handler", [_kedro_rich_handler, _stream_handler])
def test_a_log_line_during_a_bar_is_not_printed_inside_the_bar_line(make_handler, logger):
    stream = io.StringIO()  # the terminal: the bar and the console log handler share it
    handler = make_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        handlers_before = list(root.handlers)
        with Progress("nyc311 sample", total_batches=3, stream=stream, force_tty=True) as bar:
            bar.advance(500, batches=1)
            logger.info(MESSAGE)
            bar.advance(500, batches=2)
        assert root.handlers == handlers_before, "the handlers are put back once the bar closes"
    finally:
        root.removeHandler(handler)

    lines = _screen_lines(stream.getvalue())
    logged = [line for line in lines if MESSAGE in line]
    assert len(logged) == 1, f"the record is printed once: {lines}"
    assert "nyc311 sample" not in logged[0] and "batch" not in logged[0], logged[0]
    bar_lines = [line for line in lines if "nyc311 sample" in line]
    assert bar_lines and "3/3" in bar_lines[-1] and "rows=1,000" in bar_lines[-1]
    assert lines.index(bar_lines[-1]) > lines.index(logged[0]), "the bar is redrawn under it"


def test_a_console_handler_keeps_its_level_while_a_bar_is_drawn(logger):
    stream = io.StringIO()
    handler = _stream_handler(stream)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with Progress("nyc311 sample", total_batches=1, stream=stream, force_tty=True) as bar:
            logger.info("an INFO record below the handler's level")
            logger.warning(MESSAGE)
            bar.advance(10, batches=1)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert MESSAGE in text and "below the handler's level" not in text


def test_without_a_terminal_the_logging_handlers_are_left_alone(logger):
    stream = io.StringIO()
    handler = _stream_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        handlers_before = list(root.handlers)
        with Progress("nyc311 sample", total_batches=2, stream=stream, force_tty=False) as bar:
            assert root.handlers == handlers_before
            bar.advance(10, batches=1)
    finally:
        root.removeHandler(handler)
    assert "\r" not in stream.getvalue()
