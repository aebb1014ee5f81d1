"""docs/change-events.md: its generated parts, from the contract (hksync.contract.change_events).

The page's prose is written by hand; between its ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` markers are the example event and the JSON Schema of the current
version, written here so that they cannot drift from what the processor publishes.

    python -m hksync_tools.change_event_doc          rewrite docs/change-events.md (make events-doc)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from hksync.contract.change_events import (
    EVENT_SOURCE,
    SYNC_COMPLETED,
    SYNC_COMPLETED_VERSION,
    SyncCompleted,
    SyncCounts,
    TimeRange,
)

DOC_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "change-events.md"

#: A Watch wearer's sync: heart rate and steps over two local days, one deleted sleep sample.
EXAMPLE: Final = SyncCompleted(
    schema_version=SYNC_COMPLETED_VERSION,
    event_id=UUID("0b7f4c52-8d3e-4f4a-9a51-6c2d8e1f3a90"),
    user_id="us-east-1:7d9f2c1e-5b8a-4e3f-9c6d-2a1b0e8f7c65",
    sync_id=UUID("c5e1a2b3-4d5f-4a6b-8c7d-9e0f1a2b3c4d"),
    committed_at=datetime(2026, 11, 23, 7, 14, 2, tzinfo=UTC),
    completed_at=datetime(2026, 11, 23, 7, 14, 5, tzinfo=UTC),
    sample_types=[
        "HKCategoryTypeIdentifierSleepAnalysis",
        "HKQuantityTypeIdentifierHeartRate",
        "HKQuantityTypeIdentifierStepCount",
    ],
    counts=SyncCounts(
        chunks=3,
        received=1850,
        inserted=1790,
        updated=4,
        unchanged=56,
        deleted=1,
        rejected=0,
        reconciled=0,
    ),
    time_range=TimeRange(
        start=datetime(2026, 11, 21, 23, 2, tzinfo=UTC),
        end=datetime(2026, 11, 23, 7, 10, tzinfo=UTC),
    ),
    local_dates=[date(2026, 11, 22), date(2026, 11, 23)],
)


def example_envelope() -> dict[str, Any]:
    """The example as a rule's target receives it (EventBridge's envelope around the detail)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": SYNC_COMPLETED,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": EXAMPLE.completed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-central-1",
        "resources": [],
        "detail": EXAMPLE.model_dump(mode="json"),
    }


def schema() -> dict[str, Any]:
    return SyncCompleted.model_json_schema()


def generated_parts() -> dict[str, str]:
    return {
        "example": "```json\n" + json.dumps(example_envelope(), indent=2) + "\n```",
        "schema": "```json\n" + json.dumps(schema(), indent=2) + "\n```",
    }


def _between_markers(content: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match[1] + content + match[2]


def render(page: str) -> str:
    """The page with every generated part replaced; raises if a marker pair is missing."""
    for name, content in generated_parts().items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n).*?(\n<!-- /generated:{name} -->)", re.DOTALL
        )
        if not pattern.search(page):
            raise ValueError(f"{DOC_PATH.name} has no generated:{name} markers")
        page = pattern.sub(_between_markers(content), page)
    return page


def main() -> int:
    DOC_PATH.write_text(render(DOC_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
