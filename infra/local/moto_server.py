"""``python moto_server.py -H HOST -p PORT``: moto's server, as ``python -m moto.server`` runs it, without three
costs moto pays again on every request: two for answers that never change while it runs, one for a copy.

- Which service a request is for: moto lists its own package folder (and stats every entry in it) once or
  twice a request, to know its services' names. Listed once here.
- Which actions a service has: moto lists a handler class's methods (``inspect.getmembers``) on every request.
  Listed once per class here.

Both are a function of the installed moto alone, so caching them changes no answer. moto's CPU for an S3
PutObject of 120 kB went from 6.5 to 3.8 ms with it, and for a DynamoDB UpdateItem from 6.9 to 5.7 ms
(docs/benchmarks.md, 2026-12-07).

- A copy of every UpdateItem's parsed expression: moto validates a copy (validating rewrites the tree, and an
  item the update creates is validated twice), made by ``copy.deepcopy``, which takes longer than parsing the
  expression did. Copied through pickle here: the same tree in a quarter of the time (the record's succeed
  write: 1.5 against 0.2-0.4 ms), and about 1 ms less of moto's CPU for each UpdateItem the worker makes. The tree
  is moto's own object, made from the request a moment before; the bytes never leave the process.
"""

from __future__ import annotations

import copy
import functools
import pickle
from typing import Any

from moto import backends
from moto.core import responses, utils

# Internals of moto 5.2: a moto that no longer has them runs as it is, only slower, never broken.
if hasattr(backends, "list_of_moto_modules"):
    _MODULES = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(_MODULES)  # read as backends.list_of_moto_modules() per request
if hasattr(responses, "method_names_from_class"):
    # responses.py calls the name it imported from utils.py: that name is the one to replace
    responses.method_names_from_class = functools.cache(utils.method_names_from_class)


def _copy_expressions_by_pickle() -> None:
    try:
        from moto.dynamodb.parsing import ast_nodes, validators
    except ImportError:
        return
    node: Any = getattr(ast_nodes, "Node", None)  # moto 5.2: every parsed expression is a tree of these
    if not hasattr(validators, "deepcopy") or not isinstance(node, type):
        return

    def copied(value: Any, memo: dict[int, Any] | None = None) -> Any:
        """``copy.deepcopy``, through pickle for an expression tree: the same tree, four times sooner."""
        if isinstance(value, node):
            return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))  # noqa: S301 (moto's own tree)
        return copy.deepcopy(value, memo)

    validators.deepcopy = copied  # validators.py calls the name it imported from copy


_copy_expressions_by_pickle()

if __name__ == "__main__":
    from moto.server import main

    main()
