"""Telemetry fixtures: a real mosquitto, started the way entgraph starts it, stopped by the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from entgraph.telemetry.broker import MosquittoBroker


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One running broker for tests that only publish and subscribe; use unique client ids and topics."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mqtt-home"))
    broker.ensure_running()
    yield broker
    broker.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running broker of this test alone, for tests that stop, kill or restart it."""
    broker = MosquittoBroker(tmp_path / "home")
    broker.ensure_running()
    yield broker
    broker.stop()
