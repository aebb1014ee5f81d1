"""Dev tokens: HS256 JWTs signed with a local secret, for running the functions where API
Gateway's JWT authorizer does not run (the local stack, and SAM's local mode, which skips JWT
authorizers). Checked the way the authorizer checks tokens: signature, issuer, audience, expiry.

The one verifier: the local stack's API front (hksync_tools.local.auth) and the functions in
`sam local` (hksync.http_api.current_user) both call it. It is a small HMAC check because the
runtime package may not import the tooling's JWT library (pyproject's import contracts); the
tooling signs with PyJWT, so its tests also prove the two agree. Never trusted in a deployed
stage: there, only the authorizer's claims name the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Final

LOCAL_ISSUER: Final = "http://127.0.0.1:3000/local-issuer"
LOCAL_AUDIENCE: Final = "hksync-local"
ALGORITHM: Final = "HS256"


class DevTokenRejected(Exception):
    """The token is missing, malformed, wrongly signed, expired or for someone else."""


def _segment(text: str, name: str) -> bytes:
    # JWTs use unpadded base64url; validate=True refuses characters outside the alphabet
    # instead of silently dropping them.
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise DevTokenRejected(f"the token's {name} is not base64url") from None


def _json_object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DevTokenRejected(f"the token's {name} is not JSON") from None
    if not isinstance(value, dict):
        raise DevTokenRejected(f"the token's {name} is not a JSON object")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_claims(claims: dict[str, Any], now: float) -> None:
    for required in ("exp", "iss", "sub"):
        if required not in claims:
            raise DevTokenRejected(f"the token lacks the {required!r} claim")
    if claims["iss"] != LOCAL_ISSUER:
        raise DevTokenRejected("the token is not from the local issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if LOCAL_AUDIENCE not in audiences:
        raise DevTokenRejected(f"the token is not for the audience {LOCAL_AUDIENCE!r}")
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_number(claims[name]):
            raise DevTokenRejected(f"the token's {name!r} claim is not a number")
    if claims["exp"] <= now:
        raise DevTokenRejected("the token has expired")
    if claims.get("nbf", now) > now or claims.get("iat", now) > now:
        raise DevTokenRejected("the token is not valid yet")


def verify_authorization(header: str | None, secret: str) -> dict[str, Any]:
    """The verified claims of a ``Bearer <token>`` header (API Gateway also accepts it bare).

    Like API Gateway's JWT authorizer, this checks the token, not what its subject holds:
    hksync.http_api.current_user refuses a subject that cannot be a user, for every caller.
    """
    if not header:
        raise DevTokenRejected("no Authorization header")
    if not secret:
        raise DevTokenRejected("no signing secret to check dev tokens with")
    token = header.removeprefix("Bearer ").strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise DevTokenRejected("the token is not a JWT (header.payload.signature)")
    header_text, payload_text, signature_text = parts
    if _json_object(_segment(header_text, "header"), "header").get("alg") != ALGORITHM:
        raise DevTokenRejected(f"the token is not signed with {ALGORITHM}")
    expected = hmac.new(
        secret.encode(), f"{header_text}.{payload_text}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, _segment(signature_text, "signature")):
        raise DevTokenRejected("the token's signature does not match")
    claims = _json_object(_segment(payload_text, "payload"), "payload")
    _check_claims(claims, time.time())
    return claims
