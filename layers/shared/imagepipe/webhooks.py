"""Webhook endpoints and their dead letters in DynamoDB (``WebhooksTable``), one partition per tenant:
``endpoint#{webhook_id}`` items hold the URL and the signing secret, ``dead#{webhook_id}#{delivery_id}`` items
hold deliveries that ran out of tries, until they are redelivered or the endpoint is deleted.

The secret is stored as it is (the table is encrypted at rest): the sender must have it to sign, so it cannot be
hashed like an API key, and only the API and worker roles can read the table."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from imagepipe.aws import error_code
from imagepipe.errors import TooManyWebhooks
from imagepipe.models import ErrorInfo
from imagepipe.records import now, translated_errors
from imagepipe.signing import new_secret

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_ENDPOINTS = 10
"""per tenant: every image's completion fans out to each"""

_ENDPOINT = "endpoint#"
_DEAD = "dead#"


class Webhook(BaseModel):
    """An endpoint as its tenant sees it: never its secret."""

    model_config = ConfigDict(defer_build=True)

    webhook_id: str
    url: str
    created_at: str
    dead_letters: int = 0
    """deliveries that ran out of tries: ``POST /webhooks/{id}/redeliver`` sends them again"""


class Endpoint(BaseModel):
    """What the sender needs: the URL and the secret to sign with."""

    model_config = ConfigDict(defer_build=True)

    webhook_id: str
    url: str
    secret: str


class DeadDelivery(BaseModel):
    """A delivery given up on: its exact body, so a redelivery is the same event."""

    model_config = ConfigDict(defer_build=True)

    webhook_id: str
    delivery_id: str
    body: str
    error: ErrorInfo
    attempts: int
    failed_at: str


def new_webhook_id() -> str:
    return "wh_" + secrets.token_hex(8)


def _s(item: dict[str, Any], name: str) -> str:
    return str(item[name]["S"])


class WebhookStore:
    """The webhooks table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def create(self, tenant: str, url: str) -> tuple[Webhook, str]:
        """A new endpoint and its secret (which nothing returns again)."""
        if len(self._items(tenant, _ENDPOINT, "webhook_id")) >= MAX_ENDPOINTS:
            raise TooManyWebhooks(f"a tenant may register {MAX_ENDPOINTS} webhook endpoints")
        webhook = Webhook(webhook_id=new_webhook_id(), url=url, created_at=now())
        secret = new_secret()
        item = {
            "tenant": {"S": tenant},
            "sk": {"S": _ENDPOINT + webhook.webhook_id},
            "webhook_id": {"S": webhook.webhook_id},
            "url": {"S": url},
            "secret": {"S": secret},
            "created_at": {"S": webhook.created_at},
        }
        with translated_errors():
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)")
        return webhook, secret

    def listing(self, tenant: str) -> list[Webhook]:
        """The tenant's endpoints, oldest first, each with its count of dead letters (one query)."""
        endpoints: dict[str, Webhook] = {}
        dead: dict[str, int] = {}
        for item in self._items(tenant, "", "#i, webhook_id, #u, created_at"):
            webhook_id = _s(item, "webhook_id")
            if _s(item, "sk").startswith(_DEAD):
                dead[webhook_id] = dead.get(webhook_id, 0) + 1
            else:
                endpoints[webhook_id] = Webhook(
                    webhook_id=webhook_id, url=_s(item, "url"), created_at=_s(item, "created_at")
                )
        found = [w.model_copy(update={"dead_letters": dead.get(w.webhook_id, 0)}) for w in endpoints.values()]
        return sorted(found, key=lambda w: w.created_at)

    def endpoints(self, tenant: str) -> list[str]:
        """The ids of the tenant's endpoints."""
        return [_s(i, "webhook_id") for i in self._items(tenant, _ENDPOINT, "webhook_id")]

    def endpoint(self, tenant: str, webhook_id: str) -> Endpoint | None:
        with translated_errors():
            resp = self._client.get_item(
                TableName=self._table,
                Key={"tenant": {"S": tenant}, "sk": {"S": _ENDPOINT + webhook_id}},
                ConsistentRead=True,
            )
        item = resp.get("Item")
        if item is None:
            return None
        return Endpoint(webhook_id=webhook_id, url=_s(item, "url"), secret=_s(item, "secret"))

    def delete(self, tenant: str, webhook_id: str) -> bool:
        """Delete an endpoint and its dead letters; False when there is no such endpoint."""
        try:
            with translated_errors():
                self._client.delete_item(
                    TableName=self._table,
                    Key={"tenant": {"S": tenant}, "sk": {"S": _ENDPOINT + webhook_id}},
                    ConditionExpression="attribute_exists(sk)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        for dead in self.dead_letters(tenant, webhook_id):
            self.forget(tenant, dead)
        return True

    def bury(self, tenant: str, dead: DeadDelivery) -> None:
        """Keep a delivery that ran out of tries."""
        item = {
            "tenant": {"S": tenant},
            "sk": {"S": f"{_DEAD}{dead.webhook_id}#{dead.delivery_id}"},
            "webhook_id": {"S": dead.webhook_id},
            "delivery_id": {"S": dead.delivery_id},
            "body": {"S": dead.body},
            "error_code": {"S": dead.error.code},
            "error_message": {"S": dead.error.message},
            "attempts": {"N": str(dead.attempts)},
            "failed_at": {"S": dead.failed_at},
        }
        with translated_errors():
            self._client.put_item(TableName=self._table, Item=item)

    def dead_letters(self, tenant: str, webhook_id: str) -> list[DeadDelivery]:
        return [
            DeadDelivery(
                webhook_id=_s(i, "webhook_id"),
                delivery_id=_s(i, "delivery_id"),
                body=_s(i, "body"),
                error=ErrorInfo(code=_s(i, "error_code"), message=_s(i, "error_message")),
                attempts=int(i["attempts"]["N"]),
                failed_at=_s(i, "failed_at"),
            )
            for i in self._items(tenant, f"{_DEAD}{webhook_id}#", None)
        ]

    def forget(self, tenant: str, dead: DeadDelivery) -> None:
        with translated_errors():
            self._client.delete_item(
                TableName=self._table,
                Key={"tenant": {"S": tenant}, "sk": {"S": f"{_DEAD}{dead.webhook_id}#{dead.delivery_id}"}},
            )

    def _items(self, tenant: str, prefix: str, projection: str | None) -> list[dict[str, Any]]:
        """The tenant's items whose sort key starts with ``prefix`` (all of them when it is empty)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#t = :t",
            "ExpressionAttributeNames": {"#t": "tenant", "#i": "sk"},
            "ExpressionAttributeValues": {":t": {"S": tenant}},
            "ConsistentRead": True,
        }
        if prefix:
            query["KeyConditionExpression"] += " AND begins_with(#i, :p)"
            query["ExpressionAttributeValues"][":p"] = {"S": prefix}
        elif not projection or "#i" not in projection:
            del query["ExpressionAttributeNames"]["#i"]
        if projection:
            query["ProjectionExpression"] = projection
            if "#u" in projection:
                query["ExpressionAttributeNames"]["#u"] = "url"
        found: list[dict[str, Any]] = []
        with translated_errors():
            for page in self._client.get_paginator("query").paginate(**query):
                found.extend(page.get("Items", []))
        return found
