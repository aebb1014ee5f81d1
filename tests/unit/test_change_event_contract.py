"""The change-event contract (docs/change-events.md): the page is current, its example is valid
against its schema, version 1 only ever grows, and the adapter sizes requests as EventBridge
does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import boto3
import jsonschema
import pytest

from hksync.aws.eventbridge import MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES, ChangeEventPublisher
from hksync.contract.change_events import SYNC_COMPLETED_VERSION, SyncCompleted
from hksync_tools import change_event_doc
from tests.conftest import TEST_EVENT_BUS

#: Version 1 as published: every field and its JSON type (and format). A version may add
#: fields; one of these removed, renamed or retyped is a new version (docs/change-events.md).
VERSION_1: dict[str, tuple[str, str | None]] = {
    "schema_version": ("integer", None),
    "event_id": ("string", "uuid"),
    "user_id": ("string", None),
    "sync_id": ("string", "uuid"),
    "committed_at": ("string", "date-time"),
    "completed_at": ("string", "date-time"),
    "sample_types": ("array", None),
    "counts": ("object", None),
    "time_range": ("object", None),
    "local_dates": ("array", None),
}
VERSION_1_COUNTS = (
    "chunks",
    "received",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "rejected",
    "reconciled",
)


def _type(definition: dict[str, Any]) -> tuple[str, str | None]:
    """A property's JSON type and format; a nullable reference counts as its object."""
    options = definition.get("anyOf", [definition])
    for option in options:
        if "$ref" in option:
            return "object", None
        if option.get("type") != "null":
            return option["type"], option.get("format")
    raise AssertionError(definition)


def test_the_page_is_current() -> None:
    committed = change_event_doc.DOC_PATH.read_text(encoding="utf-8")

    assert change_event_doc.render(committed) == committed, "stale: run `make events-doc`"


def test_the_example_is_valid_against_the_published_schema() -> None:
    envelope = change_event_doc.example_envelope()

    jsonschema.Draft202012Validator(change_event_doc.schema()).validate(envelope["detail"])
    assert SyncCompleted.model_validate(envelope["detail"]) == change_event_doc.EXAMPLE


def test_version_1_keeps_every_field_with_its_type() -> None:
    schema = SyncCompleted.model_json_schema()
    properties = schema["properties"]

    assert {name: _type(properties[name]) for name in VERSION_1} == VERSION_1
    assert set(VERSION_1) <= set(schema["required"])
    counts = schema["$defs"]["SyncCounts"]
    assert set(VERSION_1_COUNTS) <= set(counts["required"])
    assert properties["schema_version"]["const"] == SYNC_COMPLETED_VERSION == 1
    assert schema["$id"].endswith(f":v{SYNC_COMPLETED_VERSION}")
    # Consumers ignore fields they do not know: the schema must not refuse them.
    assert schema.get("additionalProperties", True) is not False


def _event(days: int) -> SyncCompleted:
    """An event naming ``days`` local days (the only part of an event that grows)."""
    example = change_event_doc.EXAMPLE
    first = datetime(2014, 1, 1, tzinfo=UTC).date()
    return example.model_copy(
        update={
            "event_id": uuid4(),
            "local_dates": [first.fromordinal(first.toordinal() + day) for day in range(days)],
        }
    )


@pytest.mark.parametrize(
    ("days", "events", "requests"),
    [
        pytest.param(2, 25, [10, 10, 5], id="small-events-ten-per-request"),
        # About 60 KiB each (a backfill of many years): four fit in 256 KiB, not five.
        pytest.param(4400, 9, [4, 4, 1], id="large-events-by-size"),
    ],
)
def test_requests_hold_at_most_ten_entries_of_256_kib_together(
    aws: None, days: int, events: int, requests: list[int]
) -> None:
    client = boto3.client("events")
    sent: list[list[dict[str, Any]]] = []
    client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: sent.append(params["Entries"]),
    )
    published = [_event(days) for _ in range(events)]

    outcome = ChangeEventPublisher(client, TEST_EVENT_BUS).publish(published)

    assert outcome.accepted == {event.event_id for event in published}
    assert outcome.failed == {}
    assert [len(entries) for entries in sent] == requests
    for entries in sent:
        assert len(entries) <= MAX_ENTRIES_PER_REQUEST
        # EventBridge's sizing: 14 bytes for a Time, the UTF-8 bytes of the strings.
        size = sum(
            14 + sum(len(entry[name].encode()) for name in ("Source", "DetailType", "Detail"))
            for entry in entries
        )
        assert size <= MAX_REQUEST_BYTES


def test_a_bus_that_refuses_the_request_fails_its_events_without_raising(aws: None) -> None:
    published = [_event(1) for _ in range(3)]

    outcome = ChangeEventPublisher(boto3.client("events"), "no-such-bus").publish(published)

    assert outcome.accepted == set()
    assert outcome.failed == dict.fromkeys(
        (event.event_id for event in published), "ResourceNotFoundException"
    )
