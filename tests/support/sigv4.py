"""Checks a presigned S3 URL the way S3 does: recompute its SigV4 signature for the request
actually made, and compare.

moto does not verify presigned signatures (any URL to the right bucket is accepted), so the
local stack cannot show that a presigned URL is good for its own key only; S3 would answer
403 SignatureDoesNotMatch. This recomputes the signature with botocore's own signer, for the
method, path, query and headers of the request a client would send.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def presigned_request_is_signed(
    url: str,
    method: str,
    headers: dict[str, str],
    credentials: Credentials,
    region: str,
) -> bool:
    """Whether S3 would accept this request: its URL (path included), method and signed
    headers are exactly those the signature was made for."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = query.pop("X-Amz-Signature", None)
    if signature is None:
        return False
    request = AWSRequest(
        method=method, url=urlunsplit(parts._replace(query=urlencode(query))), headers=headers
    )
    request.context["timestamp"] = query["X-Amz-Date"]
    signer = S3SigV4QueryAuth(credentials, "s3", region, expires=int(query["X-Amz-Expires"]))
    signed = set(query["X-Amz-SignedHeaders"].split(";"))
    if signed != {name.lower() for name in [*headers, "host"]}:
        return False  # a signed header is missing from the request, or one was added
    canonical = signer.canonical_request(request)
    return bool(signer.signature(signer.string_to_sign(request, canonical), request) == signature)
