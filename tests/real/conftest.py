"""The real-backend suite: one real Tempo and one real Loki for the whole session.

Run it with ``make test-real``. It needs the two binaries in ``TEMPO_BIN`` and
``LOKI_BIN``; without them every module that needs them is skipped, in one line saying
why (each calls ``require_binaries()``), and only the checks of the config files run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.backends import BINARIES, Stack, missing_binaries, running_stack

#: Start-up (up to 2 minutes for both) counts towards the first test's time.
TEST_TIMEOUT_S = 600
_started: list[Stack] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for stack in _started:
        stops = ", ".join(
            f"{b.name} {'killed after' if b.killed else 'stopped in'} {b.stop_took_s:.1f} s"
            for b in (stack.tempo, stack.loki)
        )
        terminalreporter.write_line(
            f"real backends: tempo ready after {stack.tempo.ready_after_s:.1f} s, "
            f"loki after {stack.loki.ready_after_s:.1f} s (started together); {stops}"
        )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Tempo and Loki from docker/tempo.yaml and docker/loki.yaml on free loopback ports,
    with their default limits and a temporary data folder; stopped at the end."""
    if missing := missing_binaries():  # a module that uses this fixture calls require_binaries()
        pytest.fail(f"{' and '.join(missing)} not set")
    for name in BINARIES:
        if not os.access(os.environ[name], os.X_OK):
            pytest.fail(f"{name}={os.environ[name]} is not an executable file")
    with running_stack(os.environ["TEMPO_BIN"], os.environ["LOKI_BIN"], tmp_path_factory.mktemp("backends")) as s:
        _started.append(s)
        yield s


@pytest.fixture
def run_id() -> str:
    """A label value of this test's own (``--loki-label run=…``), so its Loki queries see
    only its entries; as a number, the seed of its report's ids (unique in Tempo too)."""
    return uuid.uuid4().hex[:12]
