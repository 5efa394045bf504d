"""The AWS calls each function may make (``functions/*/aws_calls.txt``), read as IAM grants, and the grant
each botocore operation needs, so the lists can be held against the template's roles and against the code."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from sam import REPO, function_properties, load_template


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource: a template logical id (its ARN) with an optional path, or ``*``."""

    action: str
    resource: str
    condition: str = ""
    """``key=value`` (StringEquals) or ``key~pattern`` (StringLike); empty for none"""

    def allows(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        # a presigned POST names its key in the form, not in the call: "bucket/*" is any key of the bucket
        some_key = resource.endswith("/*") and self.resource.startswith(resource[:-1])
        return action == self.action and (fnmatchcase(resource, self.resource) or some_key) and self._holds(context)

    def _holds(self, context: Mapping[str, str]) -> bool:
        if not self.condition:
            return True
        like = "~" in self.condition
        key, pattern = self.condition.split("~" if like else "=", 1)
        value = context.get(key)
        return value is not None and (fnmatchcase(value, pattern) if like else value == pattern)

    def __str__(self) -> str:
        return " ".join(filter(None, (self.action, self.resource, self.condition)))


def read_grants(path: Path) -> frozenset[Grant]:
    grants: set[Grant] = set()
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        actions, resource, *condition = line.split()
        grants.update(Grant(a, resource, *condition) for a in actions.split(","))
    return frozenset(grants)


CALLS_FILE = "aws_calls.txt"


def function_dir(logical_id: str) -> Path:
    """Where a function's code (and its calls list) lives: its ``CodeUri``."""
    return REPO / str(function_properties(logical_id)["CodeUri"])


@cache
def _env_resources() -> dict[str, str]:
    """Environment variable -> the template resource its value names (``IMAGEPIPE_TABLE_NAME`` -> ``ImagesTable``)."""
    template = load_template()
    variables: dict[str, Any] = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        variables.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    found: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, dict):
            ref = value.get("Ref") or (value.get("Fn::GetAtt") or [""])[0]
            if ref in template["Resources"]:
                found[name] = str(ref)
    return found


def resource_names() -> dict[str, str]:
    """This process's physical names (buckets, tables, services) -> the template resources they stand for."""
    return {os.environ[var]: logical for var, logical in _env_resources().items() if os.environ.get(var)}


Needed = tuple[str, str, dict[str, str]]
"""(IAM action, resource, condition context) one operation needs"""


def needed(
    service: str, operation: str, params: Mapping[str, Any], names: Mapping[str, str], *, presign: bool = False
) -> Iterator[Needed]:
    """What IAM checks for one botocore operation (or presigned request), resources named as in the lists."""
    if service == "s3":
        bucket = names.get(params.get("Bucket", ""), params.get("Bucket", ""))
        if presign and operation == "CreateBucket":  # botocore builds a presigned POST from CreateBucket
            yield "s3:PutObject", f"{bucket}/*", {}
            return
        versioned = bool(params.get("VersionId"))
        obj = f"{bucket}/{params.get('Key', '')}"
        if operation in ("GetObject", "HeadObject"):
            yield ("s3:GetObjectVersion" if versioned else "s3:GetObject"), obj, {}
        elif operation == "DeleteObject":
            yield ("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"), obj, {}
        elif operation == "PutObject":
            yield "s3:PutObject", obj, {}
        elif operation in ("ListObjectsV2", "ListObjects"):
            prefix = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
            yield "s3:ListBucket", bucket, prefix
        elif operation == "ListObjectVersions":
            prefix = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
            yield "s3:ListBucketVersions", bucket, prefix
        elif operation == "HeadBucket":
            yield "s3:ListBucket", bucket, {}
        else:
            yield f"s3:{operation}", bucket, {}
    elif service == "dynamodb":
        tables = list(params["RequestItems"]) if "RequestItems" in params else [params.get("TableName", "")]
        for table in tables:
            resource = names.get(table, table)
            if params.get("IndexName"):
                resource += f"/index/{params['IndexName']}"
            yield f"dynamodb:{operation}", resource, {}
    elif service == "cloudwatch" and operation == "PutMetricData":
        yield "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": params.get("Namespace", "")}
    elif service == "ecs" and operation == "DescribeServices":
        for name in params.get("services", []):
            yield "ecs:DescribeServices", names.get(name, name), {}
    elif service == "secretsmanager":
        secret = params.get("SecretId", "")
        yield f"secretsmanager:{operation}", names.get(secret, secret), {}
    elif service == "events" and operation == "PutEvents":
        for bus in {entry.get("EventBusName") or "default" for entry in params.get("Entries", [])}:
            arn = (
                bus
                if bus.startswith("arn:")
                else f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{bus}"
            )
            yield "events:PutEvents", arn, {}
    else:
        yield f"{service}:{operation}", "*", {}
