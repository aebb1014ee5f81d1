"""The OpenAPI document is generated from the contract and kept current."""

from __future__ import annotations

import json
from pathlib import Path

from hksync_tools.openapi import OPERATIONS, openapi_document, template_routes

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_current() -> None:
    generated = openapi_document(template_routes(ROOT / "template.yaml"))
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())

    assert committed == generated, "docs/openapi.json is stale: run `make openapi`"


def test_every_template_route_is_documented_and_nothing_else() -> None:
    routes = {f"{method} {path}" for method, path in template_routes(ROOT / "template.yaml")}

    assert routes == set(OPERATIONS)


def test_every_operation_documents_its_errors_in_the_one_error_shape() -> None:
    document = openapi_document(template_routes(ROOT / "template.yaml"))
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            errors = {
                status: response
                for status, response in operation["responses"].items()
                if status >= "400"
            }
            assert "401" in errors, f"{method} {path}"
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                if status == "401":  # API Gateway's authorizer answers in its own shape
                    assert schema == {
                        "anyOf": [
                            {"$ref": "#/components/schemas/GatewayError"},
                            {"$ref": "#/components/schemas/ErrorBody"},
                        ]
                    }
                else:
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
