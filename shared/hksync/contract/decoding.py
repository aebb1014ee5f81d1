"""From a chunk's bytes to the rows the database stores, one sample at a time.

Structural problems (not JSON, the envelope broken, too many items) refuse the whole chunk, as
a 4xx at upload. Everything about one sample (a date a drifting clock put in the future, a unit
of the wrong dimension, a value out of its type's bounds, an unknown category value, a broken
member of a correlation) rejects that sample alone, with its index, UUID, field and reason: the
rest of the chunk is stored and the sync goes on (docs/adr/0004-per-sample-quarantine.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from hksync.contract import chunk_wire as wire
from hksync.contract.field_errors import NUL_REASON, FieldError
from hksync.contract.models import gc_paused
from hksync.contract.sample_rows import (
    DecodedChunk,
    ReconcileWindow,
    Rejection,
    SampleRow,
    ZoneSource,
)
from hksync.contract.sources import SourceCatalogue
from hksync.contract.types import (
    SAMPLE_TYPES,
    WORKOUT_ACTIVITY_TYPES,
    WORKOUT_EVENT_TYPES,
    SampleKind,
    SampleTypeSpec,
)
from hksync.contract.units import UnitError, conversion
from hksync.contract.zones import is_iana_time_zone
from hksync.errors import ContractViolation, MalformedBody

#: iOS 8, the first release with HealthKit. Earlier dates are a client bug.
HEALTHKIT_EPOCH: Final = datetime(2014, 9, 17, tzinfo=UTC)
#: How far ahead of the server clock a sample may end (phone clocks drift).
MAX_CLOCK_SKEW: Final = timedelta(days=1)
#: A workout's active time may exceed its span by rounding, not more.
_DURATION_TOLERANCE_S: Final = 1.0
UNKNOWN_KIND: Final = "unknown"

_ENVELOPE: Final = msgspec.json.Decoder(wire.ChunkIn)


class SampleRejected(Exception):
    """One sample cannot be stored: the field and why (never the value itself)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


#: msgspec's messages: "Expected `int`, got `str` - at `$.source.name`", "... - at `key` in
#: `$.metadata`" for a refused dictionary key, "[...]" in the path for a dictionary's value.
_MSGSPEC_MESSAGE: Final = re.compile(
    r"(?P<reason>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?", re.DOTALL
)
#: "Object missing required field `uuid`", "Object contains unknown field `colour`": the field
#: is named in the reason, the path is its object's.
_NAMED_FIELD: Final = re.compile(r"Object (?:missing required|contains unknown) field `([^`]*)`")


def _msgspec_error(
    error: msgspec.ValidationError | msgspec.DecodeError, whole: str = "sample"
) -> SampleRejected:
    """msgspec's message as the field it is about and a reason; ``whole`` names the document
    itself (the sample, or the chunk's body) when the problem is not in one field."""
    parsed = _MSGSPEC_MESSAGE.fullmatch(str(error))
    assert parsed is not None  # every string matches: the location is optional
    reason, field = parsed["reason"], (parsed["path"] or "").replace("[...]", "").lstrip(".")
    named = _NAMED_FIELD.fullmatch(reason)
    if named:
        field = f"{field}.{named[1]}" if field else named[1]
    reason = reason[:1].lower() + reason[1:]
    return SampleRejected(field or whole, f"key: {reason}" if parsed["key"] else reason)


def read_envelope(payload: bytes) -> wire.ChunkIn:
    """The chunk's envelope, its samples still raw: what ingest checks before it answers.
    Raises MalformedBody (400) for bytes that are not JSON and ContractViolation (422) for an
    envelope that breaks the contract."""
    try:
        chunk = _ENVELOPE.decode(payload)
    except msgspec.ValidationError as error:
        rejected = _msgspec_error(error, whole="body")
        raise ContractViolation(
            [FieldError(field=rejected.field, reason=rejected.reason)]
        ) from None
    except msgspec.DecodeError as error:
        raise MalformedBody(f"body is not valid JSON: {error}") from None
    if chunk.anchor is not None and "\x00" in chunk.anchor:
        raise ContractViolation([FieldError(field="anchor", reason=NUL_REASON)])
    if chunk.reconcile is not None and chunk.reconcile.end <= chunk.reconcile.start:
        raise ContractViolation([FieldError(field="reconcile.end", reason="is not after start")])
    items = len(chunk.samples) + len(chunk.deleted)
    if items > wire.MAX_CHUNK_ITEMS:
        raise ContractViolation(
            [
                FieldError(
                    field="samples",
                    reason=f"chunk holds {items} samples and deletions; "
                    f"at most {wire.MAX_CHUNK_ITEMS}",
                )
            ]
        )
    return chunk


