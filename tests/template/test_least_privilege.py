"""Each role of the translated template allows exactly the AWS calls listed next to its code, and nothing
else: no wildcard action, no policy template's extras. moto ignores IAM, so this is where a missing or a
superfluous permission shows before AWS does (tests/conftest.py holds the code to the same lists)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_calls import CALLS_FILE, Grant, function_dir, read_grants

from sam import REPO, load_template

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # samtranslator internals

WORKER = REPO / "functions" / "worker"

# What SAM attaches to every function's role, for the Lambda service itself rather than our code: writing
# the function's logs, the network interfaces of a function in a VPC, and X-Ray trace segments (Tracing).
LAMBDA_PLATFORM = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def _lists(template: dict[str, Any]) -> dict[str, Path]:
    """Role logical id -> the calls list it must equal."""
    lists = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function" and "Role" in resource["Properties"]:
            role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            lists[role] = function_dir(logical_id) / CALLS_FILE
    task = template["Resources"]["WorkerTaskDefinition"]["Properties"]
    lists[task["TaskRoleArn"]["Fn::GetAtt"][0]] = WORKER / CALLS_FILE
    lists[task["ExecutionRoleArn"]["Fn::GetAtt"][0]] = WORKER / "execution_calls.txt"
    return lists


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource(value: Any, resources: dict[str, Any]) -> str:
    """A policy resource as the lists name it: ``UploadBucket/uploads/*`` for ``${UploadBucket.Arn}/uploads/*``."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return str(value["Fn::GetAtt"][0])
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{(\w+)(?:\.Arn)?\}", lambda m: m[1] if m[1] in resources else m[0], value["Fn::Sub"])
    return repr(value)  # matches no list entry, so the test names it


def _condition(condition: dict[str, dict[str, str]] | None) -> str:
    if not condition:
        return ""
    ((operator, pair),) = condition.items()
    ((key, value),) = pair.items()
    sign = {"StringEquals": "=", "StringLike": "~"}.get(operator, f" {operator} ")
    return f"{key}{sign}{value}"


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def granted(role: dict[str, Any], resources: dict[str, Any]) -> frozenset[Grant]:
    return frozenset(
        Grant(action, _resource(resource, resources), _condition(statement.get("Condition")))
        for statement in _statements(role)
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    )


def roles() -> list[str]:
    template = load_template()
    lambdas = [f"{k}Role" for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]
    return [*lambdas, "WorkerTaskRole", "WorkerExecutionRole"]


@pytest.mark.parametrize("role_id", roles())
def test_role_allows_exactly_its_listed_calls(role_id: str, translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    listed = read_grants(_lists(translated)[role_id])
    allowed = granted(resources[role_id], resources)
    assert sorted(map(str, listed - allowed)) == [], f"{role_id} lacks these listed calls"
    assert sorted(map(str, allowed - listed)) == [], f"{role_id} allows calls its code does not make"


def test_every_role_has_a_calls_list(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    in_template = {k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    assert set(_lists(translated)) == in_template == set(roles())


def test_no_statement_widens_beyond_its_actions(translated: dict[str, Any]) -> None:
    """Allow only, named actions only: no ``*``, no ``s3:Get*``, no NotAction or NotResource."""
    for role_id, role in translated["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        for statement in _statements(role):
            assert statement["Effect"] == "Allow", role_id
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, role_id
            assert not [a for a in _as_list(statement["Action"]) if "*" in a], role_id


def test_only_lambdas_carry_managed_policies_and_only_the_platform_ones(translated: dict[str, Any]) -> None:
    for role_id, role in translated["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        managed = set(role["Properties"].get("ManagedPolicyArns", []))
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
        assert managed == (LAMBDA_PLATFORM if "lambda.amazonaws.com" in _as_list(principal) else set()), role_id


def test_delete_image_is_allowed_on_both_buckets(translated: dict[str, Any]) -> None:
    """``DELETE /images/{id}`` removes the variants and the original's version for good."""
    resources = translated["Resources"]
    api = granted(resources["ApiFunctionRole"], resources)
    assert any(g.allows("s3:DeleteObjectVersion", "UploadBucket/uploads/t/abc/photo.jpg", {}) for g in api)
    assert any(g.allows("s3:DeleteObject", "OutputBucket/images/t/abc/thumb.webp", {}) for g in api)
