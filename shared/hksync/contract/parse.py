"""Turning bytes into contract models, with errors a client can act on."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from hksync.contract.field_errors import field_errors
from hksync.errors import ContractViolation, MalformedBody

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_json(model: type[ModelT], payload: bytes) -> ModelT:
    """Validates JSON bytes against a contract model.

    Bad JSON is a 400 (the bytes are not JSON at all); valid JSON that breaks the contract is
    a 422 naming every offending field.
    """
    try:
        return model.model_validate_json(payload)
    except ValidationError as error:
        invalid_json = next(
            (detail for detail in error.errors() if detail["type"] == "json_invalid"), None
        )
        if invalid_json is not None:
            raise MalformedBody(f"body is not valid JSON: {invalid_json['msg']}") from None
        raise ContractViolation(field_errors(error)) from None
