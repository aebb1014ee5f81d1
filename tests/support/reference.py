"""The reference sync: three syncs of one user, with deletions, whose final state is known.

Every fault scenario and the delivery property tests upload it, deliver its S3 events in some
hostile way (twice, shuffled, concurrently, across a crash or a database restart) and then
compare the database with :data:`REFERENCE.expected`: written down here from the plan, not
taken from a run.

- Sync A, the backfill: heart rate in two chunks (hr0-hr23), steps in one (st0-st7).
- Sync B: heart rate hr24-hr29 plus hr10, hr11 sent again unchanged, deleting hr0 and hr5 in
  the same chunk; a chunk deleting hr13 and "ghost", a sample never uploaded (created and
  deleted on the phone between two syncs); steps st8-st10, deleting st1 and st2.
- Sync C: heart rate hr30-hr33, deleting hr25, a sample of sync B (so when C is processed
  before B, the deletion arrives before its insert).

What the comparison leaves out, because it legitimately depends on the order in which the
events were processed (and nothing else does):

- timestamps the database takes from its clock: ``created_at``, ``updated_at``,
  ``deleted_at`` (compared as deleted or not), ``processed_at``, ``completed_at``;
- the inserted / updated / unchanged split of each chunk and sync: a sample deleted before its
  insert arrives is never inserted (its insert counts as unchanged), and a sample sent by two
  syncs is inserted by whichever is processed first. :func:`counter_problems` checks what
  does hold in every order: inserted + updated + unchanged = received, and nothing updated;
- ``health_samples.sync_id`` for a sample sent twice: it names the sync that last changed the
  row, and an identical second copy changes nothing, so it is the copy processed first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from tests.support.builders import HEART_RATE, STEPS, WATCH, chunk, heart_rate

if TYPE_CHECKING:
    from hksync_tools.local.notifier import CreatedObject
    from tests.support.pipeline import Pipeline

NAMESPACE = uuid.UUID("6f3a2417-3175-4cab-9b5f-000000000009")
USER = "reference-user"
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def hr(index: int) -> dict[str, Any]:
    return heart_rate(_id(f"hr{index}"), bpm=60.0 + index, at=BASE + timedelta(minutes=5 * index))


def steps(index: int) -> dict[str, Any]:
    start = BASE + timedelta(hours=index)
    return {
        "uuid": str(_id(f"st{index}")),
        "sample_type": STEPS,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(minutes=10)).isoformat(),
        "source": WATCH,
        "value": 100.0 + index,
        "unit": "count",
        "metadata": {"HKTimeZone": "Europe/Berlin"},
    }


GHOST = str(_id("ghost"))


@dataclass(frozen=True)
class SyncPlan:
    name: str
    sync_id: uuid.UUID
    chunks: list[dict[str, Any]]
    commit: dict[str, Any]


def _plans() -> list[SyncPlan]:
    a, b, c = _id("sync-A"), _id("sync-B"), _id("sync-C")
    return [
        SyncPlan(
            "A",
            a,
            [
                chunk(a, 0, [hr(i) for i in range(12)]),
                chunk(a, 1, [hr(i) for i in range(12, 24)]),
                chunk(a, 2, [steps(i) for i in range(8)], sample_type=STEPS),
            ],
            {"chunk_count": 3, "anchors": {HEART_RATE: "hr-A", STEPS: "steps-A"}},
        ),
        SyncPlan(
            "B",
            b,
            [
                chunk(
                    b,
                    0,
                    [hr(i) for i in (*range(24, 30), 10, 11)],
                    deleted=[hr(0)["uuid"], hr(5)["uuid"]],
                    anchor="hr-A",
                ),
                chunk(b, 1, deleted=[hr(13)["uuid"], GHOST], anchor="hr-A"),
                chunk(
                    b,
                    2,
                    [steps(i) for i in range(8, 11)],
                    deleted=[steps(1)["uuid"], steps(2)["uuid"]],
                    sample_type=STEPS,
                    anchor="steps-A",
                ),
            ],
            {"chunk_count": 3, "anchors": {HEART_RATE: "hr-B", STEPS: "steps-B"}},
        ),
        SyncPlan(
            "C",
            c,
            [chunk(c, 0, [hr(i) for i in range(30, 34)], deleted=[hr(25)["uuid"]], anchor="hr-B")],
            {"chunk_count": 1, "anchors": {HEART_RATE: "hr-C"}},
        ),
    ]


# --- the state compared ---------------------------------------------------------------------

#: (uuid, sample_type, start_at, end_at, value, unit, time_zone, deleted)
SampleRow = tuple[uuid.UUID, str, datetime | None, datetime | None, float | None, Any, Any, bool]
#: (sync_id, state, chunk_count, anchors, chunks_processed, chunks_failed, received, deleted)
SyncRow = tuple[uuid.UUID, str, int | None, Any, int, int, int, int]
#: (sync_id, seq, state, sample_type, key suffix, received, deleted, failure_reason)
ChunkRow = tuple[uuid.UUID, int, str, str | None, str, int, int, str | None]
#: (sample_type, anchor, sync_id)
AnchorRow = tuple[str, str, uuid.UUID]


@dataclass(frozen=True)
class DatabaseState:
    """One user's rows in every table, without what depends on the order of processing."""

    samples: tuple[SampleRow, ...]
    syncs: tuple[SyncRow, ...]
    chunks: tuple[ChunkRow, ...]
    anchors: tuple[AnchorRow, ...]

    def differences(self, other: DatabaseState) -> list[str]:
        """Readable differences, table by table (an assertion message)."""
        found = []
        for name in ("samples", "syncs", "chunks", "anchors"):
            mine, theirs = set(getattr(self, name)), set(getattr(other, name))
            found += [f"{name}: missing {row}" for row in sorted(mine - theirs, key=str)]
            found += [f"{name}: unexpected {row}" for row in sorted(theirs - mine, key=str)]
        return found


