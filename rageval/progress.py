"""Progress of long steps (parsing, indexing, encoding, graph building, training, generation, search).

Every long step reports through one API::

    with progress(len(corpus), "encoding corpus", unit="doc") as step:
        for batch in batches:
            ...
            step.update(len(batch))

When stderr is a terminal, a tqdm bar with the rate and the ETA shows once the step has run
``min(2 s, interval)``. Otherwise (CI logs, ``2> file``, Ray workers) the ``rageval`` logger writes
``encoding corpus: 12,800/50,000 docs (25.6%), 210 doc/s, ETA 2m57s`` at INFO every ``interval``
seconds (default 30; ``$RAGEVAL_PROGRESS_INTERVAL`` or the ``interval`` argument). Either way a step
that took longer than the interval ends with one line giving its count and total time, and a step
that ends sooner prints nothing. ``update`` only adds to a counter (call it per batch, from the
thread that runs the step); one background thread per process writes the lines and refreshes the
bars, so a step with slow batches, or a timed phase with no count at all (``total=None``, no
updates), still shows, and starting a step costs microseconds.
"""
from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from types import TracebackType

from tqdm import tqdm

from rageval.errors import RagevalError
from rageval.registry import parse_number

log = logging.getLogger("rageval")


def log_to_stderr(level: int) -> None:
    """Send the ``rageval`` log at ``level`` and above to stderr as ``LEVEL: message`` (the command
    line's format; a Ray worker uses it too, so its lines reach the driver the same way)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(level)

INTERVAL_VARIABLE = "RAGEVAL_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0
BAR_DELAY = 2.0  # seconds a step runs before its terminal bar appears
MIN_TICK = 0.1  # the background thread wakes at most this often (an interval of 0 logs at this pace)


def interval_from_environment() -> float:
    """Seconds between progress log lines: ``$RAGEVAL_PROGRESS_INTERVAL`` (a number >= 0), else 30."""
    raw = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = parse_number(raw, float)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise RagevalError(f"{INTERVAL_VARIABLE}={raw!r}: need a number of seconds, 0 or more")
    return value


def duration(seconds: float) -> str:
    """``4.2s``, ``2m57s``, ``1h02m03s``."""
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def plural(unit: str) -> str:
    """``doc`` -> ``docs``, ``query`` -> ``queries``, ``pass`` -> ``passes``."""
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return unit[:-1] + "ies"
    if unit.endswith(("s", "x", "ch", "sh")):
        return unit + "es"
    return unit + "s"


def _rate(n: int, elapsed: float) -> float:
    return n / elapsed if elapsed > 0 else 0.0


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def status_line(desc: str, n: int, total: int | None, unit: str, elapsed: float) -> str:
    """The line logged while a step runs: count (of total, with percent), rate and ETA."""
    rate = _rate(n, elapsed)
    if total is None:
        if n == 0:
            return f"{desc}: running for {duration(elapsed)}"
        return f"{desc}: {n:,} {plural(unit)}, {_number(rate)} {unit}/s"
    percent = 100.0 * n / total if total else 100.0
    eta = duration(max(total - n, 0) / rate) if rate > 0 else "unknown"
    return f"{desc}: {n:,}/{total:,} {plural(unit)} ({percent:.1f}%), {_number(rate)} {unit}/s, ETA {eta}"


def final_line(desc: str, n: int, unit: str, elapsed: float) -> str:
    """The line logged when a step that ran longer than the interval ends: count, total time, rate."""
    if n == 0:
        return f"{desc}: done in {duration(elapsed)}"
    return f"{desc}: {n:,} {plural(unit)} in {duration(elapsed)} ({_number(_rate(n, elapsed))} {unit}/s)"


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


class _Watcher:
    """The one thread of a process that writes every running step's lines and refreshes its bar."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: set[Step] = set()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, step: Step) -> None:
        with self.lock:
            self.steps.add(step)
            if self.thread is None or not self.thread.is_alive():  # first step, or a forked child
                self.thread = threading.Thread(target=self._run, name="rageval progress", daemon=True)
                self.thread.start()
        self.wake.set()  # the new step may be due sooner than the one waited for

    def remove(self, step: Step) -> None:
        """After this, ``step`` writes nothing more (its tick runs under the same lock)."""
        with self.lock:
            self.steps.discard(step)

    def _run(self) -> None:
        while True:
            with self.lock:
                self.wake.clear()
                now = time.monotonic()
                due = [step.tick(now) for step in self.steps]
            self.wake.wait(max(min(due) - time.monotonic(), 0.0) if due else None)


_watcher = _Watcher()


class Step:
    """A running step (made by ``progress``): ``update(n)`` as batches finish; a context manager."""

    def __init__(self, total: int | None, desc: str, unit: str, interval: float, terminal: bool):
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.n = 0
        self.postfix = ""
        self._start = time.monotonic()
        delay = min(BAR_DELAY, interval)
        self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False,
                         delay=delay, file=sys.stderr,
                         bar_format="{desc}: {elapsed}" if total is None else None) if terminal else None
        # a bar is redrawn every second once shown (tqdm draws only on update); a log line every interval
        self._period = max(min(interval, 1.0) if terminal else interval, MIN_TICK)
        self._due = self._start + (max(delay, MIN_TICK) if terminal else self._period)
        _watcher.add(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def update(self, n: int = 1) -> None:
        """``n`` more items done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        """Counts shown after the rate (``kept 3, dropped 1``), on the bar and in log lines."""
        self.postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def tick(self, now: float) -> float:
        """Write what is due at ``now`` (the watcher's call); returns when the next is due."""
        if now >= self._due:
            if self._bar is not None:
                self._bar.refresh()
            else:
                line = status_line(self.desc, self.n, self.total, self.unit, now - self._start)
                log.info(f"{line} ({self.postfix})" if self.postfix else line)
            self._due += self._period
            if self._due <= now:  # the watcher was late: keep the pace from now
                self._due = now + self._period
        return self._due

    def close(self, finished: bool = True) -> None:
        """End the step; a finished step that ran longer than the interval logs its total time."""
        _watcher.remove(self)
        if self._bar is not None:
            self._bar.close()
        elapsed = self.elapsed
        if finished and elapsed > self.interval:
            log.info(final_line(self.desc, self.n, self.unit, elapsed))

    def __enter__(self) -> Step:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(finished=kind is None)


def progress(total: int | None, desc: str, unit: str = "doc", interval: float | None = None) -> Step:
    """A step of ``total`` ``unit``s (None: unknown; with no updates, a timed phase) shown as ``desc``;
    ``interval``: seconds between log lines (default ``$RAGEVAL_PROGRESS_INTERVAL``, else 30)."""
    if interval is None:
        interval = interval_from_environment()
    elif not 0 <= interval < math.inf:
        raise ValueError(f"progress interval must be 0 or more seconds, got {interval}")
    return Step(total, desc, unit, interval, _stderr_is_terminal())