def decode_chunk(payload: bytes, *, now: datetime | None = None) -> DecodedChunk:
    """The chunk's rows, rejections and deletions. Raises only for structural problems."""
    envelope = read_envelope(payload)
    decoder = _ChunkDecoder(
        envelope.sample_type, now or datetime.now(UTC), nul_escaped=_NUL_ESCAPE in payload
    )
    with gc_paused():
        for index, raw in enumerate(envelope.samples):
            decoder.add(index, raw)
    used = {row.source_key for row in decoder.rows.values()}
    return DecodedChunk(
        sync_id=envelope.sync_id,
        seq=envelope.seq,
        sample_type=envelope.sample_type,
        anchor=envelope.anchor,
        received=len(envelope.samples),
        rows=list(decoder.rows.values()),
        # Only the sources of stored samples: a rejected sample leaves nothing behind.
        sources=[source for source in decoder.sources.rows() if source.source_key in used],
        rejected=decoder.rejected,
        deleted=sorted({deleted.uuid for deleted in envelope.deleted}),
        reconcile=_reconcile_window(envelope.reconcile),
    )


def _reconcile_window(reconcile: wire.ReconcileIn | None) -> ReconcileWindow | None:
    if reconcile is None:
        return None
    return ReconcileWindow(reconcile.start, reconcile.end, sorted(set(reconcile.uuids)))


