"""The raw bucket's key layout: which object holds which chunk or commit.

Layout (the user id comes from the verified token, URL-quoted so any issuer's subject is safe)::

    raw/{user}/{sync_id}/chunks/{seq:06d}.json   one uploaded chunk (JSON, maybe gzip-encoded)
    raw/{user}/{sync_id}/commit.json             the sync's commit

The bucket is the durable log of everything uploaded: the database can be rebuilt from it.

A user id must be able to name keys and rows: :func:`user_id_problem` says why a subject
cannot (a control character, which PostgreSQL's text refuses when it is NUL; a lone surrogate,
which has no UTF-8; more than :data:`MAX_USER_ID_BYTES`), and the HTTP functions answer such a
token with 401 before anything is stored (hksync.http_api.current_user).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote, unquote_plus
from uuid import UUID

RAW_PREFIX: Final = "raw/"
#: S3's limit on a key: 1,024 bytes of UTF-8.
S3_MAX_KEY_BYTES: Final = 1024
#: The most UTF-8 bytes a user id (a token's subject) may have. URL-quoting makes each byte at
#: most three, so the longest key, ``raw/{user}/{sync_id}/chunks/{seq:06d}.json``, stays within
#: S3_MAX_KEY_BYTES with room to spare; issuers' subjects are far shorter (Cognito's is a
#: 36-character UUID).
MAX_USER_ID_BYTES: Final = 255


@dataclass(frozen=True, slots=True)
class ChunkKey:
    user_id: str
    sync_id: UUID
    seq: int

    def __str__(self) -> str:
        return f"{chunks_prefix(self.user_id, self.sync_id)}{self.seq:06d}.json"


@dataclass(frozen=True, slots=True)
class CommitKey:
    user_id: str
    sync_id: UUID

    def __str__(self) -> str:
        return f"{sync_prefix(self.user_id, self.sync_id)}commit.json"


def user_id_problem(user_id: str) -> str | None:
    """Why ``user_id`` cannot name a user's keys and rows, or None when it can."""
    for position, char in enumerate(user_id):
        category = unicodedata.category(char)
        if category == "Cs":
            return f"holds a lone surrogate (U+{ord(char):04X}) at position {position}, not UTF-8"
        if category == "Cc":
            return f"holds a control character (U+{ord(char):04X}) at position {position}"
    size = len(user_id.encode())
    if size > MAX_USER_ID_BYTES:
        return f"is {size} bytes of UTF-8, more than the {MAX_USER_ID_BYTES} a user id may have"
    return None


def user_prefix(user_id: str) -> str:
    return f"{RAW_PREFIX}{quote(user_id, safe='')}/"


def sync_prefix(user_id: str, sync_id: UUID) -> str:
    return f"{user_prefix(user_id)}{sync_id}/"


def parse_key(key: str) -> ChunkKey | CommitKey | None:
    """The chunk or commit a key names, or None for anything else in the bucket."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != RAW_PREFIX.rstrip("/"):
        return None
    try:
        user_id, sync_id = unquote(parts[1]), UUID(parts[2])
    except ValueError:
        return None
    if len(parts) == 4 and parts[3] == "commit.json":
        return CommitKey(user_id, sync_id)
    name = parts[4] if len(parts) == 5 and parts[3] == "chunks" else ""
    digits = name.removesuffix(".json")
    if name.endswith(".json") and len(digits) == 6 and digits.isdigit():
        return ChunkKey(user_id, sync_id, int(digits))
    return None


def chunks_prefix(user_id: str, sync_id: UUID) -> str:
    return f"{sync_prefix(user_id, sync_id)}chunks/"


def chunk_seqs(keys: Iterable[str]) -> set[int]:
    """The chunk numbers among keys (listed under a sync's chunks prefix)."""
    return {target.seq for target in map(parse_key, keys) if isinstance(target, ChunkKey)}


def key_from_event(raw_key: str) -> str:
    """S3 event notifications URL-encode keys, with ``+`` for a space."""
    return unquote_plus(raw_key)
