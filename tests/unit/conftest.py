"""Unit tests: pure and fast. They may start this Python again (a fresh interpreter) but
open no network connection: the guard below fails a test that tries."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address):
        raise AssertionError(f"a unit test opened a connection to {address}: "
                             "it belongs in tests/integration/")
    monkeypatch.setattr(socket.socket, "connect", refuse)
