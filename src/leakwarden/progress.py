"""Progress of a long scan on a terminal: items done, MB/s, findings so far.

Shown only when the CLI asked for it (`Settings.progress`, off with `--quiet`) and standard
error is a terminal; otherwise every call is a cheap no-op, so pipelines can always call it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

# Below this much work a bar only flickers.
MIN_BYTES = 4 * 1024 * 1024


class ScanProgress:
    """`advance()` after each unit of work; `close()` (or `with`) clears the line."""

    def __init__(self, total_items: int, total_bytes: int, unit: str = "files", enabled: bool = True, allowed: bool = False) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self.items = self.bytes = self.findings = 0
        self.total_items, self.total_bytes, self.unit = total_items, total_bytes, unit
        # `allowed`: may appear later, once `expect()` has announced enough work.
        self._allowed = allowed and not enabled
        if enabled:
            self._start()

    def _start(self) -> None:
        self.enabled = True
        self._allowed = False
        unit = self.unit
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        console = Console(file=sys.stderr, stderr=True)
        self._bar = Progress(
            TextColumn("[bold]scanning[/]"),
            BarColumn(),
            # a negative item total: the count is not known up front (the bar follows bytes)
            TextColumn(("{task.fields[items]} " if self.total_items < 0 else "{task.fields[items]}/{task.fields[total_items]} ") + unit),
            TransferSpeedColumn(),
            TextColumn("{task.fields[findings]} findings"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("scan", total=max(self.total_bytes, 1), items=0, total_items=self.total_items, findings=0)
        self._bar.start()

    def expect(self, items: int, nbytes: int) -> None:
        """More work was found (a walk still listing files): grow the totals."""
        self.total_items += items
        self.total_bytes += nbytes
        if self._allowed and (self.total_bytes >= MIN_BYTES or os.environ.get("LEAKWARDEN_PROGRESS_ALWAYS")):
            self._start()
        elif self.enabled:
            self._bar.update(self._task, total=max(self.total_bytes, 1), total_items=self.total_items)

    def advance(self, items: int = 0, nbytes: int = 0, findings: int | None = None) -> None:
        if not self.enabled:
            return
        self.items += items
        self.bytes += nbytes
        if findings is not None:
            self.findings = findings
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._bar.update(self._task, completed=self.bytes, items=self.items, findings=self.findings)

    def close(self) -> None:
        if self.enabled and self._bar is not None:
            self._bar.update(self._task, completed=self.bytes, items=self.items, findings=self.findings)
            self._bar.stop()
            self._bar = None
            self.enabled = False

    def __enter__(self) -> ScanProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def should_show(settings: Any, total_bytes: int) -> bool:
    if not getattr(settings, "progress", False) or os.environ.get("LEAKWARDEN_NO_PROGRESS"):
        return False
    if total_bytes < MIN_BYTES and not os.environ.get("LEAKWARDEN_PROGRESS_ALWAYS"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def start(settings: Any, total_items: int, total_bytes: int, unit: str = "files") -> ScanProgress:
    """A bar for known totals, or (totals 0) one that appears once `expect()` reaches MIN_BYTES."""
    if total_items or total_bytes:
        return ScanProgress(total_items, total_bytes, unit, enabled=should_show(settings, total_bytes))
    return ScanProgress(0, 0, unit, enabled=False, allowed=should_show(settings, MIN_BYTES))
