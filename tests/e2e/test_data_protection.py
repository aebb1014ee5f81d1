"""Data protection on the local stack, over real HTTP: hostile clients, other users, erasure.

- Fuzzing: schemathesis generates requests for every operation of docs/openapi.json, valid
  and invalid (bodies, path parameters, headers), and runs every check it has but those in
  EXCLUDED_CHECKS (with the reason): no answer may be a 5xx, every answer must be one the
  document declares, with a body of the declared shape, and invalid input must be refused.
- Isolation: user B on every route with user A's ids; path parameters with traversal,
  overlong and non-UUID values; a presigned URL altered to another key.
- Erasure: DELETE /v1/me is queued, performed in the background by the account function (fed
  by the erasure queue, as Lambda's event source would), and GET /v1/me/erasure says when it
  is done; then nothing of the user is left in PostgreSQL, the bucket or Scheduler, and
  another user's data is untouched.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import httpx
import psycopg
import pytest
import schemathesis
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS

from hksync.aws.scheduler import schedule_name
from hksync.keys import ChunkKey, user_prefix
from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import FAKE_CREDENTIALS, LOCAL_REGION, LocalStack
from tests.support.builders import chunk, commit, heart_rates
from tests.support.reference import Reference
from tests.support.sigv4 import presigned_request_is_signed

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_dict(json.loads((ROOT / "docs" / "openapi.json").read_text()))
#: Checks of schemathesis's left out, each with the reason (all the others run).
EXCLUDED_CHECKS = {
    # Schema-valid is not contract-valid: the contract has rules JSON Schema cannot state (a
    # chunk's sync_id and seq equal the path's, end_date not before start_date, a real IANA
    # time zone, a local date-time that exists and is a minute to 90 days ahead, ...), and a
    # request that breaks one is a 422 by design; this check wants every schema-valid request
    # accepted. The schema states each rule it cannot enforce in its descriptions instead.
    "positive_data_acceptance": "the contract's rules beyond JSON Schema answer 422 by design",
}
CHECKS = [check for check in SCHEMATHESIS_CHECKS.get_all() if check.__name__ not in EXCLUDED_CHECKS]
FUZZ_USER = "fuzz-user"


@pytest.fixture(scope="module")
def fuzz_headers(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(FUZZ_USER, local_stack.signing_secret)}"}


#: Every operation of the document. Parametrized here rather than with schemathesis's own
#: ``schema.parametrize()``, whose sub-tests pytest-xdist (make test) does not run one by one.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_gets_a_server_error_or_an_undocumented_answer(
    operation: APIOperation,
    mode: GenerationMode,
    local_stack: LocalStack,
    fuzz_headers: dict[str, str],
) -> None:
    assert local_stack.info is not None
    base_url = local_stack.info.api_url

    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=fuzz_headers, checks=CHECKS)

    answers_as_documented()


def test_methods_no_route_serves_are_404_and_every_route_needs_a_token(
    local_stack: LocalStack, fuzz_headers: dict[str, str]
) -> None:
    assert local_stack.info is not None
    address = urlsplit(local_stack.info.api_url)
    documented = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    answers = {}
    for path, operations in documented.items():
        concrete = path.replace("{seq}", "0").replace("{sync_id}", str(uuid.uuid4()))
        concrete = concrete.replace("{reminder_id}", str(uuid.uuid4()))
        for method in ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY"):
            documented_method = method.lower() in operations
            headers = {} if documented_method else fuzz_headers
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            connection.request(method, concrete, body=b"{}", headers=headers)
            response = connection.getresponse()
            answers[f"{method} {path}"] = (response.status, json.loads(response.read()))
            connection.close()

    for route, (status, body) in answers.items():
        method, path = route.split(" ", 1)
        if method.lower() in documented[path]:  # no token: API Gateway's authorizer answers
            assert (status, body) == (401, {"message": "Unauthorized"}), route
        else:  # no such route: API Gateway's router answers
            assert (status, body) == (404, {"message": "Not Found"}), route


# --- isolation ----------------------------------------------------------------------------------


class Caller:
    def __init__(self, stack: LocalStack, user: str) -> None:
        assert stack.info is not None
        self.user = user
        self.http = httpx.Client(
            base_url=stack.info.api_url,
            headers={"Authorization": f"Bearer {issue_token(user, stack.signing_secret)}"},
            timeout=30,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)


@pytest.fixture(scope="module")
def alice_and_bob(local_stack: LocalStack) -> Iterator[tuple[Caller, Caller, dict[str, Any]]]:
    """Alice with a complete sync and a reminder; Bob with nothing."""
    alice, bob = Caller(local_stack, "isolation-alice"), Caller(local_stack, "isolation-bob")
    sync_id, reminder_id = uuid.uuid4(), uuid.uuid4()
    body = chunk(sync_id, 0, heart_rates(4))
    assert alice.put(f"/v1/syncs/{sync_id}/chunks/0", json=body).status_code == 202
    assert alice.put(f"/v1/syncs/{sync_id}/commit", json=commit(1, "alice")).status_code == 202
    at = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    created = alice.post(
        "/v1/reminders",
        json={
            "reminder_id": str(reminder_id),
            "kind": "medication",
            "title": "Alice's tablets",
            "time_zone": "Europe/Berlin",
            "at": at,
        },
    )
    assert created.status_code == 201
    local_stack.wait_until_idle()
    ids = {"sync_id": sync_id, "reminder_id": reminder_id, "chunk": body}
    yield alice, bob, ids
    alice.close()
    bob.close()


def test_another_users_ids_reach_nothing_of_theirs_on_any_route(
    alice_and_bob: tuple[Caller, Caller, dict[str, Any]], local_stack: LocalStack
) -> None:
    alice, bob, ids = alice_and_bob
    sync_id, reminder_id = ids["sync_id"], ids["reminder_id"]
    alice_status = alice.get(f"/v1/syncs/{sync_id}").json()
    alice_reminders = alice.get("/v1/reminders").json()

    # Reads: Alice's sync, anchors, reminders and erasure are not found for Bob.
    reads = {
        "status": bob.get(f"/v1/syncs/{sync_id}").status_code,
        "anchors": bob.get("/v1/anchors").json(),
        "reminders": bob.get("/v1/reminders").json(),
        "erasure": bob.get("/v1/me/erasure").status_code,
    }
    # Writes with Alice's ids: Bob's reminder changes are not found; his uploads under her
    # sync id land in his own space.
    reschedule = bob.put(
        f"/v1/reminders/{reminder_id}",
        json={"time_zone": "UTC", "cron": "0 9 * * ? *"},
    )
    cancel = bob.delete(f"/v1/reminders/{reminder_id}")
    bob_chunk = chunk(sync_id, 0, heart_rates(2))
    upload = bob.put(f"/v1/syncs/{sync_id}/chunks/0", json=bob_chunk)
    presigned = bob.post(f"/v1/syncs/{sync_id}/chunks/1/upload-url").json()
    committed = bob.put(f"/v1/syncs/{sync_id}/commit", json=commit(1, "bob"))
    erased = bob.delete("/v1/me")
    local_stack.wait_until_idle()

    assert reads == {
        "status": 404,
        "anchors": {"anchors": []},
        "reminders": {"reminders": []},
        "erasure": 404,
    }
    assert (reschedule.status_code, cancel.status_code) == (404, 404)
    assert (upload.status_code, upload.json()["created"]) == (202, True)
    assert urlsplit(presigned["url"]).path.endswith(str(ChunkKey(bob.user, sync_id, 1)))
    assert (committed.status_code, committed.json()["created"]) == (202, True)
    assert erased.status_code == 202
    # Alice: exactly as before.
    assert alice.get(f"/v1/syncs/{sync_id}").json() == alice_status
    assert alice.get("/v1/reminders").json() == alice_reminders
    assert [a["anchor"] for a in alice.get("/v1/anchors").json()["anchors"]] == ["alice"]
    assert alice.get("/v1/me/erasure").status_code == 404


HOSTILE_SEGMENTS = [
    "..",
    "..%2F..%2Fanchors",
    "%2e%2e%2f%2e%2e",
    "..%5C..%5C",
    "not-a-uuid",
    "00000000-0000-0000-0000-00000000000g",
    "x" * 5000,
    "%00",
    quote("ünïcødé", safe=""),
    "-1",
    "99999999999999999999",
]
ROUTES_WITH_PARAMETERS = [
    ("PUT", "/v1/syncs/{sync_id}/chunks/{seq}"),
    ("POST", "/v1/syncs/{sync_id}/chunks/{seq}/upload-url"),
    ("PUT", "/v1/syncs/{sync_id}/commit"),
    ("GET", "/v1/syncs/{sync_id}"),
    ("PUT", "/v1/reminders/{reminder_id}"),
    ("DELETE", "/v1/reminders/{reminder_id}"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES_WITH_PARAMETERS)
def test_hostile_path_parameters_are_refused_without_a_server_error(
    method: str,
    route: str,
    alice_and_bob: tuple[Caller, Caller, dict[str, Any]],
    local_stack: LocalStack,
) -> None:
    assert local_stack.info is not None
    alice, bob, ids = alice_and_bob
    address = urlsplit(local_stack.info.api_url)
    answers = {}
    for segment in HOSTILE_SEGMENTS:
        # A raw request line: no client normalises the dot segments away first.
        path = route.replace("{sync_id}", segment).replace("{reminder_id}", segment)
        path = path.replace("{seq}", "0")
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        connection.request(
            method,
            path,
            body=b"{}",
            headers={**bob.headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        answers[segment[:20]] = (response.status, response.read())
        connection.close()

    assert {segment: status for segment, (status, _) in answers.items() if status >= 500} == {}
    assert {segment: status for segment, (status, _) in answers.items() if status < 400} == {}
    assert alice.get(f"/v1/syncs/{ids['sync_id']}").json()["state"] == "complete"


def test_a_presigned_url_is_good_for_its_own_key_only(
    alice_and_bob: tuple[Caller, Caller, dict[str, Any]],
) -> None:
    alice, bob, _ = alice_and_bob
    # A sync still open: a chunk beyond a stored commit's chunk_count gets no URL at all.
    sync_id = uuid.uuid4()
    target = alice.post(f"/v1/syncs/{sync_id}/chunks/1/upload-url").json()
    url, headers = target["url"], target["headers"]
    credentials = Credentials(
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    own = str(ChunkKey(alice.user, sync_id, 1))
    bobs = str(ChunkKey(bob.user, sync_id, 1))
    others = {
        "another user's key": url.replace(own, bobs),
        "another chunk": url.replace(own, str(ChunkKey(alice.user, sync_id, 2))),
        "outside raw/": url.replace(own, own.replace("raw/", "elsewhere/")),
    }

    def signed(candidate: str, method: str = "PUT", sent: dict[str, str] = headers) -> bool:
        return presigned_request_is_signed(candidate, method, sent, credentials, LOCAL_REGION)

    assert urlsplit(url).path.endswith(own)
    assert signed(url)
    assert {name: signed(candidate) for name, candidate in others.items()} == dict.fromkeys(
        others, False
    )
    assert not signed(url, "GET")
    # Without If-None-Match the upload could overwrite a stored chunk: it is signed, so it
    # cannot be left out.
    assert not signed(url, sent={"Content-Type": "application/json"})


# --- erasure ------------------------------------------------------------------------------------

TABLES = ("health_samples", "sync_chunks", "sync_sessions", "sync_anchors", "reminders")


def _client(stack: LocalStack, user: str) -> httpx.Client:
    assert stack.info is not None
    return httpx.Client(
        base_url=stack.info.api_url,
        headers={"Authorization": f"Bearer {issue_token(user, stack.signing_secret)}"},
        timeout=30,
    )


def _upload(client: httpx.Client, reference: Reference) -> None:
    for plan in reference.syncs:
        for body in plan.chunks:
            path = f"/v1/syncs/{plan.sync_id}/chunks/{body['seq']}"
            assert client.put(path, json=body).status_code == 202
        assert client.put(f"/v1/syncs/{plan.sync_id}/commit", json=plan.commit).status_code == 202


def _until(probe: Any, done: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if done(answer):
            return answer
        assert time.monotonic() < deadline, f"still {answer}"
        time.sleep(0.2)


def _remind(client: httpx.Client) -> None:
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    body = {
        "reminder_id": str(uuid.uuid4()),
        "kind": "medication",
        "title": "Levothyroxine 50 µg",
        "time_zone": "Europe/Berlin",
        "at": at,
    }
    assert client.post("/v1/reminders", json=body).status_code == 201


def _rows(database_url: str, user: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE user_id = %s",  # noqa: S608 - constants
                (user,),
            ).fetchone()[0]  # type: ignore[index]
            for table in TABLES
        }


def test_delete_me_erases_the_user_in_the_background_and_says_when_it_is_done(
    local_stack: LocalStack,
) -> None:
    info = local_stack.info
    assert info is not None
    assert local_stack.reminder_resources is not None
    erased, kept = Reference(user="e2e-erased-user"), Reference(user="e2e-kept-user")
    s3 = boto3.client("s3", region_name=LOCAL_REGION)
    scheduler = boto3.client("scheduler", region_name=LOCAL_REGION)
    group = local_stack.reminder_resources.group
    with _client(local_stack, erased.user) as alice, _client(local_stack, kept.user) as bob:
        for reference, client in ((erased, alice), (kept, bob)):
            _upload(client, reference)
            _remind(client)
        last = erased.syncs[-1].sync_id
        _until(lambda: alice.get(f"/v1/syncs/{last}").json()["state"], "complete".__eq__)
        _until(
            lambda: bob.get(f"/v1/syncs/{kept.syncs[-1].sync_id}").json()["state"],
            "complete".__eq__,
        )
        before = _rows(info.database_url, erased.user)
        bob_before = _rows(info.database_url, kept.user)

        def schedules_of(user: str) -> int:
            suffix = schedule_name(user, uuid.UUID(int=0)).rsplit("-", 1)[1]
            listed = scheduler.list_schedules(GroupName=group)["Schedules"]
            return sum(1 for schedule in listed if schedule["Name"].endswith(suffix))

        schedules_before = (schedules_of(erased.user), schedules_of(kept.user))

        accepted = alice.delete("/v1/me")
        finished = _until(
            lambda: alice.get("/v1/me/erasure").json(), lambda e: e["state"] == "complete"
        )
        after = {
            "anchors": alice.get("/v1/anchors").json(),
            "sync": alice.get(f"/v1/syncs/{last}").status_code,
            "reminders": alice.get("/v1/reminders").json(),
        }
        bob_anchors = bob.get("/v1/anchors").json()["anchors"]

    assert accepted.status_code == 202
    assert accepted.json()["state"] in {"pending", "complete"}
    assert finished["erasure_id"] == accepted.json()["erasure_id"]
    assert finished["completed_at"] is not None
    assert before == {
        "health_samples": 46,
        "sync_chunks": 7,
        "sync_sessions": 3,
        "sync_anchors": 2,
        "reminders": 1,
    }
    assert finished["erased"] == {
        "objects": 10,
        "samples": 46,
        "syncs": 3,
        "anchors": 2,
        "reminders": 1,
    }
    assert _rows(info.database_url, erased.user) == dict.fromkeys(TABLES, 0)
    listed = s3.list_object_versions(Bucket=info.raw_bucket, Prefix=user_prefix(erased.user))
    assert listed.get("Versions", []) == listed.get("DeleteMarkers", []) == []
    assert schedules_before == (1, 1)
    assert (schedules_of(erased.user), schedules_of(kept.user)) == (0, 1)
    assert after == {"anchors": {"anchors": []}, "sync": 404, "reminders": {"reminders": []}}
    # The other user: everything still there.
    assert _rows(info.database_url, kept.user) == bob_before
    assert len(bob_anchors) == 2
