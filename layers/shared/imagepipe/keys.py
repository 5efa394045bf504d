"""The S3 key scheme, image ids and API key ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""A tenant's name: lower-case letters, digits and '-'; it is a path segment of every S3 key of the tenant."""
_TENANT = re.compile(TENANT_PATTERN)
MAX_NAME = 100
_MAX_EXTENSION = 10
# control, format (bidi overrides, zero-width), surrogate, private-use and unassigned characters
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def new_image_id() -> str:
    return uuid.uuid4().hex


def is_image_id(value: str) -> bool:
    return bool(_IMAGE_ID.fullmatch(value))


def is_key_id(value: str) -> bool:
    """An API key's id: the 16 hex digits between ``ip_`` and its secret."""
    return bool(_KEY_ID.fullmatch(value))


def is_tenant(value: str) -> bool:
    return bool(_TENANT.fullmatch(value))


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


def upload_key(tenant: str, image_id: str, filename: str | None, prefix: str = "uploads/") -> str:
    return f"{prefix}{tenant}/{image_id}/{safe_name(filename)}"


def output_folder(tenant: str, image_id: str, prefix: str = "images/") -> str:
    """Where an image's variants are stored: every object under it is one of them."""
    return f"{prefix}{tenant}/{image_id}/"


def output_key(tenant: str, image_id: str, variant: str, extension: str, prefix: str = "images/") -> str:
    return f"{output_folder(tenant, image_id, prefix)}{variant}.{extension}"


def _id_segments(key: str, prefix: str) -> tuple[str | None, str] | None:
    """(tenant, image id) of a key the API wrote: ``{prefix}{tenant}/{image_id}/{name}``, or
    ``{prefix}{image_id}/{name}`` (written before tenants, tenant None); None for any other key."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) >= 3 and is_tenant(parts[0]) and is_image_id(parts[1]) and all(parts[2:]):
        return parts[0], parts[1]
    if len(parts) == 2 and is_image_id(parts[0]) and parts[1]:
        return None, parts[0]
    return None


def image_folder(key: str, prefix: str = "uploads/") -> str | None:
    """The folder of a key the API wrote, every object in which is one image's (``uploads/{tenant}/{id}/``, or
    ``uploads/{id}/`` from before tenants); None for any other key, whose image is that key alone."""
    found = _id_segments(key, prefix)
    if found is None:
        return None
    tenant, image_id = found
    return f"{prefix}{tenant}/{image_id}/" if tenant is not None else f"{prefix}{image_id}/"


def image_id_for_object(bucket: str, key: str, prefix: str = "uploads/") -> str:
    """The image id of an object in the upload bucket.

    Keys the API writes (``uploads/{tenant}/{image_id}/{name}``, and ``uploads/{image_id}/{name}`` from before
    tenants) keep their id; any other key gets an id derived from bucket and key, so every announcement of one
    object maps to one record.
    """
    found = _id_segments(key, prefix)
    if found is not None:
        return found[1]
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32]


def tenant_segment(key: str, prefix: str = "uploads/") -> tuple[str | None, bool]:
    """The tenant a key names, and whether the key is one the API wrote (its tenant is then the key's own).

    ``uploads/acme/x.jpg`` names ``acme`` (which owns it only if it has keys); ``uploads/x.jpg`` names none.
    """
    found = _id_segments(key, prefix)
    if found is not None:
        return found[0], found[0] is not None
    parts = key[len(prefix) :].split("/") if key.startswith(prefix) else []
    return (parts[0], False) if len(parts) >= 2 and is_tenant(parts[0]) else (None, False)
