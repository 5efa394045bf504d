"""The caller's tenant, named once for every route that scopes by it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from imagepipe.tenancy import DEFAULT_TENANT


def current_tenant() -> str:
    """The tenant a request acts for: the default one until records carry theirs (then the principal's)."""
    return DEFAULT_TENANT


TenantDep = Annotated[str, Depends(current_tenant)]
