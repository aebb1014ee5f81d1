"""The bytes of a chunk as uploaded or stored: plain JSON or gzip, always size-capped."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Final

from hksync.errors import ChunkTooLarge, MalformedBody

GZIP_MAGIC: Final = b"\x1f\x8b"


def decode_body(body: bytes, max_bytes: int) -> bytes:
    """The JSON bytes of a stored or uploaded chunk: gunzipped if gzip, never over max_bytes.

    Decompression is streamed and capped, so a small gzip bomb cannot exhaust memory.
    """
    if not body.startswith(GZIP_MAGIC):
        if len(body) > max_bytes:
            raise ChunkTooLarge(len(body), max_bytes)
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise MalformedBody(f"body is not valid gzip: {error}") from None
    if len(data) > max_bytes:
        raise ChunkTooLarge(None, max_bytes)
    return data
