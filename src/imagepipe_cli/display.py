"""What ``submit`` shows: a rich progress bar on a terminal, plain lines or JSON lines otherwise."""

from __future__ import annotations

import json
import sys
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from imagepipe_cli.batch import Row
from imagepipe_cli.client import Record
from imagepipe_cli.inputs import Input


def size(count: float) -> str:
    """Bytes for people: ``4.2 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def failure(row: Row) -> str:
    error = row.error or {"code": "failed", "message": ""}
    return f"failed  {row.input}  {error['code']}: {error['message']}"


def stage(record: Record) -> str:
    """A record's ``progress`` (``rendering 2/3``), else its status."""
    progress = record.get("progress")
    if isinstance(progress, dict) and "stage" in progress:
        return f"{progress['stage']} {progress.get('done', '?')}/{progress.get('total', '?')}"
    return str(record.get("status", "?"))


class Lines:
    """Not a terminal: one plain line per input as it finishes; no colour, no control codes."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        pass

    def sent(self, count: int) -> None:
        pass

    def uploaded(self) -> None:
        pass

    def working(self, item: Input, record: Record) -> None:
        pass

    def done(self, row: Row) -> None:
        line = failure(row) if row.failed else f"{row.status:<9} {row.input}  {row.image_id}"
        print(line, flush=True)


class JsonLines(Lines):
    """``--json``: one object per input, one per line, as each finishes."""

    def done(self, row: Row) -> None:
        sys.stdout.write(json.dumps(row.as_json()) + "\n")
        sys.stdout.flush()


class ProgressBar(Lines):
    """A terminal: one bar for the batch, bytes up first, then images done; a line per failure."""

    def __init__(self, console: Console, total_bytes: int, count: int, wait: bool) -> None:
        self.console = console
        self.total_bytes = max(1, total_bytes)
        self.count = count
        self.wait = wait
        self.sent_bytes = 0
        self.uploads = 0
        self.finished = 0
        self.failures = 0
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
        )
        self.task: TaskID = self.progress.add_task("uploading", total=self.total_bytes, amount="", note="")
        self._show_bytes()

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()
        if kind is None and self.finished == self.count:  # else a stop's count says it
            ok = self.finished - self.failures
            verb = "succeeded" if self.wait else "accepted"
            self.console.print(f"{ok} {verb}, {self.failures} failed")

    def _show_bytes(self) -> None:
        amount = f"{size(self.sent_bytes)} / {size(self.total_bytes)}"
        self.progress.update(self.task, completed=min(self.sent_bytes, self.total_bytes), amount=amount)

    def _show_images(self, note: str = "") -> None:
        amount = f"{self.finished}/{self.count} images"
        self.progress.update(self.task, description="processing", total=self.count, completed=self.finished)
        self.progress.update(self.task, amount=amount, note=note)

    def sent(self, count: int) -> None:
        self.sent_bytes += count
        if self.uploads < self.count:
            self._show_bytes()

    def uploaded(self) -> None:
        self.uploads += 1
        if self.uploads == self.count:
            self.sent_bytes = self.total_bytes
            self._show_images() if self.wait else self._show_bytes()

    def working(self, item: Input, record: Record) -> None:
        if self.uploads == self.count:
            self._show_images(f"{item.path.name}: {stage(record)}")

    def done(self, row: Row) -> None:
        self.finished += 1
        if row.failed:
            self.failures += 1
            self.progress.console.print(failure(row), markup=False, highlight=False)
        if self.uploads == self.count and self.wait:
            self._show_images()
