"""The S3 key scheme and image ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_NAME = 100
_MAX_EXTENSION = 10
# control, format (bidi overrides, zero-width), surrogate, private-use and unassigned characters
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def new_image_id() -> str:
    return uuid.uuid4().hex


def is_image_id(value: str) -> bool:
    return bool(_IMAGE_ID.match(value))


def safe_name(filename: str | None) -> str:
    """A filename reduced to a harmless single path segment (never trust a filename).

    Only ASCII letters, digits, ``.``, ``_`` and ``-`` survive: no path separators (``/``, ``\\``, their
    full-width forms), no control or bidi characters (an ``U+202E`` cannot make ``exe.jpg`` read
    ``gpj.exe``), no leading dot or dash; at most ``MAX_NAME`` characters, keeping a short extension.
    """
    visible = "".join(c for c in filename or "" if unicodedata.category(c) not in _INVISIBLE)
    name = unicodedata.normalize("NFKD", visible).encode("ascii", "ignore").decode()
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("-", name).strip(".-_")
    if len(name) > MAX_NAME:
        _, dot, extension = name.rpartition(".")
        keep = f".{extension}" if dot and 0 < len(extension) <= _MAX_EXTENSION else ""
        name = name[: MAX_NAME - len(keep)].strip(".-_") + keep
    return name.strip(".-_") or "upload"


def upload_key(image_id: str, filename: str | None, prefix: str = "uploads/") -> str:
    return f"{prefix}{image_id}/{safe_name(filename)}"


def output_key(image_id: str, variant: str, extension: str, prefix: str = "images/") -> str:
    return f"{prefix}{image_id}/{variant}.{extension}"


def image_id_for_object(bucket: str, key: str, prefix: str = "uploads/") -> str:
    """The image id of an object in the upload bucket.

    Keys the API wrote (``uploads/{image_id}/{name}``) keep their id; any other key gets an id derived
    from bucket and key, so every announcement of one object maps to one record.
    """
    if key.startswith(prefix):
        head = key[len(prefix) :].split("/", 1)
        if len(head) == 2 and is_image_id(head[0]):
            return head[0]
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32]
