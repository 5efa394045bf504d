"""API keys: random secrets shown once, stored only as a hash with their tenant and scopes.

A key reads ``ip_<key_id>_<secret>``: the key id finds the item with one GetItem, and the hash of the
whole key is compared in constant time. The secret carries 256 random bits, so a plain SHA-256 is
enough: slow password hashes exist to stretch guessable secrets, and nobody can guess 2**256 values;
a fast hash keeps the check a microsecond on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from imagepipe.aws import error_code
from imagepipe.keys import TENANT_PATTERN, is_key_id
from imagepipe.records import now, translated_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["KEY_PREFIX", "ApiKey", "ApiKeys", "IssuedKey", "Scope", "Tenant", "parse_key"]

KEY_PREFIX = "ip_"
_KEY = re.compile(r"^ip_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")

Tenant = Annotated[str, Field(pattern=TENANT_PATTERN, description="lower-case letters, digits, '-'")]
# A marker item per tenant, written with its keys: "does this tenant have keys?" is one GetItem, not a Scan.
_TENANT_MARKER = "tenant#"


class Scope(StrEnum):
    IMAGES_READ = "images:read"
    IMAGES_WRITE = "images:write"
    ADMIN = "admin"
    """keys, queue, replay, health details; implies the other scopes"""


class ApiKey(BaseModel):
    """A key as stored, without its secret."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant: str
    scopes: list[Scope]
    name: str | None = None
    created_at: str
    revoked_at: str | None = None
    local: bool = False
    """made by ``make run``: refused unless the process runs in local mode"""


class IssuedKey(ApiKey):
    """A key just made: the only time its secret exists outside the caller's hands."""

    key: str


def parse_key(presented: str) -> str | None:
    """The key id of a well-formed key; None for anything else."""
    match = _KEY.match(presented)
    return match.group(1) if match else None


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


class ApiKeys:
    """The keys table: DynamoDB PutItem, GetItem, Scan and UpdateItem, nothing else.

    Besides the keys, one marker item per tenant that was ever given a key (``key_id`` = ``tenant#<name>``)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, tenant: str, scopes: list[Scope], name: str | None = None, *, local: bool = False) -> IssuedKey:
        """Make a key; its secret is in the answer and nowhere else."""
        key_id = secrets.token_hex(8)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        issued = IssuedKey(
            key_id=key_id,
            key=key,
            tenant=tenant,
            scopes=sorted(set(scopes)),
            name=name,
            created_at=now(),
            local=local,
        )
        item: dict[str, Any] = {
            "key_id": {"S": key_id},
            "hash": {"S": _digest(key)},
            "tenant": {"S": tenant},
            "scopes": {"L": [{"S": s.value} for s in issued.scopes]},
            "created_at": {"S": issued.created_at},
            "local": {"BOOL": local},
        }
        if name:
            item["name"] = {"S": name}
        marker = {"key_id": {"S": f"{_TENANT_MARKER}{tenant}"}, "tenant": {"S": tenant}}
        with translated_errors():
            self._client.put_item(TableName=self._table, Item=marker)
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(key_id)")
        return issued

    def has_tenant(self, tenant: str) -> bool:
        """Whether ``tenant`` was ever given a key (revoking its keys keeps its objects its own)."""
        with translated_errors():
            item = self._client.get_item(
                TableName=self._table, Key={"key_id": {"S": f"{_TENANT_MARKER}{tenant}"}}, ProjectionExpression="key_id"
            )
        return "Item" in item

    def verify(self, presented: str, *, local_mode: bool) -> ApiKey | None:
        """The key ``presented`` stands for, if it exists, matches, is not revoked and may be used here."""
        key_id = parse_key(presented)
        if key_id is None:
            return None
        with translated_errors():
            # strongly consistent: a revoked key stops working with the next request
            item = self._client.get_item(TableName=self._table, Key={"key_id": {"S": key_id}}, ConsistentRead=True)
        found = item.get("Item")
        if found is None or not hmac.compare_digest(found["hash"]["S"], _digest(presented)):
            return None
        key = _key(found)
        if key.revoked_at is not None or (key.local and not local_mode):
            return None
        return key

    def list(self) -> list[ApiKey]:
        """Every key, oldest first, without secrets."""
        keys: list[ApiKey] = []
        with translated_errors():
            for page in self._client.get_paginator("scan").paginate(TableName=self._table):
                keys.extend(_key(item) for item in page.get("Items", []) if "hash" in item)
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke a key (the first revocation's time stays); None when there is no such key."""
        if not is_key_id(key_id):
            return None
        try:
            with translated_errors():
                item = self._client.update_item(
                    TableName=self._table,
                    Key={"key_id": {"S": key_id}},
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                    ConditionExpression="attribute_exists(key_id)",
                    ExpressionAttributeValues={":now": {"S": now()}},
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return _key(item["Attributes"])


def _key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["key_id"]["S"],
        tenant=item["tenant"]["S"],
        scopes=[Scope(s["S"]) for s in item["scopes"]["L"]],
        name=item.get("name", {}).get("S"),
        created_at=item["created_at"]["S"],
        revoked_at=item.get("revoked_at", {}).get("S"),
        local=item.get("local", {}).get("BOOL", False),
    )
