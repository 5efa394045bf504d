"""Tenants: until records carry theirs, every image and endpoint belongs to the default one."""

from __future__ import annotations

DEFAULT_TENANT = "local"
