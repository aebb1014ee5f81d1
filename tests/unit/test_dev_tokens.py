"""The one dev-token verifier (hksync.dev_tokens): tokens the tooling signs with PyJWT pass,
and what API Gateway's JWT authorizer would refuse is refused, for the local stack's API front
and for the functions in `sam local` alike."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from hksync import dev_tokens
from hksync.dev_tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, DevTokenRejected
from hksync_tools.local import auth

SECRET = "unit-test-dev-token-secret, long enough for HS512 too: 64 bytes or more"


def _signed(claims: dict[str, object], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "alice",
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    body = {**claims, "iat": now, "exp": now + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


def test_a_token_the_tooling_issues_is_verified_with_its_claims() -> None:
    token = auth.issue_token("alice", SECRET)

    claims = dev_tokens.verify_authorization(f"Bearer {token}", SECRET)

    assert claims["sub"] == "alice"
    assert claims == jwt.decode(token, SECRET, algorithms=["HS256"], audience=LOCAL_AUDIENCE)


def test_a_bare_token_is_accepted_like_api_gateway_does() -> None:
    token = auth.issue_token("alice", SECRET)

    assert dev_tokens.verify_authorization(token, SECRET)["sub"] == "alice"


def test_an_audience_list_that_holds_ours_is_accepted() -> None:
    token = _signed(_claims(aud=["other-client", LOCAL_AUDIENCE]))

    assert dev_tokens.verify_authorization(f"Bearer {token}", SECRET)["sub"] == "alice"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "no Authorization header", id="no-header"),
        pytest.param("", "no Authorization header", id="empty-header"),
        pytest.param("Bearer not-a-jwt", "not a JWT", id="not-a-jwt"),
        pytest.param("Bearer a.b!.c", "not base64url", id="not-base64url"),
        pytest.param(
            f"Bearer {_signed(_claims(), secret='another-secret-of-32-bytes-or-more')}",
            "signature does not match",
            id="other-secret",
        ),
        pytest.param(
            f"Bearer {_signed(_claims(), algorithm='HS512')}", "not signed with HS256", id="hs512"
        ),
        pytest.param(f"Bearer {_unsigned(_claims())}", "not signed with HS256", id="alg-none"),
        pytest.param(
            f"Bearer {_signed(_claims(exp=datetime.now(UTC) - timedelta(seconds=1)))}",
            "expired",
            id="expired",
        ),
        pytest.param(
            f"Bearer {_signed(_claims(nbf=datetime.now(UTC) + timedelta(hours=1)))}",
            "not valid yet",
            id="not-yet-valid",
        ),
        pytest.param(
            f"Bearer {_signed(_claims(iss='https://cognito-idp.example/pool'))}",
            "not from the local issuer",
            id="other-issuer",
        ),
        pytest.param(
            f"Bearer {_signed(_claims(aud='another-client'))}", "not for the audience", id="aud"
        ),
        pytest.param(f"Bearer {_signed(_claims(aud=None))}", "not for the audience", id="no-aud"),
        pytest.param(f"Bearer {_signed(_claims(exp=None))}", "lacks the 'exp'", id="no-exp"),
        pytest.param(f"Bearer {_signed(_claims(sub=None))}", "lacks the 'sub'", id="no-sub"),
        pytest.param(
            f"Bearer {_signed(_claims(exp='tomorrow'))}", "'exp' claim is not a number", id="exp"
        ),
    ],
)
def test_what_the_authorizer_would_refuse_is_refused_with_a_reason(
    header: str | None, reason: str
) -> None:
    with pytest.raises(DevTokenRejected, match=reason):
        dev_tokens.verify_authorization(header, SECRET)


def test_a_changed_payload_breaks_the_signature() -> None:
    header, _, signature = auth.issue_token("alice", SECRET).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(sub="bob"), default=str).encode())

    with pytest.raises(DevTokenRejected, match="signature does not match"):
        dev_tokens.verify_authorization(
            f"{header}.{forged.rstrip(b'=').decode()}.{signature}", SECRET
        )


def test_no_secret_verifies_nothing() -> None:
    with pytest.raises(DevTokenRejected, match="no signing secret"):
        dev_tokens.verify_authorization(auth.issue_token("alice", SECRET), "")


def test_the_local_stack_front_refuses_through_the_same_check() -> None:
    expired = auth.issue_token("alice", SECRET, valid_for=timedelta(seconds=-1))

    with pytest.raises(auth.Unauthorized, match="expired"):
        auth.verify_authorization(f"Bearer {expired}", SECRET)
    assert (
        auth.verify_authorization(f"Bearer {auth.issue_token('bob', SECRET)}", SECRET)["sub"]
        == "bob"
    )
