"""A deterministic, photo-like benchmark corpus: the same bytes on every machine and every run."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageFilter

CACHE = Path(__file__).resolve().parent / ".corpus"


def photo(index: int, width: int, height: int) -> Image.Image:
    """Smooth gradients for skies and walls, fractal detail for foliage, a little blur like a lens."""
    detail = Image.effect_mandelbrot((width // 4, height // 4), (-2.0 + index * 0.01, -1.2, 1.0, 1.2), 64)
    detail = detail.resize((width, height), Image.Resampling.BILINEAR)
    ramp = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    red = Image.blend(ramp, detail, 0.5)
    green = Image.blend(radial, detail.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.4)
    blue = Image.blend(ramp.rotate(180), radial, 0.5)
    return Image.merge("RGB", (red, green, blue)).filter(ImageFilter.GaussianBlur(0.6))


def folder(count: int, megapixels: float) -> Path:
    """Where :func:`build` keeps the files of a corpus."""
    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5)
    return CACHE / f"{count}x{width}x{width * 3 // 4}"


def build(count: int, megapixels: float, png_every: int = 5) -> list[tuple[str, bytes]]:
    """``count`` images of about ``megapixels`` (4:3), every ``png_every``-th a PNG; cached on disk."""
    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5)
    height = width * 3 // 4
    folder = CACHE / f"{count}x{width}x{height}"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = []
    for index in range(count):
        fmt = "png" if png_every and index % png_every == png_every - 1 else "jpg"
        path = folder / f"{index:03d}.{fmt}"
        if not path.exists():
            buffer = io.BytesIO()
            image = photo(index, width, height)
            if fmt == "png":
                image.save(buffer, "PNG", compress_level=3)
            else:
                image.save(buffer, "JPEG", quality=90)
            path.write_bytes(buffer.getvalue())
        corpus.append((path.name, path.read_bytes()))
    return corpus


def big_jpeg(megapixels: float = 50.0) -> bytes:
    """One large JPEG for the peak-memory figure."""
    return build(1, megapixels, png_every=0)[0][1]
