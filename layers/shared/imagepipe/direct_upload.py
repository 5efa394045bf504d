"""How big a file a client sends through the API; anything larger goes to S3 through a presigned POST."""

from __future__ import annotations

# Lambda takes 6 MB per synchronous request and API Gateway base64-encodes binary bodies (4/3 larger).
DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024
