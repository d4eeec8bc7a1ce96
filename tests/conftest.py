from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE_NOW_NS


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def loki() -> Iterator[LokiReceiver]:
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        yield server  # type: ignore[misc]
