"""The engine seam: ``render(data, recipe, limits, progress=None) -> Rendered``, what every engine promises, and
its inputs and outputs. Pure data: it pickles across a process pool, and imports no image library."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from imagepipe.models import ImageMetadata, OutputFormat, Recipe

__all__ = ["Limits", "Render", "Rendered", "RenderedVariant", "ReportProgress", "no_progress"]


@dataclass(frozen=True)
class Limits:
    """What an engine agrees to decode and produce."""

    max_pixels: int  # per frame, width * height
    max_frames: int
    max_output_dimension: int
    max_animation_pixels: int = 100_000_000  # frames x width x height, when every frame is decoded


@dataclass(frozen=True)
class RenderedVariant:
    """One encoded output of a recipe's variant."""

    name: str
    data: bytes
    width: int
    height: int
    format: OutputFormat


@dataclass(frozen=True)
class Rendered:
    """Every variant, in the recipe's order, and what the source turned out to be."""

    variants: list[RenderedVariant]
    metadata: ImageMetadata


ReportProgress = Callable[[str, int, int], None]
"""Told (stage, variants done, variants in all) as an engine goes: ``("decoding", 0, n)`` before it reads the
bytes, ``("rendering", i, n)`` before each variant and ``("rendering", n, n)`` after the last. It must pickle
into a process pool (the worker's is :class:`imagepipe.progress.RenderProgress`)."""


def no_progress(stage: str, done: int, total: int) -> None:
    """Nobody listening."""


class Render(Protocol):
    """An engine. Raises TooManyPixels or TooManyFrames (from the headers, before decoding), InvalidImage when
    the bytes are not an image it can decode completely, and InvalidRecipe when it cannot write a requested
    format."""

    def __call__(
        self, data: bytes, recipe: Recipe, limits: Limits, progress: ReportProgress | None = None, /
    ) -> Rendered: ...
