"""What ``imagepipe render``'s forkserver imports once (pool.py), so that every pool process forked from it
starts with it imported: the models with their schemas built, the analysis (numpy), Pillow and the Pillow
engine. About 0.4 s of CPU a process, against 0.03 s left for each to do after the fork. Not the settings or
the recipes (0.09 s): the command's own process reads those meanwhile (``offline.prepare``), on the other core.

Not libvips: the vips engine loads it in each pool process (``warm``), after the fork, so no process inherits
a library initialised in another. numpy's OpenBLAS would start a thread per core as it imports; the pool runs
a process per core instead, so it gets one thread, and a fork copies no thread pool."""

from __future__ import annotations

import atexit
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import imagepipe_analysis  # noqa: F401
import imagepipe_engine.pillow  # noqa: F401
from imagepipe.models import ImageMetadata
from imagepipe_cli import offline

ImageMetadata.model_rebuild()
_SERVER = os.getpid()


def _exit_now() -> None:
    """The server's last act, when the command has exited: skip the interpreter's teardown (about 0.1 s with
    all this imported), as pool processes do. The server holds the command's standard output, so whoever
    reads it (a pipe, a caller's ``capture_output``) waits for the server to end."""
    if os.getpid() == _SERVER:
        offline.exit_now()


atexit.register(_exit_now)
