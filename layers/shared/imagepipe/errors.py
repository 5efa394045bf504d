"""One error vocabulary: every failure code a record can carry, and every one imagepipe raises, is a
subclass here (the API maps only the framework's own HTTP errors, e.g. 405, by status).

HTTP mapping lives in the API's exception handlers (``http_status``); whether a failure is retried or
given up is decided in :mod:`imagepipe.retries` alone (``retryable``)."""

from __future__ import annotations

__all__ = [
    "Busy",
    "Forbidden",
    "ImagePipeError",
    "ImageTooLarge",
    "InternalError",
    "InvalidImage",
    "InvalidRecipe",
    "InvalidRequest",
    "NotFound",
    "NotReady",
    "ProcessingTimeout",
    "RateLimited",
    "SourceMissing",
    "TooManyFrames",
    "TooManyPixels",
    "TransientError",
    "Unauthorized",
    "UnsupportedMediaType",
    "UploadMissing",
    "WorkerCrashed",
]


class ImagePipeError(Exception):
    """Base of every error imagepipe raises on purpose."""

    code = "internal_error"
    http_status = 500
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """``{"code", "message"}``: the ``error`` of a record and of an HTTP error body."""
        return {"code": self.code, "message": self.message}


class InternalError(ImagePipeError):
    """Something failed that imagepipe did not expect (a bug); never retried."""


class InvalidImage(ImagePipeError):
    """The bytes are not an image Pillow can decode completely."""

    code = "invalid_image"
    http_status = 422


class InvalidRequest(ImagePipeError):
    """A request parameter is malformed."""

    code = "invalid_request"
    http_status = 422


class InvalidRecipe(ImagePipeError):
    """The recipe is malformed or out of bounds."""

    code = "invalid_recipe"
    http_status = 422


class ImageTooLarge(ImagePipeError):
    """The source has more bytes than the limit allows."""

    code = "too_large"
    http_status = 413


class TooManyPixels(ImagePipeError):
    """A frame has more pixels than the limit allows (decompression bomb guard)."""

    code = "too_many_pixels"
    http_status = 422


class TooManyFrames(ImagePipeError):
    """The source has more frames than the limit allows."""

    code = "too_many_frames"
    http_status = 422


class UnsupportedMediaType(ImagePipeError):
    """The request body is not what the route takes."""

    code = "unsupported_media_type"
    http_status = 415


class SourceMissing(ImagePipeError):
    """The original object (or the announced version of it) is gone."""

    code = "source_missing"
    http_status = 404


class NotFound(ImagePipeError):
    """No such image or variant."""

    code = "not_found"
    http_status = 404


class NotReady(ImagePipeError):
    """The image has not been processed (yet)."""

    code = "not_ready"
    http_status = 409


class ProcessingTimeout(ImagePipeError):
    """Processing took longer than the job's time limit."""

    code = "timeout"
    http_status = 504


class Busy(ImagePipeError):
    """The image is being worked on; the request must wait until it is finished."""

    code = "busy"
    http_status = 409


class TransientError(ImagePipeError):
    """A dependency failed in a way that may pass: throttling, 5xx, timeouts, connection errors."""

    code = "transient"
    http_status = 503
    retryable = True


class UploadMissing(ImagePipeError):
    """A presigned upload was never received."""

    code = "upload_missing"
    http_status = 404


class WorkerCrashed(ImagePipeError):
    """Processing this image kept stopping its worker (killed, out of memory); given up."""

    code = "worker_crashed"
    http_status = 422


class Unauthorized(ImagePipeError):
    """No API key, or one that is unknown or revoked."""

    code = "unauthorized"
    http_status = 401


class Forbidden(ImagePipeError):
    """The API key lacks the scope the route needs."""

    code = "forbidden"
    http_status = 403


class RateLimited(ImagePipeError):
    """The API key made more requests this minute than the limit allows."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
