"""Progress of long ingestion runs: a tqdm bar on a terminal, periodic log lines elsewhere.

A scheduler's log file is not a terminal; carriage-return bars would fill it with noise, so when
the output is not a TTY progress is logged every ``log_every_seconds`` (and at the end).

While a bar is drawn, a log record would otherwise be printed after the bar's last character (a
bar line ends without a newline) and the bar redrawn below it: every console log handler is
routed through ``tqdm.external_write_mode`` for the bar's life, so the bar is cleared, the record
printed on a line of its own, and the bar redrawn under it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

from tqdm import tqdm

logger = logging.getLogger(__name__)


def _format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


class Progress:
    """Counts rows and batches against optional totals and shows rate and ETA.

    ``total`` is in ``unit`` (rows, or bytes of an export file); batches are shown beside it.
    """

    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "rows",
        total_batches: int | None = None,
        log_every_seconds: float = 30.0,
        stream: IO[str] | None = None,
        force_tty: bool | None = None,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.total_batches = total_batches
        self.done = 0
        self.rows = 0
        self.batches = 0
        self._log_every = log_every_seconds
        self._started = time.monotonic()
        self._last_log = self._started
        stream = stream or sys.stderr
        is_tty = force_tty if force_tty is not None else _isatty(stream)
        self._bar: Any = None
        # Without a total of rows (or bytes), the bar counts batches, which are known upfront.
        self._bar_counts_batches = total is None and total_batches is not None
        if is_tty:
            bar_unit = "batch" if self._bar_counts_batches else unit.removesuffix("s")
            self._bar = tqdm(
                total=total_batches if self._bar_counts_batches else total,
                unit=bar_unit,
                unit_scale=not self._bar_counts_batches,
                desc=description,
                file=stream,
                dynamic_ncols=True,
            )
            self._refresh_postfix()
            self._log_wrappers = _route_logging_around_bars(stream)

    def advance(self, amount: int = 0, rows: int | None = None, batches: int = 0) -> None:
        """Record ``amount`` units of work (and ``rows``, when the unit is not rows)."""
        self.done += amount
        self.rows += amount if rows is None else rows
        self.batches += batches
        if self._bar is not None:
            self._bar.update(batches if self._bar_counts_batches else amount)
            self._refresh_postfix()
        elif time.monotonic() - self._last_log >= self._log_every:
            self._log()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            _restore_logging(self._log_wrappers)
        else:
            self._log(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status_line(self, final: bool = False) -> str:
        elapsed = time.monotonic() - self._started
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.description}:"]
        if self.total_batches is not None:
            parts.append(f"{self.batches}/{self.total_batches} batches,")
        else:
            parts.append(f"{self.batches} batches,")
        if self.unit == "rows":
            of_total = f" of {self.total:,}" if self.total is not None else ""
            parts.append(f"{self.rows:,}{of_total} rows,")
        else:
            share = f" ({self.done / self.total:.0%} of the file)" if self.total else ""
            parts.append(f"{self.rows:,} rows{share},")
        parts.append(f"{rate:,.0f} rows/s,")
        if final:
            parts.append(f"took {_format_duration(elapsed)}")
        elif self._fraction_done() > 0:
            fraction = self._fraction_done()
            parts.append(f"ETA {_format_duration(elapsed * (1 - fraction) / fraction)}")
        else:
            parts.append("ETA unknown")
        return " ".join(parts)

    def _fraction_done(self) -> float:
        if self.total:
            return min(1.0, self.done / self.total)
        if self.total_batches:
            return min(1.0, self.batches / self.total_batches)
        return 0.0

    def _refresh_postfix(self) -> None:
        if self._bar_counts_batches or self.unit != "rows":
            postfix = {"rows": f"{self.rows:,}"}
        else:
            total = f"/{self.total_batches}" if self.total_batches is not None else ""
            postfix = {"batches": f"{self.batches}{total}"}
        self._bar.set_postfix(postfix, refresh=False)

    def _log(self, final: bool = False) -> None:
        self._last_log = time.monotonic()
        logger.info(self.status_line(final=final))


class _ClearsBarsFirst(logging.Handler):
    """Hands each record to ``handler`` with the bars on ``stream`` cleared, then redraws them.

    tqdm's ``logging_redirect_tqdm`` does not fit: it swaps only ``StreamHandler``s for its own,
    so Kedro's ``RichHandler`` (a plain ``Handler``) would keep tearing the bar and every record
    would be printed a second time, unformatted; and its replacement drops the handler's level.
    Wrapping keeps each handler's own formatting, filters and level.
    """

    def __init__(self, handler: logging.Handler, stream: IO[str]) -> None:
        super().__init__(level=handler.level)
        self.handler = handler
        self._stream = stream

    def handle(self, record: logging.LogRecord) -> bool | logging.LogRecord:
        with tqdm.external_write_mode(file=self._stream):
            return self.handler.handle(record)


def _route_logging_around_bars(stream: IO[str]) -> list[_ClearsBarsFirst]:
    """Wrap the root logger's handlers that may write to the terminal (not log files)."""
    root = logging.getLogger()
    wrappers: list[_ClearsBarsFirst] = []
    handlers: list[logging.Handler] = []
    for handler in root.handlers:
        # An outer bar's wrappers already clear every bar on the stream.
        if not isinstance(handler, logging.FileHandler | _ClearsBarsFirst):
            handler = _ClearsBarsFirst(handler, stream)
            wrappers.append(handler)
        handlers.append(handler)
    root.handlers = handlers
    return wrappers


def _restore_logging(wrappers: list[_ClearsBarsFirst]) -> None:
    """Put the wrapped handlers back in place, keeping any handler added meanwhile."""
    root = logging.getLogger()
    root.handlers = [h.handler if h in wrappers else h for h in root.handlers]


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
