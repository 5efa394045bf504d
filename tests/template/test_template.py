"""template.yaml, proven without an AWS account: translated offline by samtranslator, linted by cfn-lint
(the translated output too, where circular dependencies show as E3004), every handler importable."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from sam import REPO, function_properties, layer_dirs, load_template

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # samtranslator and cfn-lint internals


def findings(text: str) -> list[str]:
    return [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in lint(text, config=ManualArgs(regions=["us-east-1"]))
    ]


def test_template_lints_clean() -> None:
    assert findings((REPO / "template.yaml").read_text()) == []


def test_translated_template_lints_clean_with_no_circular_dependency(translated: dict[str, Any]) -> None:
    found = findings(json.dumps(translated))
    assert not [f for f in found if f.startswith("E3004")], found
    assert found == []


EXPECTED = {
    "ApiFunction": "AWS::Lambda::Function",
    "S3TriggerFunction": "AWS::Lambda::Function",
    "S3TriggerFunctionObjectCreated": "AWS::Events::Rule",
    "BacklogFunction": "AWS::Lambda::Function",
    "BacklogFunctionEveryMinute": "AWS::Events::Rule",
    "HttpApi": "AWS::ApiGatewayV2::Api",
    "HttpApiStage": "AWS::ApiGatewayV2::Stage",
    "JwtAuthorizer": "AWS::ApiGatewayV2::Authorizer",
    "UploadBucket": "AWS::S3::Bucket",
    "OutputBucket": "AWS::S3::Bucket",
    "ImagesTable": "AWS::DynamoDB::Table",
    "KeysTable": "AWS::DynamoDB::Table",
    "Queue": "AWS::ElastiCache::ReplicationGroup",
    "QueueAuthToken": "AWS::SecretsManager::Secret",
    "WorkerCluster": "AWS::ECS::Cluster",
    "WorkerTaskDefinition": "AWS::ECS::TaskDefinition",
    "WorkerService": "AWS::ECS::Service",
    "WorkerScalingPolicy": "AWS::ApplicationAutoScaling::ScalingPolicy",
}


def test_translated_template_has_the_system(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    assert {k: resources[k]["Type"] for k in EXPECTED if k in resources} == EXPECTED
    layers = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(layers) == 1


def test_table_matches_the_code(translated: dict[str, Any]) -> None:
    from imagepipe.table import table_definition

    table = translated["Resources"]["ImagesTable"]["Properties"]
    code = table_definition("x")
    assert table["KeySchema"] == code["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(code["AttributeDefinitions"], key=str)
    assert [(i["IndexName"], i["KeySchema"]) for i in table["GlobalSecondaryIndexes"]] == [
        (i["IndexName"], i["KeySchema"]) for i in code["GlobalSecondaryIndexes"]
    ]


def test_keys_table_matches_the_code_and_reaches_every_function(translated: dict[str, Any]) -> None:
    from imagepipe.table import keys_table_definition

    table = translated["Resources"]["KeysTable"]["Properties"]
    code = keys_table_definition("x")
    assert (table["KeySchema"], table["AttributeDefinitions"]) == (code["KeySchema"], code["AttributeDefinitions"])
    api = translated["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["IMAGEPIPE_KEYS_TABLE"] == {"Ref": "KeysTable"}


def test_queue_is_a_tls_replication_group_without_cluster_mode(translated: dict[str, Any]) -> None:
    queue = translated["Resources"]["Queue"]["Properties"]
    assert queue["TransitEncryptionEnabled"] is True
    assert "NumNodeGroups" not in queue  # cluster mode disabled: arq runs MULTI/EXEC across keys
    assert "resolve:secretsmanager" in json.dumps(queue["AuthToken"])


def functions() -> list[str]:
    return [k for k, v in load_template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.mark.parametrize("logical_id", functions())
def test_every_handler_resolves_with_the_layer(logical_id: str, isolated_imports: None) -> None:
    template = load_template()
    props = function_properties(logical_id, template)
    code = REPO / props["CodeUri"]
    module_name, attr = props["Handler"].rsplit(".", 1)
    layers = layer_dirs(props, template)
    assert [p.name for p in layers] == ["shared"]
    assert (code / f"{module_name}.py").exists()
    # Lambda's path: the function's code, then the layer's python/ (our ContentUri root)
    sys.path[:0] = [str(code), *map(str, layers)]
    sys.modules.pop(module_name, None)
    env = {"IMAGEPIPE_WORKER_CLUSTER": "c", "IMAGEPIPE_WORKER_SERVICE": "s", "AWS_DEFAULT_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        module = importlib.import_module(module_name)
    assert Path(module.__file__ or "").parent == code.resolve()
    assert callable(getattr(module, attr))


@pytest.mark.parametrize("logical_id", functions())
def test_functions_import_no_imaging_code(logical_id: str, stack_env: dict[str, str]) -> None:
    """Cold start is a product figure: Pillow and libvips live with the worker only."""
    template = load_template()
    props = function_properties(logical_id, template)
    module_name = props["Handler"].rsplit(".", 1)[0]
    paths = [str(REPO / props["CodeUri"]), *map(str, layer_dirs(props, template))]
    imaging = ["PIL", "pyvips", "imagepipe_engine"]
    script = f"import sys; sys.path[:0] = {paths!r}; import {module_name}; print(set({imaging!r}) & set(sys.modules))"
    env = {**os.environ, "IMAGEPIPE_WORKER_CLUSTER": "c", "IMAGEPIPE_WORKER_SERVICE": "s", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "set()"


def test_layer_requirements_cover_the_shared_library() -> None:
    requirements = (REPO / "layers" / "shared" / "requirements.txt").read_text().lower()
    for package in ("pydantic-settings", "msgpack", "arq", "aws-lambda-powertools"):
        assert package in requirements


SAM = shutil.which("sam", path=os.pathsep.join([str(REPO / ".venv-sam" / "bin"), os.environ.get("PATH", "")]))


@pytest.mark.skipif(SAM is None, reason="the SAM CLI is not installed: `make validate` installs it into .venv-sam")
def test_sam_validate_lint() -> None:
    assert SAM is not None
    result = subprocess.run(
        [SAM, "validate", "--lint", "--region", "us-east-1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


BUILD = REPO / ".aws-sam" / "build"


@pytest.mark.skipif(not (BUILD / "template.yaml").exists(), reason="no sam build output: `make build` makes it")
def test_sam_build_puts_the_library_in_the_layers_python_folder() -> None:
    layer = BUILD / "SharedLayer" / "python"
    assert (layer / "imagepipe" / "__init__.py").exists()
    for package in ("pydantic", "arq", "msgpack", "aws_lambda_powertools"):
        assert (layer / package).is_dir(), package
    assert (BUILD / "ApiFunction" / "app.py").exists() and (BUILD / "ApiFunction" / "fastapi").is_dir()
    for library in ("PIL", "pyvips", "pyvips_binary", "imagepipe_engine"):
        assert not (BUILD / "ApiFunction" / library).exists(), library
        assert not (layer / library).exists(), library
