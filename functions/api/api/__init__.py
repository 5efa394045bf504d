"""The imagepipe HTTP API: routes, dependencies and error mapping. Imports no imaging code."""
