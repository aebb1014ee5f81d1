"""Which token subjects can be a user: each one names S3 keys and database rows, so it must be
UTF-8 text without control characters, short enough for S3's 1,024-byte key limit."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hksync.contract.models import MAX_CHUNKS_PER_SYNC
from hksync.keys import (
    MAX_USER_ID_BYTES,
    S3_MAX_KEY_BYTES,
    ChunkKey,
    CommitKey,
    parse_key,
    user_id_problem,
)


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("7d0b1e6a-39a4-4f7c-9a63-0c2a1e0f5b21", id="cognito-uuid"),
        pytest.param("auth0|5f7c8ec7c33c6c004bbafe82", id="auth0"),
        pytest.param("001234.0a1b2c3d4e5f60718293a4b5c6d7e8f9.1234", id="sign-in-with-apple"),
        pytest.param("jürgen møller 😀 / ? % + #", id="unicode-and-url-specials"),
        pytest.param("a" * MAX_USER_ID_BYTES, id="longest"),
    ],
)
def test_subjects_issuers_hand_out_can_be_users(subject: str) -> None:
    assert user_id_problem(subject) is None


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        pytest.param("alice\x00", "control character (U+0000) at position 5", id="nul"),
        pytest.param("a\nb", "control character (U+000A) at position 1", id="newline"),
        pytest.param("\x7f", "control character (U+007F) at position 0", id="delete"),
        pytest.param("a\x85", "control character (U+0085) at position 1", id="c1-next-line"),
        pytest.param("a\ud800b", "lone surrogate (U+D800) at position 1", id="lone-high"),
        pytest.param("\udfff", "lone surrogate (U+DFFF) at position 0", id="lone-low"),
        pytest.param(
            "a" * (MAX_USER_ID_BYTES + 1),
            f"is {MAX_USER_ID_BYTES + 1} bytes of UTF-8, more than the {MAX_USER_ID_BYTES}",
            id="one-byte-too-long",
        ),
        pytest.param("ü" * 128, "is 256 bytes of UTF-8", id="too-long-in-bytes-not-in-characters"),
    ],
)
def test_subjects_that_cannot_name_keys_and_rows_are_refused_with_the_reason(
    subject: str, reason: str
) -> None:
    problem = user_id_problem(subject)

    assert problem is not None
    assert reason in problem


def test_the_longest_key_of_the_longest_user_id_fits_s3() -> None:
    # Every byte of this subject is URL-quoted to three: the worst case the limit allows for.
    worst = "😀" * (MAX_USER_ID_BYTES // 4) + "|" * (MAX_USER_ID_BYTES % 4)
    assert len(worst.encode()) == MAX_USER_ID_BYTES
    assert user_id_problem(worst) is None

    key = str(ChunkKey(worst, uuid.uuid4(), MAX_CHUNKS_PER_SYNC - 1))

    assert len(key.encode()) <= S3_MAX_KEY_BYTES


@given(st.text(min_size=1, max_size=MAX_USER_ID_BYTES), st.uuids())
def test_every_accepted_user_id_names_keys_that_fit_and_read_back(
    subject: str, sync_id: uuid.UUID
) -> None:
    assume(user_id_problem(subject) is None)
    chunk = ChunkKey(subject, sync_id, MAX_CHUNKS_PER_SYNC - 1)
    commit = CommitKey(subject, sync_id)

    assert len(str(chunk).encode()) <= S3_MAX_KEY_BYTES
    assert parse_key(str(chunk)) == chunk
    assert parse_key(str(commit)) == commit
