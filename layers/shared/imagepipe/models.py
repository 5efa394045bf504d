"""Domain models: recipes with bounds, the image record and its parts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_VARIANTS = 8
MAX_FILTERS = 8
MAX_DIMENSION = 8192

# strict: a whole number, never true (1) or "10" taken for one
Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION, strict=True)]
VARIANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
VariantName = Annotated[str, Field(pattern=VARIANT_NAME_PATTERN)]


class Status(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Fit(StrEnum):
    INSIDE = "inside"
    COVER = "cover"
    CONTAIN = "contain"


class OutputFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"

    @property
    def extension(self) -> str:
        return "jpg" if self is OutputFormat.JPEG else self.value

    @property
    def content_type(self) -> str:
        return f"image/{self.value}"


class _Strict(BaseModel):
    # defer_build: schemas are built on first use, not at import (cold start is a product figure)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Grayscale(_Strict):
    op: Literal["grayscale"] = "grayscale"


class Autocontrast(_Strict):
    op: Literal["autocontrast"] = "autocontrast"
    cutoff: float = Field(default=0.0, ge=0.0, le=49.0)


class Sharpen(_Strict):
    op: Literal["sharpen"] = "sharpen"


class Blur(_Strict):
    op: Literal["blur"] = "blur"
    radius: float = Field(default=2.0, gt=0.0, le=50.0)


Filter = Annotated[Grayscale | Autocontrast | Sharpen | Blur, Field(discriminator="op")]


class Focus(_Strict):
    """A focal point as fractions of the picture (0, 0 top left): cover crops centre on it."""

    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)


class Variant(_Strict):
    """One output: a size, a fit, a format and a quality."""

    name: VariantName
    width: Dimension | None = None
    height: Dimension | None = None
    fit: Fit = Fit.INSIDE
    format: OutputFormat = OutputFormat.JPEG
    quality: int = Field(default=82, ge=1, le=100, strict=True)
    gravity: Literal["center", "smart"] = "center"

    @model_validator(mode="after")
    def _needs_a_box(self) -> Variant:
        if self.width is None and self.height is None:
            raise ValueError("a variant needs a width, a height or both")
        if self.fit is not Fit.INSIDE and (self.width is None or self.height is None):
            raise ValueError(f"fit '{self.fit.value}' needs both width and height")
        if self.gravity != "center" and self.fit is not Fit.COVER:
            raise ValueError(f"gravity '{self.gravity}' needs fit 'cover': only a cover variant crops")
        return self


class Recipe(_Strict):
    """What to make of an image: filters applied once, then every variant rendered."""

    variants: list[Variant] = Field(min_length=1, max_length=MAX_VARIANTS)
    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS)
    animated: Literal["first_frame", "keep"] = "first_frame"
    focus: Focus | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Recipe:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return self


DEFAULT_RECIPE = Recipe(
    variants=[
        Variant(name="thumb", width=256, height=256, fit=Fit.COVER, format=OutputFormat.WEBP, quality=80),
        Variant(name="medium", width=1024, height=1024, fit=Fit.INSIDE, format=OutputFormat.JPEG, quality=82),
        Variant(name="large", width=2048, height=2048, fit=Fit.INSIDE, format=OutputFormat.JPEG, quality=85),
    ]
)


class SourceObject(BaseModel):
    """One version of an original: ``version`` is what it is processed under (see ``object_version``)."""

    model_config = ConfigDict(defer_build=True)

    bucket: str
    key: str
    version: str
    size: int | None = None
    content_type: str | None = None
    sequencer: str | None = None
    etag: str | None = None  # quoted, as S3 returns it; an identical re-put has the same one

    def same_content(self, other: SourceObject) -> bool:
        """The same bytes by S3's word: equal ETag and size (multipart ETags depend on the part size)."""
        return self.etag is not None and self.size is not None and (self.etag, self.size) == (other.etag, other.size)


class VariantOutput(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    key: str
    width: int
    height: int
    format: OutputFormat
    bytes: int


class ErrorInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str
    message: str


class Placeholder(BaseModel):
    """What a client paints before the image arrives (docs/analysis.md)."""

    model_config = ConfigDict(defer_build=True)

    blurhash: str
    thumbhash: str  # standard base64


class ImageMetadata(BaseModel):
    model_config = ConfigDict(defer_build=True)

    width: int
    height: int
    format: str
    mode: str
    bytes: int
    sha256: str
    frames: int
    exif: dict[str, str] = Field(default_factory=dict)
    dominant_color: str
    # absent on records made before the analysis image carried them
    placeholder: Placeholder | None = None
    phash: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")


class ImageRecord(BaseModel):
    """The DynamoDB record of one image, keyed by ``image_id``."""

    model_config = ConfigDict(defer_build=True)

    image_id: str
    status: Status
    source: SourceObject
    recipe: Recipe
    variants: list[VariantOutput] = Field(default_factory=list)
    metadata: ImageMetadata | None = None
    error: ErrorInfo | None = None
    attempts: int = 0
    created_at: str
    updated_at: str
    tenant: str
    """whose image it is; a record from before tenants reads as the default tenant"""
