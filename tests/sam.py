"""Emulation of ``sam local invoke`` without Docker: resolve a function's ``CodeUri`` + ``Handler``
from template.yaml and import it with the layer on the path, as Lambda mounts it."""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import importlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

RUNNING: contextvars.ContextVar[Path | None] = contextvars.ContextVar("running_function", default=None)
"""The code folder of the function whose code runs now (an emulated Lambda, the API, the worker): the AWS
calls made meanwhile are that function's, held to its calls list by tests/conftest.py."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (``!Ref x`` becomes ``{"Ref": x}``)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = REPO / "template.yaml") -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # type: ignore[no-any-return]  # noqa: S506


PARAMETERS = {"WorkerImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/imagepipe-worker:1"}


class _NoManagedPolicies:
    """samtranslator asks IAM for managed policy ARNs only for policies named bare; we name none."""

    def load(self) -> dict[str, str]:
        return {}


def translate(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """template.yaml translated offline by samtranslator, as `sam deploy` hands it to CloudFormation."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(load_template())
    # what `sam package` does: local code becomes S3 artifacts
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for field in ("CodeUri", "ContentUri"):
            if isinstance(props.get(field), str):
                props[field] = f"s3://artifacts/{props[field].strip('/')}.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {**PARAMETERS, **(parameters or {})}, _NoManagedPolicies())  # type: ignore[no-any-return]


def function_properties(logical_id: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """A function's properties with Globals applied, as SAM would."""
    template = template or load_template()
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::Serverless::Function", f"{logical_id} is a {resource['Type']}"
    merged = dict(template.get("Globals", {}).get("Function", {}))
    merged.update(resource["Properties"])
    return merged


def layer_dirs(properties: dict[str, Any], template: dict[str, Any]) -> list[Path]:
    dirs = []
    for layer in properties.get("Layers", []):
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in template["Resources"]:
            dirs.append(REPO / template["Resources"][layer["Ref"]]["Properties"]["ContentUri"])
    return dirs


def resolve_handler(logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Import ``Handler`` from ``CodeUri`` with the function's layers on ``sys.path``."""
    template = load_template()
    props = function_properties(logical_id, template)
    code_dir = REPO / props["CodeUri"]
    module_name, attr = props["Handler"].rsplit(".", 1)
    for path in [code_dir, *layer_dirs(props, template)]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    module = importlib.import_module(module_name)
    assert Path(module.__file__ or "").resolve().is_relative_to(code_dir.resolve()), (
        f"{module_name} resolved outside {code_dir}: {module.__file__}"
    )
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(module, attr)

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = RUNNING.set(code_dir)
        try:
            return handler(event, context)
        finally:
            RUNNING.reset(token)

    return invoke


class LambdaContext:
    """The attributes Powertools and Mangum read from a Lambda context."""

    function_name = "imagepipe-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:imagepipe-local"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/imagepipe-local"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class LambdaRuntime:
    """One execution environment: a thread with its own event loop, kept across invocations as a warm
    Lambda container keeps its process. Handlers run there, never inside the test's loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, initializer=self._start, thread_name_prefix="lambda")

    def _start(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

    async def invoke(
        self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any]
    ) -> dict[str, Any]:
        return await asyncio.wrap_future(self._executor.submit(handler, event, LambdaContext()))

    def close(self) -> None:
        def stop() -> None:
            if self._loop is not None:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                asyncio.set_event_loop(None)
                self._loop.close()

        self._executor.submit(stop).result()
        self._executor.shutdown()
