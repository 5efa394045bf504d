"""What the deployed API exposes by default, read from the translated template with its conditions
evaluated as CloudFormation would: no CORS origin unless listed, the API's own keys unless a JWT issuer is
given."""

from __future__ import annotations

from typing import Any

import pytest

from sam import translate

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # samtranslator internals

ORIGINS = "https://app.example.com,https://admin.example.com"
NO_VALUE = object()


def deployed(parameters: dict[str, str]) -> dict[str, Any]:
    """The translated template's resources with Fn::If, Fn::Equals, Fn::Not, Fn::Join and parameter Refs
    resolved for these parameters (the rest is left as it is)."""
    template = translate(parameters)
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        raw = parameters.get(name, spec.get("Default", ""))
        values[name] = raw.split(",") if spec["Type"] == "CommaDelimitedList" else raw

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [r for r in map(resolve, node) if r is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref" and arg in values:
                return values[arg]
            if fn == "Fn::If":
                return resolve(arg[1] if conditions[arg[0]] else arg[2])
            if fn == "Fn::Equals":
                return resolve(arg[0]) == resolve(arg[1])
            if fn == "Fn::Not":
                return not resolve(arg[0])
            if fn == "Fn::Join":
                return str(arg[0]).join(resolve(arg[1]))
            if fn == "Condition":
                return conditions[arg]
        return {k: r for k, r in ((k, resolve(v)) for k, v in node.items()) if r is not NO_VALUE}

    conditions: dict[str, bool] = {}
    for name, spec in template["Conditions"].items():
        conditions[name] = bool(resolve(spec))
    return {
        k: resolve(v) for k, v in template["Resources"].items() if "Condition" not in v or conditions[v["Condition"]]
    }


def test_no_origin_is_allowed_by_default() -> None:
    resources = deployed({})
    assert "CorsConfiguration" not in resources["HttpApi"]["Properties"]
    assert "CorsConfiguration" not in resources["UploadBucket"]["Properties"]


def test_listed_origins_and_only_those_are_allowed() -> None:
    resources = deployed({"CorsAllowOrigins": ORIGINS})
    api = resources["HttpApi"]["Properties"]["CorsConfiguration"]
    assert api["AllowOrigins"] == ORIGINS.split(",")
    assert {"authorization", "x-api-key"} <= set(api["AllowHeaders"])
    (rule,) = resources["UploadBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == ORIGINS.split(",")
    assert rule["AllowedMethods"] == ["POST"]


def test_the_api_authenticates_with_its_own_keys_by_default() -> None:
    resources = deployed({})
    assert "JwtAuthorizer" not in resources
    route = resources["HttpApiRoute"]["Properties"]
    assert route["AuthorizationType"] == "NONE"  # API Gateway passes every request to the app, which checks keys
    assert resources["ApiFunction"]["Properties"]["Environment"]["Variables"]["IMAGEPIPE_JWT_TENANT_CLAIM"] == ""


def test_a_jwt_issuer_puts_an_authorizer_in_front_with_a_tenant_claim() -> None:
    resources = deployed(
        {"JwtIssuer": "https://issuer.example.com/", "JwtAudience": "imagepipe", "JwtTenantClaim": "org"}
    )
    authorizer = resources["JwtAuthorizer"]["Properties"]
    assert authorizer["JwtConfiguration"] == {"Issuer": "https://issuer.example.com/", "Audience": ["imagepipe"]}
    route = resources["HttpApiRoute"]["Properties"]
    assert route["AuthorizationType"] == "JWT"
    assert route["AuthorizerId"] == {"Ref": "JwtAuthorizer"}
    assert resources["ApiFunction"]["Properties"]["Environment"]["Variables"]["IMAGEPIPE_JWT_TENANT_CLAIM"] == "org"