class _ChunkDecoder:
    def __init__(self, chunk_type: str, now: datetime, *, nul_escaped: bool) -> None:
        self._chunk_type = chunk_type
        self._nul_escaped = nul_escaped
        self._latest = now + MAX_CLOCK_SKEW
        self.rows: dict[UUID, SampleRow] = {}
        self._index_of: dict[UUID, int] = {}
        self.rejected: list[Rejection] = []
        self.sources = SourceCatalogue()

    def add(self, index: int, raw: msgspec.Raw) -> None:
        rows: list[SampleRow] = []
        uuid: UUID | None = None
        try:
            spec = SAMPLE_TYPES.get(self._chunk_type)
            kind = spec.kind if spec else None
            sample = _decode(raw, kind)
            uuid = sample.uuid
            if self._nul_escaped and _NUL_ESCAPE in bytes(raw):
                _refuse_nul(msgspec.json.decode(raw), "")
            if sample.sample_type != self._chunk_type:
                raise SampleRejected(
                    "sample_type", f"is {sample.sample_type}, but the chunk is {self._chunk_type}"
                )
            # A type the table does not know has no kind to check against: the client's SDK
            # knows it, this server does not yet.
            if kind is not None and sample.kind is not None and sample.kind != kind:
                raise SampleRejected("kind", f"is {sample.kind}, but the type's kind is {kind}")
            rows = self._rows(sample, spec, raw)
            self._check_repeats(rows)
        except SampleRejected as rejected:
            readable = uuid if uuid is not None else _readable_uuid(raw)
            self.rejected.append(Rejection(index, readable, rejected.field, rejected.reason))
            return
        for row in rows:
            if row.uuid not in self.rows:
                self.rows[row.uuid] = row
                self._index_of[row.uuid] = index

    def _check_repeats(self, rows: list[SampleRow]) -> None:
        for position, row in enumerate(rows):
            earlier = self.rows.get(row.uuid)
            if earlier is not None and earlier != row:
                # A sample's first row is itself; a correlation's others are its members.
                where = f"objects[{position - 1}]." if position else ""
                raise SampleRejected(
                    where + "uuid",
                    f"repeats samples[{self._index_of[row.uuid]}] with different content",
                )

    def _rows(
        self, sample: wire.SampleIn, spec: SampleTypeSpec | None, raw: msgspec.Raw
    ) -> list[SampleRow]:
        self._check_dates(sample.start_date, sample.end_date)
        common = self._common(sample)
        if spec is None:
            _check_stored_as_sent(raw)
            return [_row(common, kind=UNKNOWN_KIND, normalised=False, details=bytes(raw).decode())]
        build = _BUILDERS.get(spec.kind, _details_only)
        return build(self, sample, spec, common)

    def _check_dates(self, start: datetime, end: datetime, prefix: str = "") -> None:
        for name, value in (("start_date", start), ("end_date", end)):
            if value < HEALTHKIT_EPOCH:
                raise SampleRejected(
                    prefix + name, f"is before HealthKit existed ({HEALTHKIT_EPOCH.date()})"
                )
            if value > self._latest:
                raise SampleRejected(prefix + name, "is more than a day in the future")
        if end < start:
            raise SampleRejected(prefix + "end_date", "is before start_date")

    def _common(self, sample: wire.SampleIn, prefix: str = "") -> dict[str, Any]:
        zone, zone_source = _zone(sample, prefix)
        start, end = sample.start_date, sample.end_date
        local_start = start.astimezone(ZoneInfo(zone)) if zone else start
        return {
            "uuid": sample.uuid,
            "sample_type": sample.sample_type,
            "start_at": start,
            "end_at": end,
            "start_offset_s": _offset_s(start),
            "end_offset_s": _offset_s(end),
            "time_zone": zone,
            "zone_source": zone_source,
            "local_date": local_start.date(),
            "source_key": self.sources.key_of(sample.source, sample.device),
            "device": self.sources.device_json(sample.device),
            "metadata": msgspec.json.encode(sample.metadata).decode() if sample.metadata else None,
        }

    # --- one builder per kind -------------------------------------------------------------

    def _quantity(
        self,
        sample: wire.SampleIn,
        spec: SampleTypeSpec,
        common: dict[str, Any],
        prefix: str = "",
        correlation: UUID | None = None,
    ) -> list[SampleRow]:
        assert isinstance(sample, wire.QuantityIn)
        value = _canonical(sample.value, sample.unit, spec, prefix)
        return [
            _row(
                common,
                kind=spec.kind.value,
                value=value,
                unit=spec.canonical_unit,
                original_value=sample.value,
                original_unit=sample.unit,
                sample_count=sample.count,
                correlation_uuid=correlation,
            )
        ]

    def _category(
        self,
        sample: wire.SampleIn,
        spec: SampleTypeSpec,
        common: dict[str, Any],
        prefix: str = "",
        correlation: UUID | None = None,
    ) -> list[SampleRow]:
        assert isinstance(sample, wire.CategoryIn)
        if spec.category_values and sample.value not in spec.category_values:
            raise SampleRejected(
                prefix + "value",
                f"is not a category value of {spec.identifier}; "
                f"expected one of {sorted(spec.category_values)}",
            )
        return [
            _row(
                common,
                kind=spec.kind.value,
                category_value=sample.value,
                correlation_uuid=correlation,
            )
        ]

    def _correlation(
        self, sample: wire.SampleIn, spec: SampleTypeSpec, common: dict[str, Any]
    ) -> list[SampleRow]:
        assert isinstance(sample, wire.CorrelationIn)
        members: list[SampleRow] = []
        uuids = {sample.uuid}
        for position, raw in enumerate(sample.objects):
            prefix = f"objects[{position}]."
            member = _decode_member(raw, prefix)
            # Rows are keyed by UUID: a second member with a UUID already used in this
            # correlation would silently replace the first.
            if member.uuid in uuids:
                raise SampleRejected(prefix + "uuid", "is used twice in this correlation")
            uuids.add(member.uuid)
            member_spec = SAMPLE_TYPES.get(member.sample_type)
            if member_spec is None or (spec.members and member.sample_type not in spec.members):
                raise SampleRejected(
                    prefix + "sample_type",
                    f"{member.sample_type} is not a member type of {spec.identifier}",
                )
            self._check_dates(member.start_date, member.end_date, prefix)
            member_common = self._common(member, prefix)
            build = self._quantity if member_spec.kind is SampleKind.QUANTITY else self._category
            members += build(member, member_spec, member_common, prefix, sample.uuid)
        details = msgspec.json.encode({"objects": [row.uuid for row in members]}).decode()
        return [_row(common, kind=spec.kind.value, details=details), *members]

    def _workout(
        self, sample: wire.SampleIn, spec: SampleTypeSpec, common: dict[str, Any]
    ) -> list[SampleRow]:
        assert isinstance(sample, wire.WorkoutIn)
        if sample.activity_type not in WORKOUT_ACTIVITY_TYPES:
            raise SampleRejected(
                "activity_type", f"{sample.activity_type!r} is not an HKWorkoutActivityType"
            )
        span = (sample.end_date - sample.start_date).total_seconds()
        if sample.duration_s > span + _DURATION_TOLERANCE_S:
            raise SampleRejected("duration_s", "is longer than the workout's span")
        for position, event in enumerate(sample.events):
            if event.type not in WORKOUT_EVENT_TYPES:
                raise SampleRejected(
                    f"events[{position}].type", f"{event.type!r} is not an HKWorkoutEventType"
                )
        statistics = [
            _statistic(statistic, f"statistics[{position}].")
            for position, statistic in enumerate(sample.statistics)
        ]
        details = {
            "events": sample.events,
            "statistics": statistics,
            "route_uuid": sample.route_uuid,
        }
        return [
            _row(
                common,
                kind=spec.kind.value,
                activity_type=sample.activity_type,
                duration_s=sample.duration_s,
                total_energy_kcal=sample.total_energy_kcal,
                total_distance_m=sample.total_distance_m,
                details=msgspec.json.encode(details).decode(),
            )
        ]


