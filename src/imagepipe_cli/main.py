"""``imagepipe``: the console script. Each command group lives in a module of its own and registers here.

Nothing is imported at module level: ``imagepipe render``'s pool processes are spawned, and a spawned process
re-imports the script that started its parent, so whatever this module imports, every one of them imports too
(typer, and through the API's client httpx and rich: about 0.3 s a process, measured).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _root() -> None:
    """imagepipe: render images offline, or drive an imagepipe API."""


_NOTHING_YET = {"render": "nothing rendered", "submit": "nothing submitted"}
"""the commands that stop quietly on a Ctrl-C before they start their work, and what it leaves"""


def _quit(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write(f"\ninterrupted; {_NOTHING_YET[sys.argv[1]]}\n")
    os._exit(130)


def main() -> None:
    """Entry point of the ``imagepipe`` console script."""
    # pydantic looks for plugins among every installed distribution on first use (50-70 ms a process, each
    # render process too, which inherit this); imagepipe uses none
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if sys.argv[1:2] and sys.argv[1] in _NOTHING_YET:
        # Ctrl-C before the work starts (imports, parsing, the folders' walk) ends the command quietly: nothing
        # is written or uploaded yet. Both install their own handler once there is something to finish.
        signal.signal(signal.SIGINT, _quit)
    if sys.argv[1:2] == ["render"]:  # its pool's server imports the engine while typer imports and parses
        from imagepipe_cli import pool

        pool.start(sys.argv[2:])
    import typer

    from imagepipe_cli.render import render

    app = typer.Typer(
        name="imagepipe",
        help="Render images offline, or drive an imagepipe API.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    if sys.argv[1:2] != ["render"]:  # the API's client (httpx, rich): 0.2 s that a render does not need
        from imagepipe_cli import commands
        from imagepipe_cli.keys import keys

        commands.register(app)
        app.add_typer(keys)
    app.command("render")(render)
    app()


if __name__ == "__main__":
    main()
