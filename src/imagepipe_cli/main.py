"""``imagepipe``: the console script. Each command group lives in a module of its own and registers here."""

from __future__ import annotations

import typer

from imagepipe_cli import commands
from imagepipe_cli.keys import keys
from imagepipe_cli.render import render

app = typer.Typer(
    name="imagepipe",
    help="Render images offline, or drive an imagepipe API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
commands.register(app)


@app.callback()
def _root() -> None:
    """imagepipe: render images offline, or drive an imagepipe API."""


app.command("render")(render)
app.add_typer(keys)


def main() -> None:
    """Entry point of the ``imagepipe`` console script."""
    app()


if __name__ == "__main__":
    main()