def read_state(conn: psycopg.Connection, user: str = USER) -> DatabaseState:
    samples = conn.execute(
        """SELECT uuid, sample_type, start_at, end_at, value, unit, time_zone,
                  deleted_at IS NOT NULL
           FROM health_samples WHERE user_id = %s ORDER BY uuid""",
        (user,),
    ).fetchall()
    syncs = conn.execute(
        """SELECT sync_id, state, chunk_count, anchors, chunks_processed, chunks_failed,
                  samples_received, samples_deleted
           FROM sync_sessions WHERE user_id = %s ORDER BY sync_id""",
        (user,),
    ).fetchall()
    chunks = conn.execute(
        """SELECT sync_id, seq, state, sample_type, split_part(object_key, '/', 5),
                  samples_received, samples_deleted, failure_reason
           FROM sync_chunks WHERE user_id = %s ORDER BY sync_id, seq""",
        (user,),
    ).fetchall()
    anchors = conn.execute(
        """SELECT sample_type, anchor, sync_id FROM sync_anchors WHERE user_id = %s
           ORDER BY sample_type""",
        (user,),
    ).fetchall()
    return DatabaseState(
        tuple(sorted(samples)),
        tuple(sorted((*row[:3], _frozen(row[3]), *row[4:]) for row in syncs)),
        tuple(sorted(chunks)),
        tuple(sorted(anchors)),
    )


#: Columns left out of :func:`table_contents`, and why (see the module's docstring).
ORDER_DEPENDENT_COLUMNS = {
    # Clock timestamps; the sync that last changed a row and its object's upload time (for a
    # sample sent twice, the copy processed first).
    "health_samples": {"created_at", "updated_at", "deleted_at", "sync_id", "uploaded_at"},
    # The clock, and the inserted / updated / unchanged split.
    "sync_chunks": {"processed_at", "samples_inserted", "samples_updated", "samples_unchanged"},
    "sync_sessions": {
        "created_at",
        "updated_at",
        "completed_at",
        "samples_inserted",
        "samples_updated",
        "samples_unchanged",
    },
    "sync_anchors": {"updated_at"},
}


def table_contents(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the pipeline's tables, every column but the order-dependent ones (a column
    added later is compared unless it is listed there); ``deleted_at`` as deleted or not."""
    contents = {}
    for table, excluded in ORDER_DEPENDENT_COLUMNS.items():
        columns = [
            name
            for (name,) in conn.execute(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_name = %s AND table_schema = current_schema()
                   ORDER BY ordinal_position""",
                (table,),
            ).fetchall()
            if name not in excluded
        ]
        if table == "health_samples":
            columns.append("deleted_at IS NOT NULL")
        rows = conn.execute(
            f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 - catalogue names
        ).fetchall()
        contents[table] = sorted(rows, key=repr)
    return contents


