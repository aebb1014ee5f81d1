"""The EventBridge bus change events are published to (docs/change-events.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from hksync.contract.change_events import EVENT_SOURCE, SYNC_COMPLETED, SyncCompleted
from hksync.ports import PublishOutcome

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

#: PutEvents takes at most 10 entries, of at most 256 KiB together (EventBridge's quotas),
#: sized as EventBridge sizes them: a Time counts 14 bytes, strings their UTF-8 bytes.
MAX_ENTRIES_PER_REQUEST: Final = 10
MAX_REQUEST_BYTES: Final = 256 * 1024
_TIME_BYTES: Final = 14


def _entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    return _TIME_BYTES + sum(
        len(entry[name].encode()) for name in ("Source", "DetailType", "Detail")
    )


class ChangeEventPublisher:
    """PutEvents to this stage's change-event bus, in as few requests as its quotas allow."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def _entry(self, event: SyncCompleted) -> PutEventsRequestEntryTypeDef:
        return {
            "EventBusName": self._bus_name,
            "Source": EVENT_SOURCE,
            "DetailType": SYNC_COMPLETED,
            "Detail": event.model_dump_json(),
            "Time": event.completed_at,
        }

    def _requests(
        self, events: Sequence[SyncCompleted]
    ) -> Iterator[list[tuple[SyncCompleted, PutEventsRequestEntryTypeDef]]]:
        request: list[tuple[SyncCompleted, PutEventsRequestEntryTypeDef]] = []
        size = 0
        for event in events:
            entry = self._entry(event)
            entry_size = _entry_size(entry)
            if request and (
                len(request) == MAX_ENTRIES_PER_REQUEST or size + entry_size > MAX_REQUEST_BYTES
            ):
                yield request
                request, size = [], 0
            request.append((event, entry))
            size += entry_size
        if request:
            yield request

    def publish(self, events: Sequence[SyncCompleted]) -> PublishOutcome:
        """Publishes the events; the outcome names each one the bus accepted, and why each
        other one is not known to be published: its entry's ErrorCode (FailedEntryCount counts
        those), or the error of its request as a whole (refused, or no answer at all: some
        of those may have gone out)."""
        outcome = PublishOutcome()
        for request in self._requests(events):
            try:
                response = self._client.put_events(Entries=[entry for _, entry in request])
            except (ClientError, BotoCoreError) as error:
                outcome.failed.update((event.event_id, _reason(error)) for event, _ in request)
                continue
            # The answer's entries are in the order of the request's, one each.
            for (event, _), answer in zip(request, response["Entries"], strict=True):
                if "ErrorCode" in answer:
                    outcome.failed[event.event_id] = answer["ErrorCode"]
                else:
                    outcome.accepted.add(event.event_id)
        return outcome


def _reason(error: ClientError | BotoCoreError) -> str:
    """The error's code (safe to log: no event content), or its class for no answer at all."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