def _details_only(
    decoder: _ChunkDecoder, sample: wire.SampleIn, spec: SampleTypeSpec, common: dict[str, Any]
) -> list[SampleRow]:
    """Kinds the server stores without computing anything from them yet (ECG, audiogram,
    heartbeat series, route, state of mind, assessments, medication doses)."""
    if isinstance(sample, wire.HeartbeatSeriesIn):
        span = (sample.end_date - sample.start_date).total_seconds()
        for position, beat in enumerate(sample.beats):
            if beat.time_since_start_s > span + _DURATION_TOLERANCE_S:
                raise SampleRejected(
                    f"beats[{position}].time_since_start_s", "is after the series' end"
                )
    return [_row(common, kind=spec.kind.value, details=wire.details_json(sample))]


Builder = Callable[[_ChunkDecoder, wire.SampleIn, SampleTypeSpec, dict[str, Any]], list[SampleRow]]
_BUILDERS: Final[dict[SampleKind, Builder]] = {
    SampleKind.QUANTITY: lambda d, s, spec, c: d._quantity(s, spec, c),
    SampleKind.CATEGORY: lambda d, s, spec, c: d._category(s, spec, c),
    SampleKind.CORRELATION: lambda d, s, spec, c: d._correlation(s, spec, c),
    SampleKind.WORKOUT: lambda d, s, spec, c: d._workout(s, spec, c),
}

_STRUCTS: Final[dict[SampleKind | None, type[wire.SampleIn]]] = {
    SampleKind.QUANTITY: wire.QuantityIn,
    SampleKind.CATEGORY: wire.CategoryIn,
    SampleKind.CORRELATION: wire.CorrelationIn,
    SampleKind.WORKOUT: wire.WorkoutIn,
    SampleKind.WORKOUT_ROUTE: wire.WorkoutRouteIn,
    SampleKind.ELECTROCARDIOGRAM: wire.ElectrocardiogramIn,
    SampleKind.AUDIOGRAM: wire.AudiogramIn,
    SampleKind.HEARTBEAT_SERIES: wire.HeartbeatSeriesIn,
    SampleKind.STATE_OF_MIND: wire.StateOfMindIn,
    SampleKind.SCORED_ASSESSMENT: wire.ScoredAssessmentIn,
    SampleKind.MEDICATION_DOSE: wire.MedicationDoseIn,
    None: wire.UnknownSampleIn,
}


@cache
def _decoder(kind: SampleKind | None) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(_STRUCTS[kind])


def _decode(raw: msgspec.Raw, kind: SampleKind | None) -> wire.SampleIn:
    try:
        sample: wire.SampleIn = _decoder(kind).decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise _msgspec_error(error) from None
    return sample


def _decode_member(raw: msgspec.Raw, prefix: str) -> wire.SampleIn:
    """A correlation's member: a quantity (blood pressure, nutrients) or category sample."""
    try:
        peek = msgspec.json.decode(raw, type=_MemberType)
        spec = SAMPLE_TYPES.get(peek.sample_type)
        kind = SampleKind.CATEGORY if spec and spec.kind is SampleKind.CATEGORY else None
        return _decoder(kind or SampleKind.QUANTITY).decode(raw)  # type: ignore[no-any-return]
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        rejected = _msgspec_error(error, whole="")
        field = prefix + rejected.field if rejected.field else prefix.rstrip(".")
        raise SampleRejected(field, rejected.reason) from None


