"""How a ``render`` or a ``submit`` went and how it stopped: the counts its last line says, its exit code, and
what a closed stdout (``| head -1``) means for the lines still to print."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUTPUT_CLOSED = "output closed"
STOPPED_EXIT_CODES = {"interrupted": 130, "terminated": 143, OUTPUT_CLOSED: 141}
"""as a shell reports SIGINT, SIGTERM and SIGPIPE"""


@dataclass
class Tally:
    """How a run went: what its summary line and exit code say."""

    inputs: int
    undone: str = "not rendered"
    """what the summary calls the inputs a stopped run did not get to"""
    succeeded: int = 0
    failed: int = 0
    accepted: int = 0
    """``submit``'s inputs that the API took (they have an id) and that were not seen finished"""
    stopped: str | None = None
    """why the run stopped before its end: ``interrupted`` (Ctrl-C), ``terminated`` (SIGTERM) or ``output
    closed`` (``| head``)"""

    def count(self, status: str) -> None:
        """One input is done with: ``succeeded``, ``failed``, or another status (accepted, not finished)."""
        if status == "succeeded":
            self.succeeded += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.accepted += 1

    def show(self, line: Callable[[], None]) -> None:
        """Print an input's ``line`` unless stdout is closed; the first write that finds it closed closes it
        quietly and stops the run (:data:`OUTPUT_CLOSED`)."""
        if self.stopped == OUTPUT_CLOSED:
            return
        try:
            line()
        except BrokenPipeError:
            stdout_closed()
            self.stopped = OUTPUT_CLOSED

    def summary(self, out: Path | None) -> str:
        line = f"{plural(self.inputs, 'input')}: {self.succeeded} succeeded, {self.failed} failed"
        if self.accepted:
            line += f", {self.accepted} accepted"
        if self.stopped:
            left = self.inputs - self.succeeded - self.failed - self.accepted
            line += f", {left} {self.undone} ({self.stopped})"
        return f"{line}; variants in {out}" if out is not None else line

    def exit_code(self) -> int:
        """130 after Ctrl-C, 143 after SIGTERM and 141 once stdout is closed; else 1 when any input failed, 0
        when none did."""
        if self.stopped:
            return STOPPED_EXIT_CODES[self.stopped]
        return 1 if self.failed else 0


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def stdout_closed() -> None:
    """Whoever read stdout has gone (``| head -1``): whatever is still printed goes nowhere, not into an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
