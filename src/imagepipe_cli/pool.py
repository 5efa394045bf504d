"""``imagepipe render``'s process pool, whose forkserver starts as the command starts, before typer parses.

Each pool process needs about 0.4 s of imports (pydantic's models, numpy, Pillow) before its first render,
and this process takes 0.1-0.2 s to import typer and parse (it builds a pydantic adapter for each parameter),
then 0.1-0.3 s to read the settings and check the recipe (``offline.prepare``). The pool is a forkserver's:
:func:`start` starts the server, which imports all that once (``preload.py``) while this process parses and
checks, and each pool process is then forked from it with it imported. Spawned instead, each pool process
imported all of it itself, on the same cores as this one and as each other. Until the server is started this
module imports nothing but the standard library's paths (files.py): whatever it imported first would delay
every pool process.

:func:`start` reads the arguments only as far as it needs to and starts nothing when it meets anything it does
not know for sure; a pool made later finds the server running, or starts it. Either way the arguments are
parsed, checked and reported on by typer, as they always were."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from imagepipe_cli.files import any_input_file

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext

# render's options that take a value, and the flag it has
_VALUED = {"--out": "out", "-o": "out", "--recipe": "recipe", "--engine": "engine", "--jobs": "jobs", "-j": "jobs"}
_FLAGS = {"--json"}


def pool(processes: int, engine: str | None) -> ProcessPoolExecutor:
    """``processes`` processes, all started now (each submit starts one while none is idle), each setting
    ``engine`` up as it starts (``offline.warm``)."""
    from concurrent.futures import ProcessPoolExecutor

    from imagepipe_cli.offline import warm

    context = _context()
    if context.get_start_method() == "forkserver":
        _start_server()  # unless start() did
    executor = ProcessPoolExecutor(processes, mp_context=context, initializer=warm, initargs=(engine,))
    for _ in range(processes):
        executor.submit(int)
    return executor


def start(args: Sequence[str]) -> None:
    """Start the pool's server now when ``args`` (the arguments after ``render``) plainly ask for a render.
    Only the server: a pool process starts once the server has imported what it preloads, which takes longer
    than typer's parse, so ``render`` starts them (:func:`pool`) when it has its arguments."""
    if _context().get_start_method() == "forkserver" and _plain(args):
        _start_server()


def _start_server() -> None:
    """The forkserver, started with Ctrl-C ignored: an ignored signal stays ignored across exec, so a Ctrl-C
    during its start-up (a second of imports) does not cut it short with a traceback. From then on it ignores
    Ctrl-C itself, and so do the pool processes (offline.warm); the command decides what it means. A press in
    the few milliseconds the server takes to be started is lost."""
    import signal
    from multiprocessing import forkserver

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _context() -> BaseContext:
    """A forkserver, which imports ``preload.py`` once; spawn where there is none. Never plain fork: the progress
    bar runs a thread, and forking a threaded process is unsafe (the server runs none)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["imagepipe_cli.preload"])
    return context


def _plain(args: Sequence[str]) -> bool:
    """Whether ``render args`` plainly asks for a render: an output folder, inputs that exist and name at least
    one file (the first one found ends the search: ``render`` lists them all), and a job count if any."""
    values: dict[str, str] = {}
    inputs: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            inputs.extend(rest)
        elif arg in _FLAGS:
            pass
        elif arg in _VALUED:
            value = next(rest, None)
            if value is None:
                return False
            values[_VALUED[arg]] = value
        elif arg.startswith("--") and arg.partition("=")[0] in _VALUED:
            name, _, value = arg.partition("=")
            values[_VALUED[name]] = value
        elif arg.startswith("-"):
            return False  # --help, a short option with its value attached, a mistake: typer's to tell
        else:
            inputs.append(arg)
    if "out" not in values or not inputs or not all(Path(i).exists() for i in inputs):
        return False
    jobs = values.get("jobs", "1")
    if not jobs.isdigit() or int(jobs) < 1:
        return False
    return any_input_file((Path(i) for i in inputs), Path(values["out"]))
