"""Make, list and revoke API keys without the API: how the first admin key of a deployment is made.

    python -m imagepipe.keyadmin create --tenant acme --scopes images:read images:write --name ci
    python -m imagepipe.keyadmin list
    python -m imagepipe.keyadmin revoke KEY_ID

Talks to the keys table (``IMAGEPIPE_KEYS_TABLE``) with this shell's AWS credentials.
(``make key ARGS="create --tenant acme --scopes admin"``.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from imagepipe.apikeys import ApiKey, ApiKeys, Scope, Tenant
from imagepipe.aws import dynamodb_client
from imagepipe.settings import get_settings

_TENANT: TypeAdapter[str] = TypeAdapter(Tenant)


def describe(key: ApiKey) -> str:
    """One line per key, as ``list`` prints it."""
    state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
    scopes = ",".join(s.value for s in key.scopes)
    return f"{key.key_id}  {key.tenant:<16} {scopes:<32} {state:<10} {key.name or ''}".rstrip()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagepipe.keyadmin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it (the only time it is shown)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", "--scope", nargs="+", required=True, choices=[s.value for s in Scope])
    create.add_argument("--name")
    commands.add_parser("list", help="every key, without secrets")
    revoke = commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    settings = get_settings()
    keys = ApiKeys(dynamodb_client(), settings.keys_table)
    if args.command == "create":
        try:
            tenant = _TENANT.validate_python(args.tenant)
        except ValidationError:
            parser.error(f"--tenant {args.tenant!r}: lower-case letters, digits and '-' only")
        issued = keys.create(tenant, [Scope(s) for s in args.scopes], args.name)
        print(f"key_id: {issued.key_id}")
        print(f"API key: {issued.key}")
    elif args.command == "list":
        for key in keys.list():
            print(describe(key))
    elif keys.revoke(args.key_id) is None:
        print(f"no key {args.key_id}", file=sys.stderr)
        return 1
    else:
        print(f"revoked {args.key_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
