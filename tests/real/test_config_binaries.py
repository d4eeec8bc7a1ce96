"""The binaries themselves read docker/tempo.yaml and docker/loki.yaml with no variable set
as the compose stack does (the suite's own start proves they boot with the variables set)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.real.backends import DOCKER, VERSIONS, require_binaries
from tests.real.test_configs import COMPOSE_VALUES

require_binaries()


def test_loki_reads_the_compose_values_with_no_variable_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") or k == "LOKI_BIN"}
    out = subprocess.run(
        [os.environ["LOKI_BIN"], f"-config.file={DOCKER / 'loki.yaml'}", "-config.expand-env=true",
         "-print-config-stderr", "-verify-config"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    printed = [line.strip() for line in out.stderr.splitlines()]
    for expected in [*COMPOSE_VALUES["loki.yaml"], 'http_listen_address: ""']:
        assert expected in printed, expected


def test_tempo_accepts_the_config_with_no_variable_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPO_") or k == "TEMPO_BIN"}
    out = subprocess.run(
        [os.environ["TEMPO_BIN"], f"-config.file={DOCKER / 'tempo.yaml'}", "-config.expand-env=true",
         "-config.verify=true"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_binaries_are_the_versions_the_compose_stack_runs(name: str) -> None:
    """What this suite proves is what `make up` runs: another binary proves another version."""
    binary = os.environ[f"{name.upper()}_BIN"]
    out = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    found = re.search(rf"^{name}, version v?(\S+)", out.stdout + out.stderr, re.MULTILINE)
    assert found, (out.stdout + out.stderr)[-2000:]
    if found.group(1) != VERSIONS[name]:  # your own binaries: the suite proves the configs on them instead
        pytest.skip(
            f"{binary} is {name} {found.group(1)}; docker/docker-compose.yml runs {VERSIONS[name]}: "
            "this run proves the configs on the former (to move the stack, change the image and "
            "tests/real/backends.py VERSIONS together)"
        )
