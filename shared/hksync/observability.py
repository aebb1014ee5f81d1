"""Logger, Metrics and Tracer: created once here and imported by every function.

Health data never reaches a log line or a metric: logs carry identifiers (sync id, chunk
number, a pseudonym of the user) and counts, never sample values or metadata. The user id
itself is personal data, so logs carry ``user_ref``, a keyed hash that correlates one user's
lines without revealing who it is.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:  # the ingest function must not import the database layer
    from hksync.processing import ObjectResult

SERVICE: Final = "hksync"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", SERVICE))
# Only botocore is patched: the calls worth a subsegment are S3/SNS/Scheduler; patching
# everything Powertools knows costs cold-start time for libraries the functions do not use.
tracer = Tracer(patch_modules=("botocore",))


class Metric(StrEnum):
    """The custom metrics hksync emits (namespace ``hksync``). docs/metrics.md describes each;
    tests check this list against what the code emits and what the dashboard shows."""

    CHUNKS_ACCEPTED = "ChunksAccepted"
    CHUNK_BYTES = "ChunkBytes"
    CHUNK_RETRIES_ACKNOWLEDGED = "ChunkRetriesAcknowledged"
    SYNCS_COMMITTED = "SyncsCommitted"
    CHUNKS_STORED = "ChunksStored"
    CHUNKS_REDELIVERED = "ChunksRedelivered"
    CHUNK_FAILURES = "ChunkFailures"
    SAMPLES_INSERTED = "SamplesInserted"
    SAMPLES_UPDATED = "SamplesUpdated"
    SAMPLES_UNCHANGED = "SamplesUnchanged"
    SAMPLES_DELETED = "SamplesDeleted"
    SAMPLES_REJECTED = "SamplesRejected"
    PROCESSING_LAG = "ProcessingLag"
    SYNCS_COMPLETED = "SyncsCompleted"
    SYNCS_FAILED = "SyncsFailed"
    REMINDERS_SCHEDULED = "RemindersScheduled"
    REMINDERS_DELIVERED = "RemindersDelivered"
    REMINDERS_SKIPPED = "RemindersSkipped"


_UNITS: Final = {
    Metric.CHUNK_BYTES: MetricUnit.Bytes,
    Metric.PROCESSING_LAG: MetricUnit.Seconds,
}


def record(metric: Metric, value: float = 1) -> None:
    """Adds one data point of a catalogued metric to this invocation's EMF blob."""
    metrics.add_metric(name=metric.value, unit=_UNITS.get(metric, MetricUnit.Count), value=value)


def user_ref(user_id: str) -> str:
    """A stable pseudonym of a user for logs: HMAC-SHA256 under LOG_PSEUDONYM_KEY.

    Without the key (set per stage in the template) the hash is still one-way but guessable for
    known ids, which is acceptable only locally."""
    key = os.environ.get("LOG_PSEUDONYM_KEY") or f"hksync-{os.environ.get('STAGE', 'local')}"
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:16]


def _record_failure_reason(reason: str) -> None:
    """ChunkFailures again, split by reason (the error code: validation_failed,
    malformed_body, payload_too_large): its own EMF blob, so the total above keeps one series."""
    with single_metric(
        name=Metric.CHUNK_FAILURES.value,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={"service": SERVICE, "reason": reason},
    ):
        pass


def report_processed(result: ObjectResult) -> None:
    """Logs and counts what the processor did with one object: counts only, never content."""
    outcome = result.outcome
    if outcome == "duplicate":
        record(Metric.CHUNKS_REDELIVERED)
    elif outcome == "stored":
        record(Metric.CHUNKS_STORED)
    elif outcome == "failed":
        record(Metric.CHUNK_FAILURES)
        _record_failure_reason(result.failure.code if result.failure else "unknown")
    if outcome in {"stored", "failed"}:
        record(Metric.SAMPLES_INSERTED, result.counts.inserted)
        record(Metric.SAMPLES_UPDATED, result.counts.updated)
        record(Metric.SAMPLES_UNCHANGED, result.counts.unchanged)
        record(Metric.SAMPLES_DELETED, result.counts.deleted)
        record(Metric.SAMPLES_REJECTED, result.counts.rejected)
        if result.lag_s is not None:
            record(Metric.PROCESSING_LAG, result.lag_s)
    if result.completed_sync:
        record(Metric.SYNCS_COMPLETED)
    if result.failed_sync:
        record(Metric.SYNCS_FAILED)
    logger.info(
        "object processed",
        extra={
            "object_kind": result.kind,
            "sync_id": result.sync_id,
            "seq": result.seq,
            "user": user_ref(result.user_id) if result.user_id else None,
            "outcome": outcome,
            "sync_state": result.sync_state,
            "sample_type": result.sample_type,
            "received": result.counts.received,
            "inserted": result.counts.inserted,
            "updated": result.counts.updated,
            "unchanged": result.counts.unchanged,
            "deleted": result.counts.deleted,
            "rejected": result.counts.rejected,
            # The reason names fields, never their values (see contract/errors.py).
            "failure_fields": result.failure_fields,
        },
    )
