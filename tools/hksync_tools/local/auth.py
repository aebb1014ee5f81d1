"""Dev tokens for the local stack, checked the way API Gateway's JWT authorizer checks tokens:
signature, issuer, audience, expiry; then the claims reach the function in the event.

This exists only locally: a deployed stack trusts Cognito or the configured issuer, never
this secret. The check itself is hksync.dev_tokens, the one the functions use in `sam local`.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from hksync import dev_tokens
from hksync.dev_tokens import LOCAL_AUDIENCE, LOCAL_ISSUER


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


def sam_local_secret(env_file: Path) -> str:
    """The DEV_TOKEN_SECRET a `sam local --env-vars` file gives every function."""
    variables = json.loads(env_file.read_text(encoding="utf-8")).get("Parameters", {})
    secret = variables.get("DEV_TOKEN_SECRET")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"{env_file} gives no DEV_TOKEN_SECRET under Parameters")
    return secret


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
    return jwt.encode(claims, secret, algorithm=dev_tokens.ALGORITHM)


def verify_authorization(header: str | None, secret: str) -> dict[str, Any]:
    """The verified claims of a ``Bearer <token>`` header, as the authorizer passes them on."""
    try:
        return dev_tokens.verify_authorization(header, secret)
    except dev_tokens.DevTokenRejected as error:
        raise Unauthorized(str(error)) from None
