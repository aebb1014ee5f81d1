"""Dev tokens for the local stack, checked the way API Gateway's JWT authorizer checks tokens:
signature, issuer, audience, expiry; then the claims reach the function in the event.

This exists only locally: a deployed stack trusts Cognito or the configured issuer, never
this secret.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt

LOCAL_ISSUER: Final = "http://127.0.0.1:3000/local-issuer"
LOCAL_AUDIENCE: Final = "hksync-local"
_ALGORITHM: Final = "HS256"


class Unauthorized(Exception):
    """What API Gateway answers with 401 {"message": "Unauthorized"}."""


def signing_secret(state_dir: Path) -> str:
    """The local signing secret, created on first use and kept with the local stack's state."""
    path = state_dir / "dev-token-secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def issue_token(user_id: str, secret: str, *, valid_for: timedelta = timedelta(hours=12)) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + valid_for,
        "token_use": "access",
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_authorization(header: str | None, secret: str) -> dict[str, Any]:
    """The verified claims of a ``Bearer <token>`` header (API Gateway also accepts it bare).

    Like API Gateway's JWT authorizer, this checks the token, not what its subject holds: the
    functions refuse a subject that cannot be a user (hksync.http_api.current_user), here and
    in AWS alike.
    """
    if not header:
        raise Unauthorized("no Authorization header")
    token = header.removeprefix("Bearer ").strip()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=LOCAL_AUDIENCE,
            issuer=LOCAL_ISSUER,
            options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from None
    return claims
