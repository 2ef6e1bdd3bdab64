"""A plain-text progress bar on stderr: reports done of total, elapsed, ETA (no dependency).

On a terminal the bar is redrawn in place; elsewhere (a log, CI) one line is written per report
done, so the output stays readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "clock_text"]


def clock_text(seconds: float) -> str:
    """``1h02m03s``, ``4m05s``, ``6s``."""
    s = round(max(seconds, 0.0))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: int = 30,
        in_place: bool | None = None,
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._started = clock()
        self._width = width
        self._in_place = self.stream.isatty() if in_place is None else in_place

    def line(self, note: str = "") -> str:
        elapsed = self._clock() - self._started
        filled = self._width * self.done // self.total if self.total else self._width
        bar = "#" * filled + "." * (self._width - filled)
        if self.done >= self.total:
            eta = "done"
        elif self.done:
            eta = "ETA " + clock_text(elapsed / self.done * (self.total - self.done))
        else:
            eta = "ETA ?"
        text = f"[{bar}] {self.done}/{self.total} reports · {clock_text(elapsed)} elapsed · {eta}"
        return f"{text} · {note}" if note else text

    def advance(self, note: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        self.show(note)

    def show(self, note: str = "") -> None:
        if self._in_place:
            self.stream.write("\r\x1b[K" + self.line(note))
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(self.line(note) + "\n")
        self.stream.flush()
