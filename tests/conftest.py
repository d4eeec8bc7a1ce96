from __future__ import annotations

import os
from collections.abc import Iterator
from multiprocessing import forkserver

import pytest

from otel_replay import cpus
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.otlp_grpc import GrpcReceiver
from tests.fakes.server import FakeServer
from tests.helpers import EXAMPLE_NOW_NS, FAKES_SHOW_EVERY_AGE, Children, read_by_us

#: The fixtures that start a fake backend, and the fakes' classes (tests/fakes/).
FAKE_FIXTURES = frozenset({"tempo", "collector", "loki"})
FAKES = (FakeServer, GrpcReceiver)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakes: the test talks to a fake backend, which OTEL_REPLAY_FAKE_LATENCY slows down (set by tests/conftest.py)",
    )


def _talks_to_fakes(item: pytest.Item) -> bool:
    """Whether the test uses a fixture that starts a fake, or is in a module that has a fake's class."""
    if FAKE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    module = getattr(item, "module", None)
    return any(isinstance(v, type) and issubclass(v, FAKES) for v in vars(module).values()) if module else False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``fakes`` the tests whose outcome the latency run (``.ci/run``:
    ``OTEL_REPLAY_FAKE_LATENCY=0.5 pytest -m fakes``) must show unchanged: only the fakes
    read that variable, so the others run the same with it as without."""
    for item in items:
        if _talks_to_fakes(item):
            item.add_marker(pytest.mark.fakes)


@pytest.fixture(autouse=True)
def _fakes_are_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that starts a fake without the ``fakes`` marker (one from a helper of another
    module) fails: the latency run would leave it out."""
    before = FakeServer.started
    yield
    if FakeServer.started != before and request.node.get_closest_marker("fakes") is None:
        pytest.fail("the test starts a fake backend but is not marked 'fakes' (see _talks_to_fakes, tests/conftest.py)")


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* variable, nor a Loki one otel-replay reads, of the developer's shell reaches a test;
    the replays are told that the fakes show records of any age at once (FAKES_SHOW_EVERY_AGE)."""
    for name in list(os.environ):
        if read_by_us(name):
            monkeypatch.delenv(name)
    for name, value in FAKES_SHOW_EVERY_AGE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _one_process_under_mutation_testing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Under mutmut (``make mutants``, which sets MUTANT_UNDER_TEST) a replay's default
    --workers is 1: mutmut learns which tests run a function only from what runs in the
    test's own process. A test that asks for workers still gets them, from a fork server
    that is stopped with the test: mutmut forks each mutant's run from the process that
    ran the tests before, which must not hold another process's fork server."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        yield
        return
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 1)
    yield
    forkserver._forkserver._stop()  # type: ignore[attr-defined]


@pytest.fixture
def tempo() -> Iterator[OtlpReceiver]:
    """Stands for Tempo: OTLP/HTTP traces only (``/v1/logs`` and ``/v1/metrics`` get its 404)."""
    with OtlpReceiver.tempo() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    """Stands for an OpenTelemetry Collector's OTLP receiver: traces, logs and metrics."""
    with OtlpReceiver() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def loki() -> Iterator[LokiReceiver]:
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def children() -> Iterator[Children]:
    """Starts the test's subprocesses; any still running when the test ends (passed or
    failed) is killed with its whole process group (the replay's workers too)."""
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()