class _MemberType(msgspec.Struct):
    sample_type: wire.Identifier


class _Identity(msgspec.Struct):
    """Only a sample's UUID: read again from a sample that failed to decode, so that its
    rejection still names the sample when the UUID itself was fine."""

    uuid: UUID | None = None


_IDENTITY: Final = msgspec.json.Decoder(_Identity)


def _readable_uuid(raw: msgspec.Raw) -> UUID | None:
    try:
        return _IDENTITY.decode(raw).uuid
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _zone(sample: wire.SampleIn, prefix: str) -> tuple[str | None, str]:
    if sample.time_zone is not None:
        if not is_iana_time_zone(sample.time_zone):
            raise SampleRejected(prefix + "time_zone", "is not an IANA time zone")
        return sample.time_zone, ZoneSource.METADATA.value
    from_metadata = sample.metadata.get(wire.METADATA_TIME_ZONE_KEY)
    if isinstance(from_metadata, str):
        if not is_iana_time_zone(from_metadata):
            raise SampleRejected(
                f"{prefix}metadata.{wire.METADATA_TIME_ZONE_KEY}", "is not an IANA time zone"
            )
        return from_metadata, ZoneSource.METADATA.value
    return None, ZoneSource.OFFSET.value


_NUL_ESCAPE: Final = b"\\u0000"


def _check_stored_as_sent(raw: msgspec.Raw) -> None:
    """A sample of a type the server does not know is stored as its bytes, fields it cannot
    check included. They must still be UTF-8 (else the bytes are not even text) and hold only
    numbers a double holds, as every other field must: jsonb refuses exponents beyond its
    numeric range, which would fail the chunk on every retry."""
    try:
        msgspec.json.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise _msgspec_error(error) from None


def _refuse_nul(value: Any, path: str) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000: such a sample would fail its chunk on every
    retry. Walked only for a sample whose bytes hold the escape (one scan of the body)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise SampleRejected(path or "sample", NUL_REASON)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if "\x00" in key:
                raise SampleRejected(where, NUL_REASON)
            _refuse_nul(item, where)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            _refuse_nul(item, f"{path}[{position}]")


def _offset_s(moment: datetime) -> int | None:
    offset = moment.utcoffset()
    return None if offset is None else int(offset.total_seconds())


def _canonical(value: float, unit: str, spec: SampleTypeSpec, prefix: str = "") -> float:
    """The value in the type's canonical unit, checked against the type's bounds."""
    assert spec.canonical_unit is not None
    try:
        converted = conversion(unit, spec.canonical_unit).apply(value)
    except UnitError as error:
        raise SampleRejected(prefix + "unit", f"{error} (type {spec.identifier})") from None
    if not math.isfinite(converted):
        raise SampleRejected(prefix + "value", f"is not finite in {spec.canonical_unit}")
    bounds = spec.bounds
    if bounds is not None and not bounds.low <= converted <= bounds.high:
        raise SampleRejected(
            prefix + "value",
            f"is outside {bounds.low:g} to {bounds.high:g} {spec.canonical_unit}, the plausible "
            f"range of {spec.identifier} ({bounds.reason})",
        )
    return converted


def _statistic(statistic: wire.WorkoutStatisticIn, prefix: str) -> dict[str, Any]:
    """A workout statistic in its quantity type's canonical unit."""
    spec = SAMPLE_TYPES.get(statistic.sample_type)
    if spec is None or spec.kind is not SampleKind.QUANTITY:
        raise SampleRejected(prefix + "sample_type", "is not a quantity type")
    converted: dict[str, Any] = {"sample_type": statistic.sample_type, "unit": spec.canonical_unit}
    for name in ("sum", "average", "minimum", "maximum"):
        value = getattr(statistic, name)
        if value is not None:
            try:
                converted[name] = conversion(statistic.unit, spec.canonical_unit or "").apply(value)
            except UnitError as error:
                raise SampleRejected(prefix + "unit", str(error)) from None
            if not math.isfinite(converted[name]):
                raise SampleRejected(prefix + name, "is not finite")
    return converted


_EMPTY_ROW: Final = dict.fromkeys(SampleRow._fields)


def _row(common: dict[str, Any], *, kind: str, normalised: bool = True, **fields: Any) -> SampleRow:
    return SampleRow(**{**_EMPTY_ROW, **common, "kind": kind, "normalised": normalised, **fields})
