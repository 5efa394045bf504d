"""The ``imagepipe`` command: ``render`` (the worker's engine on local files, no services) and the API's
client (``submit``, ``status``, ``ls``, ...). Its libraries (typer, rich, httpx) stay out of the Lambda layer."""
