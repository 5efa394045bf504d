"""``python moto_server.py -H HOST -p PORT``: moto's server, as ``python -m moto.server`` runs it, without two
costs moto pays again on every request for answers that never change while it runs.

- Which service a request is for: moto lists its own package folder (and stats every entry in it) once or
  twice a request, to know its services' names. Listed once here.
- Which actions a service has: moto lists a handler class's methods (``inspect.getmembers``) on every request.
  Listed once per class here.

Both are a function of the installed moto alone, so caching them changes no answer. moto's CPU for an S3
PutObject of 120 kB went from 6.5 to 3.8 ms with it, and for a DynamoDB UpdateItem from 6.9 to 5.7 ms
(docs/benchmarks.md, 2026-12-07).
"""

from __future__ import annotations

import functools

from moto import backends
from moto.core import responses, utils

# Internals of moto 5.2: a moto that no longer has them runs as it is, only slower, never broken.
if hasattr(backends, "list_of_moto_modules"):
    _MODULES = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(_MODULES)  # read as backends.list_of_moto_modules() per request
if hasattr(responses, "method_names_from_class"):
    # responses.py calls the name it imported from utils.py: that name is the one to replace
    responses.method_names_from_class = functools.cache(utils.method_names_from_class)

if __name__ == "__main__":
    from moto.server import main

    main()
