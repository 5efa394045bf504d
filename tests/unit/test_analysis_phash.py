"""The perceptual hash: copies of a photo (re-encoded, resized) stay near it, other photos stay far, and the
band index finds every hash within reach."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
from PIL import Image, ImageOps

from conftest import corpus
from imagepipe_analysis import BANDS, bands, from_pil, hamming, phash
from imagepipe_analysis.phash import band_widths
from photos import reencoded, scene

NEAR = 6
FAR = 20
SCENES = range(6)
CORPUS_PHOTOS = [
    ("orientation", "Landscape_1.jpg"),
    ("orientation", "Portrait_6.jpg"),
    ("animated", "sugarshack.mpo"),
    ("corrupt", "junk_jpeg_header.jpg"),
    ("modes", "icc_profile_big.jpg"),
    ("corrupt", "jpeg_ff00_header.jpg"),
    ("baseline", "hopper.jpg"),
]


def resized(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg q50": lambda image: reencoded(image, "JPEG", quality=50),
    "jpeg q75": lambda image: reencoded(image, "JPEG", quality=75),
    "jpeg q95": lambda image: reencoded(image, "JPEG", quality=95),
    "webp q80": lambda image: reencoded(image, "WEBP", quality=80),
    "webp lossless": lambda image: reencoded(image, "WEBP", lossless=True),
    "0.25x": resized(0.25),
    "0.5x": resized(0.5),
    "0.9x": resized(0.9),
    "0.5x jpeg q70": lambda image: reencoded(resized(0.5)(image), "JPEG", quality=70),
}


@pytest.fixture(scope="module")
def scenes() -> dict[str, Image.Image]:
    return {f"scene {seed}": scene(seed, 800, 600) for seed in SCENES}


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {
        name: ImageOps.exif_transpose(Image.open(corpus("images", folder, name))).convert("RGB")
        for folder, name in CORPUS_PHOTOS
    }


def hash_of(image: Image.Image) -> str:
    return phash(from_pil(image))


@pytest.mark.parametrize("copy", COPIES)
def test_copies_of_a_made_scene_stay_near(scenes: dict[str, Image.Image], copy: str) -> None:
    distances = {name: hamming(hash_of(image), hash_of(COPIES[copy](image))) for name, image in scenes.items()}
    assert max(distances.values()) <= NEAR, distances


@pytest.mark.parametrize("copy", COPIES)
def test_copies_of_a_corpus_photo_stay_near(photos: dict[str, Image.Image], copy: str) -> None:
    distances = {name: hamming(hash_of(image), hash_of(COPIES[copy](image))) for name, image in photos.items()}
    assert max(distances.values()) <= NEAR, distances


@pytest.mark.parametrize("source", ["scenes", "photos"])
def test_different_pictures_stay_far(source: str, request: pytest.FixtureRequest) -> None:
    images: dict[str, Image.Image] = request.getfixturevalue(source)
    hashes = {name: hash_of(image) for name, image in images.items()}
    distances = {(a, b): hamming(hashes[a], hashes[b]) for a, b in itertools.combinations(hashes, 2)}
    assert min(distances.values()) > FAR, sorted(distances.items(), key=lambda item: item[1])[:3]


def test_a_hash_is_sixteen_hex_digits_and_the_same_every_time(scenes: dict[str, Image.Image]) -> None:
    image = from_pil(scenes["scene 0"])
    first = phash(image)
    assert len(first) == 16
    assert int(first, 16).bit_length() <= 64
    assert phash(image) == first


def test_hamming_counts_differing_bits() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("8000000000000001", "0000000000000000") == 2


@pytest.mark.parametrize("n", [2, 4, 7, BANDS, 16])
def test_hashes_within_fewer_flips_than_bands_share_a_band(n: int) -> None:
    rng = random.Random(n)
    for _ in range(500):
        value = rng.getrandbits(64)
        flipped = value
        for bit in rng.sample(range(64), rng.randrange(n)):
            flipped ^= 1 << bit
        a, b = f"{value:016x}", f"{flipped:016x}"
        assert hamming(a, b) < n
        assert set(bands(a, n)) & set(bands(b, n)), (a, b)


@pytest.mark.parametrize("n", [2, 4, 7, BANDS, 16])
def test_one_flip_per_band_shares_none_so_the_bound_is_tight(n: int) -> None:
    value = random.Random(n).getrandbits(64)
    flipped, start = value, 64
    for width in band_widths(n):  # flip the lowest bit of every band: distance n, every band differs
        start -= width
        flipped ^= 1 << start
    a, b = f"{value:016x}", f"{flipped:016x}"
    assert hamming(a, b) == n
    assert not set(bands(a, n)) & set(bands(b, n))


def test_bands_are_tagged_by_position() -> None:
    # the same bits in different positions are different bands, or every hash would collide with its shifts
    assert bands("0000000000000000", 4) == ["0:0", "1:0", "2:0", "3:0"]
    assert bands("ffff000000000000", 4)[0] == "0:ffff"
