"""The change-event bus, locally (docs/change-events.md): what the template creates, on the moto
server, and a consumer of it.

moto keeps no history of a bus, so a rule matching every change event sends them to an SQS
queue, the local stand-in for a backend's subscription: what the processor (or the upkeep)
published can be read there. `hksync ops events` lists the events from the database, with
whether each was published.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3

from hksync.contract.change_events import EVENT_SOURCE, SYNC_COMPLETED
from hksync_tools.cfn_template import resolve_environment

#: Where the local rule delivers every change event.
CONSUMER_QUEUE_NAME: Final = "hksync-change-events-local"
_RULE_NAME: Final = "hksync-change-events-local"


def change_event_references(
    template: Mapping[str, Any], references: Mapping[str, str]
) -> dict[str, str]:
    """Local values for the bus's !Ref (its name, from the template) and !GetAtt .Arn."""
    bus = template.get("Resources", {}).get("ChangeEventBus", {}).get("Properties", {})
    name = (
        resolve_environment({"name": bus["Name"]}, references).get("name")
        if "Name" in bus
        else None
    ) or "hksync-changes-local"
    region, account = references["AWS::Region"], references["AWS::AccountId"]
    return {
        "ChangeEventBus": name,
        "ChangeEventBus.Arn": f"arn:aws:events:{region}:{account}:event-bus/{name}",
    }


@dataclass(frozen=True, slots=True)
class LocalChangeEvents:
    bus_name: str
    consumer_queue_url: str


def provision_change_events(references: Mapping[str, str], region: str) -> LocalChangeEvents:
    """Creates the bus the template declares, and the consumer: a rule into a queue."""
    bus_name = references["ChangeEventBus"]
    events = boto3.client("events", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    # moto keeps its state per process: a stack started again in the same one finds the bus.
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus_name)
    queue_url = sqs.create_queue(QueueName=CONSUMER_QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name=_RULE_NAME,
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [SYNC_COMPLETED]}),
    )
    events.put_targets(
        Rule=_RULE_NAME, EventBusName=bus_name, Targets=[{"Id": "consumer", "Arn": queue_arn}]
    )
    return LocalChangeEvents(bus_name, queue_url)