def _frozen(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def counter_problems(conn: psycopg.Connection, user: str = USER) -> list[str]:
    """What must hold of the order-dependent columns, whatever the order was."""
    problems = []
    for table, key in (("sync_chunks", "sync_id, seq"), ("sync_sessions", "sync_id")):
        rows = conn.execute(
            f"""SELECT {key}, samples_received, samples_inserted, samples_updated,
                       samples_unchanged FROM {table} WHERE user_id = %s""",  # noqa: S608 - constants
            (user,),
        ).fetchall()
        for *ident, received, inserted, updated, unchanged in rows:
            if inserted + updated + unchanged != received or updated != 0:
                problems.append(
                    f"{table} {ident}: received {received} but inserted {inserted}, "
                    f"updated {updated}, unchanged {unchanged}"
                )
    stale = conn.execute(
        """SELECT s.sync_id FROM sync_sessions s
           WHERE s.user_id = %s AND (
               s.first_upload_at IS DISTINCT FROM (
                   SELECT min(uploaded_at) FROM sync_chunks c
                   WHERE c.user_id = s.user_id AND c.sync_id = s.sync_id)
               OR (s.state = 'complete') <> (s.completed_at IS NOT NULL))""",
        (user,),
    ).fetchall()
    problems += [f"sync {sync_id}: first_upload_at or completed_at wrong" for (sync_id,) in stale]
    mismatched = conn.execute(
        """SELECT a.sample_type FROM sync_anchors a JOIN sync_sessions s USING (user_id, sync_id)
           WHERE a.user_id = %s AND a.committed_at <> s.committed_at""",
        (user,),
    ).fetchall()
    problems += [
        f"anchor {sample_type}: not its sync's commit time" for (sample_type,) in mismatched
    ]
    return problems


@dataclass
class Reference:
    user: str = USER
    syncs: list[SyncPlan] = field(default_factory=_plans)

    def sync(self, name: str) -> SyncPlan:
        return next(plan for plan in self.syncs if plan.name == name)

    def name_of(self, key: str) -> str:
        """'A0', 'B2', 'Ccommit'...: which object of the plan a raw key is."""
        parts = key.split("/")
        sync = next(plan.name for plan in self.syncs if str(plan.sync_id) == parts[2])
        return sync + ("commit" if parts[-1] == "commit.json" else str(int(parts[-1][:6])))

    def in_plan_order(self, objects: list[CreatedObject]) -> list[CreatedObject]:
        """Each sync's chunks in order, then its commit, sync after sync: how a well-behaved
        S3 would deliver them."""
        order = [
            plan.name + suffix
            for plan in self.syncs
            for suffix in [*(str(body["seq"]) for body in plan.chunks), "commit"]
        ]
        return sorted(objects, key=lambda obj: order.index(self.name_of(obj.key)))

    def upload(self, pipeline: Pipeline, names: str = "ABC") -> None:
        """Uploads the named syncs through the ingest function, in plan order."""
        for plan in self.syncs:
            if plan.name not in names:
                continue
            for body in plan.chunks:
                response = pipeline.put_chunk(self.user, body)
                assert response.status == 202, response.body
            response = pipeline.commit(self.user, plan.sync_id, plan.commit)
            assert response.status == 202, response.body

    @property
    def expected(self) -> DatabaseState:
        """The final state, from the plan: what a correct pipeline stores whatever happens."""
        live: dict[str, dict[str, Any]] = {}
        sample_type: dict[str, str] = {}
        deleted: set[str] = set()
        for plan in self.syncs:
            for body in plan.chunks:
                for sample in body["samples"]:
                    live[sample["uuid"]] = sample
                    sample_type[sample["uuid"]] = sample["sample_type"]
                for gone in body["deleted"]:
                    deleted.add(gone["uuid"])
                    sample_type.setdefault(gone["uuid"], body["sample_type"])
        samples = []
        for key in sample_type:
            if key in deleted:
                samples.append(
                    (uuid.UUID(key), sample_type[key], None, None, None, None, None, True)
                )
                continue
            sample = live[key]
            samples.append(
                (
                    uuid.UUID(key),
                    sample["sample_type"],
                    datetime.fromisoformat(sample["start_date"]),
                    datetime.fromisoformat(sample["end_date"]),
                    float(sample["value"]),
                    sample["unit"],
                    sample["metadata"]["HKTimeZone"],
                    False,
                )
            )
        syncs, chunks, anchors = [], [], {}
        for plan in self.syncs:
            received = sum(len(body["samples"]) for body in plan.chunks)
            gone = sum(len(body["deleted"]) for body in plan.chunks)
            syncs.append(
                (
                    plan.sync_id,
                    "complete",
                    plan.commit["chunk_count"],
                    _frozen(plan.commit["anchors"]),
                    len(plan.chunks),
                    0,
                    received,
                    gone,
                )
            )
            for body in plan.chunks:
                chunks.append(
                    (
                        plan.sync_id,
                        body["seq"],
                        "processed",
                        body["sample_type"],
                        f"{body['seq']:06d}.json",
                        len(body["samples"]),
                        len(body["deleted"]),
                        None,
                    )
                )
            # Syncs are uploaded and committed in plan order: a later commit is a newer anchor.
            for anchor_type, anchor in plan.commit["anchors"].items():
                anchors[anchor_type] = (anchor_type, anchor, plan.sync_id)
        return DatabaseState(
            tuple(sorted(samples)),
            tuple(sorted(syncs)),
            tuple(sorted(chunks)),
            tuple(sorted(anchors.values())),
        )


REFERENCE = Reference()
