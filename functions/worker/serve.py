"""The worker process: ``python serve.py`` from this folder (the container's command, ``make run``'s worker).

What ``arq worker.WorkerSettings`` did (arq's logging, the settings, ``Worker.run``: SIGTERM stops taking
jobs, waits, re-queues what still runs), with claims.py's worker. Imports stay inside :func:`main`: the
imaging pool's processes are spawned, and a spawned process runs this module's top level again."""

from __future__ import annotations


def main() -> None:
    import logging.config
    import sys

    from arq.logs import default_log_config
    from pydantic import ValidationError

    from imagepipe.settings import describe_environment_errors, get_settings

    try:
        get_settings()
    except ValidationError as exc:  # one line naming the variable, not a traceback through the imports
        sys.exit(f"the worker cannot start: {describe_environment_errors(exc)}")

    from claims import create_worker
    from worker import WorkerSettings

    logging.config.dictConfig(default_log_config(verbose=False))
    create_worker(WorkerSettings).run()  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
