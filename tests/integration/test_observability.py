"""What operators see: structured logs without health data, and the catalogued metrics."""

from __future__ import annotations

import io
import json
import logging
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hksync.observability import Metric, logger, user_ref
from hksync_tools.simulator.user import AppleWatchUser
from tests.conftest import TEST_BUCKET
from tests.integration.test_reminders import KOLKATA, local_ahead, one_time
from tests.support.builders import chunk, commit, heart_rate
from tests.support.pipeline import Pipeline
from tests.support.reminders import ReminderDriver

USER = "anna.example@icloud.com"


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _json_lines(output: str) -> list[dict[str, Any]]:
    documents = []
    for line in output.splitlines():
        if line.startswith("{"):
            documents.append(json.loads(line))
    return documents


def _run_everything(pipeline: Pipeline) -> AppleWatchUser:
    """A backfill, an incremental sync with deletions, a client retry, a rejected upload, a
    chunk that fails in the processor, and redelivered events: every path that logs."""
    user = AppleWatchUser(5, now=datetime(2026, 11, 10, 20, 0, tzinfo=UTC), chunk_size=3000)
    for sync in (user.backfill(2), user.incremental(12, delete_fraction=0.05)):
        pipeline.upload(USER, sync)
        assert pipeline.put_chunk(USER, sync.chunks[0]).status == 202  # a client retry
        pipeline.drain(rng=random.Random(1), duplicate_rate=0.5)
    bad_sample = heart_rate()
    bad_sample["unit"] = "kg"
    quarantined_sync = uuid.uuid4()
    quarantined = chunk(quarantined_sync, 0, [heart_rate(), bad_sample])
    assert pipeline.put_chunk(USER, quarantined).status == 202  # the bad sample set aside
    assert pipeline.commit(USER, quarantined_sync, commit(1)).status == 202
    bad_envelope = {**chunk(uuid.uuid4(), 0, [heart_rate()]), "deletions": []}
    assert pipeline.put_chunk(USER, bad_envelope).status == 422
    failing_sync = uuid.uuid4()
    boto3.client("s3").put_object(
        Bucket=TEST_BUCKET,
        Key=f"raw/{USER.replace('@', '%40')}/{failing_sync}/chunks/000000.json",
        Body=json.dumps({**chunk(failing_sync, 0, [heart_rate()]), "deletions": []}).encode(),
    )
    assert pipeline.commit(USER, failing_sync, commit(1)).status == 202
    pipeline.drain()
    return user


def _remind(reminders: ReminderDriver) -> None:
    """A reminder scheduled, delivered, then its occurrence invoked again (skipped)."""
    assert reminders.create(USER, one_time(local_ahead(KOLKATA, timedelta(hours=3)))).status == 201
    (firing,) = reminders.advance(timedelta(hours=3, minutes=1))
    assert firing.invocation.result["outcome"] == "delivered"
    assert reminders.invoke_dispatcher(firing.event)["outcome"] == "duplicate"


@pytest.fixture
def logged(
    pipeline: Pipeline, reminders: ReminderDriver, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[AppleWatchUser, list[dict[str, Any]]]]:
    """Runs everything; returns the JSON log lines (as Powertools formats them) and the EMF
    metric blobs (printed to stdout, as Lambda ships them)."""
    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(logger.registered_formatter)
    logger.addHandler(capture)
    try:
        user = _run_everything(pipeline)
        _remind(reminders)
    finally:
        logger.removeHandler(capture)
    return user, _json_lines(buffer.getvalue()) + _json_lines(capsys.readouterr().out)


def test_logs_carry_no_sample_values_metadata_or_user_id(
    logged: tuple[AppleWatchUser, list[dict[str, Any]]],
) -> None:
    user, documents = logged
    log_records = [document for document in documents if "level" in document]
    assert len(log_records) > 20
    text_leaves = {str(leaf) for document in documents for leaf in _leaves(document)}
    everything = "\n".join(json.dumps(document) for document in documents)

    assert USER not in everything
    assert USER.replace("@", "%40") not in everything  # nor inside an S3 key
    samples = list(user.live_samples().values())
    metadata_strings = {
        str(value)
        for sample in samples
        for value in (sample.get("metadata") or {}).values()
        if isinstance(value, str) and len(str(value)) > 3
    }
    source_names = {sample["source"]["name"] for sample in samples}
    assert not metadata_strings & text_leaves
    assert not any(name in everything for name in source_names)
    # No log line carries a field that holds sample content.
    forbidden_keys = {"value", "unit", "metadata", "samples", "start_date", "end_date", "body"}
    for record in log_records:
        assert not forbidden_keys & set(record), record
    # Lines are correlated by a pseudonym instead.
    assert any(record.get("user") == user_ref(USER) for record in log_records)
    assert any("sync_id" in record for record in log_records)


def test_the_code_emits_exactly_the_catalogued_metrics(
    logged: tuple[AppleWatchUser, list[dict[str, Any]]],
) -> None:
    _, documents = logged
    emitted = {
        metric["Name"]
        for document in documents
        if "_aws" in document
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }

    assert emitted == {metric.value for metric in Metric}
    reasons = {
        document.get("reason")
        for document in documents
        if "_aws" in document and "ChunkFailures" in document and "reason" in document
    }
    # The rejected upload is a 422 at the API; the chunk that failed in the processor is here.
    assert reasons == {"validation_failed"}
