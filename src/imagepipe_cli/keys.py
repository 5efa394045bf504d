"""``imagepipe keys create|ls|revoke``: API keys, through the API (an admin key's commands)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from imagepipe_cli.client import DEFAULT_URL, ImagepipeApi, Record
from imagepipe_cli.commands import JsonOption, KeyOption, UrlOption, call, console, show_rows, stops_quietly, table_row

SCOPES = ("images:read", "images:write", "admin")

keys = typer.Typer(name="keys", help="Make, list and revoke API keys (needs an admin key).", no_args_is_help=True)


@keys.command()
@stops_quietly
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Whose images the key reaches.", show_default=False)],
    scope: Annotated[
        list[str],
        typer.Option("--scope", "--scopes", help=f"One of {', '.join(SCOPES)}; repeat for more.", show_default=False),
    ],
    name: Annotated[str | None, typer.Option("--name", help="A note for the listing.", show_default=False)] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Make a key. Its secret is printed once: keep it."""
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope {', '.join(unknown)}: choose from {', '.join(SCOPES)}")
    made = call(url, api_key, lambda api: api.create_key(tenant, scope, name))
    if as_json:
        print(json.dumps(made))
        return
    print(f"key_id  {made['key_id']}\ntenant  {made['tenant']}\nscopes  {' '.join(made['scopes'])}")
    print(f"key     {made['key']}")
    console(stderr=True).print("the key is shown this once", markup=False, highlight=False)


@keys.command("ls")
@stops_quietly
def list_keys(as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: KeyOption = None) -> None:
    """Every key, without secrets: revoked ones show when."""
    show_rows(call(url, api_key, ImagepipeApi.keys), as_json, _keys_table)


def _keys_table(found: list[Record]) -> Table:
    table = Table("key_id", "tenant", "scopes", "name", "created", "revoked")
    for key in found:
        table_row(
            table,
            key["key_id"],
            key["tenant"],
            " ".join(key["scopes"]),
            key.get("name") or "",
            str(key.get("created_at", ""))[:19],
            str(key.get("revoked_at") or "")[:19],
        )
    return table


@keys.command()
@stops_quietly
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", show_default=False)],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Revoke a key: it stops working at once."""
    call(url, api_key, lambda api: api.revoke_key(key_id))
    print(f"revoked {key_id}")
