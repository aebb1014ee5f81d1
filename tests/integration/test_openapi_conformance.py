"""Real responses of the handlers conform to the generated OpenAPI document."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
import referencing

from hksync_tools.openapi import openapi_document, template_routes
from tests.infrastructure.test_openapi import ROOT
from tests.support.builders import chunk, commit, heart_rate, heart_rates
from tests.support.pipeline import HttpResult, Pipeline

DOCUMENT = openapi_document(template_routes(ROOT / "template.yaml"))
REGISTRY = referencing.Registry().with_resource(
    "urn:hksync", referencing.Resource.from_contents(DOCUMENT, referencing.jsonschema.DRAFT202012)
)


def _check(result: HttpResult, method: str, route: str) -> int:
    responses = DOCUMENT["paths"][route][method.lower()]["responses"]
    assert str(result.status) in responses, (
        f"{method} {route} answered an undocumented {result.status}"
    )
    schema = responses[str(result.status)]["content"]["application/json"]["schema"]
    resolved: dict[str, Any] = {"$ref": "urn:hksync" + schema["$ref"]}
    jsonschema.Draft202012Validator(resolved, registry=REGISTRY).validate(result.body)
    return int(result.status)


def test_every_answer_of_a_sync_matches_the_document(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    chunk_route, commit_route = "/v1/syncs/{sync_id}/chunks/{seq}", "/v1/syncs/{sync_id}/commit"
    body = chunk(sync_id, 0, heart_rates(5))
    # A bad sample is set aside in the processor (202); a bad envelope is refused at once.
    bad_envelope = {**chunk(sync_id, 1, [heart_rate()]), "deletions": []}
    statuses = [
        _check(pipeline.put_chunk("u", body), "PUT", chunk_route),
        _check(pipeline.put_chunk("u", body), "PUT", chunk_route),
        _check(pipeline.put_chunk("u", chunk(sync_id, 0, heart_rates(6))), "PUT", chunk_route),
        _check(pipeline.put_chunk("u", bad_envelope), "PUT", chunk_route),
        _check(pipeline.put_chunk("u", body, body=b"{oops"), "PUT", chunk_route),
        _check(
            pipeline.call(
                pipeline.ingest,
                "PUT",
                chunk_route,
                {"sync_id": str(sync_id), "seq": "0"},
                user="u",
                body=json.dumps(body).encode(),
                headers={"content-type": "text/csv"},
            ),
            "PUT",
            chunk_route,
        ),
        _check(
            pipeline.upload_url("u", sync_id, 1),
            "POST",
            "/v1/syncs/{sync_id}/chunks/{seq}/upload-url",
        ),
        _check(pipeline.commit("u", sync_id, commit(1)), "PUT", commit_route),
        _check(pipeline.commit("u", sync_id, commit(2)), "PUT", commit_route),
        _check(pipeline.status("u", uuid.uuid4()), "GET", "/v1/syncs/{sync_id}"),
    ]
    pipeline.drain()
    statuses.append(_check(pipeline.status("u", sync_id), "GET", "/v1/syncs/{sync_id}"))
    statuses.append(_check(pipeline.anchors("u"), "GET", "/v1/anchors"))

    assert statuses == [202, 202, 409, 422, 400, 415, 200, 202, 409, 404, 200, 200]
