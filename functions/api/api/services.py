"""The routes' dependency on the process's :class:`imagepipe.services.Services`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from imagepipe.services import Services, get_services

__all__ = ["Services", "ServicesDep", "get_services"]

ServicesDep = Annotated[Services, Depends(get_services)]
