"""S3: originals in the upload bucket, variants in the output bucket."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from imagepipe.aws import error_code, is_transient
from imagepipe.errors import ImageTooLarge, SourceMissing, TransientError
from imagepipe.models import SourceObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "PreconditionFailed", "412"})


class ImageStore:
    """Reads originals and writes variants; turns S3 failures into imagepipe errors."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    def put_source(self, bucket: str, key: str, data: bytes, content_type: str) -> SourceObject:
        """Store an upload; returns the object version it became."""
        try:
            resp = self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, bucket, key) from exc
        return SourceObject(
            bucket=bucket,
            key=key,
            version=object_version(resp.get("VersionId"), resp["ETag"]),
            size=len(data),
            content_type=content_type,
            etag=quoted_etag(resp["ETag"]),
        )

    def get_original(self, bucket: str, key: str, version: str, max_bytes: int) -> bytes:
        """The bytes of exactly this version, refusing more than ``max_bytes`` before reading them."""
        selector = {"IfMatch": version} if version.startswith('"') else {"VersionId": version}
        try:
            resp = self._client.get_object(Bucket=bucket, Key=key, **selector)  # type: ignore[arg-type]
            size = resp["ContentLength"]
            if size > max_bytes:
                resp["Body"].close()
                raise ImageTooLarge(f"the original has {size} bytes; the limit is {max_bytes}")
            return resp["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, bucket, key) from exc

    def put_variant(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        try:
            self._client.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type, CacheControl="max-age=31536000"
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, bucket, key) from exc

    def presigned_get(self, bucket: str, key: str, expires: int) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
        )

    def list_objects(
        self, bucket: str, prefix: str, limit: int | None = None, older_than: datetime | None = None
    ) -> list[str]:
        """The keys under ``prefix``: up to ``limit`` of them, those last written before ``older_than``."""
        keys: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                contents = page.get("Contents", [])
                keys.extend(o["Key"] for o in contents if older_than is None or o["LastModified"] < older_than)
                if limit is not None and len(keys) >= limit:
                    break
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, bucket, prefix) from exc
        return keys[:limit]

    def head(self, bucket: str, key: str) -> SourceObject | None:
        """The object's current version; None when it is gone."""
        try:
            resp = self._client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            error = self._translate(exc, bucket, key)
            if isinstance(error, SourceMissing):
                return None
            raise error from exc
        return SourceObject(
            bucket=bucket,
            key=key,
            version=object_version(resp.get("VersionId"), resp["ETag"]),
            size=resp["ContentLength"],
            content_type=resp.get("ContentType"),
            etag=quoted_etag(resp["ETag"]),
        )

    def presigned_post(
        self, bucket: str, key: str, content_type: str, max_bytes: int, expires: int
    ) -> tuple[str, dict[str, str]]:
        """A form a client POSTs straight to S3: this key, this content type, at most ``max_bytes``."""
        post = self._client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": content_type}],
            ExpiresIn=expires,
        )
        return post["url"], {k: str(v) for k, v in post["fields"].items()}

    def delete(self, bucket: str, key: str, version: str | None = None) -> None:
        """Delete an object, or one version of it for good (``version`` a versionId, not an ETag)."""
        selector = {"VersionId": version} if version and not version.startswith('"') else {}
        try:
            self._client.delete_object(Bucket=bucket, Key=key, **selector)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            error = self._translate(exc, bucket, key)
            if not isinstance(error, SourceMissing):
                raise error from exc

    def purge(self, bucket: str, prefix: str, *, exact: bool = False) -> int:
        """Delete for good every version, and every delete marker, of the objects under ``prefix`` (of the key
        ``prefix`` alone when ``exact``): nothing of them is left to become current again. How many it deleted."""
        found: list[tuple[str, str]] = []
        try:
            for page in self._client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if not exact or entry["Key"] == prefix:
                        found.append((entry["Key"], entry["VersionId"]))
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, bucket, prefix) from exc
        for key, version in found:
            self.delete(bucket, key, version)  # "null" too: the version written before versioning was on
        return len(found)

    def delete_under(self, bucket: str, prefix: str) -> int:
        """Delete every object under ``prefix`` (an unversioned bucket's: the output bucket). How many."""
        keys = self.list_objects(bucket, prefix)
        for key in keys:
            self.delete(bucket, key)
        return len(keys)

    def reachable(self, bucket: str) -> bool:
        try:
            self._client.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError):
            return False
        return True

    @staticmethod
    def _translate(exc: ClientError | BotoCoreError, bucket: str, key: str) -> Exception:
        if is_transient(exc):
            return TransientError(f"S3 s3://{bucket}/{key}: {exc}")
        if error_code(exc) in _MISSING:
            return SourceMissing(f"s3://{bucket}/{key} (that version) does not exist")
        return exc


def quoted_etag(etag: str) -> str:
    """S3 returns ETags quoted and events carry them bare: stored quoted, compared quoted."""
    return f'"{etag.strip(chr(34))}"'


def object_version(version_id: str | None, etag: str) -> str:
    """The version an object is processed under: its versionId unless that is empty or ``"null"`` (a bucket
    without versioning), else its quoted ETag. Every producer (API, S3 event, sweep) names versions here."""
    return version_id if version_id and version_id != "null" else quoted_etag(etag)
