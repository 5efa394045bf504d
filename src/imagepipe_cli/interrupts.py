"""Ctrl-C while ``imagepipe render`` reports its results: each result is printed and counted whole, never
twice, and once the first Ctrl-C is being handled (the files under way finishing), later ones are dropped so
that those files are still reported. Python runs a signal's handler in the main thread between two bytecodes,
wherever that is; this decides what the handler does there."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupts:
    """The first SIGINT or SIGTERM as ``KeyboardInterrupt`` (inside :meth:`held`, when the block ends); every
    later one dropped, from the moment the first is raised. SIGTERM (``timeout``, ``kill``, a service manager)
    stops a run as Ctrl-C does: the files under way are finished, none is left half written."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._holding = False
        self._pending = False
        self._raised = False
        self.received: int | None = None
        """the first signal's number, once one came"""

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """This handler for SIGINT and SIGTERM while the block runs; the ones before it after. Outside the main
        thread (where no handler can be set) both keep their usual effect."""
        try:
            previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def why(self) -> str:
        """What stopped the run, as its count says it: ``terminated`` after SIGTERM, else ``interrupted``."""
        return "terminated" if self.received == signal.SIGTERM else "interrupted"

    @contextmanager
    def held(self) -> Iterator[None]:
        """A Ctrl-C during the block is raised at its end, when the block did not raise anything itself."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._raised:
            return
        self._raised = True  # later presses change nothing, even before the first is caught
        self.received = signum
        if self._holding:
            self._pending = True
            return
        raise KeyboardInterrupt
