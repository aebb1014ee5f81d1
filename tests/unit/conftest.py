"""Unit tests: pure logic. The network is off, so a test that needs a service fails loudly."""

import pytest
from pytest_socket import disable_socket


@pytest.fixture(autouse=True)
def _no_network() -> None:
    disable_socket()
