"""The local stack as a user runs it: real HTTP on loopback, function worker processes, the
moto server, S3 notifications pumped to the processor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hksync_tools.local.stack import LocalStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_stack(
    migrated_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    stack = LocalStack(
        PROJECT_ROOT,
        port=0,
        database_url=migrated_database_url,
        state_dir=tmp_path_factory.mktemp("hksync-state"),
        duplicate_rate=0.2,
        seed=5,
        function_log_level="WARNING",
    )
    stack.start()
    yield stack
    stack.stop()
