"""Which engine renders: ``vips`` where pyvips imports (the worker image's default), else ``pillow``."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Literal, cast, get_args

from imagepipe_engine.contract import Render

EngineName = Literal["vips", "pillow"]
NAMES: tuple[EngineName, ...] = get_args(EngineName)


def available(name: EngineName) -> bool:
    """Whether this interpreter can run the engine (without importing its library)."""
    libraries = ("pyvips", f"imagepipe_engine.{name}") if name == "vips" else ("PIL",)
    return all(importlib.util.find_spec(library) is not None for library in libraries)


def default_name() -> EngineName:
    return "vips" if available("vips") else "pillow"


def engine_name(name: str | None) -> EngineName:
    """The engine ``name`` asks for (None: the default); ValueError for an unknown or unavailable one."""
    chosen = name or default_name()
    if chosen not in NAMES:
        raise ValueError(f"unknown engine {chosen!r}: choose one of {', '.join(NAMES)}")
    if not available(chosen):
        raise ValueError(f"the {chosen} engine's library is not installed here")
    return chosen


def engine(name: str | None = None) -> Render:
    """The render function of the engine ``name`` (None: the default). A module-level function, so it pickles
    by name into a process pool."""
    module = importlib.import_module(f"imagepipe_engine.{engine_name(name)}")
    return cast(Render, module.render)


def warm(name: str | None = None) -> None:
    """A pool process's initializer: import the engine and build what its first render would (the metadata
    model's schema, deferred in models.py), before a job arrives."""
    from imagepipe.models import ImageMetadata

    engine(name)
    ImageMetadata.model_rebuild()
