"""Fixtures of the template tests: the SAM template, and the CloudFormation it becomes."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_socket import disable_socket

from tests.infrastructure.template import load_sam_template, parameter_values, to_cloudformation


@pytest.fixture(autouse=True)
def _offline() -> None:
    """Unit tier: no network (pytest-socket lifts the guard after every test: set it again)."""
    disable_socket()


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    disable_socket()  # module fixtures are set up before the function-scoped guard
    return load_sam_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it after the SAM transform (dev values)."""
    disable_socket()
    return to_cloudformation(sam, parameter_values(sam, "dev"))
