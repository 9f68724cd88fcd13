"""Progress display on stderr: a tqdm bar on a terminal, plain lines of text otherwise.

tqdm is the one progress bar (the ``progress`` extra); without it, or when stderr is
not a terminal, the run prints a line of text every few seconds instead.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Protocol, TextIO

from .._writes.bulk_results import BulkProgress

__all__ = [
    "LogProgress",
    "ProgressSink",
    "TqdmProgress",
    "format_duration",
    "make_progress",
    "status_text",
]


class ProgressSink(Protocol):
    """Something that shows a bulk run's progress."""

    def update(self, progress: BulkProgress) -> None:
        """Show the current counters (called after every row; throttle inside)."""

    def close(self, progress: BulkProgress) -> None:
        """Show the final counters and release the display."""


def format_duration(seconds: float | None) -> str:
    """Return ``seconds`` as ``M:SS`` or ``H:MM:SS`` (``?`` if unknown)."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_text(progress: BulkProgress) -> str:
    """Return the per-status counts in one short phrase."""
    text = f"created {progress.created}"
    if progress.updated:
        text += f" updated {progress.updated}"
    if progress.unchanged:
        text += f" unchanged {progress.unchanged}"
    if progress.present:
        text += f" present {progress.present}"
    text += f" failed {progress.failed} invalid {progress.invalid}"
    if progress.ambiguous:
        text += f" ambiguous {progress.ambiguous}"
    text += f" unknown {progress.unknown}"
    if progress.credits:
        text += f" | {progress.credits} credits ({progress.credits_per_row:.2f}/row)"
    return text


def _line(progress: BulkProgress, total: int | None) -> str:
    done = f"{progress.done}/{total}" if total is not None else str(progress.done)
    percent = f" {100 * progress.done // total:3d}%" if total else ""
    return (
        f"{done}{percent} | {status_text(progress)} | {progress.rate:.1f} rows/s"
        f" | ETA {format_duration(progress.eta(total))}"
    )


class LogProgress:
    """Plain log lines, at most one every ``interval`` seconds (for logs and pipes)."""

    def __init__(self, total: int | None, stream: TextIO, *, interval: float = 2.0) -> None:
        self.total = total
        self.stream = stream
        self.interval = interval
        self._last = time.monotonic()

    def update(self, progress: BulkProgress) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.stream.write(f"progress: {_line(progress, self.total)}\n")
            self.stream.flush()

    def close(self, progress: BulkProgress) -> None:
        self.stream.write(f"progress: {_line(progress, self.total)}\n")
        self.stream.flush()


class TqdmProgress:
    """A tqdm bar, its postfix holding the per-status counts."""

    def __init__(self, total: int | None, stream: TextIO, tqdm: Any) -> None:
        self._bar = tqdm(
            total=total, file=stream, unit="row", dynamic_ncols=True, smoothing=0.1, mininterval=0.1
        )
        self._shown = 0

    def update(self, progress: BulkProgress) -> None:
        # tqdm redraws at most every ``mininterval``; the postfix must be current then.
        self._bar.set_postfix_str(status_text(progress), refresh=False)
        self._bar.update(progress.done - self._shown)
        self._shown = progress.done

    def close(self, progress: BulkProgress) -> None:
        self._bar.set_postfix_str(status_text(progress), refresh=False)
        self._bar.update(progress.done - self._shown)
        self._shown = progress.done
        self._bar.close()


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80  # a TTY-like stream without a file descriptor (tests)


def _tqdm() -> Any:
    """Return tqdm's bar class, or None when the ``progress`` extra is not installed."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm


def make_progress(
    total: int | None, *, enabled: bool = True, stream: TextIO | None = None
) -> ProgressSink:
    """Pick the display: a tqdm bar on a wide enough TTY, plain lines of text otherwise."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if not enabled or isatty is None or not isatty() or _width(stream) < 40:
        return LogProgress(total, stream)
    tqdm = _tqdm()
    return LogProgress(total, stream) if tqdm is None else TqdmProgress(total, stream, tqdm)
