"""The admin command that makes a deployment's first key, without the API."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO, ApiClient


def keyadmin(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m imagepipe.keyadmin ...`` in this session's environment, as an operator would run it."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "layers" / "shared")}
    return subprocess.run(
        [sys.executable, "-m", "imagepipe.keyadmin", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_a_key_made_from_the_shell_works_until_revoked(api_client: ApiClient) -> None:
    made = keyadmin("create", "--tenant", "acme", "--scopes", "images:read", "images:write", "--name", "first")
    assert made.returncode == 0, made.stderr
    shown = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    client = api_client(shown["API key"])
    assert (await client.get("/images")).status_code == 200
    assert (await client.get("/keys")).status_code == 403  # no admin scope asked for

    listing = keyadmin("list")
    assert shown["key_id"] in listing.stdout and shown["API key"] not in listing.stdout
    assert keyadmin("revoke", shown["key_id"]).returncode == 0
    assert (await client.get("/images")).status_code == 401


def test_a_bad_tenant_or_scope_is_refused_before_anything_is_made() -> None:
    for args in (["--tenant", "Acme Corp", "--scopes", "admin"], ["--tenant", "acme", "--scopes", "root"]):
        refused = keyadmin("create", *args)
        assert refused.returncode == 2 and "API key" not in refused.stdout, refused


def test_make_key_takes_scope_as_the_cli_spells_it() -> None:
    made = keyadmin("create", "--tenant", "acme", "--scope", "images:read", "--name", "spelt-as-the-cli")
    assert made.returncode == 0, made.stderr
    shown = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    assert keyadmin("revoke", shown["key_id"]).returncode == 0
